from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from bioleak.demo.images import TRANSFORMS, leaked_copy, portrait, to_bytes
from pipeline.hashing import hamming, hash_bytes, hash_decoded
from pipeline.images import ImageRejected, decode_image, decode_with_colour, make_thumbnail, thumbnail_of


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
    with pytest.raises(ImageRejected) as info:  # thumbnails go through the same checks
        make_thumbnail(data)
    assert info.value.reason == reason


@pytest.mark.parametrize("kind", ["jpeg-420", "jpeg-444", "grayscale-jpeg", "cmyk-jpeg", "png", "rotated-jpeg"])
def test_a_thumbnail_from_the_same_decode_leaves_the_hashes_exactly_as_they_were(kind: str) -> None:
    img = portrait(11).resize((640, 480))
    buf = io.BytesIO()
    if kind == "jpeg-420":
        img.save(buf, "JPEG", quality=85)
    elif kind == "jpeg-444":
        img.save(buf, "JPEG", quality=95, subsampling=0)
    elif kind == "grayscale-jpeg":
        img.convert("L").save(buf, "JPEG")
    elif kind == "cmyk-jpeg":
        img.convert("CMYK").save(buf, "JPEG")
    elif kind == "png":
        img.save(buf, "PNG")
    else:
        exif = Image.Exif()
        exif[0x0112] = 6  # Orientation: rotate 90 CW
        img.save(buf, "JPEG", exif=exif.tobytes())
    data = buf.getvalue()
    alone = decode_image(data)
    shared, colour = decode_with_colour(data)
    jpeg = thumbnail_of(colour)
    assert np.array_equal(np.asarray(alone.image), np.asarray(shared.image))
    assert hash_decoded(alone, faces=True) == hash_decoded(shared, faces=True)
    thumbnail = Image.open(io.BytesIO(jpeg))
    assert thumbnail.format == "JPEG" and max(thumbnail.size) == 160
    assert thumbnail.mode == ("L" if kind == "grayscale-jpeg" else "RGB")
    if kind == "rotated-jpeg":
        assert thumbnail.size == (120, 160)  # upright, like the hashed image


def test_thumbnail_is_a_small_jpeg_without_metadata() -> None:
    exif = Image.Exif()
    exif[0x010E] = "GPS and camera serials stay out"  # ImageDescription
    buf = io.BytesIO()
    portrait(5).resize((900, 1200)).save(buf, "JPEG", exif=exif.tobytes())
    thumbnail = Image.open(io.BytesIO(make_thumbnail(buf.getvalue(), size=160)))
    assert thumbnail.format == "JPEG" and thumbnail.size == (120, 160) and thumbnail.mode == "RGB"
    assert not thumbnail.getexif()


