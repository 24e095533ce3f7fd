from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image

from bioleak.demo.images import TRANSFORMS, leaked_copy, portrait, to_bytes
from pipeline.hashing import hamming, hash_bytes
from pipeline.images import ImageRejected, decode_image


def test_hamming_on_literal_hex() -> None:
    assert hamming("0000000000000000", "0000000000000000") == 0
    assert hamming("0000000000000000", "0000000000000001") == 1
    assert hamming("00000000000000ff", "0000000000000000") == 8
    assert hamming("ffffffffffffffff", "0000000000000000") == 64
    assert hamming("8f373714acfcf4d0", "8f373714acfcf4d1") == 1


def test_hashes_are_lowercase_hex_for_whole_and_mirror() -> None:
    hashes = hash_bytes(to_bytes(portrait(1), "PNG"))
    assert [r.region for r in hashes.regions] == ["whole", "mirror"]
    for region in hashes.regions:
        for value in (region.phash, region.dhash):
            assert len(value) == 16 and value == value.lower() and int(value, 16) >= 0
    assert hashes.regions[0].phash != hashes.regions[1].phash


@pytest.mark.parametrize("transform", sorted(TRANSFORMS))
def test_leaked_copies_stay_close_to_the_original(transform: str) -> None:
    original = hash_bytes(to_bytes(portrait(7), "PNG")).regions[0]
    copy = hash_bytes(leaked_copy(portrait(7), transform))
    best = min((hamming(r.phash, original.phash), hamming(r.dhash, original.dhash)) for r in copy.regions)
    assert best[0] <= 6 and best[1] <= 10


def test_decode_applies_exif_orientation() -> None:
    img = Image.new("RGB", (40, 20), (255, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees on display
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif)
    decoded = decode_image(buf.getvalue())
    assert decoded.image.size == (20, 40)


def _png_header_claiming(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"<!DOCTYPE html><html><body>403</body></html>", "not_an_image"),
        (b'<svg xmlns="http://www.w3.org/2000/svg"><script>x</script></svg>', "not_an_image"),
        (b"GIF89a\x00garbage", "not_an_image"),
        (b"\x00\x01\x02\x03 definitely not an image", "not_an_image"),
        (_png_header_claiming(100_000, 100_000), "decompression_bomb"),
    ],
    ids=["zero-bytes", "html", "svg", "gif-header-only", "random", "bomb"],
)
def test_bad_images_are_rejected_with_a_reason(data: bytes, reason: str) -> None:
    with pytest.raises(ImageRejected) as info:
        decode_image(data)
    assert info.value.reason == reason


def test_truncated_jpeg_is_rejected_as_corrupt() -> None:
    data = to_bytes(portrait(3), "JPEG", quality=90)
    with pytest.raises(ImageRejected) as info:
        decode_image(data[: len(data) // 3])
    assert info.value.reason == "corrupt"


def test_oversized_download_is_rejected_before_decoding() -> None:
    with pytest.raises(ImageRejected) as info:
        decode_image(b"\xff" * 2048, max_bytes=1024)
    assert info.value.reason == "too_large"
