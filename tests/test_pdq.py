"""PDQ against the reference: pipeline.pdq must equal pdqhash (Meta's C++ behind Cython) bit for bit."""

from __future__ import annotations

import types
from collections.abc import Callable
from functools import partial

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bioleak.demo.images import portrait
from pipeline.pdq import HEX_LENGTH, is_pdq_hex, pdq_hamming, pdq_hash, rgb_to_luma

Pixels = npt.NDArray[np.uint8]
ZERO = "0" * 64
ONES = "f" * 64
# Published by Meta: PDQHasherTest.java in facebook/ThreatExchange (pdq/java) asserts these for
# pdq/data/reg-test-input/dih/bridge-1-original.jpg and bridge-2-rotate-90.jpg, 120 bits apart.
BRIDGE = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
BRIDGE_ROT90 = "30a10efd71cc3d429013d48d0ffffc52e34e0e17ada952a9d29685211ea9e5af"


@pytest.fixture(scope="module")
def reference() -> types.ModuleType:
    try:
        import pdqhash  # type: ignore[import-untyped]
    except ImportError as exc:  # a dev dependency: its absence is a broken environment, not a skip
        pytest.fail(f"pdqhash is needed to check PDQ against the reference (pip install -e '.[dev]'): {exc}")
    module: types.ModuleType = pdqhash
    return module


def reference_hex(vector: npt.NDArray[np.int64]) -> str:
    """pdqhash's 256-vector as the reference's hex.

    pdqhash's hash_to_vector puts bit k of the C++ Hash256 (k = 16 * row + column of the 16x16 DCT
    block) at index 255 - k. Hash256::format prints its 16-bit words 15 down to 0, so its hex is
    the big-endian 256-bit number whose bit k is Hash256 bit k, and the vector, read left to
    right, is that number's binary digits, most significant first.
    """
    assert vector.shape == (256,)
    return np.packbits(vector.astype(bool)).tobytes().hex()


def reference_hash(reference: types.ModuleType, pixels: Pixels) -> tuple[str, int]:
    rgb = pixels if pixels.ndim == 3 else np.repeat(pixels[:, :, None], 3, axis=2)
    vector, quality = reference.compute(np.ascontiguousarray(rgb))
    return reference_hex(vector), int(quality)


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def _noise(h: int, w: int, seed: int = 0) -> Pixels:
    return _rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _gradient(h: int, w: int, angle: float) -> Pixels:
    y, x = np.mgrid[0:h, 0:w]
    t = x * np.cos(angle) + y * np.sin(angle)
    t = (t - t.min()) / max(float(np.ptp(t)), 1.0)
    return np.stack([t * 255, (1 - t) * 255, np.full_like(t, 80.0)], axis=-1).astype(np.uint8)


