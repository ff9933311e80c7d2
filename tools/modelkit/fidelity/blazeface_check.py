"""modelkit's BlazeFace (ONNX + reference post-processing) vs MediaPipe's own Python
FaceDetection on real photographs.

Needs `mediapipe==0.10.21` (brings OpenCV) and `scikit-image` (its bundled photos) in a
scratch virtualenv, and a models folder made by `modelkit blazeface --out DIR`:

    /tmp/torchenv/bin/python tools/modelkit/fidelity/blazeface_check.py --models DIR

Images: scikit-image's astronaut (512×512) and cameraman (grayscale → RGB), plus the
astronaut on a wider canvas (landscape letterbox) and cropped to a portrait (portrait
letterbox). Pass criterion: same number of faces, IoU ≥ 0.95, keypoints within 1 px.
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def images():
    from skimage import data
    astronaut = np.ascontiguousarray(data.astronaut())
    landscape = np.zeros((512, 862, 3), np.uint8)
    landscape[:, 175:687] = astronaut
    camera = np.ascontiguousarray(np.repeat(data.camera()[:, :, None], 3, axis=2))
    return {"astronaut 512×512": astronaut, "astronaut on 862×512": landscape,
            "astronaut cropped 340×512": np.ascontiguousarray(astronaut[:, 60:400]), "cameraman 512×512": camera}


def iou(a, b):
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", required=True)
    args = parser.parse_args()

    import mediapipe as mp
    import onnxruntime as ort
    from modelkit import blazeface

    session = ort.InferenceSession(os.path.join(args.models, "blazeface.onnx"), providers=["CPUExecutionProvider"])
    failed = False
    with mp.solutions.face_detection.FaceDetection(model_selection=0, min_detection_confidence=0.5) as reference:
        for label, rgb in images().items():
            height, width = rgb.shape[:2]
            theirs = reference.process(rgb).detections or []
            regressors, scores = session.run(["regressors", "classificators"], {"input": blazeface.letterbox(rgb)})
            ours = blazeface.detect(regressors, scores, width, height)
            print(f"{label}: MediaPipe {len(theirs)} face(s), modelkit {len(ours)}")
            if len(theirs) != len(ours):
                failed = True
                continue
            for detection, (score, box, points) in zip(theirs, ours):
                rel = detection.location_data.relative_bounding_box
                their_box = [rel.xmin * width, rel.ymin * height, (rel.xmin + rel.width) * width, (rel.ymin + rel.height) * height]
                their_points = [[k.x * width, k.y * height] for k in detection.location_data.relative_keypoints]
                overlap = iou(their_box, box)
                distance = max(np.hypot(a[0] - b[0], a[1] - b[1]) for a, b in zip(their_points, points))
                print(f"  score {detection.score[0]:.4f} vs {score:.4f}, IoU {overlap:.4f}, keypoints max {distance:.3f} px")
                failed |= overlap < 0.95 or distance > 1.0
    print("FAIL" if failed else "all within IoU ≥ 0.95 and 1 px")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
