from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.hashindex import SCAN_PAIRS, MultiIndexHash, brute_force
from pipeline.matching import Radii, RegistryIndex
from pipeline.models import ImageHashes, RegionHash, RegistryEntry
from pipeline.registry import RegistryArrays


def arrays(entries: list[RegistryEntry]) -> RegistryArrays:
    return RegistryArrays.from_entries(entries)


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
    # an augmented copy of "near" that is closer: the best variant of a ref wins, once
    RegistryEntry("acme", "near", phash="f0f0f0f0f0f0f0f1", dhash="0f0f0f0f0f0f0f0f", variant="crop5-c"),
]


@pytest.fixture(params=[False, True], ids=["multi-index", "brute-force"])
def exact_reference(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


def test_returns_exactly_entries_within_both_radii(exact_reference: bool) -> None:
    index = RegistryIndex(arrays(ENTRIES), Radii(phash=10, dhash=12), exact_reference=exact_reference)
    matches = index.match(query("f0f0f0f0f0f0f0f0", "0f0f0f0f0f0f0f0f"))
    assert [(m.ref, m.distance, m.dhash_distance, m.variant) for m in matches] == [
        ("exact", 0, 0, ""),
        ("near", 1, 0, "crop5-c"),
    ]


def test_radius_is_inclusive(exact_reference: bool) -> None:
    index = RegistryIndex(arrays(ENTRIES), Radii(phash=12, dhash=12), exact_reference=exact_reference)
    refs = {m.ref for m in index.match(query("f0f0f0f0f0f0f0f0", "0f0f0f0f0f0f0f0f"))}
    assert refs == {"exact", "near", "far-phash"}


def test_best_region_wins_per_ref(exact_reference: bool) -> None:
    index = RegistryIndex(arrays(ENTRIES[:1]), exact_reference=exact_reference)
    hashes = ImageHashes(
        sha256="0" * 64, width=1, height=1,
        regions=(
            RegionHash("whole", "0f0f0f0f0f0f0f0f", "f0f0f0f0f0f0f0f0"),
            RegionHash("tile", "f0f0f0f0f0f0f0f1", "0f0f0f0f0f0f0f0f", box=(10, 10, 90, 90)),
        ),
    )  # fmt: skip
    [match] = index.match(hashes)
    assert (match.region, match.distance, match.box) == ("tile", 1, (10, 10, 90, 90))


def test_batches_keep_images_apart(exact_reference: bool) -> None:
    index = RegistryIndex(arrays(ENTRIES), exact_reference=exact_reference)
    results = index.match_many(
        [query("0000000000000000", "0000000000000000"), query("f0f0f0f0f0f0f0f0", "0f0f0f0f0f0f0f0f")]
    )
    assert results[0] == [] and [m.ref for m in results[1]] == ["exact", "near"]


def test_empty_registry_and_empty_batch(exact_reference: bool) -> None:
    assert RegistryIndex(arrays([]), exact_reference=exact_reference).match(query("0" * 16, "0" * 16)) == []
    assert RegistryIndex(arrays(ENTRIES), exact_reference=exact_reference).match_many([]) == []


# --- the multi-index returns exactly the brute-force set ----------------------------------------

hashes_64 = st.integers(min_value=0, max_value=2**64 - 1)


def flip(value: int, bits: list[int]) -> int:
    for b in bits:
        value ^= 1 << b
    return value


@settings(max_examples=150, deadline=None)
@given(
    base=st.lists(hashes_64, min_size=1, max_size=40),
    near=st.lists(st.tuples(st.integers(0, 39), st.lists(st.integers(0, 63), max_size=16)), max_size=60),
    queries=st.lists(st.tuples(st.integers(0, 39), st.lists(st.integers(0, 63), max_size=16)), min_size=1, max_size=8),
    radius=st.integers(0, 16),
    scan_pairs=st.sampled_from([0, SCAN_PAIRS]),  # probing, and the scan small batches take
)
def test_multi_index_equals_brute_force(
    base: list[int],
    near: list[tuple[int, list[int]]],
    queries: list[tuple[int, list[int]]],
    radius: int,
    scan_pairs: int,
) -> None:
    # Entries and queries cluster around a few base hashes so every radius has hits and misses.
    entries = base + [flip(base[i % len(base)], bits) for i, bits in near]
    qs = [flip(base[i % len(base)], bits) for i, bits in queries]
    hashes = np.array(entries, dtype=np.uint64)
    q = np.array(qs, dtype=np.uint64)
    got, want = MultiIndexHash(hashes, scan_pairs=scan_pairs).search(q, radius), brute_force(hashes, q, radius)
    assert got.query_index.tolist() == want.query_index.tolist()
    assert got.entry_index.tolist() == want.entry_index.tolist()
    assert got.distance.tolist() == want.distance.tolist()


@pytest.mark.parametrize("scan_pairs", [0, SCAN_PAIRS])
def test_literal_distances_across_substring_boundaries(scan_pairs: int) -> None:
    # bits 20/21 and 41/42 straddle the 21/21/22 split: a hit there must not be missed
    base = 0
    entries = [flip(base, [20, 21]), flip(base, [41, 42, 63]), flip(base, [0, 21, 42, 63]), flip(base, list(range(9)))]
    hashes = np.array(entries, dtype=np.uint64)
    result = MultiIndexHash(hashes, scan_pairs=scan_pairs).search(np.array([base], dtype=np.uint64), 8)
    assert result.for_query(0) == [(0, 2), (1, 3), (2, 4)]


@pytest.mark.parametrize("scan_pairs", [0, SCAN_PAIRS])
def test_duplicate_hashes_are_all_returned(scan_pairs: int) -> None:
    hashes = np.array([5, 5, 5, 7], dtype=np.uint64)
    result = MultiIndexHash(hashes, scan_pairs=scan_pairs).search(np.array([5], dtype=np.uint64), 0)
    assert result.for_query(0) == [(0, 0), (1, 0), (2, 0)]


@pytest.mark.parametrize("radius", [-1, 65])
def test_invalid_radius(radius: int) -> None:
    with pytest.raises(ValueError, match="radius"):
        MultiIndexHash(np.array([1], dtype=np.uint64)).search(np.array([1], dtype=np.uint64), radius)
