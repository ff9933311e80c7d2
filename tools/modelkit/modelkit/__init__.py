"""modelkit: LipSync Server's Python tooling (model conversion, test fixtures).

The server never runs Python; these tools run at set-up and test time, inside the
project-local virtualenv created by `make setup`.
"""
