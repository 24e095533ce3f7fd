"""Safe decoding of untrusted image bytes: size and pixel limits, format sniffing, EXIF orientation.

Scraped images come from criminals. Every failure becomes an `ImageRejected` with a short,
countable reason; nothing here lets a bad file crash or stall the caller.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, JpegImagePlugin, UnidentifiedImageError

DEFAULT_MAX_BYTES = 20 * 1024 * 1024
DEFAULT_MAX_PIXELS = 40_000_000
# Hashes are computed on small images; decoding JPEGs in the DCT domain at 1/2..1/8 scale
# down to at least this size is several times faster than a full decode; 64-bit hashes
# are computed from 32x32, so this leaves room for the tiles of a photo sheet.
DRAFT_TARGET = (160, 160)
# Evidence thumbnails of matched images: big enough to recognise a face, ~5 KB each.
THUMBNAIL_SIZE = 160
THUMBNAIL_QUALITY = 75
ALLOWED_FORMATS = frozenset({"JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF"})


class ImageRejected(Exception):
    """An input that is not a usable image. `reason` is a short stable token for stats."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail

    def __reduce__(self) -> tuple[type[ImageRejected], tuple[str, str]]:
        return (ImageRejected, (self.reason, self.detail))  # survives a trip from a worker process


@dataclass(frozen=True)
class DecodedImage:
    image: Image.Image
    sha256: str
    format: str
    width: int  # of the original, before any reduced decode
    height: int


def to_rgb_or_l(img: Image.Image) -> Image.Image:
    """Normalise any mode to 8-bit RGB or L: alpha composited on white (so transparent pixels
    hash the same whatever colour they hide), 16/32-bit scaled rather than clipped."""
    if img.mode in ("RGB", "L"):
        return img
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    if img.mode.startswith("I") or img.mode == "F":
        values = np.asarray(img, dtype=np.float32)
        top = 65535.0 if img.mode.startswith("I;16") else max(float(values.max()), 1.0)
        return Image.fromarray(np.clip(values * (255.0 / top), 0, 255).astype(np.uint8), "L")
    return img.convert("RGB")  # palette, CMYK, YCbCr, 1-bit


def _looks_like_markup(head: bytes) -> bool:
    start = head.lstrip()[:64].lower()
    return start.startswith((b"<!doctype", b"<html", b"<?xml", b"<svg", b"<head", b"<body", b"{"))


def _load(data: bytes, *, max_bytes: int, max_pixels: int, draft: tuple[str, tuple[int, int]]) -> DecodedImage:
    if not data:
        raise ImageRejected("empty")
    if len(data) > max_bytes:
        raise ImageRejected("too_large", f"{len(data)} bytes > {max_bytes}")
    if _looks_like_markup(data[:256]):
        raise ImageRejected("not_an_image", "markup or text served as an image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img: Image.Image = Image.open(io.BytesIO(data))
            fmt = img.format or ""
            if fmt not in ALLOWED_FORMATS:
                raise ImageRejected("unsupported_format", fmt or "unknown")
            width, height = img.size
            # Check the header's claim before decoding a single pixel: bombs are small files.
            if width <= 0 or height <= 0 or width * height > max_pixels:
                raise ImageRejected("decompression_bomb", f"{width}x{height} > {max_pixels} pixels")
            if isinstance(img, JpegImagePlugin.JpegImageFile):
                img.draft(*draft)  # reduced, in the DCT domain: several times faster than a full decode
            img.seek(0)  # first frame of animations
            img.load()
            img = ImageOps.exif_transpose(img) or img
            if img.mode != "YCbCr":  # YCbCr only when asked for: decode_with_colour splits it
                img = to_rgb_or_l(img)
    except ImageRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageRejected("decompression_bomb", str(exc)) from exc
    except UnidentifiedImageError as exc:
        raise ImageRejected("not_an_image", "unrecognised image data") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        # Pillow reports truncated and corrupt data as OSError ("image file is truncated", ...).
        raise ImageRejected("corrupt", str(exc)[:200]) from exc
    return DecodedImage(image=img, sha256=hashlib.sha256(data).hexdigest(), format=fmt, width=width, height=height)


def decode_image(
    data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES, max_pixels: int = DEFAULT_MAX_PIXELS
) -> DecodedImage:
    # Luminance only: every hash and the face detector use luminance.
    return _load(data, max_bytes=max_bytes, max_pixels=max_pixels, draft=("L", DRAFT_TARGET))


def make_thumbnail(
    data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES, max_pixels: int = DEFAULT_MAX_PIXELS, size: int = THUMBNAIL_SIZE
) -> bytes:
    """A small JPEG of an image, for an analyst or an organisation to see what matched, under
    the same limits as decoding for hashes. Metadata (EXIF, GPS, comments) is not carried over."""
    decoded = _load(data, max_bytes=max_bytes, max_pixels=max_pixels, draft=("RGB", (size, size)))
    return thumbnail_of(decoded.image, size)


def decode_with_colour(
    data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES, max_pixels: int = DEFAULT_MAX_PIXELS
) -> tuple[DecodedImage, Image.Image]:
    """`decode_image`, and the colour image of the same decode, for `thumbnail_of` to make a
    thumbnail from only if one is wanted. A JPEG is decoded to YCbCr: its Y channel is exactly
    what `decode_image` gives (so the hashes are the same), and no second decode is needed."""
    decoded = _load(data, max_bytes=max_bytes, max_pixels=max_pixels, draft=("YCbCr", DRAFT_TARGET))
    img = decoded.image
    if img.mode == "YCbCr":  # JPEG encodes YCbCr as it is: no conversion to RGB needed
        colour, img = img, img.getchannel(0)
        decoded = DecodedImage(image=img, sha256=decoded.sha256, format=decoded.format, width=decoded.width,
                               height=decoded.height)  # fmt: skip
    else:  # not a colour JPEG: decoded as decode_image decodes it
        colour = img
    return decoded, colour


def thumbnail_of(img: Image.Image, size: int = THUMBNAIL_SIZE) -> bytes:
    """The thumbnail JPEG of a decoded image, e.g. the colour one of `decode_with_colour` (~0.6 ms)."""
    if size < 16:
        raise ValueError(f"thumbnail size must be at least 16 pixels, got {size}")
    img = img.copy()
    # Bilinear: the input is already a reduced decode, at most ~2x the size (half LANCZOS's cost).
    img.thumbnail((size, size), Image.Resampling.BILINEAR, reducing_gap=2.0)
    out = io.BytesIO()
    img.save(out, "JPEG", quality=THUMBNAIL_QUALITY)  # no EXIF, GPS or comments carried over
    return out.getvalue()
