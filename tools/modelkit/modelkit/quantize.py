"""Int8 variants for fast CPU inference, calibrated on real data.

`quantize_wav2lip` writes `wav2lip_int8.onnx` next to `wav2lip.onnx`: onnxruntime's static
quantization in QDQ form (QuantizeLinear → DequantizeLinear around every convolution, which
ONNX Runtime's CPU provider fuses into integer QLinearConv kernels when the session loads),
weights int8 per output channel (symmetric), activations uint8 per tensor (asymmetric,
ranges from calibration); the output Sigmoid and the 1×1 convolution feeding it stay
float32. The model keeps the float32 `mel`/`face` inputs and `prediction` output: the
quantisation steps are inside the graph, so the server feeds and reads the same tensors as
for `wav2lip`. docs/modelkit.md "Int8 variants" has the measurements behind these choices.

Calibration data is prepared as the Swift lip-sync stage prepares the generator's inputs
(Sources/LipSync/Wav2LipGenerator.swift, MelSpectrogram.swift):

* face: the face box of the photo (BlazeFace from the same folder, the original's pads
  0/20/0/0), cropped and resized to 96×96 with the server's bilinear resampling (source
  position (d + 0.5)·scale − 0.5, clamped, rounded to 8 bits), BGR, ÷255; channels 0–2 the
  crop with rows 48…95 zeroed, channels 3–5 the unmasked crop. Many crops: the box shifted
  by up to ±8 % of its size, scaled by 0.9–1.12, the photo's brightness ×0.75–1.25 and a
  ±12 grey-level offset, a third of them mirrored — what tracking jitter, other frames and
  other lighting give.
* mel: the speech through the folder's own `wav2lip_mel.onnx` (16 kHz, padded to the
  3001-sample minimum as the server pads), cut into 80×16 windows at the server's chunk
  starts ⌊i·80/fps⌋ for 25 fps (the last window ends at the last mel frame).

The held-out set of `report_wav2lip` has other crops (another random stream) and other mel
windows (every calibration start + 1 mel frame, which at 25 fps is never a calibration start).
"""
import logging
import os
import struct
import tempfile
import time
import zlib

import numpy as np
import onnx

from . import graph

FACE_SIZE = 96
MEL_STEP = 16
MEL_BINS = 80
SAMPLE_RATE = 16000
MIN_SAMPLES = 15 * 200 + 1  # MelFrontEnd.minimumSamples: one full 16-frame chunk
DEFAULT_PADS = (0, 20, 0, 0)  # top, bottom, left, right (FaceTracking.Pads.standard)
CALIBRATION_SEED = 20240
HELD_OUT_SEED = 90211

# The chosen settings (see docs/modelkit.md "Int8 variants" for the measurements).
WAV2LIP_SETTINGS = {
    "format": "QDQ", "weights": "int8, per output channel, symmetric", "activations": "uint8, per tensor, asymmetric",
    "reduce_range": False, "calibration": "MinMax",
}


class QuantizeError(Exception):
    pass


# ---------------------------------------------------------------- image and sound files

