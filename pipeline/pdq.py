"""PDQ, Meta's 256-bit perceptual image hash, bit for bit with the reference implementation.

PDQ (Perceptual, DCT-based, with a Quality metric) is the photo hash Meta published for sharing
hashes of known abusive images between platforms (ThreatExchange, StopNCII and similar programmes).
Meta's starting thresholds: distance <= 31 is a match; quality <= 49 is too featureless to use.
The algorithm, from the reference C++ in https://github.com/facebook/ThreatExchange under
``pdq/cpp`` (``hashing/pdqhashing.cpp``, ``downscaling/downscaling.cpp``, ``hashing/torben.cpp``,
``common/pdqhashtypes.cpp``), which the ``pdqhash`` PyPI package wraps unchanged:

1. Luminance Y = 0.299 R + 0.587 G + 0.114 B as float32 (``rgb_to_luma`` says how it is rounded).
2. Blur with a two-pass Jarosz filter: box filter along rows then columns, twice (a tent filter),
   the window per pass being ceil(side / 128) so two passes cover 1/64 of the side; then decimate
   to 64x64 by sampling the pixel under each output cell's centre. A 64x64 input is used as is.
3. Quality: the sum of quantised neighbour differences of the 64x64 image, scaled to 0..100.
4. The 16x16 lowest non-DC frequencies of a 2-D DCT-II of the 64x64 image.
5. Bit k (k = 16 * row + column of the 16x16 block) is set when that coefficient is strictly
   greater than the median (the 128th smallest of the 256).
6. Hex as the reference's ``Hash256::format`` writes it: sixteen 16-bit words, word 15 first, each
   as four hex digits; i.e. the 256-bit big-endian number whose bit k is coefficient k.

Bit-exactness needs the reference's float32 rounding, not just its formulas: a coefficient that
lands next to the median flips on the last bit of a sum. So every sum here is accumulated in
float32 in the reference's order, as explicit loops of vectorised additions (matmul, ``np.sum``
and ``np.add.reduce`` reorder additions). The reference's numbers are those of an x86-64 build
without FMA (the default for g++ and for pip-built ``pdqhash``); a build that fuses multiply-adds,
such as the default on aarch64, rounds differently and can differ from both in a rare bit.

``pdq_hash`` is ``pdqHash256FromFloatLuma``: it hashes the luminance it is given. The reference's
command-line tool (``pdq-photo-hasher``) additionally squashes images larger than 512 pixels a
side to 512x512 with CImg first; ``pdqhash.compute`` does not, and neither does this module.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache
from itertools import pairwise
from typing import Literal

import numpy as np
import numpy.typing as npt

FloatImage = npt.NDArray[np.float32]

HASH_BITS = 256
HEX_LENGTH = HASH_BITS // 4
MIN_HASHABLE_DIM = 5  # the reference returns the all-zero hash, quality 0, below this
JAROSZ_PASSES = 2  # two box-filter passes per axis: a tent filter
_SIDE = 64  # the downsampled image
_DCT = 16  # the 16x16 coefficients kept
_MEDIAN_RANK = (HASH_BITS + 1) // 2 - 1  # torben() returns the ((n + 1) // 2)-th smallest: index 127
_ZERO_HASH = "0" * HEX_LENGTH
_HEX = re.compile(r"[0-9a-f]{64}")

LUMA_WEIGHTS = (0.299, 0.587, 0.114)  # Rec. 601 luma, the reference's weights
LumaRounding = Literal["pdqhash", "cpp"]


def _dct_matrix() -> FloatImage:
    # Rows 1..16 of the orthonormal 64-point DCT-II, built as the reference builds it: a float
    # scale times a double cosine (math.cos is the C library's cos), rounded once to float.
    scale = float(np.float32(math.sqrt(2.0 / _SIDE)))
    step = math.pi / 2.0 / _SIDE
    rows = [[scale * math.cos(step * (i + 1) * (2 * j + 1)) for j in range(_SIDE)] for i in range(_DCT)]
    return np.array(rows, dtype=np.float32)


_DCT_MATRIX = _dct_matrix()  # 16 x 64


def rgb_to_luma(rgb: npt.NDArray[np.uint8], *, rounding: LumaRounding = "pdqhash") -> FloatImage:
    """Float32 luminance of an 8-bit RGB (HxWx3) or greyscale (HxW) image, as the references compute it.

    The two references round RGB luma differently: about a third of all colours come out one
    float32 ulp apart (0.08% two ulps):

    * ``"pdqhash"`` (default): ``0.299 R + 0.587 G + 0.114 B`` in double, rounded once to float32,
      as ``pdqhash.compute`` does before calling the C++ code. Grey pixels (R = G = B) come out as
      exactly their value, like the C++ greyscale path, so a greyscale image and its RGB copy agree.
    * ``"cpp"``: float weights, every product and sum rounded to float32, as the C++
      ``fillFloatLumaFromRGB`` (and so ``pdq-photo-hasher``) computes it.

    An ulp of luma rarely moves a bit of the hash, but bit-exactness with one reference
    on RGB input needs that reference's rounding. Greyscale input is taken as is under either.
    """
    pixels = np.asarray(rgb)
    if pixels.dtype != np.uint8:
        raise ValueError(f"expected uint8 pixels, got {pixels.dtype}")
    if pixels.ndim == 2:
        return pixels.astype(np.float32)  # fillFloatLumaFromGrey
    if pixels.ndim != 3 or pixels.shape[2] != 3:
        raise ValueError(f"expected an HxWx3 RGB or HxW greyscale image, got shape {pixels.shape}")
    if rounding == "pdqhash":
        wr, wg, wb = LUMA_WEIGHTS
        wide = pixels.astype(np.float64)
        luma64 = (wr * wide[:, :, 0] + wg * wide[:, :, 1]) + wb * wide[:, :, 2]
        return luma64.astype(np.float32)
    if rounding == "cpp":
        fr, fg, fb = (np.float32(w) for w in LUMA_WEIGHTS)
        narrow = pixels.astype(np.float32)
        luma32: FloatImage = (fr * narrow[:, :, 0] + fg * narrow[:, :, 1]) + fb * narrow[:, :, 2]
        return luma32
    raise ValueError(f"unknown rounding {rounding!r} (pdqhash or cpp)")


def jarosz_window(old_side: int, new_side: int = _SIDE) -> int:
    """Box-filter window per pass: ceil(old / (2 * new)), so two passes span old / new pixels."""
    return (old_side + 2 * new_side - 1) // (2 * new_side)


@lru_cache(maxsize=64)
def _box_plan(length: int, window: int) -> tuple[npt.NDArray[np.intp], FloatImage]:
    """Where each output of ``box1DFloat`` sits in the sequence of running sums, and its divisor.

    The reference walks one running float sum along the vector: ``window`` additions (the first
    ``half - 1`` without output), then for each remaining input one addition and one subtraction,
    then ``half - 1`` trailing subtractions, writing ``sum / count`` after each step that outputs.
    Laying those operands out in order (subtractions as additions of the negation, which is exact)
    turns the walk into one cumulative sum; this gives the positions of the written sums in it.
    """
    half = (window + 2) // 2
    tail = length - window  # steps with a full window
    head = np.arange(half - 1, window)  # growing window: counts half .. window
    middle = window + 1 + 2 * np.arange(tail)  # after each subtraction
    end = window + 2 * tail + np.arange(half - 1)  # shrinking window: counts window - 1 down
    positions = np.concatenate([head, middle, end])
    counts = np.concatenate(
        [np.arange(half, window + 1), np.full(tail, window), np.arange(window - 1, window - half, -1)]
    ).astype(np.float32)
    return positions, counts


def _box(x: FloatImage, window: int, axis: int) -> FloatImage:
    """``box1DFloat`` along ``axis`` of a 2-D image, for every line across the other axis at once."""
    lines = np.ascontiguousarray(np.moveaxis(x, axis, 0))  # one transposing copy beats four strided ones
    length = lines.shape[0]
    half = (window + 2) // 2
    tail = length - window
    ops = np.empty((window + 2 * tail + half - 1, lines.shape[1]), dtype=np.float32)
    ops[:window] = lines[:window]
    ops[window : window + 2 * tail : 2] = lines[window:]
    np.negative(lines[:tail], out=ops[window + 1 : window + 2 * tail : 2])
    np.negative(lines[tail : tail + half - 1], out=ops[window + 2 * tail :])
    # The running sum, step by step as the reference's loop but vectorised across lines; each
    # np.add rounds to float32. (np.add.accumulate along axis 0 is the same and ~10x slower.)
    # The reference starts from 0.0f + first operand; starting from the operand differs only in
    # the sign of an all-zero sum, which no later comparison can see.
    steps = list(ops)
    for previous, current in pairwise(steps):
        np.add(previous, current, out=current)
    positions, counts = _box_plan(length, window)
    out: FloatImage = np.divide(ops[positions], counts[:, None], dtype=np.float32)
    return np.moveaxis(out, 0, axis)


def _downsample(luma: FloatImage) -> FloatImage:
    rows, cols = luma.shape
    if rows == _SIDE and cols == _SIDE:
        return luma  # the reference skips the blur when it is handed 64x64 (e.g. ffmpeg-scaled frames)
    along_rows, along_cols = jarosz_window(cols), jarosz_window(rows)
    # Decimation samples the blurred pixel under each output cell's centre, the index computed in
    # double as there.
    ri = [int(((i + 0.5) * rows) / _SIDE) for i in range(_SIDE)]
    ci = [int(((j + 0.5) * cols) / _SIDE) for j in range(_SIDE)]
    buf = luma
    for rep in range(JAROSZ_PASSES):
        buf = _box(buf, along_rows, axis=1)
        if rep == JAROSZ_PASSES - 1:
            buf = buf[:, ci]  # columns are filtered independently: the last pass needs only the sampled ones
        buf = _box(buf, along_cols, axis=0)
    return buf[ri, :]


def _quality(buffer64: FloatImage) -> int:
    # Counts significant gradients: each neighbour difference scaled to 0..100 of full range and
    # truncated to an int before summing, all in float32 as in pdqImageDomainQualityMetric.
    hundred, full = np.float32(100), np.float32(255)
    down = ((buffer64[:-1, :] - buffer64[1:, :]) * hundred / full).astype(np.int32)
    across = ((buffer64[:, :-1] - buffer64[:, 1:]) * hundred / full).astype(np.int32)
    gradient_sum = int(np.abs(down).sum(dtype=np.int64) + np.abs(across).sum(dtype=np.int64))
    return min(gradient_sum // 90, 100)


def _sum_in_order(terms: FloatImage) -> FloatImage:
    """Row 0 + row 1 + ... of a 2-D float32 array, rounding after each addition: a C loop's sum.

    np.sum, np.add.reduce and matmul reorder the additions (pairwise, SIMD lanes, BLAS blocking)
    and np.add.accumulate along axis 0 is slow, so this adds row by row.
    """
    total: FloatImage = terms[0].copy()
    for row in terms[1:]:
        np.add(total, row, out=total)
    return total


def _dct16(buffer64: FloatImage) -> FloatImage:
    # B = D A D^T as the reference's dct64To16 computes it: T = D A, then B = T D^T, each entry a
    # float32 sum of float32 products over k = 0..63 in that order. Products are laid out with k
    # first so that each step of the sum is one vectorised addition over all entries.
    d_by_k = _DCT_MATRIX.T  # [k, i] = D[i, k]
    t = _sum_in_order((d_by_k[:, :, None] * buffer64[:, None, :]).reshape(_SIDE, -1))  # [k, (i, j)]
    t_by_k = t.reshape(_DCT, _SIDE).T  # [k, i] = T[i, k]
    b = _sum_in_order((t_by_k[:, :, None] * d_by_k[:, None, :]).reshape(_SIDE, -1))  # [k, (i, j)]
    return b.reshape(_DCT, _DCT)


def _to_hex(bits: npt.NDArray[np.bool_]) -> str:
    # bits[k] is bit k of the reference's Hash256; its text is the big-endian 256-bit number.
    return np.packbits(bits[::-1]).tobytes().hex()


def pdq_hash(luma: npt.NDArray[np.float32]) -> tuple[str, int]:
    """The PDQ hash of a luminance image (HxW, float32 0..255): (64 lowercase hex digits, quality 0..100).

    Images smaller than 5 pixels on a side get the reference's answer: the all-zero hash, quality 0.
    Meta recommends discarding hashes of quality 49 or less (flat or featureless images).
    """
    image = np.asarray(luma)
    if image.ndim != 2:
        raise ValueError(f"expected a 2-D luminance image, got shape {image.shape}")
    if image.dtype != np.float32:
        image = image.astype(np.float32)  # rounding float64 luma here is the caller's choice
    rows, cols = image.shape
    if rows < MIN_HASHABLE_DIM or cols < MIN_HASHABLE_DIM:
        return _ZERO_HASH, 0
    if not np.isfinite(image).all():
        raise ValueError("luminance must be finite")  # the reference's median search may not end on NaN
    buffer64 = _downsample(image)
    quality = _quality(buffer64)
    coefficients = _dct16(buffer64).ravel()
    median = np.partition(coefficients, _MEDIAN_RANK)[_MEDIAN_RANK]
    return _to_hex(coefficients > median), quality


def is_pdq_hex(text: object) -> bool:
    """Whether text is a PDQ hash as this module and the reference write it: 64 lowercase hex digits."""
    return isinstance(text, str) and _HEX.fullmatch(text) is not None


def pdq_hamming(a_hex: str, b_hex: str) -> int:
    """Number of differing bits between two PDQ hashes (0..256)."""
    for value in (a_hex, b_hex):
        if not is_pdq_hex(value):
            raise ValueError(f"not a PDQ hash (64 lowercase hex digits): {value!r}")
    return (int(a_hex, 16) ^ int(b_hex, 16)).bit_count()
