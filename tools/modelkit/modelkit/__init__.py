"""modelkit: LipSync Server's Python tooling (model conversion, test fixtures).

The server never runs Python; these tools run at set-up and test time, inside the
project-local virtualenv created by `make setup`.
"""

import os as _os

# ONNX Runtime's Linux builds keep telemetry (a device id and an event database under
# ~/.cache/Microsoft, uploaded when they can be) unless this is set before it is imported;
# the server turns it off the same way (docs/configuration.md, ORT_DISABLE_TELEMETRY).
_os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
