"""Command line: `python -m modelkit <command> ...` (PYTHONPATH=tools/modelkit)."""
import argparse
import os
import sys


def main(argv=None):
    parser = argparse.ArgumentParser(prog="modelkit", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    testmodels = commands.add_parser("testmodels", help="write the tiny ONNX models the Swift tests load")
    testmodels.add_argument("--out", required=True, help="output directory")

    piper = commands.add_parser("piper-standin", help="write stand-in Piper voices and piper-phonemize reference ids")
    piper.add_argument("--out", required=True, help="output directory")

    convert = commands.add_parser("convert", help="convert released checkpoints to ONNX into a models folder")
    convert.add_argument("--wav2lip", help="wav2lip.pth or wav2lip_gan.pth (either torch file format)")
    convert.add_argument("--s3fd", help="s3fd.pth (the face detector Wav2Lip uses)")
    convert.add_argument("--freevc", help="freevc.pth (FreeVC net_g; its SynthesizerTrn inference path)")
    convert.add_argument("--speaker-encoder", help="FreeVC's speaker encoder checkpoint (pretrained_bak_5805000.pt)")
    convert.add_argument("--wavlm", help="WavLM-Large.pt (FreeVC's content encoder)")
    convert.add_argument("--out", required=True, help="models folder (manifest.json is updated)")

    standins = commands.add_parser("standins", help="write stand-in models (random weights, marked in the manifest)")
    standins.add_argument("--tiny", action="store_true", help="channels ÷ 16, for fast tests (default: full size, same FLOPs)")
    standins.add_argument("--seed", type=int, default=0)
    standins.add_argument("--out", required=True, help="models folder")

    face = commands.add_parser("blazeface", help="convert MediaPipe BlazeFace short-range (from the mediapipe wheel) to ONNX")
    face.add_argument("--out", required=True, help="models folder")
    face.add_argument("--wheel", help="a downloaded mediapipe-0.10.21 wheel (default: pip downloads it into --cache)")
    face.add_argument("--cache", default=os.path.join(os.path.expanduser("~"), ".cache", "lipsync-modelkit"),
                      help="where the downloaded wheel is kept")

    verify = commands.add_parser("verify", help="load every model of a folder with onnxruntime and check the manifest")
    verify.add_argument("folder")

    faces = commands.add_parser("facefixture", help="write astronaut.png (from the scikit-image wheel) for face tests")
    faces.add_argument("--out", required=True)
    faces.add_argument("--cache", required=True, help="where the downloaded wheel is kept")

    quantize = commands.add_parser("quantize", help="write int8 variants (wav2lip_int8) calibrated on a face photo and speech")
    quantize.add_argument("--models", required=True, help="models folder with wav2lip and wav2lip_mel (manifest.json is updated)")
    quantize.add_argument("--face", required=True, help="a photo (PNG) with one face, e.g. .fixtures/faces/astronaut.png")
    quantize.add_argument("--speech", required=True, help="a speech WAV (e.g. from `lipsync say`)")
    quantize.add_argument("--kinds", default="wav2lip", help="comma-separated: wav2lip (WavLM and FreeVC: int8 does not pay, see docs/modelkit.md)")
    quantize.add_argument("--samples", type=int, default=96, help="calibration inputs (face crop + mel window each)")
    quantize.add_argument("--calibration", choices=("MinMax", "Percentile"), default="MinMax",
                          help="activation ranges: MinMax (default) or Percentile (99.999 %%)")
    quantize.add_argument("--held-out", type=int, default=84, help="held-out inputs for the fidelity report (0: no report)")
    quantize.add_argument("--runs", type=int, default=5, help="timed runs per model and batch size in the report (0: no timing)")
    quantize.add_argument("--threads", type=int, default=2, help="intra-op threads for the timing")

    bench = commands.add_parser("bench-ort", help="time Python onnxruntime on the fixture models (reference for inference-bench)")
    bench.add_argument("--fixtures", required=True, help="directory written by `testmodels`")
    bench.add_argument("--calls", type=int, default=20000, help="calls for the per-call overhead measurement")
    bench.add_argument("--conv-runs", type=int, default=20, help="runs of the Conv-heavy model")

    args = parser.parse_args(argv)
    if args.command in ("convert", "standins", "verify", "blazeface"):
        return _models_command(args)
    if args.command == "quantize":
        return _quantize_command(args)
    if args.command == "testmodels":
        from . import testmodels as module
        module.write_all(args.out)
    elif args.command == "piper-standin":
        from . import piper_standin
        piper_standin.write_all(args.out)
    elif args.command == "facefixture":
        from . import faces
        faces.write_astronaut(args.out, args.cache)
    elif args.command == "bench-ort":
        from . import bench_ort
        bench_ort.run(args.fixtures, args.calls, args.conv_runs)
    return 0


def _models_command(args):
    from . import convert
    try:
        if args.command == "convert":
            jobs = ((args.wav2lip, convert.convert_wav2lip), (args.s3fd, convert.convert_s3fd),
                    (args.freevc, convert.convert_freevc), (args.speaker_encoder, convert.convert_speaker_encoder),
                    (args.wavlm, convert.convert_wavlm))
            if not any(path for path, _ in jobs):
                print("modelkit convert: nothing to convert (give --wav2lip, --s3fd, --freevc, --speaker-encoder and/or --wavlm)",
                      file=sys.stderr)
                return 2
            for path, run in jobs:
                if path:
                    entry = run(path, args.out)
                    print(f"modelkit: {path} → {os.path.join(args.out, entry['file'])}")
        elif args.command == "blazeface":
            entry = convert.convert_blazeface(args.out, args.cache, args.wheel)
            print(f"modelkit: BlazeFace short-range → {os.path.join(args.out, entry['file'])}")
        elif args.command == "standins":
            for entry in convert.standins(args.out, tiny=args.tiny, seed=args.seed):
                print(f"modelkit: stand-in {entry['kind']} → {os.path.join(args.out, entry['file'])}")
        else:
            for line in convert.verify(args.folder):
                print(line)
    except convert.ConversionError as error:
        print(f"modelkit {args.command}: {error}", file=sys.stderr)
        return 1
    return 0


def _quantize_command(args):
    from . import convert, quantize
    kinds = [kind.strip() for kind in args.kinds.split(",") if kind.strip()]
    unsupported = [kind for kind in kinds if kind != "wav2lip"]
    if unsupported or not kinds:
        print(f"modelkit quantize: unsupported kinds {unsupported or kinds}: only wav2lip has an int8 variant "
              "(WavLM and FreeVC int8 were measured and do not pay; see docs/modelkit.md)", file=sys.stderr)
        return 2
    try:
        entry, _ = quantize.quantize_wav2lip(args.models, args.face, args.speech, args.samples, args.calibration)
        print(f"modelkit: wav2lip_int8 → {os.path.join(args.models, entry['file'])}")
        if args.held_out > 0:
            quantize.report_wav2lip(args.models, args.face, args.speech, args.held_out, args.runs, args.threads)
    except (quantize.QuantizeError, convert.ConversionError, OSError) as error:
        print(f"modelkit quantize: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
