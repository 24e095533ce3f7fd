"""Find registry entries within a Hamming radius of query images' hashes.

A match needs *both* pHash and dHash within their radii: unrelated faces are often close in one
hash alone (DESIGN.md), rarely in both. Candidates come from a multi-index over pHash; dHash is
verified on them. `exact_reference=True` swaps in brute force, for tests and benchmarks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from pipeline.hashindex import MultiIndexHash, RadiusHits, brute_force
from pipeline.models import ImageHashes, Match
from pipeline.registry import RegistryArrays

# Radii in bits of 64, chosen from the distributions bench/robustness.py measures (README,
# "Matching thresholds"): at 8/10 no unrelated pair (109,900, real faces among them) is within
# both, while 99.9% of transformed copies are; at 10/12 four unrelated pairs already are.
DEFAULT_PHASH_RADIUS = 8
DEFAULT_DHASH_RADIUS = 10


@dataclass(frozen=True)
class Radii:
    phash: int = DEFAULT_PHASH_RADIUS
    dhash: int = DEFAULT_DHASH_RADIUS


class RegistryIndex:
    def __init__(self, arrays: RegistryArrays, radii: Radii | None = None, *, exact_reference: bool = False) -> None:
        self.arrays = arrays
        self.radii = radii or Radii()
        self._mih = None if exact_reference else MultiIndexHash(arrays.phash)

    def __len__(self) -> int:
        return len(self.arrays)

    def _candidates(self, phashes: npt.NDArray[np.uint64]) -> RadiusHits:
        if self._mih is None:
            return brute_force(self.arrays.phash, phashes, self.radii.phash)
        return self._mih.search(phashes, self.radii.phash)

    def match_many(self, images: Sequence[ImageHashes]) -> list[list[Match]]:
        """One batch query for every region of every image; per image, the best match per (org, ref)."""
        owners = [(i, region) for i, image in enumerate(images) for region in image.regions]
        results: list[list[Match]] = [[] for _ in images]
        if not owners or not len(self.arrays):
            return results
        qp = np.array([int(r.phash, 16) for _, r in owners], dtype=np.uint64)
        qd = np.array([int(r.dhash, 16) for _, r in owners], dtype=np.uint64)
        hits = self._candidates(qp)
        dd = np.bitwise_count(self.arrays.dhash[hits.entry_index] ^ qd[hits.query_index])
        keep = dd <= self.radii.dhash
        best: list[dict[tuple[str, str], Match]] = [{} for _ in images]
        for q, e, d, d2 in zip(
            hits.query_index[keep].tolist(), hits.entry_index[keep].tolist(),
            hits.distance[keep].tolist(), dd[keep].tolist(), strict=True,
        ):  # fmt: skip
            image_index, region = owners[q]
            candidate = Match(
                entry_id=self.arrays.ids[e], org=self.arrays.orgs[e], ref=self.arrays.refs[e],
                region=region.region, distance=int(d), dhash_distance=int(d2), box=region.box,
                variant=self.arrays.variants[e],
            )  # fmt: skip
            key = (candidate.org, candidate.ref)
            current = best[image_index].get(key)
            if current is None or (candidate.distance, candidate.dhash_distance) < (
                current.distance,
                current.dhash_distance,
            ):
                best[image_index][key] = candidate
        for i, per_ref in enumerate(best):
            results[i] = sorted(per_ref.values(), key=lambda m: (m.distance, m.org, m.ref))
        return results

    def match(self, image: ImageHashes) -> list[Match]:
        return self.match_many([image])[0]
