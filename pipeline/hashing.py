"""Perceptual hashes from one decode of an image.

Regions hashed (64-bit pHash and dHash each): the whole image and its mirror, every tile when
the image is a grid of photos (a "sample sheet"), and every detected face when asked. Uniform
borders are trimmed first, the same way at enrolment and at query time, so a frame added by a
reseller does not move the hash.
"""

from __future__ import annotations

from collections.abc import Iterator

import imagehash
import numpy as np
import numpy.typing as npt
from PIL import Image, ImageOps

from pipeline.images import DecodedImage, decode_image
from pipeline.models import Box, ImageHashes, Region, RegionHash

HASH_SIZE = 8  # 64-bit hashes
MAX_TRIM = 0.1  # never trim more than this fraction per side
UNIFORM_STD = 3.0  # a border row/column with less luminance spread than this is "uniform"
GRID_SIZES = (4, 3, 2)  # largest first: a 4x4 sheet also has an edge at 1/2
GRID_EDGE_RATIO = 4.0  # an edge at every grid line this many times the median edge strength
MIN_TILE = 24  # pixels; smaller tiles carry too little to hash


def region_hash(region: Region, image: Image.Image, box: Box | None = None) -> RegionHash:
    return RegionHash(
        region=region,
        phash=str(imagehash.phash(image, hash_size=HASH_SIZE)),
        dhash=str(imagehash.dhash(image, hash_size=HASH_SIZE)),
        box=box,
    )


def trim_box(gray: npt.NDArray[np.float32]) -> tuple[int, int, int, int]:
    """The box inside uniform borders (at most MAX_TRIM per side)."""
    h, w = gray.shape
    top, bottom, left, right = 0, h, 0, w
    while top < h * MAX_TRIM and gray[top].std() < UNIFORM_STD:
        top += 1
    while h - bottom < h * MAX_TRIM and gray[bottom - 1].std() < UNIFORM_STD:
        bottom -= 1
    while left < w * MAX_TRIM and gray[:, left].std() < UNIFORM_STD:
        left += 1
    while w - right < w * MAX_TRIM and gray[:, right - 1].std() < UNIFORM_STD:
        right -= 1
    return left, top, right, bottom


def _grid_lines(profile: npt.NDArray[np.float32], length: int) -> int:
    """How many equal parts the edge profile along one axis says the image is cut into (1 = none)."""
    baseline = float(np.median(profile)) + 1.0
    for n in GRID_SIZES:
        if length / n < MIN_TILE:
            continue
        cuts = [round(k * length / n) for k in range(1, n)]
        slack = max(2, round(length * 0.015))  # gutters between tiles move the edges off the exact fraction
        peaks = [float(profile[max(0, c - slack) : c + slack].max()) for c in cuts]
        if min(peaks) >= GRID_EDGE_RATIO * baseline:
            return n
    return 1


def detect_grid(gray: npt.NDArray[np.float32]) -> tuple[int, int]:
    """(rows, cols) of a photo grid, or (1, 1). Looks for strong straight edges at equal fractions."""
    if min(gray.shape) < 2 * MIN_TILE:
        return 1, 1
    # Median along each line: a sheet's cut runs the whole width/height; an object's edge does not.
    col_profile = np.median(np.abs(np.diff(gray, axis=1)), axis=0)
    row_profile = np.median(np.abs(np.diff(gray, axis=0)), axis=1)
    return _grid_lines(row_profile, gray.shape[0]), _grid_lines(col_profile, gray.shape[1])


def _tiles(image: Image.Image, rows: int, cols: int) -> Iterator[tuple[int, int, int, int]]:
    """Tile boxes, each shrunk past the gutter (uniform border) it may include."""
    w, h = image.size
    for r in range(rows):
        for c in range(cols):
            x0, y0 = round(c * w / cols), round(r * h / rows)
            x1, y1 = round((c + 1) * w / cols), round((r + 1) * h / rows)
            tile = np.asarray(image.crop((x0, y0, x1, y1)), dtype=np.float32)
            left, top, right, bottom = trim_box(tile)
            yield (x0 + left, y0 + top, x0 + right, y0 + bottom)


def prepare(decoded: DecodedImage) -> tuple[Image.Image, tuple[int, int, int, int], float]:
    """Luminance image with uniform borders trimmed, the trim box, and the scale back to the original."""
    gray = decoded.image.convert("L")
    left, top, right, bottom = trim_box(np.asarray(gray, dtype=np.float32))
    if (left, top, right, bottom) != (0, 0, *gray.size):
        gray = gray.crop((left, top, right, bottom))
    scale = decoded.width / decoded.image.width
    return gray, (left, top, right, bottom), scale


def hash_decoded(decoded: DecodedImage, *, faces: bool = False) -> ImageHashes:
    gray, (left, top, _, _), scale = prepare(decoded)

    def to_original(box: tuple[int, int, int, int]) -> Box:
        x0, y0, x1, y1 = box
        return (
            round((x0 + left) * scale),
            round((y0 + top) * scale),
            round((x1 + left) * scale),
            round((y1 + top) * scale),
        )

    regions = [region_hash("whole", gray), region_hash("mirror", ImageOps.mirror(gray))]
    rows, cols = detect_grid(np.asarray(gray, dtype=np.float32))
    if rows * cols > 1:
        regions += [region_hash("tile", gray.crop(b), to_original(b)) for b in _tiles(gray, rows, cols)]
    if faces:
        from pipeline.faces import detect_faces

        regions += [region_hash("face", gray.crop(b), to_original(b)) for b in detect_faces(gray)]
    return ImageHashes(sha256=decoded.sha256, width=decoded.width, height=decoded.height, regions=tuple(regions))


def hash_bytes(data: bytes, *, faces: bool = False) -> ImageHashes:
    """Decode untrusted bytes safely and hash them. Raises `ImageRejected`."""
    return hash_decoded(decode_image(data), faces=faces)


def enrolment_variants(gray: Image.Image) -> dict[str, Image.Image]:
    """Augmented copies enrolled beside an original so that cropped leaks still match with one
    lookup (DESIGN.md: crops move pHash 8-13 bits, more than any safe radius)."""
    w, h = gray.size
    out: dict[str, Image.Image] = {}
    for pct in (5, 10):
        dx, dy = round(w * pct / 100), round(h * pct / 100)
        out[f"crop{pct}-c"] = gray.crop((dx // 2, dy // 2, w - (dx - dx // 2), h - (dy - dy // 2)))
        out[f"crop{pct}-tl"] = gray.crop((0, 0, w - dx, h - dy))
        out[f"crop{pct}-tr"] = gray.crop((dx, 0, w, h - dy))
        out[f"crop{pct}-bl"] = gray.crop((0, dy, w - dx, h))
        out[f"crop{pct}-br"] = gray.crop((dx, dy, w, h))
    return out


def hamming(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()