def read_png(path):
    """8-bit non-interlaced PNG (grey, grey+alpha, RGB, RGBA or palette) → uint8 [H, W, 3] RGB.
    No imaging library: zlib and the five row filters (PNG spec §9)."""
    with open(path, "rb") as handle:
        data = handle.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise QuantizeError(f"{path}: not a PNG file")
    position, header, palette, compressed = 8, None, None, []
    while position + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[position:position + 8])
        body = data[position + 8:position + 8 + length]
        if len(body) != length:
            raise QuantizeError(f"{path}: truncated PNG chunk {kind!r}")
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"PLTE":
            palette = np.frombuffer(body, np.uint8).reshape(-1, 3)
        elif kind == b"IDAT":
            compressed.append(body)
        elif kind == b"IEND":
            break
        position += 12 + length
    if header is None or not compressed:
        raise QuantizeError(f"{path}: PNG without IHDR or IDAT")
    width, height, depth, colour, _, _, interlace = header
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}.get(colour)
    if depth != 8 or channels is None or interlace != 0:
        raise QuantizeError(f"{path}: only 8-bit non-interlaced PNG is read (bit depth {depth}, colour type {colour}, "
                            f"interlace {interlace})")
    try:
        raw = zlib.decompress(b"".join(compressed))
    except zlib.error as error:
        raise QuantizeError(f"{path}: damaged PNG data ({error})") from None
    stride = width * channels
    if len(raw) != height * (stride + 1):
        raise QuantizeError(f"{path}: PNG data is {len(raw)} bytes, expected {height * (stride + 1)}")
    pixels = np.zeros((height, stride), np.uint8)
    previous = np.zeros(stride, np.int32)
    bpp = channels
    for y in range(height):
        start = y * (stride + 1)
        kind = raw[start]
        line = np.frombuffer(raw, np.uint8, stride, start + 1).astype(np.int32)
        if kind == 0:
            row = line
        elif kind == 1:  # Sub: running sum over pixels, per channel
            row = np.cumsum(line.reshape(width, bpp), axis=0).reshape(stride) & 255
        elif kind == 2:  # Up
            row = (line + previous) & 255
        elif kind in (3, 4):  # Average, Paeth: sequential along the row
            out = [0] * stride
            up = previous.tolist()
            values = line.tolist()
            for i in range(stride):
                left = out[i - bpp] if i >= bpp else 0
                if kind == 3:
                    predictor = (left + up[i]) >> 1
                else:
                    corner = up[i - bpp] if i >= bpp else 0
                    estimate = left + up[i] - corner
                    pa, pb, pc = abs(estimate - left), abs(estimate - up[i]), abs(estimate - corner)
                    predictor = left if pa <= pb and pa <= pc else up[i] if pb <= pc else corner
                out[i] = (values[i] + predictor) & 255
            row = np.array(out, np.int32)
        else:
            raise QuantizeError(f"{path}: unknown PNG row filter {kind}")
        pixels[y] = row
        previous = row
    image = pixels.reshape(height, width, channels)
    if colour == 3:
        if palette is None:
            raise QuantizeError(f"{path}: palette PNG without PLTE")
        return palette[image[:, :, 0]]
    if channels in (1, 2):
        return np.repeat(image[:, :, :1], 3, axis=2)
    return np.ascontiguousarray(image[:, :, :3])