def _blocks(h: int, w: int, block: int, seed: int) -> Pixels:
    coarse = _rng(seed).integers(0, 256, (-(-h // block), -(-w // block), 3), dtype=np.uint8)
    return np.ascontiguousarray(np.kron(coarse, np.ones((block, block, 1), np.uint8))[:h, :w])


def _waves(h: int, w: int, seed: int) -> Pixels:
    a = _rng(seed).uniform(-3, 3, 4)
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    channels = [np.sin(a[c] * 9 * x + a[c + 1] * 7 * y) * 120 + 128 for c in range(3)]
    return np.stack(channels, axis=-1).astype(np.uint8)


def _portrait(seed: int, size: int) -> Pixels:
    return np.asarray(portrait(seed, size=size).convert("RGB"))


IMAGES: dict[str, Callable[[], Pixels]] = {
    **{
        f"portrait-{s}-{size}": partial(_portrait, s, size)
        for s, size in [(1, 256), (2, 300), (3, 97), (4, 640), (5, 1000)]
    },
    "portrait-grey": lambda: np.asarray(portrait(6).convert("L")),
    "gradient-horizontal-640x480": lambda: _gradient(480, 640, 0.0),
    "gradient-vertical-480x640": lambda: _gradient(640, 480, np.pi / 2),
    "gradient-diagonal-333x517": lambda: _gradient(333, 517, 0.7),
    "waves-512x512": lambda: _waves(512, 512, 1),
    "waves-129x1025": lambda: _waves(129, 1025, 2),
    "blocks-300x200": lambda: _blocks(300, 200, 37, 3),
    "noise-640x480": lambda: _noise(480, 640),
    "noise-3000x2000": lambda: _noise(2000, 3000, 1),
    "noise-grey-1000x999": lambda: _rng(2).integers(0, 256, (999, 1000), dtype=np.uint8),
    "noise-64x64": lambda: _noise(64, 64, 3),  # the reference hashes a 64x64 input without blurring
    "noise-63x65": lambda: _noise(63, 65, 4),
    "noise-65x128": lambda: _noise(65, 128, 5),
    "noise-129x257": lambda: _noise(129, 257, 6),
    "noise-5x5": lambda: _noise(5, 5, 7),  # the smallest the reference hashes
    "noise-7x300": lambda: _noise(7, 300, 8),
    "noise-300x7": lambda: _noise(300, 7, 9),
    "noise-4x100": lambda: _noise(4, 100, 10),  # too small: all-zero hash, quality 0
    "noise-1x1": lambda: _noise(1, 1, 11),
    "flat-black": lambda: np.zeros((100, 120, 3), np.uint8),
    "flat-white": lambda: np.full((100, 120, 3), 255, np.uint8),
    "flat-colour": lambda: np.full((321, 123, 3), (200, 30, 99), np.uint8),
    "flat-grey": lambda: np.full((50, 70), 128, np.uint8),
}


@pytest.mark.parametrize("name", sorted(IMAGES))
def test_hash_and_quality_equal_the_reference(reference: types.ModuleType, name: str) -> None:
    pixels = IMAGES[name]()
    expected = reference_hash(reference, pixels)
    assert pdq_hash(rgb_to_luma(pixels)) == expected


@settings(max_examples=60, deadline=None)
@given(
    h=st.integers(1, 400),
    w=st.integers(1, 400),
    seed=st.integers(0, 2**32 - 1),
    kind=st.sampled_from(["noise", "blocks", "waves", "grey"]),
)
def test_random_images_equal_the_reference(reference: types.ModuleType, h: int, w: int, seed: int, kind: str) -> None:
    if kind == "noise":
        pixels = _noise(h, w, seed)
    elif kind == "blocks":
        pixels = _blocks(h, w, 1 + seed % 40, seed)
    elif kind == "waves":
        pixels = _waves(h, w, seed)
    else:
        pixels = _rng(seed).integers(0, 256, (h, w), dtype=np.uint8)
    assert pdq_hash(rgb_to_luma(pixels)) == reference_hash(reference, pixels)


def test_hex_order_matches_the_reference_bit_numbering(reference: types.ModuleType) -> None:
    vector, _ = reference.compute(_portrait(8, 256))
    value = int(pdq_hash(rgb_to_luma(_portrait(8, 256)))[0], 16)
    assert [(value >> k) & 1 for k in range(256)] == [int(vector[255 - k]) for k in range(256)]


def test_published_hashes_are_valid_and_120_apart() -> None:
    assert is_pdq_hex(BRIDGE) and is_pdq_hex(BRIDGE_ROT90)
    assert pdq_hamming(BRIDGE, BRIDGE_ROT90) == 120
    assert pdq_hamming(BRIDGE, BRIDGE) == 0


def test_hashes_are_lowercase_hex_and_quality_in_range() -> None:
    for pixels in (_portrait(9, 256), _noise(50, 60), np.zeros((10, 10, 3), np.uint8)):
        hex_hash, quality = pdq_hash(rgb_to_luma(pixels))
        assert len(hex_hash) == HEX_LENGTH and is_pdq_hex(hex_hash)
        assert 0 <= quality <= 100


def test_flat_and_tiny_images() -> None:
    assert pdq_hash(np.zeros((4, 1000), np.float32)) == (ZERO, 0)
    assert pdq_hash(np.zeros((0, 0), np.float32)) == (ZERO, 0)
    _, quality = pdq_hash(np.full((200, 200), 77, np.float32))
    assert quality == 0
    _, quality = pdq_hash(rgb_to_luma(_noise(200, 200)))
    assert quality == 100


def test_greyscale_equals_its_rgb_copy() -> None:
    grey = _rng(12).integers(0, 256, (120, 90), dtype=np.uint8)
    rgb = np.repeat(grey[:, :, None], 3, axis=2)
    assert np.array_equal(rgb_to_luma(grey), rgb_to_luma(rgb))
    assert pdq_hash(rgb_to_luma(grey)) == pdq_hash(rgb_to_luma(rgb))


def test_luma_roundings() -> None:
    pixels = _noise(40, 50, 13)
    r, g, b = (pixels[:, :, c].astype(np.float64) for c in range(3))
    assert np.array_equal(rgb_to_luma(pixels), (0.299 * r + 0.587 * g + 0.114 * b).astype(np.float32))
    cpp = rgb_to_luma(pixels, rounding="cpp")
    for i, j in [(0, 0), (7, 3), (39, 49)]:
        pr, pg, pb = (np.float32(v) for v in pixels[i, j])
        expected = np.float32(np.float32(0.299) * pr + np.float32(0.587) * pg) + np.float32(0.114) * pb
        assert cpp[i, j] == expected
    # The two references' luma differ by at most two float32 ulps.
    ulps = np.abs(cpp.view(np.int32).astype(np.int64) - rgb_to_luma(pixels).view(np.int32).astype(np.int64))
    assert ulps.max() <= 2 and ulps.any()
    with pytest.raises(ValueError):
        rgb_to_luma(pixels, rounding="other")  # type: ignore[arg-type]


def test_bad_inputs_are_rejected() -> None:
    with pytest.raises(ValueError):
        rgb_to_luma(np.zeros((10, 10, 4), np.uint8))
    with pytest.raises(ValueError):
        rgb_to_luma(np.zeros((10, 10, 3), np.float32))
    with pytest.raises(ValueError):
        pdq_hash(np.zeros((10, 10, 3), np.float32))
    luma = np.zeros((10, 10), np.float32)
    luma[3, 3] = np.nan
    with pytest.raises(ValueError):
        pdq_hash(luma)


def test_hamming_on_literal_hex() -> None:
    assert pdq_hamming(ZERO, ZERO) == 0
    assert pdq_hamming(ZERO, ONES) == 256
    assert pdq_hamming(ZERO, "0" * 63 + "1") == 1
    assert pdq_hamming(ZERO, "8" + "0" * 63) == 1
    assert pdq_hamming(ZERO, "0" * 62 + "ff") == 8
    assert pdq_hamming(ONES, "f" * 32 + "0" * 32) == 128
    assert pdq_hamming("0123456789abcdef" * 4, "fedcba9876543210" * 4) == 256
    assert pdq_hamming("0f" * 32, "00" * 32) == 128
    assert pdq_hamming("0123456789abcdef" * 4, "1032547698badcfe" * 4) == 64
    assert pdq_hamming(BRIDGE, BRIDGE[:-1] + "3") == 1


@pytest.mark.parametrize(
    "text",
    [
        "",
        "0" * 63,
        "0" * 65,
        "F" * 64,  # the reference writes lowercase
        "g" + "0" * 63,
        "0x" + "0" * 62,
        " " + "0" * 63,
        "0" * 64 + "\n",
        "0" * 32 + "-" + "0" * 31,
        "٠" * 64,  # Arabic-Indic zeros: digits to Python, not hex
        b"0" * 64,
        None,
        0,
    ],
)
def test_is_pdq_hex_rejects_bad_input(text: object) -> None:
    assert not is_pdq_hex(text)
    with pytest.raises(ValueError):
        pdq_hamming(text, ZERO)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        pdq_hamming(ZERO, text)  # type: ignore[arg-type]
