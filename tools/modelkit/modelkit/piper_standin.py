"""Stand-in Piper voices and reference phoneme ids for the Swift Speech tests.

A real Piper voice is a VITS model (`NAME.onnx`) plus `NAME.onnx.json`. The stand-in has
the same signature — `input` int64 [1, T], `input_lengths` int64 [1], `scales` float32 [3]
→ `output` float32 [1, 1, samples] — and a transparent body: each id selects a 256-sample
sine burst from a table (row k: 0.5·sin(2π·(100 + 5k)·n / rate)), multiplied by the
length scale. The Swift test rebuilds the expected waveform from the ids, so the whole
path (phonemes → ids → model → audio) is checked.

The configs use piper-phonemize's own espeak phoneme→id map, and the expected id
sequences for a few phrases come from `piper_phonemize.phonemize_espeak` +
`phoneme_ids_espeak`, the reference implementation.
"""
import json
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from .graph import IR_VERSION, OPSET

SAMPLES_PER_ID = 256
SAMPLE_RATE = 22050

VOICES = {
    "standin-en_US": {"espeak": "en-us", "language": "en_US"},
    "standin-ko_KR": {"espeak": "ko", "language": "ko_KR"},
}

PHRASES = [
    ("en-us", "Hello, world! How are you?"),
    ("en-us", "Testing one two three."),
    ("en-us", "lip sync"),
    ("ko", "안녕하세요"),
    ("ko", "테스트"),
    ("ko", "안녕하세요, 반갑습니다."),
]


def burst_table(num_symbols):
    n = np.arange(SAMPLES_PER_ID)
    k = np.arange(num_symbols)[:, None]
    return (0.5 * np.sin(2 * np.pi * (100 + 5 * k) * n / SAMPLE_RATE)).astype(np.float32)


def standin_model(num_symbols):
    ids = helper.make_tensor_value_info("input", TensorProto.INT64, [1, "phonemes"])
    lengths = helper.make_tensor_value_info("input_lengths", TensorProto.INT64, [1])
    scales = helper.make_tensor_value_info("scales", TensorProto.FLOAT, [3])
    output = helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 1, "samples"])
    nodes = [
        helper.make_node("Gather", ["table", "input"], ["bursts"], axis=0),          # [1, T, 256]
        helper.make_node("Reshape", ["bursts", "flat_shape"], ["flat"]),              # [1, 1, T·256]
        helper.make_node("Gather", ["scales", "length_index"], ["length_scale"], axis=0),
        helper.make_node("Mul", ["flat", "length_scale"], ["scaled"]),
        # input_lengths is part of Piper's signature; fold it in without changing values.
        helper.make_node("Cast", ["input_lengths"], ["lengths_float"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["lengths_float", "zero"], ["lengths_zero"]),
        helper.make_node("Add", ["scaled", "lengths_zero"], ["output"]),
    ]
    inits = [
        numpy_helper.from_array(burst_table(num_symbols), "table"),
        numpy_helper.from_array(np.array([1, 1, -1], dtype=np.int64), "flat_shape"),
        numpy_helper.from_array(np.array(1, dtype=np.int64), "length_index"),
        numpy_helper.from_array(np.array(0, dtype=np.float32), "zero"),
    ]
    graph = helper.make_graph(nodes, "piper_standin", [ids, lengths, scales], [output], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="lipsync-modelkit")
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    return model


def config(espeak_voice, language, id_map, num_symbols):
    return {
        "audio": {"sample_rate": SAMPLE_RATE, "quality": "standin"},
        "espeak": {"voice": espeak_voice},
        "language": {"code": language},
        "inference": {"noise_scale": 0.667, "length_scale": 1.0, "noise_w": 0.8},
        "phoneme_type": "espeak",
        "phoneme_id_map": id_map,
        "num_symbols": num_symbols,
        "num_speakers": 1,
        "speaker_id_map": {},
        "dataset": "lipsync stand-in (not a real voice)",
    }


def write_all(out_dir):
    import piper_phonemize

    os.makedirs(out_dir, exist_ok=True)
    id_map = {phoneme: list(ids) for phoneme, ids in piper_phonemize.get_espeak_map().items()}
    num_symbols = max(i for ids in id_map.values() for i in ids) + 1
    model = standin_model(num_symbols)
    for name, spec in VOICES.items():
        onnx.save(model, os.path.join(out_dir, name + ".onnx"))
        with open(os.path.join(out_dir, name + ".onnx.json"), "w", encoding="utf-8") as handle:
            json.dump(config(spec["espeak"], spec["language"], id_map, num_symbols), handle, ensure_ascii=False, indent=1)

    expected = []
    for voice, text in PHRASES:
        sentences = piper_phonemize.phonemize_espeak(text, voice)
        expected.append({
            "voice": voice, "text": text,
            "phonemes": ["".join(sentence) for sentence in sentences],
            "ids": [piper_phonemize.phoneme_ids_espeak(sentence) for sentence in sentences],
        })
    with open(os.path.join(out_dir, "expected_ids.json"), "w", encoding="utf-8") as handle:
        json.dump({"samples_per_id": SAMPLES_PER_ID, "sample_rate": SAMPLE_RATE, "phrases": expected}, handle, ensure_ascii=False, indent=1)
    print(f"modelkit: wrote {len(VOICES)} stand-in Piper voices and {len(PHRASES)} reference id sequences to {out_dir}")
