"""Command line: `python -m modelkit <command> ...` (PYTHONPATH=tools/modelkit)."""
import argparse
import sys


def main(argv=None):
    parser = argparse.ArgumentParser(prog="modelkit", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    testmodels = commands.add_parser("testmodels", help="write the tiny ONNX models the Swift tests load")
    testmodels.add_argument("--out", required=True, help="output directory")

    piper = commands.add_parser("piper-standin", help="write stand-in Piper voices and piper-phonemize reference ids")
    piper.add_argument("--out", required=True, help="output directory")

    bench = commands.add_parser("bench-ort", help="time Python onnxruntime on the fixture models (reference for inference-bench)")
    bench.add_argument("--fixtures", required=True, help="directory written by `testmodels`")
    bench.add_argument("--calls", type=int, default=20000, help="calls for the per-call overhead measurement")
    bench.add_argument("--conv-runs", type=int, default=20, help="runs of the Conv-heavy model")

    args = parser.parse_args(argv)
    if args.command == "testmodels":
        from . import testmodels as module
        module.write_all(args.out)
    elif args.command == "piper-standin":
        from . import piper_standin
        piper_standin.write_all(args.out)
    elif args.command == "bench-ort":
        from . import bench_ort
        bench_ort.run(args.fixtures, args.calls, args.conv_runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
