#!/usr/bin/env python3
"""Writes the seed files of fuzz/corpus/ that need no FFmpeg (Python standard library only):
PNG, GIF and YUV4MPEG pictures and an HLS playlist for fuzz-media, WAV variants for fuzz-wav,
URIs for fuzz-storage-uri, request bodies for fuzz-request-body and PyTorch checkpoints (both
formats, written the way torch.save writes them) for the checkpoint reader.
The media seeds from the Media module's own encoder come from fuzz-corpus-writer;
fuzz/make-corpus.sh runs both.

    python3 fuzz/make_corpus.py fuzz/corpus
"""
import collections
import io
import json
import os
import pickle
import struct
import sys
import types
import wave
import zipfile
import zlib

# The first byte of a fuzz-media input picks the file's extension (MediaFuzz.swift).
EXTENSIONS = ["", "mp4", "mov", "webm", "mkv", "m4a", "mp3", "wav", "png", "jpg", "gif", "avi", "ts", "3gp", "ogg", "flac"]


def write(directory, name, data):
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, name), "wb") as handle:
        handle.write(data)
    print(f"{os.path.basename(directory)}/{name}: {len(data)} bytes")


def media_seed(ext, data):
    return bytes([EXTENSIONS.index(ext)]) + data


# ------------------------------------------------------------------ pictures and playlists

def png(width, height, color_type=2, bit_depth=8):
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[color_type]
    rows = b"".join(b"\x00" + bytes((x * 37 + y * 11 + c * 5) & 0xFF for x in range(width) for c in range(channels))
                    for y in range(height))

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def gif_2x2():
    # GIF89a, 2×2, a 2-colour global palette, one LZW-coded image (min code size 2).
    return (b"GIF89a" + struct.pack("<HH", 2, 2) + b"\x80\x00\x00" + b"\xff\x00\x00" + b"\x00\x00\xff"
            + b",\x00\x00\x00\x00" + struct.pack("<HH", 2, 2) + b"\x00" + b"\x02\x02\x44\x01\x00" + b";")


