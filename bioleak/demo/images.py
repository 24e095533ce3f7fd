"""Deterministic synthetic portraits and the transformations a leaked copy goes through.

No real person is depicted: each "face" is drawn from a seed over a smooth random background,
which gives well-spread perceptual hashes like photographs do.
"""

from __future__ import annotations

import io
import random
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw, ImageOps

SIZE = 320


def portrait(seed: int, size: int = SIZE) -> Image.Image:
    rng = random.Random(seed)
    nprng = np.random.default_rng(seed)
    # Smooth random background: a coarse grid of colours upsampled bicubically.
    coarse = nprng.integers(0, 256, size=(6, 6, 3), dtype=np.uint8)
    img = Image.fromarray(coarse, "RGB").resize((size, size), Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(img)
    cx, cy = size * rng.uniform(0.38, 0.62), size * rng.uniform(0.42, 0.58)
    rx, ry = size * rng.uniform(0.17, 0.24), size * rng.uniform(0.22, 0.3)
    skin = (rng.randint(150, 240), rng.randint(110, 200), rng.randint(90, 170))
    hair = (rng.randint(0, 90), rng.randint(0, 70), rng.randint(0, 60))
    draw.ellipse((cx - rx * 1.1, cy - ry * 1.15, cx + rx * 1.1, cy + ry * 0.2), fill=hair)
    draw.ellipse((cx - rx, cy - ry, cx + rx, cy + ry), fill=skin)
    eye_y = cy - ry * rng.uniform(0.15, 0.3)
    for side in (-1, 1):
        ex = cx + side * rx * rng.uniform(0.35, 0.5)
        draw.ellipse((ex - 9, eye_y - 5, ex + 9, eye_y + 5), fill=(250, 250, 250))
        draw.ellipse((ex - 4, eye_y - 4, ex + 4, eye_y + 4), fill=(30, 20, 10))
    mouth_y = cy + ry * rng.uniform(0.35, 0.55)
    w = rx * rng.uniform(0.3, 0.55)
    draw.arc((cx - w, mouth_y - 12, cx + w, mouth_y + 12), 10, 170, fill=(120, 30, 40), width=4)
    body = (rng.randint(0, 255), rng.randint(0, 255), rng.randint(0, 255))
    draw.rectangle((cx - rx * 1.6, cy + ry * 1.05, cx + rx * 1.6, size), fill=body)
    return img


def to_bytes(img: Image.Image, fmt: str = "JPEG", **kwargs: int) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kwargs)
    return buf.getvalue()


def _crop(fraction: float) -> Callable[[Image.Image], Image.Image]:
    def apply(img: Image.Image) -> Image.Image:
        w, h = img.size
        dx, dy = int(w * fraction / 2), int(h * fraction / 2)
        return img.crop((dx, dy, w - dx, h - dy))

    return apply


def _watermark(img: Image.Image) -> Image.Image:
    out = img.copy()
    draw = ImageDraw.Draw(out)
    for y in range(10, out.height, 80):
        draw.text((10, y), "SAMPLE @facedata_shop", fill=(255, 255, 255))
    return out


# name -> transformation of a leaked copy; all survive pHash+dHash matching at default radii.
TRANSFORMS: dict[str, Callable[[Image.Image], Image.Image]] = {
    "jpeg_q40": lambda img: img,  # the re-encode itself happens in to_bytes(quality=40)
    "resize_50": lambda img: img.resize((img.width // 2, img.height // 2), Image.Resampling.LANCZOS),
    "watermark": _watermark,
    "grayscale": lambda img: ImageOps.grayscale(img).convert("RGB"),
    "mirror": ImageOps.mirror,
    "crop_3": _crop(0.03),
}


def leaked_copy(original: Image.Image, transform: str) -> bytes:
    quality = 40 if transform == "jpeg_q40" else 85
    return to_bytes(TRANSFORMS[transform](original), "JPEG", quality=quality)
