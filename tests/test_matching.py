from __future__ import annotations

import numpy as np

from pipeline.matching import BruteForceIndex, Radii
from pipeline.models import ImageHashes, RegionHash, RegistryEntry
from pipeline.registry import RegistryArrays


def arrays(entries: list[RegistryEntry]) -> RegistryArrays:
    return RegistryArrays(
        ids=[e.id for e in entries],
        orgs=[e.org for e in entries],
        refs=[e.ref for e in entries],
        phash=np.array([int(e.phash, 16) for e in entries], dtype=np.uint64),
        dhash=np.array([int(e.dhash, 16) for e in entries], dtype=np.uint64),
    )


def query(phash: str, dhash: str, region: str = "whole") -> ImageHashes:
    return ImageHashes(sha256="0" * 64, width=1, height=1, regions=(RegionHash(region, phash, dhash),))  # type: ignore[arg-type]


ENTRIES = [
    RegistryEntry("acme", "exact", phash="f0f0f0f0f0f0f0f0", dhash="0f0f0f0f0f0f0f0f"),
    # pHash 3 bits and dHash 2 bits away from the query below
    RegistryEntry("acme", "near", phash="f0f0f0f0f0f0f0f7", dhash="0f0f0f0f0f0f0f0c"),
    # pHash 12 bits away: outside the pHash radius of 10
    RegistryEntry("acme", "far-phash", phash="f0f0f0f0f0f0ff0f", dhash="0f0f0f0f0f0f0f0f"),
    # pHash identical but dHash 32 bits away: one hash alone must not make a match
    RegistryEntry("other", "far-dhash", phash="f0f0f0f0f0f0f0f0", dhash="0f0f0f0ff0f0f0f0"),
]


def test_returns_exactly_entries_within_both_radii() -> None:
    index = BruteForceIndex(arrays(ENTRIES), Radii(phash=10, dhash=12))
    matches = index.match(query("f0f0f0f0f0f0f0f0", "0f0f0f0f0f0f0f0f"))
    assert [(m.ref, m.distance, m.dhash_distance) for m in matches] == [("exact", 0, 0), ("near", 3, 2)]


def test_radius_is_inclusive() -> None:
    index = BruteForceIndex(arrays(ENTRIES), Radii(phash=12, dhash=12))
    refs = {m.ref for m in index.match(query("f0f0f0f0f0f0f0f0", "0f0f0f0f0f0f0f0f"))}
    assert refs == {"exact", "near", "far-phash"}


def test_best_region_wins_per_entry() -> None:
    index = BruteForceIndex(arrays(ENTRIES[:1]))
    hashes = ImageHashes(
        sha256="0" * 64, width=1, height=1,
        regions=(
            RegionHash("whole", "0f0f0f0f0f0f0f0f", "f0f0f0f0f0f0f0f0"),
            RegionHash("mirror", "f0f0f0f0f0f0f0f1", "0f0f0f0f0f0f0f0f"),
        ),
    )  # fmt: skip
    [match] = index.match(hashes)
    assert (match.region, match.distance) == ("mirror", 1)


def test_empty_registry_matches_nothing() -> None:
    assert BruteForceIndex(arrays([])).match(query("0" * 16, "0" * 16)) == []


def test_agrees_with_python_reference_on_random_hashes() -> None:
    rng = np.random.default_rng(5)
    entries = []
    base = int(rng.integers(0, 2**63))
    for i in range(500):
        # half near the base hash, half random: both sides of the radius get exercised
        flips = rng.choice(64, size=int(rng.integers(0, 14)), replace=False) if i % 2 else []
        p = base
        for bit in flips:
            p ^= 1 << int(bit)
        p = p if i % 2 else int(rng.integers(0, 2**63))
        entries.append(RegistryEntry("o", f"r{i}", phash=f"{p:016x}", dhash=f"{p:016x}"))
    index = BruteForceIndex(arrays(entries), Radii(8, 8))
    got = {m.ref for m in index.match(query(f"{base:016x}", f"{base:016x}"))}
    want = {e.ref for e in entries if (int(e.phash, 16) ^ base).bit_count() <= 8}
    assert got == want and 0 < len(want) < 500
