"""Python onnxruntime on the same fixture models and the same method as the Swift
`inference-bench`, so `make bench` prints the two side by side."""
import json
import os
import platform
import time

import numpy as np
import onnxruntime as ort


def _machine():
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores"


def run(fixtures, calls, conv_runs):
    print(f"Python onnxruntime {ort.__version__} (Python {platform.python_version()}), {_machine()}")
    options = ort.SessionOptions()
    add = ort.InferenceSession(os.path.join(fixtures, "add.onnx"), options, providers=["CPUExecutionProvider"])
    feeds = {"a": np.array([[1, 2, 3, 4]], dtype=np.float32), "b": np.array([[4, 3, 2, 1]], dtype=np.float32)}
    for _ in range(1000):
        add.run(None, feeds)
    per_call = []
    for _ in range(calls):
        start = time.perf_counter()
        add.run(None, feeds)
        per_call.append((time.perf_counter() - start) * 1e6)
    per_call.sort()
    print(f"  add [1,4]       per call: mean {sum(per_call) / calls:.2f} µs, p50 {per_call[calls // 2]:.2f} µs, "
          f"p99 {per_call[calls * 99 // 100]:.2f} µs ({calls} calls)")

    with open(os.path.join(fixtures, "models.json")) as handle:
        meta = json.load(handle)["conv_heavy"]
    heavy = ort.InferenceSession(os.path.join(fixtures, "conv_heavy.onnx"), options, providers=["CPUExecutionProvider"])
    for batch in (1, 4):
        count = batch * meta["channels"] * meta["size"] ** 2
        x = (np.arange(count) % 17).astype(np.float32).reshape(batch, meta["channels"], meta["size"], meta["size"]) / 17
        for _ in range(2):
            heavy.run(None, {"x": x})
        times = []
        for _ in range(conv_runs):
            start = time.perf_counter()
            heavy.run(None, {"x": x})
            times.append((time.perf_counter() - start) * 1e3)
        times.sort()
        median = times[len(times) // 2]
        gflops = meta["flops_per_item"] * batch / (median / 1e3) / 1e9
        print(f"  conv_heavy batch {batch}: median {median:.1f} ms, min {times[0]:.1f} ms, {gflops:.1f} GFLOP/s ({conv_runs} runs)")