def read_wav(path):
    """RIFF WAVE (PCM 8/16/24/32-bit, IEEE float 32/64, or their EXTENSIBLE forms) →
    (float32 mono samples, sample rate). Channels are averaged."""
    with open(path, "rb") as handle:
        data = handle.read()
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise QuantizeError(f"{path}: not a WAV file")
    position, fmt, samples = 12, None, None
    while position + 8 <= len(data):
        kind, length = struct.unpack("<4sI", data[position:position + 8])
        body = data[position + 8:position + 8 + length]
        if kind == b"fmt ":
            fmt = struct.unpack("<HHIIHH", body[:16])
            if fmt[0] == 0xFFFE and len(body) >= 26:  # WAVE_FORMAT_EXTENSIBLE: the sub-format's first two bytes
                fmt = (struct.unpack("<H", body[24:26])[0],) + fmt[1:]
        elif kind == b"data":
            samples = body
        position += 8 + length + (length & 1)
    if fmt is None or samples is None:
        raise QuantizeError(f"{path}: WAV without fmt or data chunk")
    encoding, channels, rate, _, _, bits = fmt
    if encoding == 1 and bits in (8, 16, 24, 32):
        width = bits // 8
        count = len(samples) // width
        if bits == 8:
            values = (np.frombuffer(samples, np.uint8, count).astype(np.float32) - 128) / 128
        elif bits == 24:
            raw = np.frombuffer(samples, np.uint8, count * 3).reshape(-1, 3).astype(np.int32)
            values = ((raw[:, 0] | (raw[:, 1] << 8) | (raw[:, 2] << 16)) << 8 >> 8).astype(np.float32) / 2 ** 23
        else:
            values = np.frombuffer(samples, f"<i{width}", count).astype(np.float32) / 2 ** (bits - 1)
    elif encoding == 3 and bits in (32, 64):
        values = np.frombuffer(samples, f"<f{bits // 8}", len(samples) // (bits // 8)).astype(np.float32)
    else:
        raise QuantizeError(f"{path}: unsupported WAV encoding {encoding} with {bits} bits")
    if channels < 1:
        raise QuantizeError(f"{path}: WAV with {channels} channels")
    values = values[:len(values) // channels * channels].reshape(-1, channels).mean(axis=1)
    return values.astype(np.float32), rate


def speech_16k(path):
    """Mono 16 kHz speech (linear interpolation when the file has another rate), padded to
    the mel front end's minimum as the server pads."""
    samples, rate = read_wav(path)
    if rate != SAMPLE_RATE:
        count = int(round(len(samples) * SAMPLE_RATE / rate))
        samples = np.interp(np.arange(count) * rate / SAMPLE_RATE, np.arange(len(samples)), samples).astype(np.float32)
    if len(samples) < MIN_SAMPLES:
        samples = np.concatenate([samples, np.zeros(MIN_SAMPLES - len(samples), np.float32)])
    return samples


# ---------------------------------------------------------------- generator inputs

def _sample_positions(source, destination):
    """FrameResampling.samplePositions: (index, next, fraction) per destination index."""
    position = (np.arange(destination) + 0.5) * (source / destination) - 0.5
    index = np.floor(position).astype(np.int64)
    fraction = (position - index).astype(np.float32)
    fraction[index < 0] = 0
    index[index < 0] = 0
    last = index >= source - 1
    index[last], fraction[last] = source - 1, 0
    return index, np.minimum(index + 1, source - 1), fraction


def resize(image, width, height):
    """The server's bilinear resize of an 8-bit [H, W, 3] image (Frame.resized)."""
    ys, ys_next, fy = _sample_positions(image.shape[0], height)
    xs, xs_next, fx = _sample_positions(image.shape[1], width)
    source = image.astype(np.float32)
    a, b = source[ys][:, xs], source[ys][:, xs_next]
    c, d = source[ys_next][:, xs], source[ys_next][:, xs_next]
    fx, fy = fx[None, :, None], fy[:, None, None]
    upper = a + (b - a) * fx
    lower = c + (d - c) * fx
    return np.clip(np.round(upper + (lower - upper) * fy), 0, 255).astype(np.uint8)


def _letterbox(rgb, size):
    """BlazeFaceDetector.letterbox: centred square, bilinear with a zero border, rounded, [−1, 1], NCHW."""
    height, width = rgb.shape[:2]
    side = max(width, height)
    scale = size / side
    sy = (np.arange(size) - (side - height) / 2 * scale) / scale
    sx = (np.arange(size) - (side - width) / 2 * scale) / scale
    y0, x0 = np.floor(sy).astype(np.int64), np.floor(sx).astype(np.int64)
    fy, fx = (sy - y0)[:, None, None], (sx - x0)[None, :, None]
    padded = np.zeros((height + 2, width + 2, 3), np.float64)
    padded[1:-1, 1:-1] = rgb

    def at(y, x):  # out-of-frame samples read 0
        return padded[np.clip(y + 1, 0, height + 1)][:, np.clip(x + 1, 0, width + 1)]
    top = at(y0, x0) * (1 - fx) + at(y0, x0 + 1) * fx
    bottom = at(y0 + 1, x0) * (1 - fx) + at(y0 + 1, x0 + 1) * fx
    value = np.round(top * (1 - fy) + bottom * fy)
    return (value * (2 / 255) - 1).astype(np.float32).transpose(2, 0, 1)[None]


def face_box(directory, rgb, pads=DEFAULT_PADS):
    """The padded integer face box (x1, y1, x2, y2) of the photo: the best BlazeFace
    detection when the folder has `blazeface`, else the centred square of the smaller side."""
    import onnxruntime as ort
    from . import blazeface
    from .convert import read_manifest

    height, width = rgb.shape[:2]
    entry = read_manifest(directory)["models"].get("blazeface")
    box = None
    if entry is not None:
        session = ort.InferenceSession(os.path.join(directory, entry["file"]), providers=["CPUExecutionProvider"])
        regressors, scores = session.run(["regressors", "classificators"], {"input": _letterbox(rgb, blazeface.INPUT_SIZE)})
        faces = blazeface.detect(regressors, scores, width, height)
        if faces:
            x1, y1, x2, y2 = faces[0][1]
            box = (max(0, int(x1)), max(0, int(y1)), max(0, int(x2)), max(0, int(y2)))
    if box is None:
        side = min(width, height)
        box = ((width - side) // 2, (height - side) // 2, (width + side) // 2, (height + side) // 2)
    top, bottom, left, right = pads
    return (max(0, box[0] - left), max(0, box[1] - top), min(width, box[2] + right), min(height, box[3] + bottom))


def face_tensor(bgr_crop):
    """Wav2LipGenerator.generate's face input for one 96×96 BGR crop: [6, 96, 96]."""
    reference = bgr_crop.astype(np.float32).transpose(2, 0, 1) / 255
    masked = reference.copy()
    masked[:, FACE_SIZE // 2:, :] = 0
    return np.concatenate([masked, reference], axis=0)


def jittered_faces(rgb, box, count, rng):
    """`count` face inputs [count, 6, 96, 96] from crops around `box` (see the module notes)."""
    height, width = rgb.shape[:2]
    x1, y1, x2, y2 = box
    bw, bh = x2 - x1, y2 - y1
    faces = np.empty((count, 6, FACE_SIZE, FACE_SIZE), np.float32)
    for n in range(count):
        scale = rng.uniform(0.9, 1.12)
        cx = (x1 + x2) / 2 + rng.uniform(-0.08, 0.08) * bw
        cy = (y1 + y2) / 2 + rng.uniform(-0.08, 0.08) * bh
        w, h = bw * scale, bh * scale
        left, top = int(max(0, cx - w / 2)), int(max(0, cy - h / 2))
        right, bottom = int(min(width, cx + w / 2)), int(min(height, cy + h / 2))
        crop = rgb[top:bottom, left:right].astype(np.float32) * rng.uniform(0.75, 1.25) + rng.uniform(-12, 12)
        crop = np.clip(np.round(crop), 0, 255).astype(np.uint8)
        if rng.random() < 1 / 3:
            crop = crop[:, ::-1]
        faces[n] = face_tensor(resize(crop, FACE_SIZE, FACE_SIZE)[:, :, ::-1])  # RGB → BGR, as the server's frames
    return faces


def mel_spectrogram(directory, samples):
    """[80, frames] from the folder's `wav2lip_mel` model."""
    import onnxruntime as ort
    from .convert import read_manifest

    entry = read_manifest(directory)["models"].get("wav2lip_mel")
    if entry is None:
        raise QuantizeError(f"{directory}: the manifest has no wav2lip_mel (the generator's audio front end)")
    session = ort.InferenceSession(os.path.join(directory, entry["file"]), providers=["CPUExecutionProvider"])
    return session.run(["mel"], {"waveform": samples[None].astype(np.float32)})[0][0]


def chunk_starts(frames, fps=25.0, step=MEL_STEP, per_second=80.0):
    """MelSpectrogram.chunkStarts: ⌊i·80/fps⌋ until a window would run past the end, then the last window."""
    if frames < step:
        return []
    starts, i = [], 0
    while True:
        start = int(i * (per_second / fps))
        if start + step > frames:
            return starts + [frames - step]
        starts.append(start)
        i += 1


def generator_inputs(directory, face_png, speech_wav, count, held_out=False, fps=25.0):
    """{'mel': [count, 1, 80, 16], 'face': [count, 6, 96, 96]} float32: calibration inputs,
    or (`held_out`) other crops and other mel windows."""
    rgb = read_png(face_png)
    box = face_box(directory, rgb)
    mel = mel_spectrogram(directory, speech_16k(speech_wav))
    starts = chunk_starts(mel.shape[1], fps)
    if not starts:
        raise QuantizeError(f"{speech_wav}: too short for one mel window")
    if held_out:
        taken = set(starts)
        starts = [s + 1 for s in starts if s + 1 + MEL_STEP <= mel.shape[1] and s + 1 not in taken]
        if not starts:
            raise QuantizeError(f"{speech_wav}: too short for held-out mel windows (use longer speech)")
    rng = np.random.default_rng(HELD_OUT_SEED if held_out else CALIBRATION_SEED)
    order = np.concatenate([rng.permutation(len(starts)) for _ in range(-(-count // len(starts)))])[:count]
    mels = np.stack([mel[:, starts[i]:starts[i] + MEL_STEP] for i in order])[:, None].astype(np.float32)
    return {"mel": mels, "face": jittered_faces(rgb, box, count, rng)}, box


# ---------------------------------------------------------------- quantisation

def _batches(inputs, batch):
    count = len(next(iter(inputs.values())))
    return [{name: value[i:i + batch] for name, value in inputs.items()} for i in range(0, count, batch)]


def quantize_static_model(float_path, int8_path, inputs, activation="QUInt8", reduce_range=False, method="MinMax",
                          per_channel=True, batch=8, nodes_to_exclude=None, extra_options=None):
    """onnxruntime static QDQ quantisation of `float_path` into `int8_path`, calibrated on `inputs`."""
    from onnxruntime import quantization as q

    class Reader(q.CalibrationDataReader):
        def __init__(self):
            self.feeds = iter(_batches(inputs, batch))

        def get_next(self):
            return next(self.feeds, None)

    options = {"WeightSymmetric": True}
    options.update(extra_options or {})
    # quantize_static keeps its calibration copies (model, augmented model) in its own temporary
    # folder. Its advice to run `quant_pre_process` first is silenced: that pass folds
    # constants and infers shapes, and on modelkit's Wav2Lip graph (BatchNorm already folded)
    # it only removes the Identity that names the output; quantize_static infers shapes itself.
    quiet = _DropMessages("pre-processing before quantization")
    logging.getLogger().addFilter(quiet)
    try:
        q.quantize_static(
            float_path, int8_path, Reader(), quant_format=q.QuantFormat.QDQ, per_channel=per_channel,
            reduce_range=reduce_range, activation_type=getattr(q.QuantType, activation), weight_type=q.QuantType.QInt8,
            calibrate_method=getattr(q.CalibrationMethod, method), nodes_to_exclude=nodes_to_exclude or [],
            extra_options=options)
    finally:
        logging.getLogger().removeFilter(quiet)


class _DropMessages(logging.Filter):
    def __init__(self, fragment):
        super().__init__()
        self.fragment = fragment

    def filter(self, record):
        return self.fragment not in record.getMessage()


# ---------------------------------------------------------------- measurements

def session(path, threads=2):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def to_grey_levels(prediction):
    """Wav2LipGenerator's output pixels: prediction·255 clamped and truncated to 8 bits."""
    return np.clip(prediction * 255, 0, 255).astype(np.uint8)


def compare_faces(reference, candidate):
    """PSNR (dB), max |Δ| and mean |Δ| between two predictions, on the 8-bit faces the server makes."""
    a, b = to_grey_levels(reference).astype(np.float64), to_grey_levels(candidate).astype(np.float64)
    difference = np.abs(a - b)
    mse = float(np.mean(difference ** 2))
    psnr = float("inf") if mse == 0 else 10 * np.log10(255 ** 2 / mse)
    return {"psnr_db": psnr, "max_abs": float(difference.max()), "mean_abs": float(difference.mean())}


def run_batched(sess, inputs, batch=42):
    return np.concatenate([sess.run(["prediction"], feeds)[0] for feeds in _batches(inputs, batch)])


def time_sessions(sessions, inputs, batch, runs):
    """Median milliseconds per call of `batch` items for each session, interleaved run by run
    (so a busy neighbour slows all of them alike); one untimed warm-up call each."""
    feeds = {name: np.ascontiguousarray(value[:batch]) for name, value in inputs.items()}
    for sess in sessions.values():
        sess.run(None, feeds)
    times = {name: [] for name in sessions}
    for _ in range(runs):
        for name, sess in sessions.items():
            start = time.perf_counter()
            sess.run(None, feeds)
            times[name].append((time.perf_counter() - start) * 1000)
    return {name: {"median_ms": float(np.median(values)), "min_ms": float(np.min(values)), "runs": values}
            for name, values in times.items()}


# ---------------------------------------------------------------- the command

def _float_tail(model):
    """Names of the nodes kept float32: the Sigmoid that produces the prediction and the
    1×1 convolution that feeds it (32→3 channels, 0.02 % of the multiply-adds). Quantising
    the logits to 8 bits before the sigmoid would put its steepest part on a coarse grid."""
    producers = {output: node for node in model.graph.node for output in node.output}
    sigmoid = producers.get(model.graph.output[0].name)
    while sigmoid is not None and sigmoid.op_type == "Identity":  # the builder names the output with an Identity
        sigmoid = producers.get(sigmoid.input[0])
    if sigmoid is None or sigmoid.op_type != "Sigmoid":
        raise QuantizeError("the generator's output is not produced by a Sigmoid (not a modelkit Wav2Lip graph)")
    conv = producers.get(sigmoid.input[0])
    return [sigmoid.name] + ([conv.name] if conv is not None and conv.op_type == "Conv" else [])


def quantize_wav2lip(directory, face_png, speech_wav, samples=96, method="MinMax", log=print):
    """Writes `wav2lip_int8.onnx` and its manifest entry (kind `wav2lip_int8`) from the
    folder's `wav2lip`, calibrated on `samples` generator inputs made from the photo and the
    speech. Returns (entry, calibration inputs' face box)."""
    import onnxruntime
    from . import convert

    manifest = convert.read_manifest(directory)
    source = manifest["models"].get("wav2lip")
    if source is None:
        raise QuantizeError(f"{directory}: the manifest has no wav2lip (float32) model to quantize")
    float_path = os.path.join(directory, source["file"])
    if not os.path.exists(float_path) or convert.sha256(float_path) != source["sha256"]:
        raise QuantizeError(f"{float_path} is missing or does not match its manifest hash")
    if samples < 1:
        raise QuantizeError("--samples must be at least 1")
    inputs, box = generator_inputs(directory, face_png, speech_wav, samples)
    log(f"modelkit quantize: {samples} calibration inputs (face box {box} of {os.path.basename(face_png)}, "
        f"mel windows of {os.path.basename(speech_wav)})")
    float_model = onnx.load(float_path)
    # The strided ConvTransposes become convolutions first, so that they run as int8 kernels
    # (graph.convtranspose_as_subpixel; docs/modelkit.md, "Int8 variants").
    subpixel = graph.convtranspose_as_subpixel(float_model)
    excluded = _float_tail(float_model)
    with tempfile.TemporaryDirectory(prefix="modelkit-quantize-") as scratch:
        rewritten_path = os.path.join(scratch, "wav2lip_subpixel.onnx")
        onnx.save(float_model, rewritten_path)
        del float_model
        int8_path = os.path.join(scratch, "wav2lip_int8.onnx")
        quantize_static_model(rewritten_path, int8_path, inputs, activation="QUInt8", reduce_range=False, method=method,
                              nodes_to_exclude=excluded)
        model = onnx.load(int8_path)
    # The sub-pixel convolutions' shuffles written channels-last, where ONNX Runtime runs the
    # int8 convolutions (graph.pixel_shuffles_as_nhwc): the same values, fewer transposes.
    shuffles = graph.pixel_shuffles_as_nhwc(model)
    model.doc_string += (" Int8 (modelkit quantize): QDQ, int8 weights per output channel, uint8 activations per tensor, "
                         f"{method} calibration on {samples} real face crops and mel windows; float32 inputs and outputs.")
    standard = {"file", "kind", "version", "precision", "standin", "source", "inputs", "outputs", "preprocessing", "sha256"}
    extra = {key: value for key, value in source.items() if key not in standard}
    extra["quantization"] = dict(WAV2LIP_SETTINGS, calibration=method, calibration_samples=samples, float32_nodes=excluded,
                                 subpixel_convtransposes=subpixel, nhwc_pixel_shuffles=shuffles,
                                 onnxruntime=onnxruntime.__version__)
    entry = convert._publish(directory, "wav2lip_int8", "wav2lip_int8.onnx", model, source["source"], source["standin"],
                             source["preprocessing"], extra, precision="int8")
    return entry, box


def report_wav2lip(directory, face_png, speech_wav, count=84, runs=5, threads=2, batches=(42, 16), log=print):
    """int8 against float32 on held-out inputs: fidelity of the 8-bit faces and CPU speed."""
    from . import convert

    models = convert.read_manifest(directory)["models"]
    paths = {kind: os.path.join(directory, models[kind]["file"]) for kind in ("wav2lip", "wav2lip_int8")}
    inputs, _ = generator_inputs(directory, face_png, speech_wav, count, held_out=True)
    sessions = {"float32": session(paths["wav2lip"], threads), "int8": session(paths["wav2lip_int8"], threads)}
    reference = run_batched(sessions["float32"], inputs)
    fidelity = compare_faces(reference, run_batched(sessions["int8"], inputs))
    log(f"fidelity: {count} held-out inputs (other crops, other mel windows), int8 vs float32 on the 8-bit faces: "
        f"PSNR {fidelity['psnr_db']:.2f} dB, max |Δ| {fidelity['max_abs']:.0f}, mean |Δ| {fidelity['mean_abs']:.3f} grey levels")
    if models["wav2lip"]["standin"]:
        log("  (stand-in weights: random, so these figures describe the architecture with random weights, not a trained generator)")
    speed = {}
    if runs > 0:
        for batch in batches:
            if batch > count:
                continue
            timing = time_sessions(sessions, inputs, batch, runs)
            speed[batch] = {name: value["median_ms"] for name, value in timing.items()}
            log(f"speed: batch {batch}, CPUExecutionProvider, {threads} intra-op threads, median of {runs}: "
                f"float32 {speed[batch]['float32']:.0f} ms, int8 {speed[batch]['int8']:.0f} ms "
                f"(×{speed[batch]['float32'] / speed[batch]['int8']:.2f})")
    return {"fidelity": fidelity, "speed": speed, "held_out": count}
