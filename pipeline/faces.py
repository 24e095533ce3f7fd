"""Face detection with OpenCV's bundled Haar cascade (opencv-python-headless < 5 ships it; no
model is downloaded at run time). Runs on a downscaled copy: detection costs far more than
hashing (DESIGN.md), so callers enable it only where it pays off."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
from PIL import Image

from pipeline.models import Box

DETECT_MAX_SIDE = 640
MIN_FACE = 24
SCALE_STEP = 1.2  # pyramid step: 1.1 finds the same faces in our tests at 1.8x the cost
MARGIN = 0.15  # widen boxes a little: croppers rarely cut exactly at the detector's box


class FaceDetectorUnavailable(RuntimeError):
    pass


_import_lock = threading.Lock()
_local = threading.local()


def _cascade() -> Any:
    """One classifier per thread: crawls hash in a thread pool, and OpenCV's cascade keeps
    per-call state. The import is locked because cv2 fills in `cv2.data` while importing."""
    cascade = getattr(_local, "cascade", None)
    if cascade is not None:
        return cascade
    with _import_lock:
        try:
            import cv2
        except ImportError as exc:  # pragma: no cover - a packaging error, reported clearly
            raise FaceDetectorUnavailable("face detection needs opencv-python-headless<5") from exc
        # One thread per detection: callers parallelise across images, and OpenCV's own thread
        # pool would fight the crawler's reactor for the same two cores.
        cv2.setNumThreads(1)
        path = str(cv2.data.haarcascades) + "haarcascade_frontalface_default.xml"  # type: ignore[attr-defined]
        cascade = cv2.CascadeClassifier(path)
    if cascade.empty():
        raise FaceDetectorUnavailable(f"could not load the face cascade from {path}")
    _local.cascade = cascade
    return cascade


def detect_faces(gray: Image.Image) -> list[Box]:
    """Face boxes in `gray`'s pixel coordinates, largest first."""
    scale = min(1.0, DETECT_MAX_SIDE / max(gray.size))
    small = gray if scale == 1.0 else gray.resize((round(gray.width * scale), round(gray.height * scale)))
    found = _cascade().detectMultiScale(
        np.asarray(small, dtype=np.uint8), scaleFactor=SCALE_STEP, minNeighbors=5, minSize=(MIN_FACE, MIN_FACE)
    )
    boxes: list[Box] = []
    for x, y, w, h in sorted((tuple(map(int, f)) for f in found), key=lambda f: -f[2] * f[3]):
        mx, my = w * MARGIN, h * MARGIN
        box = (
            max(0, round((x - mx) / scale)), max(0, round((y - my) / scale)),
            min(gray.width, round((x + w + mx) / scale)), min(gray.height, round((y + h + my) / scale)),
        )  # fmt: skip
        boxes.append(box)
    return boxes
