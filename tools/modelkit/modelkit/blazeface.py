"""MediaPipe BlazeFace short-range → ONNX, plus a reference of MediaPipe's post-processing.

The weights (Apache-2.0) ship inside the PyPI wheel `mediapipe==0.10.21` at
`mediapipe/modules/face_detection/face_detection_short_range.tflite`. modelkit downloads
that wheel with pip (it is never installed), checks the file's SHA-256, and converts it
with tflite2onnx, which folds the float16 weights into float32 and turns the NHWC input
into NCHW. Facts: ../shared/reference/blazeface.md.

ONNX signature: `input` float32 [1, 3, 128, 128] (RGB letterboxed to a square, mapped to
[−1, 1], border −1) → `regressors` [1, 896, 16], `classificators` [1, 896, 1] (logits).

`detect()` is the reference post-processing (anchors, decoding, sigmoid threshold,
weighted NMS, projection to the image) used to check the converted model against
MediaPipe's own FaceDetection; the server implements the same steps in Swift with the
constants written to the manifest.
"""
import contextlib
import hashlib
import io
import os
import subprocess
import sys
import tempfile
import zipfile

import numpy as np

from .versions import pinned

WHEEL_VERSION = pinned("PY_MEDIAPIPE_WHEEL_VERSION")
TFLITE_MEMBER = "mediapipe/modules/face_detection/face_detection_short_range.tflite"
TFLITE_SHA256 = "bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8"
INPUT_SIZE = 128

POSTPROCESSING = {
    "input_size": INPUT_SIZE, "input_layout": "NCHW", "channel_order": "rgb", "value_range": [-1.0, 1.0],
    "letterbox": "centre, square, border value -1, bilinear", "num_boxes": 896,
    "anchors": {"strides": [8, 16, 16, 16], "offset": 0.5, "fixed_size": True, "per_cell": {"8": 2, "16": 6}},
    "box_scale": 128.0, "box_format": "cx, cy, w, h (linear)", "num_keypoints": 6,
    "keypoints": ["right_eye", "left_eye", "nose_tip", "mouth_center", "right_ear_tragion", "left_ear_tragion"],
    "score_clip": 100.0, "score_threshold": 0.5, "nms": "weighted", "nms_iou": 0.3,
}


class BlazeFaceError(Exception):
    pass


def fetch_tflite(cache_dir, wheel=None):
    """The .tflite bytes, from `wheel` or from the mediapipe wheel downloaded into cache_dir."""
    if wheel is None:
        os.makedirs(cache_dir, exist_ok=True)
        name = f"mediapipe-{WHEEL_VERSION}"
        found = [f for f in os.listdir(cache_dir) if f.startswith(name) and f.endswith(".whl")]
        if not found:
            subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
                            f"mediapipe=={WHEEL_VERSION}", "-d", cache_dir], check=True)
            found = [f for f in os.listdir(cache_dir) if f.startswith(name) and f.endswith(".whl")]
        if not found:
            raise BlazeFaceError(f"pip did not provide mediapipe {WHEEL_VERSION} in {cache_dir}")
        wheel = os.path.join(cache_dir, found[0])
    try:
        with zipfile.ZipFile(wheel) as archive:
            data = archive.read(TFLITE_MEMBER)
    except (zipfile.BadZipFile, KeyError, OSError) as error:
        raise BlazeFaceError(f"{wheel}: no {TFLITE_MEMBER} ({error})") from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != TFLITE_SHA256:
        raise BlazeFaceError(f"{wheel}: {TFLITE_MEMBER} has SHA-256 {digest}, expected {TFLITE_SHA256}")
    return data


def convert_tflite(data):
    """tflite bytes → checked onnx.ModelProto."""
    import onnx
    import tflite2onnx

    with tempfile.TemporaryDirectory() as work:
        source, target = os.path.join(work, "model.tflite"), os.path.join(work, "model.onnx")
        with open(source, "wb") as handle:
            handle.write(data)
        # tflite2onnx prints a warning per float16 tensor it folds; keep the console clean.
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            try:
                tflite2onnx.convert(source, target)
            except Exception as error:  # the converter raises plain exceptions for unsupported files
                raise BlazeFaceError(f"tflite2onnx could not convert the model: {error}") from None
        model = onnx.load(target)
    check_signature(model)
    model.doc_string = "MediaPipe BlazeFace short-range (Apache-2.0), converted by modelkit with tflite2onnx."
    return model


