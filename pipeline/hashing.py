"""Perceptual hashes from one decode of an image.

Regions hashed (64-bit pHash and dHash each): the whole image and its mirror, every tile when
the image is a grid of photos (a "sample sheet"), and every detected face when asked. Uniform
borders are trimmed first, the same way at enrolment and at query time, so a frame added by a
reseller does not move the hash.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import numpy.typing as npt
from PIL import Image

from pipeline.images import DecodedImage, decode_image
from pipeline.models import Box, ImageHashes, Region, RegionHash

HASH_SIZE = 8  # 64-bit hashes
MAX_TRIM = 0.1  # never trim more than this fraction per side
UNIFORM_STD = 3.0  # a border row/column with less luminance spread than this is "uniform"
GRID_SIZES = (4, 3, 2)  # largest first: a 4x4 sheet also has an edge at 1/2
GRID_EDGE_RATIO = 4.0  # an edge at every grid line this many times the median edge strength
MIN_TILE = 24  # pixels; smaller tiles carry too little to hash
WORK_SIDE = 256  # hashing works on a copy about this size: pHash needs 32x32, a 4x4 sheet's tiles 64px


# imagehash's pHash and dHash, bit for bit (tests compare against imagehash itself), computed
# from one 32x32 and one 9x8 resize so that the mirror comes from flipping those small arrays
# instead of from another pass over the image. pHash: the 8x8 lowest frequencies of an
# unnormalised DCT-II (scipy.fftpack's) of the 32x32 image, each bit "above the median".
_PHASH_SIDE = HASH_SIZE * 4
_DCT_LOW = 2 * np.cos(
    np.pi * np.arange(HASH_SIZE)[:, None] * (2 * np.arange(_PHASH_SIDE)[None, :] + 1) / (2 * _PHASH_SIDE)
)


def _hex(bits: npt.NDArray[np.bool_]) -> str:
    return np.packbits(bits.ravel()).tobytes().hex()


def _phash_hex(pixels: npt.NDArray[np.float64]) -> str:
    low = _DCT_LOW @ pixels @ _DCT_LOW.T
    return _hex(low > np.median(low))


def _dhash_hex(pixels: npt.NDArray[np.float64]) -> str:
    return _hex(pixels[:, 1:] > pixels[:, :-1])


def _small(image: Image.Image) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    gray = image if image.mode == "L" else image.convert("L")
    p = np.asarray(gray.resize((_PHASH_SIDE, _PHASH_SIDE), Image.Resampling.LANCZOS), dtype=np.float64)
    d = np.asarray(gray.resize((HASH_SIZE + 1, HASH_SIZE), Image.Resampling.LANCZOS), dtype=np.float64)
    return p, d


def region_hash(region: Region, image: Image.Image, box: Box | None = None) -> RegionHash:
    p, d = _small(image)
    return RegionHash(region=region, phash=_phash_hex(p), dhash=_dhash_hex(d), box=box)


def whole_and_mirror(image: Image.Image) -> tuple[RegionHash, RegionHash]:
    p, d = _small(image)
    return (
        RegionHash(region="whole", phash=_phash_hex(p), dhash=_dhash_hex(d)),
        RegionHash(region="mirror", phash=_phash_hex(p[:, ::-1]), dhash=_dhash_hex(d[:, ::-1])),
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


def _edge_strength(gray: npt.NDArray[np.float32], cols: npt.NDArray[np.intp]) -> npt.NDArray[np.float32]:
    """Median |step| between column c and c+1, for each c in `cols`, over every fourth row:
    a sheet's cut runs the whole height; an object's edge does not."""
    sample = gray[::4]
    strength: npt.NDArray[np.float32] = np.median(np.abs(sample[:, cols + 1] - sample[:, cols]), axis=0)
    return strength


def _grid_parts(gray: npt.NDArray[np.float32]) -> int:
    """Into how many equal columns strong full-height edges cut the image (1 = none)."""
    width = gray.shape[1]
    slack = max(2, round(width * 0.015))  # gutters between tiles move the edges off the exact fraction
    windows: list[tuple[int, int, int]] = []  # (n, start, stop) into one batched strength array
    cols: list[npt.NDArray[np.intp]] = [np.arange(0, width - 1, 4)]  # baseline sample first
    at = len(cols[0])
    for n in GRID_SIZES:
        if width / n < MIN_TILE:
            continue
        for k in range(1, n):
            cut = round(k * width / n)
            window = np.arange(max(0, cut - slack), min(width - 1, cut + slack))
            cols.append(window)
            windows.append((n, at, at + len(window)))
            at += len(window)
    strength = _edge_strength(gray, np.concatenate(cols))
    baseline = float(np.median(strength[: len(cols[0])])) + 1.0
    for n in GRID_SIZES:
        peaks = [float(strength[a:b].max()) for m, a, b in windows if m == n]
        if peaks and min(peaks) >= GRID_EDGE_RATIO * baseline:
            return n
    return 1


def detect_grid(gray: npt.NDArray[np.float32]) -> tuple[int, int]:
    """(rows, cols) of a photo grid, or (1, 1). Looks for strong straight edges at equal fractions."""
    if min(gray.shape) < 2 * MIN_TILE:
        return 1, 1
    return _grid_parts(gray.T), _grid_parts(gray)


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
    """Luminance working image (at most WORK_SIDE px, uniform borders trimmed), the trim box,
    and the scale from working pixels back to the original's."""
    gray = decoded.image.convert("L")
    factor = round(max(gray.size) / WORK_SIDE)
    if factor >= 2:
        gray = gray.reduce(factor)  # box filter by an integer factor: cheap, and hashes only need 32x32
    left, top, right, bottom = trim_box(np.asarray(gray, dtype=np.float32))
    if (left, top, right, bottom) != (0, 0, *gray.size):
        gray = gray.crop((left, top, right, bottom))
    scale = decoded.width / decoded.image.width
    return gray, (left, top, right, bottom), scale


def _to_original(box: tuple[int, int, int, int], scale: float, left: int = 0, top: int = 0) -> Box:
    """A box in working pixels (offset by a trim of left/top) in the original image's pixels."""
    x0, y0, x1, y1 = box
    return (
        round((x0 + left) * scale),
        round((y0 + top) * scale),
        round((x1 + left) * scale),
        round((y1 + top) * scale),
    )


def hash_decoded(decoded: DecodedImage, *, faces: bool = False) -> ImageHashes:
    gray, (left, top, _, _), scale = prepare(decoded)
    regions = list(whole_and_mirror(gray))
    rows, cols = detect_grid(np.asarray(gray, dtype=np.float32))
    if rows * cols > 1:
        regions += [
            region_hash("tile", gray.crop(b), _to_original(b, scale, left, top)) for b in _tiles(gray, rows, cols)
        ]
    if faces:
        regions += face_regions(decoded)
    return ImageHashes(sha256=decoded.sha256, width=decoded.width, height=decoded.height, regions=tuple(regions))


def face_regions(decoded: DecodedImage) -> list[RegionHash]:
    """A region per detected face, found and cropped at the decoded resolution (not the small
    working copy: faces in a sheet are small), the same way at enrolment and at query time."""
    from pipeline.faces import detect_faces

    gray = decoded.image.convert("L")
    scale = decoded.width / gray.width
    return [region_hash("face", gray.crop(box), _to_original(box, scale)) for box in detect_faces(gray)]


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
