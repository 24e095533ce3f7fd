"""Find registry entries within a Hamming radius of a query image's hashes.

A match needs *both* pHash and dHash within their radii: unrelated faces are often close in
one hash alone (see DESIGN.md), rarely in both. This is the brute-force numpy reference
(XOR + popcount over every entry); a multi-index version must return exactly the same set.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline.models import ImageHashes, Match
from pipeline.registry import RegistryArrays

# Provisional radii in bits of 64, measured on the demo portraits: leaked copies (re-encode,
# resize, watermark, grayscale, mirror, 3% crop) within pHash 4 / dHash 7; 780 unrelated pairs
# at pHash >= 16 / dHash >= 13. Issue 3 re-derives them from larger distributions.
DEFAULT_PHASH_RADIUS = 10
DEFAULT_DHASH_RADIUS = 12


@dataclass(frozen=True)
class Radii:
    phash: int = DEFAULT_PHASH_RADIUS
    dhash: int = DEFAULT_DHASH_RADIUS


class BruteForceIndex:
    def __init__(self, arrays: RegistryArrays, radii: Radii | None = None) -> None:
        self.arrays = arrays
        self.radii = radii or Radii()

    def __len__(self) -> int:
        return len(self.arrays)

    def match(self, hashes: ImageHashes) -> list[Match]:
        """Best match per registry entry over the image's regions (whole, mirror)."""
        best: dict[int, Match] = {}
        if not len(self.arrays):
            return []
        for region in hashes.regions:
            p = np.bitwise_count(self.arrays.phash ^ np.uint64(int(region.phash, 16)))
            d = np.bitwise_count(self.arrays.dhash ^ np.uint64(int(region.dhash, 16)))
            for i in np.flatnonzero((p <= self.radii.phash) & (d <= self.radii.dhash)).tolist():
                candidate = Match(
                    entry_id=self.arrays.ids[i],
                    org=self.arrays.orgs[i],
                    ref=self.arrays.refs[i],
                    region=region.region,
                    distance=int(p[i]),
                    dhash_distance=int(d[i]),
                )
                if i not in best or candidate.distance < best[i].distance:
                    best[i] = candidate
        return sorted(best.values(), key=lambda m: (m.distance, m.org, m.ref))