def test_truncated_jpeg_is_rejected_as_corrupt() -> None:
    data = to_bytes(portrait(3), "JPEG", quality=90)
    with pytest.raises(ImageRejected) as info:
        decode_image(data[: len(data) // 3])
    assert info.value.reason == "corrupt"


def test_oversized_download_is_rejected_before_decoding() -> None:
    with pytest.raises(ImageRejected) as info:
        decode_image(b"\xff" * 2048, max_bytes=1024)
    assert info.value.reason == "too_large"


# --- issue 3: formats, exactness, tiles -----------------------------------------------------

import imagehash  # noqa: E402
from PIL import ImageOps  # noqa: E402

from pipeline.hashing import detect_grid, region_hash, whole_and_mirror  # noqa: E402


@pytest.mark.parametrize("seed", range(20))
def test_hashes_equal_imagehash_bit_for_bit(seed: int) -> None:
    image = portrait(seed).convert("L").resize((200 + seed * 7, 150 + seed * 3))
    whole, mirror = whole_and_mirror(image)
    assert whole.phash == str(imagehash.phash(image)) and whole.dhash == str(imagehash.dhash(image))
    flipped = ImageOps.mirror(image)
    assert mirror.phash == str(imagehash.phash(flipped)) and mirror.dhash == str(imagehash.dhash(flipped))
    assert region_hash("tile", image).phash == whole.phash


def _encode(img: Image.Image, fmt: str, **kwargs: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kwargs)
    return buf.getvalue()


def _formats() -> dict[str, bytes]:
    rgb = portrait(9)
    frames = [rgb, portrait(10)]
    rgba = rgb.convert("RGBA")
    rgba.putalpha(255)
    sixteen = Image.fromarray(np.asarray(rgb.convert("L"), dtype=np.uint16) * 257)
    return {
        "png": _encode(rgb, "PNG"),
        "png-alpha": _encode(rgba, "PNG"),
        "palette": _encode(rgb.convert("P", palette=Image.Palette.ADAPTIVE), "PNG"),
        "cmyk-jpeg": _encode(rgb.convert("CMYK"), "JPEG", quality=95),
        "16-bit-png": _encode(sixteen, "PNG"),
        "webp": _encode(rgb, "WEBP", quality=90),
        "animated-gif": _encode(frames[0], "GIF", save_all=True, append_images=frames[1:]),
        "bmp": _encode(rgb, "BMP"),
        "tiff": _encode(rgb, "TIFF"),
    }


FORMATS = _formats()


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_every_format_hashes_close_to_the_original(name: str) -> None:
    original = hash_bytes(FORMATS["png"]).regions[0]
    got = hash_bytes(FORMATS[name]).regions[0]
    assert hamming(got.phash, original.phash) <= 6, name
    assert hamming(got.dhash, original.dhash) <= 10, name


def test_transparent_pixels_hash_the_same_whatever_colour_they_hide() -> None:
    def with_hidden(colour: tuple[int, int, int]) -> bytes:
        img = Image.new("RGBA", (120, 120), (*colour, 0))
        img.paste(portrait(4).resize((80, 80)), (20, 20))
        return _encode(img, "PNG")

    a, b = hash_bytes(with_hidden((255, 0, 0))), hash_bytes(with_hidden((0, 0, 255)))
    assert a.regions[0] == b.regions[0]


def test_animated_gif_uses_the_first_frame() -> None:
    first_only = hash_bytes(_encode(portrait(9), "GIF")).regions[0]
    assert hamming(hash_bytes(FORMATS["animated-gif"]).regions[0].phash, first_only.phash) <= 2


def test_a_photo_sheet_is_hashed_tile_by_tile() -> None:
    tiles = [portrait(200 + i).resize((160, 160)) for i in range(9)]
    sheet = Image.new("RGB", (3 * 160 + 2 * 8, 3 * 160 + 2 * 8), (255, 255, 255))  # white gutters
    for i, tile in enumerate(tiles):
        sheet.paste(tile, ((i % 3) * 168, (i // 3) * 168))
    hashes = hash_bytes(to_bytes(sheet, "JPEG", quality=85))
    tile_regions = [r for r in hashes.regions if r.region == "tile"]
    assert len(tile_regions) == 9 and all(r.box is not None for r in tile_regions)
    for i in range(9):
        original = hash_bytes(to_bytes(portrait(200 + i), "PNG")).regions[0]
        assert min(hamming(r.phash, original.phash) for r in tile_regions) <= 4


def test_ordinary_photos_are_not_mistaken_for_sheets() -> None:
    assert all(detect_grid(np.asarray(portrait(s).convert("L"), dtype=np.float32)) == (1, 1) for s in range(200))


def test_a_one_pixel_border_is_trimmed_before_hashing() -> None:
    framed = ImageOps.expand(portrait(6), border=1, fill=(0, 0, 0))
    assert hash_bytes(to_bytes(framed, "PNG")).regions[0] == hash_bytes(to_bytes(portrait(6), "PNG")).regions[0]


def test_12_megapixel_jpeg_is_never_decoded_at_full_size() -> None:
    big = portrait(3).resize((4000, 3000))
    decoded = decode_image(to_bytes(big, "JPEG", quality=80))
    assert (decoded.width, decoded.height) == (4000, 3000)
    assert max(decoded.image.size) <= 500  # DCT-domain reduction to 1/8
