"""atheris fuzz target for the torch-free checkpoint reader (modelkit/checkpoint.py).

A checkpoint in the models folder may come from anyone, so the reader must turn every file
into either a state_dict or a `CheckpointError`: any other exception, a hang (-timeout) or
runaway memory (-rss_limit_mb) is a bug.

Input: one byte picks the mode (its value modulo 3), the rest is the data.
  * mode 0: the data is the whole file (zip checkpoint, legacy stream, or anything else);
  * mode 1: the data is a zip checkpoint's data.pkl, wrapped here in a well-formed zip
    (with storages "0".."3" of 64 bytes each), so mutations reach the unpickler and the
    tensor checks instead of stopping at the zip's CRCs;
  * mode 2: the data is a legacy stream after its three header pickles (magic number,
    protocol, system info), which are added here: the object pickle, the storage-key pickle
    and the storages.

Run (the Makefile's fuzz-smoke target does this with a time limit):
  PYTHONPATH=tools/modelkit .venv/bin/python tools/modelkit/fuzz/fuzz_checkpoint.py \
      -max_total_time=60 -rss_limit_mb=2048 -timeout=10 WORK_CORPUS fuzz/corpus/checkpoint
"""
import atexit
import io
import os
import pickle
import sys
import tempfile
import zipfile

import atheris

with atheris.instrument_imports(include=["modelkit"]):
    from modelkit.checkpoint import CheckpointError, load_state_dict

import numpy as np

_BASE = "/dev/shm" if os.access("/dev/shm", os.W_OK | os.X_OK) else tempfile.gettempdir()
PATH = os.path.join(_BASE, f"lipsync-fuzz-checkpoint-{os.getpid()}.pth")
_STORAGE = bytes(range(64))


def wrap_pickle(data):
    """A zip checkpoint as torch writes it (stored members under archive/) around `data`."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("archive/data.pkl", data)
        archive.writestr("archive/byteorder", b"little")
        for key in range(4):
            archive.writestr(f"archive/data/{key}", _STORAGE)
    return buffer.getvalue()


_LEGACY_HEADER = b"".join(pickle.dumps(value, protocol=2) for value in (
    0x1950A86A20F9469CFC6C, 1001, {"protocol_version": 1001, "little_endian": True, "type_sizes": {"short": 2, "int": 4, "long": 4}}))


def wrap_legacy(data):
    """A legacy stream (torch < 1.6): the header pickles, then `data`."""
    return _LEGACY_HEADER + data


def test_one_input(data):
    if not data:
        return
    mode = data[0] % 3
    payload = wrap_pickle(data[1:]) if mode == 1 else wrap_legacy(data[1:]) if mode == 2 else data[1:]
    with open(PATH, "wb") as handle:
        handle.write(payload)
    try:
        state = load_state_dict(PATH)
    except CheckpointError:
        return
    # What converters rely on: names are strings, values are arrays, half precision widened.
    assert isinstance(state, dict) and state, "an empty state_dict was returned"
    for name, array in state.items():
        assert isinstance(name, str), f"tensor name {name!r} is not a string"
        assert isinstance(array, np.ndarray), f"{name}: {type(array).__name__} is not an array"
        assert array.dtype != np.float16, f"{name}: float16 was not widened"


def _remove_input():
    if os.path.exists(PATH):
        os.unlink(PATH)


def main():
    atexit.register(_remove_input)  # libFuzzer ends the process itself; atexit still runs
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
