"""What a hashing worker process runs: decode, hash, and thumbnail an image that matches.

Kept apart from the Scrapy pipeline that feeds it, so that a worker process imports only what
hashing needs (numpy, Pillow, OpenCV) and not Scrapy and Twisted: that halves a worker's start
(0.4 s of CPU against 0.7 s) and its memory (54 MB against 92 MB); a worker restarted after
hostile bytes crashed the last one is back as soon.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from pipeline.hashing import hash_decoded
from pipeline.images import decode_image, decode_with_colour, thumbnail_of
from pipeline.matching import RegistryIndex
from pipeline.models import ImageHashes
from pipeline.registry import RegistryArrays

# In a hashing worker process: the registry's hashes (set by `init_worker`), so that only an
# image that matches something gets a thumbnail. ThumbnailPipeline keeps no other, and most
# images match nothing: the thumbnail is a fifth of the work on an image without faces.
_registry: RegistryIndex | None = None


def match_index(registry_hashes: tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64]] | None) -> RegistryIndex | None:
    """An index that answers whether an image matches the registry's (pHash, dHash) arrays
    (None without them: then every image gets a thumbnail)."""
    return None if registry_hashes is None else RegistryIndex(RegistryArrays.hashes_only(*registry_hashes))


def init_worker(registry_hashes: tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64]] | None) -> None:
    global _registry  # one per worker process, set once at its start
    _registry = match_index(registry_hashes)


def decode_and_hash(
    body: bytes, *, max_bytes: int, max_pixels: int, faces: bool, thumbnail: int = 0,
    registry: RegistryIndex | None = None,
) -> tuple[ImageHashes, bytes | None]:  # fmt: skip
    """Hashes, and with `thumbnail` > 0 a JPEG that size from the same decode (~0.6 ms) if the
    image matches `registry` (default: the worker's; without one, every image gets one): kept
    downstream only if the image matches, and then without downloading it a second time."""
    if thumbnail:
        decoded, colour = decode_with_colour(body, max_bytes=max_bytes, max_pixels=max_pixels)
        hashes = hash_decoded(decoded, faces=faces)
        if registry is None:  # not `or`: an empty registry is falsy, and matches nothing
            registry = _registry
        matched = registry is None or bool(registry.match(hashes))
        return hashes, thumbnail_of(colour, thumbnail) if matched else None
    decoded = decode_image(body, max_bytes=max_bytes, max_pixels=max_pixels)
    return hash_decoded(decoded, faces=faces), None
