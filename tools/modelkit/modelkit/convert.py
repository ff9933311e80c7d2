"""Model folder management: conversion of released checkpoints, stand-ins, manifest, verify.

A models folder holds ONNX files and `manifest.json`, which the server reads: per model its
kind, file, version, source checkpoint SHA-256, stand-in flag, precision, input/output
signature and the preprocessing constants the server needs — written here once, never
repeated by hand in Swift.

Every file is written to a temporary name in the folder and renamed into place, and the
manifest is updated last, so an interrupted or failed run leaves the folder as it was.
Files are streamed one initializer at a time (graph.save_model) and float16 variants are
written from the float32 model's weights (precision.Variant), so converting WavLM-Large
holds about one copy of its 1.26 GB of weights.
"""
import hashlib
import json
import os
import tempfile

import numpy as np
import onnx

from . import audio, blazeface, freevc, s3fd, speaker, wav2lip, wavlm
from .graph import save_model
from .precision import Variant, float16_variant, mixed_float16_variant
from .checkpoint import CheckpointError, load_state_dict
from .statedict import StateDictError

MANIFEST = "manifest.json"
MANIFEST_VERSION = 1


class ConversionError(Exception):
    pass


# Audio front end and face constants of the original (reference/wav2lip.md §6–8).
WAV2LIP_PREPROCESSING = {
    "sample_rate": 16000, "preemphasis": 0.97, "n_fft": 800, "hop_length": 200, "win_length": 800,
    "window": "hann-periodic", "center_pad": "reflect", "n_mels": 80, "fmin": 55, "fmax": 7600,
    "mel_scale": "slaney", "mel_norm": "slaney", "magnitude": "abs", "min_level_db": -100, "ref_level_db": 20,
    "max_abs_value": 4.0, "symmetric": True, "mel_step_size": 16, "mel_frames_per_second": 80,
    "face_size": 96, "face_channels": "bgr", "face_scale": 1.0 / 255, "mask": "lower-half",
    "default_pads": [0, 20, 0, 0], "smoothing_window": 5, "output_scale": 255, "output_rounding": "truncate",
}


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _signature(model):
    def describe(value):
        tensor = value.type.tensor_type
        return {
            "name": value.name,
            "dtype": onnx.helper.tensor_dtype_to_np_dtype(tensor.elem_type).name,
            "shape": [d.dim_param if d.dim_param else d.dim_value for d in tensor.shape.dim],
        }
    return [describe(v) for v in model.graph.input], [describe(v) for v in model.graph.output]