def check_signature(model):
    def dims(value):
        return [d.dim_value for d in value.type.tensor_type.shape.dim]
    inputs = {v.name: dims(v) for v in model.graph.input}
    outputs = {v.name: dims(v) for v in model.graph.output}
    expected_in = {"input": [1, 3, INPUT_SIZE, INPUT_SIZE]}
    expected_out = {"regressors": [1, 896, 16], "classificators": [1, 896, 1]}
    if inputs != expected_in or outputs != expected_out:
        raise BlazeFaceError(f"not BlazeFace short-range: inputs {inputs}, outputs {outputs}; "
                             f"expected {expected_in} → {expected_out}")


def anchors():
    """[896, 2] anchor centres in tensor units (16×16×2 then 8×8×6, row-major cells)."""
    rows = []
    for grid, per_cell in ((16, 2), (8, 6)):
        for y in range(grid):
            for x in range(grid):
                rows += [((x + 0.5) / grid, (y + 0.5) / grid)] * per_cell
    return np.array(rows, dtype=np.float32)


def letterbox(rgb):
    """MediaPipe's ImageToTensor (keep aspect ratio, border 0): the square region around the
    image centre, resized to 128×128 bilinear, mapped to [−1, 1]. Returns NCHW float32.
    (Needs OpenCV; used by the comparison with MediaPipe, not by conversion.)"""
    import cv2

    height, width = rgb.shape[:2]
    side = max(width, height)
    scale = INPUT_SIZE / side
    # Region [cx − side/2, cx + side/2] → [0, 128]: x' = (x − (cx − side/2)) · scale.
    matrix = np.array([[scale, 0, (side / 2 - width / 2) * scale], [0, scale, (side / 2 - height / 2) * scale], [0, 0, 1]])
    warped = cv2.warpPerspective(rgb, matrix, (INPUT_SIZE, INPUT_SIZE), flags=cv2.INTER_LINEAR,
                                 borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return (warped.astype(np.float32) * (2 / 255) - 1).transpose(2, 0, 1)[None]


def detect(regressors, classificators, width, height, threshold=0.5):
    """Faces in image pixels: list of (score, [xmin, ymin, xmax, ymax], [[x, y] × 6])."""
    raw = regressors.reshape(896, 16).astype(np.float32)
    logits = np.clip(classificators.reshape(896).astype(np.float64), -100, 100)
    scores = 1 / (1 + np.exp(-logits))
    centres = anchors()
    cx = raw[:, 0] / 128 + centres[:, 0]
    cy = raw[:, 1] / 128 + centres[:, 1]
    w, h = raw[:, 2] / 128, raw[:, 3] / 128
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    keypoints = raw[:, 4:16].reshape(896, 6, 2) / 128 + centres[:, None, :]
    keep = (scores >= threshold) & (w >= 0) & (h >= 0)
    order = [int(i) for i in np.argsort(-scores[keep], kind="stable")]
    indices = np.flatnonzero(keep)[order]

    def iou(a, b):
        ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
        iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
        inter = ix * iy
        union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
        return inter / union if union > 0 and inter > 0 else 0.0

    faces, remaining = [], list(indices)
    while remaining:
        top = remaining[0]
        group = [i for i in remaining if iou(boxes[top], boxes[i]) > 0.3]
        if not group:
            break
        weights = scores[group][:, None]
        box = (boxes[group] * weights).sum(0) / weights.sum()
        points = (keypoints[group] * weights[:, :, None]).sum(0) / weights.sum()
        faces.append((float(scores[top]), box, points))
        remaining = [i for i in remaining if i not in group]

    side = max(width, height)
    def project(x, y):
        return (width / 2 + (x - 0.5) * side), (height / 2 + (y - 0.5) * side)
    projected = []
    for score, box, points in faces:
        x1, y1 = project(box[0], box[1])
        x2, y2 = project(box[2], box[3])
        projected.append((score, [x1, y1, x2, y2], [list(project(x, y)) for x, y in points]))
    return projected