def y4m(width, height, frames):
    header = f"YUV4MPEG2 W{width} H{height} F25:1 Ip A1:1 C420jpeg\n".encode()
    body = b""
    for index in range(frames):
        luma = bytes((x + y + index * 40) & 0xFF for y in range(height) for x in range(width))
        chroma = bytes([128]) * ((width // 2) * (height // 2))
        body += b"FRAME\n" + luma + chroma + chroma
    return header + body


def hls_playlist():
    # What issue 14 found: a playlist saved under a video's name makes FFmpeg open other files.
    return b"#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:1\n#EXTINF:1.0,\nsegment0.ts\n#EXT-X-ENDLIST\n"


# ------------------------------------------------------------------ WAV

def wav(rate, channels, width, frames):
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as handle:
        handle.setnchannels(channels)
        handle.setsampwidth(width)
        handle.setframerate(rate)
        samples = bytearray()
        for i in range(frames):
            for c in range(channels):
                value = ((i * 997 + c * 331) % 200) - 100
                samples += (value & 0xFF).to_bytes(1, "little") if width == 1 else (value * 100).to_bytes(width, "little", signed=True)
        handle.writeframes(bytes(samples))
    return buffer.getvalue()


def wav_extensible_float(rate, channels, frames):
    data = b"".join(struct.pack("<f", ((i + c) % 17 - 8) / 8) for i in range(frames) for c in range(channels))
    block = 4 * channels
    # WAVE_FORMAT_EXTENSIBLE with the IEEE-float sub-format GUID.
    fmt = struct.pack("<HHIIHHHHI", 0xFFFE, channels, rate, rate * block, block, 32, 22, 32, 3 if channels == 2 else 4)
    fmt += struct.pack("<IHH8s", 3, 0x0000, 0x0010, b"\x80\x00\x00\xaa\x00\x38\x9b\x71")
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


# ------------------------------------------------------------------ PyTorch checkpoints

def fake_torch():
    """Stand-ins registered as torch / torch._utils, so `pickle` writes the same globals
    torch.save writes (the reader resolves them by name only). Made once per process."""
    if "torch._utils" in sys.modules:
        return sys.modules["torch"], sys.modules["torch._utils"]
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")
    sys.modules["torch"], sys.modules["torch._utils"] = torch, utils
    for name in ("_rebuild_tensor_v2", "_rebuild_parameter"):
        def function(*args):
            raise RuntimeError("only for pickling")
        function.__module__, function.__qualname__, function.__name__ = "torch._utils", name, name
        setattr(utils, name, function)
    for name in ("FloatStorage", "HalfStorage", "BFloat16Storage", "LongStorage"):
        setattr(torch, name, type(name, (), {"__module__": "torch"}))
    return torch, utils


class StorageRef:
    def __init__(self, kind, key, raw, numel):
        self.kind, self.key, self.raw, self.numel = kind, key, raw, numel


class TensorRef:
    def __init__(self, storage, offset, size, stride, parameter=False):
        self.storage, self.offset, self.size, self.stride, self.parameter = storage, offset, size, stride, parameter

    def __reduce__(self):
        _, utils = fake_torch()
        tensor = (utils._rebuild_tensor_v2, (self.storage, self.offset, self.size, self.stride, False, collections.OrderedDict()))
        if not self.parameter:
            return tensor
        return (utils._rebuild_parameter, (_Reduced(tensor), True, collections.OrderedDict()))


class _Reduced:
    def __init__(self, reduced):
        self.reduced = reduced

    def __reduce__(self):
        return self.reduced


class _Pickler(pickle.Pickler):
    legacy = False

    def persistent_id(self, obj):
        if isinstance(obj, StorageRef):
            self.referenced.setdefault(obj.key, obj)
            if self.legacy:
                return ("storage", obj.kind, obj.key, "cpu", obj.numel, None)
            return ("storage", obj.kind, obj.key, "cpu", obj.numel)
        return None


def dumps(obj, legacy=False):
    """The pickle, and the storages it references by key (in order of first reference)."""
    buffer = io.BytesIO()
    pickler = _Pickler(buffer, protocol=2)
    pickler.legacy, pickler.referenced = legacy, {}
    pickler.dump(obj)
    return buffer.getvalue(), list(pickler.referenced.values())


def storages():
    torch, _ = fake_torch()
    floats = StorageRef(torch.FloatStorage, "0", struct.pack("<16f", *[i / 4 for i in range(16)]), 16)
    halves = StorageRef(torch.HalfStorage, "1", struct.pack("<8e", *[i / 8 for i in range(8)]), 8)
    bf16 = StorageRef(torch.BFloat16Storage, "2", b"".join(struct.pack("<f", i * 1.5)[2:] for i in range(4)), 4)
    longs = StorageRef(torch.LongStorage, "3", struct.pack("<2q", 7, -1), 2)
    return floats, halves, bf16, longs


def state_dicts():
    floats, halves, bf16, longs = storages()
    plain = collections.OrderedDict([
        ("module.conv.weight", TensorRef(floats, 0, (2, 2, 2), (4, 2, 1), parameter=True)),
        ("module.conv.bias", TensorRef(floats, 8, (2,), (1,))),
        ("transposed", TensorRef(floats, 0, (4, 2), (1, 4))),
        ("scalar", TensorRef(floats, 5, (), ())),
        ("empty", TensorRef(floats, 0, (0, 3), (3, 1))),
        ("half", TensorRef(halves, 0, (2, 4), (4, 1))),
        ("bf16", TensorRef(bf16, 0, (4,), (1,))),
        ("steps", TensorRef(longs, 0, (2,), (1,))),
    ])
    return {
        "bare": plain,
        "state_dict": {"state_dict": plain, "epoch": 3},
        "model": {"model": collections.OrderedDict(list(plain.items())[:3]), "optimizer": {"lr": 0.1}},
        "model_state": {"model_state": collections.OrderedDict(list(plain.items())[5:])},
    }


def zip_checkpoint(obj, root="archive"):
    data_pkl, referenced = dumps(obj)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr(f"{root}/data.pkl", data_pkl)
        archive.writestr(f"{root}/byteorder", b"little")
        for storage in referenced:
            archive.writestr(f"{root}/data/{storage.key}", storage.raw)
        archive.writestr(f"{root}/version", b"3\n")
    return buffer.getvalue(), data_pkl


def legacy_checkpoint(obj):
    """The whole legacy stream, and the part after its three header pickles."""
    header = io.BytesIO()
    for value in (0x1950A86A20F9469CFC6C, 1001, {"protocol_version": 1001, "little_endian": True,
                                                  "type_sizes": {"short": 2, "int": 4, "long": 4}}):
        pickle.dump(value, header, protocol=2)
    data_pkl, referenced = dumps(obj, legacy=True)
    body = data_pkl + pickle.dumps(sorted(storage.key for storage in referenced), protocol=2)
    for storage in sorted(referenced, key=lambda storage: storage.key):
        body += struct.pack("<q", storage.numel) + storage.raw
    return header.getvalue() + body, body


def checkpoint_seeds(directory):
    # Mode byte 0: the whole file; 1: data.pkl only (the harness wraps it in a zip whose
    # storages "0".."3" hold 64 bytes each: enough for every tensor above); 2: a legacy
    # stream after its header pickles (the harness adds them).
    for name, obj in state_dicts().items():
        whole, data_pkl = zip_checkpoint(obj)
        write(directory, f"zip-{name}.bin", b"\x00" + whole)
        write(directory, f"pickle-{name}.bin", b"\x01" + data_pkl)
        whole, pickles = legacy_checkpoint(obj)
        write(directory, f"legacy-{name}.bin", b"\x00" + whole)
        write(directory, f"legacy-pickles-{name}.bin", b"\x02" + pickles)
    fixtures = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools", "modelkit", "tests", "fixtures")
    for name in ("views_zip.pth", "views_legacy.pth"):  # written by torch itself
        with open(os.path.join(fixtures, name), "rb") as handle:
            write(directory, f"torch-{name}.bin", b"\x00" + handle.read())
    # Hostile files the reader must refuse (each once escaped it: docs/fuzzing.md).
    _, utils = fake_torch()
    floats = storages()[0]
    hostile = {
        "zero-stride-bomb": {"w": TensorRef(floats, 0, (100000, 100000), (0, 0))},
        "huge-empty-dimension": {"w": TensorRef(floats, 0, (0, 2**70), (1, 1))},
        "huge-moot-stride": {"w": TensorRef(floats, 0, (1, 2), (2**70, 1))},
        "int-tensor-name": {7: TensorRef(floats, 0, (2,), (1,))},
        "storage-is-an-int": {"w": _Reduced((utils._rebuild_tensor_v2, (5, 0, (1,), (1,), False, collections.OrderedDict())))},
        "build-on-tensor": {"w": _Reduced((utils._rebuild_tensor_v2, (floats, 0, (2,), (1,), False, collections.OrderedDict()),
                                           {"size": "ab"}))},
    }
    for name, obj in hostile.items():
        write(directory, f"hostile-{name}.bin", b"\x01" + zip_checkpoint(obj)[1])
    # A pickle that names a forbidden global: the reader must refuse it.
    write(directory, "forbidden-global.bin", b"\x00" + b"\x80\x02cos\nsystem\nq\x00X\x04\x00\x00\x00trueq\x01\x85q\x02Rq\x03.")


# ------------------------------------------------------------------ server inputs

URIS = [
    "gs://my-bucket/videos/selfie.mp4", "gs://a.b-c_d/x", "GS://bucket/object with spaces.mov", "gs://bucket/",
    "file:///tmp/in.mp4", "file://localhost/srv/videos/a%20b.webm", "file://host/x", "file:///",
    "videos/clip.mp4", "/srv/videos/../etc/passwd", "./a:b/c", "s3://bucket/key",
    "https://example.com/v.mp4?sig=1#frag", "http://[::1]:8080/x", "https://user:pw@example.com/x", "https://",
    "gs://bucket/%2e%2e", "file:///a%00b", "gs://xn--bcher-kva.example/\u00fc", "C:\\videos\\clip.mp4",
]


def request_bodies():
    base = {"word": "안녕하세요", "user_video_gs": "input.mp4", "output_video_gs": "out/result.mp4", "tts_lang": "ko"}
    full = dict(base, tts_engine="espeak", tts_voice="ko", voice_mode="freevc", seed=7, tracking="keyframes",
                composite="blend", pads=[0, 10, 0, 0], crf=23, preset="veryfast")
    bodies = {
        "minimal.json": json.dumps(base, ensure_ascii=False),
        "all-fields.json": json.dumps(full, ensure_ascii=False),
        "gs.json": json.dumps(dict(base, user_video_gs="gs://bucket/in.mp4", output_video_gs="gs://bucket/out.mp4")),
        "bad-types.json": json.dumps(dict(base, seed=-1, pads="0,0,0,0", crf=99.5)),
        "missing.json": json.dumps({"word": "hi"}),
        "escapes.json": '{"word":"\\u0000\\ud800","user_video_gs":"file:///tmp/%0a","output_video_gs":"../x.mp4","tts_lang":"en"}',
        "not-object.json": "[1, 2, 3]",
        "voice-path.json": json.dumps(dict(base, tts_voice="../../dev/zero", tts_engine="piper")),
    }
    return {name: text.encode() for name, text in bodies.items()}


def main():
    corpus = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
    media = os.path.join(corpus, "media")
    write(media, "rgb-4x3.png", media_seed("png", png(4, 3)))
    write(media, "gray-alpha-3x2.png", media_seed("png", png(3, 2, color_type=4)))
    write(media, "2x2.gif", media_seed("gif", gif_2x2()))
    # 8×8 and 6×4 made swscale write 16 bytes past the converted frame (PictureConverter).
    write(media, "yuv420-8x8.y4m", media_seed("", y4m(8, 8, 2)))
    write(media, "yuv420-6x4.y4m", media_seed("", y4m(6, 4, 1)))
    write(media, "playlist-as-mp4.m3u8", media_seed("mp4", hls_playlist()))

    wavs = os.path.join(corpus, "wav")
    write(wavs, "u8-mono-8000.wav", wav(8000, 1, 1, 64))
    write(wavs, "s16-stereo-44100.wav", wav(44100, 2, 2, 64))
    write(wavs, "s24-mono-48000.wav", wav(48000, 1, 3, 64))
    write(wavs, "float-extensible-stereo.wav", wav_extensible_float(16000, 2, 32))

    uris = os.path.join(corpus, "storage-uri")
    for index, uri in enumerate(URIS):
        write(uris, f"uri-{index:02d}.txt", uri.encode())

    for name, body in request_bodies().items():
        write(os.path.join(corpus, "request-body"), name, body)

    checkpoint_seeds(os.path.join(corpus, "checkpoint"))


if __name__ == "__main__":
    main()