def _write_atomically(directory, name, write):
    os.makedirs(directory, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{name}.", suffix=".partial", dir=directory)
    os.close(handle)
    try:
        write(temporary)
        os.chmod(temporary, 0o644)  # mkstemp creates 0600; models are read by the server's user
        os.replace(temporary, os.path.join(directory, name))
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def read_manifest(directory):
    path = os.path.join(directory, MANIFEST)
    if not os.path.exists(path):
        return {"version": MANIFEST_VERSION, "models": {}}
    with open(path, encoding="utf-8") as handle:
        manifest = json.load(handle)
    if manifest.get("version") != MANIFEST_VERSION or not isinstance(manifest.get("models"), dict):
        raise ConversionError(f"{path}: not a modelkit manifest (version {manifest.get('version')!r})")
    return manifest


def _publish(directory, kind, filename, model, source, standin, preprocessing, extra=None, precision="float32"):
    """Writes the model file, then its manifest entry (replacing an entry of the same kind).
    `model` is a ModelProto or a precision.Variant (written from its float32 model's weights)."""
    _write_atomically(directory, filename, model.save if isinstance(model, Variant) else lambda path: save_model(model, path))
    inputs, outputs = _signature(model)
    entry = {
        "file": filename, "kind": kind, "version": 1, "precision": precision, "standin": standin,
        "source": source, "inputs": inputs, "outputs": outputs, "preprocessing": preprocessing,
        "sha256": sha256(os.path.join(directory, filename)),
    }
    entry.update(extra or {})
    manifest = read_manifest(directory)
    manifest["models"][kind] = entry
    _write_atomically(directory, MANIFEST, lambda path: _dump_json(manifest, path))
    return entry


def _dump_json(value, path):
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(value, handle, indent=2, sort_keys=True)
        handle.write("\n")


def _load_and_build(checkpoint, build):
    """(state_dict, ONNX model) of a checkpoint; any problem is a ConversionError naming the file."""
    try:
        state = load_state_dict(checkpoint)
    except CheckpointError as error:
        raise ConversionError(str(error)) from None
    try:
        return state, build(state)
    except StateDictError as error:
        message = str(error)
        raise ConversionError(message if message.startswith(checkpoint) else f"{checkpoint}: {message}") from None


def _source(checkpoint):
    return {"checkpoint": os.path.basename(checkpoint), "sha256": sha256(checkpoint)}


def convert_wav2lip(checkpoint, directory):
    """Released `wav2lip.pth` / `wav2lip_gan.pth` → `wav2lip.onnx` + manifest entry."""
    state, model = _load_and_build(checkpoint, wav2lip.build)
    source = _source(checkpoint)
    extra = {"flops_per_item": wav2lip.flops_per_item(wav2lip.detect_divisor(state))}
    entry = _publish(directory, "wav2lip", "wav2lip.onnx", model, source, False, WAV2LIP_PREPROCESSING, extra)
    _publish(directory, "wav2lip_fp16", "wav2lip_fp16.onnx", float16_variant(model), source, False, WAV2LIP_PREPROCESSING, extra,
             precision="float16")
    write_mel_frontend(directory)
    return entry


def write_mel_frontend(directory):
    """The generator's audio front end (no weights: DFT and mel bases computed here)."""
    return _publish(directory, "wav2lip_mel", "wav2lip_mel.onnx", audio.build(),
                    {"generated": "DFT and Slaney mel bases computed by modelkit (no checkpoint)"}, False, WAV2LIP_PREPROCESSING)


FREEVC_PREPROCESSING = {
    "sample_rate": 16000, "hop_length": 320, "content_frames": "floor((samples - 400) / 320) + 1",
    "noise": "standard normal, [batch, 192, frames]", "speaker": "unit-length [batch, 256]", "output_samples_per_frame": 320,
}


def convert_freevc(checkpoint, directory):
    """`freevc.pth` (net_g) → `freevc.onnx`: SynthesizerTrn.infer with explicit noise."""
    _, model = _load_and_build(checkpoint, freevc.build)
    source = _source(checkpoint)
    entry = _publish(directory, "freevc", "freevc.onnx", model, source, False, FREEVC_PREPROCESSING)
    _publish(directory, "freevc_fp16", "freevc_fp16.onnx", float16_variant(model), source, False, FREEVC_PREPROCESSING, precision="float16")
    return entry


SPEAKER_PREPROCESSING = {
    "sample_rate": 16000, "n_fft": 400, "hop_length": 160, "n_mels": 40, "power": 2, "log": False,
    "partial_frames": 160, "partial_rate_per_second": 1.3, "min_coverage": 0.75, "trim_top_db": 20,
    "combine": "mean of unit-length partial embeddings, re-normalised",
}


def convert_speaker_encoder(checkpoint, directory):
    """FreeVC's speaker encoder (`pretrained_bak_5805000.pt`, {'model_state'}) → `speaker_encoder.onnx`
    and its mel front end `speaker_mel.onnx`. All 14 tensors must be present (the original
    loads with strict=False and would silently keep random weights)."""
    _, model = _load_and_build(checkpoint, speaker.build_encoder)
    source = _source(checkpoint)
    entry = _publish(directory, "speaker_encoder", "speaker_encoder.onnx", model, source, False, SPEAKER_PREPROCESSING)
    _publish(directory, "speaker_encoder_fp16", "speaker_encoder_fp16.onnx", speaker.float16_variant(model), source, False,
             SPEAKER_PREPROCESSING, precision="float16")
    _publish(directory, "speaker_mel", "speaker_mel.onnx", speaker.build_mel(), {"generated": "DFT and mel bases computed by modelkit"},
             False, SPEAKER_PREPROCESSING)
    return entry


WAVLM_PREPROCESSING = {
    "sample_rate": 16000, "normalise_waveform": False, "minimum_samples": 400, "hop_length": 320,
    "frames": "floor((samples - 400) / 320) + 1", "layer": "last + final LayerNorm",
}


def convert_wavlm(checkpoint, directory):
    """`WavLM-Large.pt` ({'cfg', 'model'}) → `wavlm.onnx` (≈1.26 GB float32, under the 2 GB
    protobuf limit) and `wavlm_fp16.onnx` (≈0.63 GB: float16 Conv/Gemm/MatMul, float32 buckets,
    LayerNorms, softmax and GELU; float32 I/O). The checkpoint's tensors are consumed as the
    graph is built and both files are streamed, so about one copy of the weights is held."""
    _, model = _load_and_build(checkpoint, lambda state: wavlm.build(state, consume=True))
    source = _source(checkpoint)
    entry = _publish(directory, "wavlm", "wavlm.onnx", model, source, False, WAVLM_PREPROCESSING)
    _publish(directory, "wavlm_fp16", "wavlm_fp16.onnx", mixed_float16_variant(model), source, False, WAVLM_PREPROCESSING,
             precision="float16")
    return entry


def convert_s3fd(checkpoint, directory):
    """`s3fd.pth` (a bare legacy-format state_dict) → `s3fd.onnx` + manifest entry."""
    state, model = _load_and_build(checkpoint, s3fd.build)
    source = _source(checkpoint)
    return _publish(directory, "s3fd", "s3fd.onnx", model, source, False, s3fd.POSTPROCESSING,
                    {"macs_640x360": s3fd.macs(360, 640, s3fd.detect_divisor(state))})


def convert_blazeface(directory, cache_dir, wheel=None):
    """MediaPipe BlazeFace short-range (from the mediapipe wheel) → `blazeface.onnx`."""
    try:
        data = blazeface.fetch_tflite(cache_dir, wheel)
        model = blazeface.convert_tflite(data)
    except blazeface.BlazeFaceError as error:
        raise ConversionError(str(error)) from None
    source = {"package": f"mediapipe=={blazeface.WHEEL_VERSION}", "member": blazeface.TFLITE_MEMBER,
              "sha256": blazeface.TFLITE_SHA256, "license": "Apache-2.0"}
    return _publish(directory, "blazeface", "blazeface.onnx", model, source, False, blazeface.POSTPROCESSING)


def standins(directory, tiny=False, seed=0):
    """Same graphs with seeded random weights: full width (identical FLOPs, for benchmarks)
    or tiny (channels ÷ 16, for fast tests). Marked `standin: true` in the manifest."""
    divisor = 16 if tiny else 1
    source = {"standin": f"random weights, seed {seed}, channels ÷ {divisor}"}
    generator = wav2lip.build(wav2lip.random_state_dict(divisor, seed), divisor)
    detector = s3fd.build(s3fd.random_state_dict(divisor, seed), divisor)
    synthesizer = freevc.build(freevc.random_state_dict(seed=seed) if not tiny else
                               freevc.random_state_dict(ssl=64, hidden=8, inter=8, gin=256, upsample_initial=32, seed=seed))
    encoder = speaker.build_encoder(speaker.random_state_dict(seed=seed))  # full size in both: FreeVC's speaker input is 256 wide
    content = wavlm.build(wavlm.random_state_dict(seed=seed) if not tiny else
                          wavlm.random_state_dict(dim=64, ffn=128, heads=4, layers=2, conv_dim=32, seed=seed), consume=True)
    return [
        _publish(directory, "wav2lip", "wav2lip.onnx", generator, source, True, WAV2LIP_PREPROCESSING,
                 {"flops_per_item": wav2lip.flops_per_item(divisor)}),
        _publish(directory, "wav2lip_fp16", "wav2lip_fp16.onnx", float16_variant(generator), source, True, WAV2LIP_PREPROCESSING,
                 {"flops_per_item": wav2lip.flops_per_item(divisor)}, precision="float16"),
        _publish(directory, "s3fd", "s3fd.onnx", detector, source, True, s3fd.POSTPROCESSING,
                 {"macs_640x360": s3fd.macs(360, 640, divisor)}),
        write_mel_frontend(directory),
        _publish(directory, "wavlm", "wavlm.onnx", content, source, True, WAVLM_PREPROCESSING),
        _publish(directory, "wavlm_fp16", "wavlm_fp16.onnx", mixed_float16_variant(content), source, True, WAVLM_PREPROCESSING,
                 precision="float16"),
        _publish(directory, "freevc", "freevc.onnx", synthesizer, source, True, FREEVC_PREPROCESSING),
        _publish(directory, "freevc_fp16", "freevc_fp16.onnx", float16_variant(synthesizer), source, True, FREEVC_PREPROCESSING,
                 precision="float16"),
        _publish(directory, "speaker_encoder", "speaker_encoder.onnx", encoder, source, True, SPEAKER_PREPROCESSING),
        _publish(directory, "speaker_encoder_fp16", "speaker_encoder_fp16.onnx", speaker.float16_variant(encoder), source, True,
                 SPEAKER_PREPROCESSING, precision="float16"),
        _publish(directory, "speaker_mel", "speaker_mel.onnx", speaker.build_mel(), {"generated": "no weights"}, False,
                 SPEAKER_PREPROCESSING),
    ]


def verify(directory):
    """Loads every manifest entry with onnxruntime, checks file hash, signature and one run
    on zero inputs. Returns a list of human-readable lines; raises ConversionError."""
    import onnxruntime as ort

    manifest = read_manifest(directory)
    if not manifest["models"]:
        raise ConversionError(f"{directory}: the manifest lists no models")
    lines = []
    for kind, entry in sorted(manifest["models"].items()):
        path = os.path.join(directory, entry["file"])
        if not os.path.exists(path):
            raise ConversionError(f"{kind}: {entry['file']} is missing")
        if sha256(path) != entry["sha256"]:
            raise ConversionError(f"{kind}: {entry['file']} does not match its manifest hash")
        session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        actual = [(i.name, i.type) for i in session.get_inputs()]
        listed = [(i["name"], f"tensor({_ort_type(i['dtype'])})") for i in entry["inputs"]]
        if actual != listed:
            raise ConversionError(f"{kind}: inputs {actual} differ from the manifest {listed}")
        # Dynamic axes: batch 1, audio 1600 samples (> the mel graph's 400), others 64
        # (non-empty detector maps, a short FreeVC content sequence).
        def size(axis, dim):
            if isinstance(dim, int) and dim > 0:
                return dim
            return 1 if axis == 0 else 1600 if dim == "samples" else 64
        feeds = {i["name"]: np.zeros([size(n, d) for n, d in enumerate(i["shape"])], dtype=i["dtype"]) for i in entry["inputs"]}
        outputs = session.run(None, feeds)
        finite = all(np.isfinite(o).all() for o in outputs)
        if not finite:
            raise ConversionError(f"{kind}: a zero input gives non-finite outputs")
        shapes = ", ".join(f"{o.name}{list(r.shape)}" for o, r in zip(session.get_outputs(), outputs))
        lines.append(f"{kind}: {entry['file']} ok ({'stand-in' if entry['standin'] else 'converted'}, {shapes})")
    return lines


def _ort_type(numpy_name):
    return {"float32": "float", "float16": "float16", "int64": "int64", "uint8": "uint8"}.get(numpy_name, numpy_name)
