"""Perceptual hashes of a decoded image: pHash and dHash of the whole image and its mirror."""

from __future__ import annotations

import imagehash
from PIL import Image, ImageOps

from pipeline.images import DecodedImage, decode_image
from pipeline.models import ImageHashes, Region, RegionHash

HASH_SIZE = 8  # 64-bit hashes


def region_hash(region: Region, image: Image.Image) -> RegionHash:
    return RegionHash(
        region=region,
        phash=str(imagehash.phash(image, hash_size=HASH_SIZE)),
        dhash=str(imagehash.dhash(image, hash_size=HASH_SIZE)),
    )


def hash_decoded(decoded: DecodedImage) -> ImageHashes:
    gray = decoded.image.convert("L")  # both hashes work on luminance; convert once
    return ImageHashes(
        sha256=decoded.sha256,
        width=decoded.width,
        height=decoded.height,
        regions=(region_hash("whole", gray), region_hash("mirror", ImageOps.mirror(gray))),
    )


def hash_bytes(data: bytes) -> ImageHashes:
    """Decode untrusted bytes safely and hash them. Raises `ImageRejected`."""
    return hash_decoded(decode_image(data))


def hamming(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()
