"""Peak memory of `modelkit convert --wavlm` on a full-size WavLM-Large checkpoint.

No PyTorch needed: the checkpoint (seeded random weights, the released key set and shapes,
315 M parameters, ≈1.26 GB) is written here in torch's zip format — `archive/data.pkl`
whose tensors are `torch._utils._rebuild_tensor_v2` calls on persistent storage ids, one
uncompressed `archive/data/<key>` file per storage — which is what modelkit's reader
accepts. The conversion then runs as its own process under `/usr/bin/time -v`, and its
maximum resident set size is printed.

    PYTHONPATH=tools/modelkit .venv/bin/python tools/modelkit/fidelity/wavlm_memory.py [--work DIR] [--keep]
"""
import argparse
import collections
import os
import pickle
import re
import shutil
import subprocess
import sys
import tempfile
import types
import zipfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _torch_globals():
    """Objects that pickle as `torch._utils._rebuild_tensor_v2` and `torch.FloatStorage`
    (pickle stores a global by module and name; the modules exist only in this process)."""
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")

    def _rebuild_tensor_v2(*args):
        raise RuntimeError("only for pickling")

    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2
    storage = type("FloatStorage", (), {"__module__": "torch"})
    torch.FloatStorage = storage
    torch._utils = utils
    sys.modules.setdefault("torch", torch)
    sys.modules.setdefault("torch._utils", utils)
    return sys.modules["torch._utils"]._rebuild_tensor_v2, sys.modules["torch"].FloatStorage


class _Storage:
    def __init__(self, key, numel):
        self.key, self.numel = key, numel


class _Tensor:
    def __init__(self, storage, shape, rebuild):
        self.storage, self.shape, self.rebuild = storage, shape, rebuild

    def __reduce__(self):
        stride = [int(np.prod(self.shape[i + 1:])) for i in range(len(self.shape))]
        return self.rebuild, (self.storage, 0, tuple(self.shape), tuple(stride), False, collections.OrderedDict())


def write_checkpoint(state, path):
    """{name: float32 array} → a torch zip checkpoint {'model': state_dict}, one tensor in memory at a time."""
    rebuild, float_storage = _torch_globals()
    tensors = collections.OrderedDict()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
        for index, (name, array) in enumerate(state.items()):
            archive.writestr(f"archive/data/{index}", np.ascontiguousarray(array, "<f4").tobytes())
            tensors[name] = _Tensor(_Storage(str(index), array.size), array.shape, rebuild)

        class Pickler(pickle.Pickler):
            def persistent_id(self, obj):
                if isinstance(obj, _Storage):
                    return ("storage", float_storage, obj.key, "cpu", obj.numel)
                return None

        with archive.open("archive/data.pkl", "w") as handle:
            Pickler(handle, protocol=2).dump({"model": tensors})
        archive.writestr("archive/byteorder", "little")
        archive.writestr("archive/version", "3\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--work", help="folder for the checkpoint and the converted models (default: a temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the folder")
    args = parser.parse_args()

    from modelkit import wavlm

    work = args.work or tempfile.mkdtemp(prefix="wavlm-memory-")
    os.makedirs(work, exist_ok=True)
    checkpoint = os.path.join(work, "WavLM-Large.pt")
    try:
        if not os.path.exists(checkpoint):
            state = wavlm.random_state_dict(seed=0)
            print(f"writing {checkpoint}: {sum(v.size for v in state.values()):,} parameters")
            write_checkpoint(state, checkpoint)
            del state
        out = os.path.join(work, "models")
        environment = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        result = subprocess.run(["/usr/bin/time", "-v", sys.executable, "-m", "modelkit", "convert", "--wavlm", checkpoint, "--out", out],
                                env=environment, capture_output=True, text=True)
        print(result.stdout, end="")
        if result.returncode != 0:
            print(result.stderr, file=sys.stderr)
            return result.returncode
        peak = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr).group(1))
        wall = re.search(r"Elapsed \(wall clock\) time.*: (\S+)", result.stderr).group(1)
        sizes = ", ".join(f"{name} {os.path.getsize(os.path.join(out, name)) / 1e9:.3f} GB"
                          for name in sorted(os.listdir(out)) if name.endswith(".onnx"))
        print(f"convert --wavlm: peak RSS {peak / 1024 ** 2:.2f} GiB, wall {wall}; checkpoint {os.path.getsize(checkpoint) / 1e9:.3f} GB; {sizes}")
    finally:
        if not args.keep and not args.work:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
