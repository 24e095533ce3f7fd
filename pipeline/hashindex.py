"""Exact Hamming-radius search over 64-bit hashes.

`MultiIndexHash` splits each hash into three substrings (21/21/22 bits). If two hashes are within
r bits, then by pigeonhole at least one substring is within r // 3 bits, so probing every
substring value within r // 3 bits of the query's, in three direct-addressed tables, finds every
candidate; a popcount then keeps exactly those within r. `brute_force` (XOR + popcount over
everything) is the reference both tests and benchmarks compare against.

Memory: hashes are stored once, sorted by the first substring so that table needs no id array;
the other two tables hold uint32 positions; offsets are uint32. About 23 bytes per hash.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import cache

import numpy as np
import numpy.typing as npt

U64 = npt.NDArray[np.uint64]
SPLIT = (21, 21, 22)  # bits per substring, low to high
# Bounds the candidate arrays held at once; queries are processed in chunks of this many probes.
_MAX_PROBES_PER_CHUNK = 2_000_000
# Up to this many (query, hash) pairs, one XOR + popcount over all of them (~2.5 ns a pair)
# beats probing: a query's ~700 probes land at random in 24 MiB of offset tables, and with the
# caches cold, as in a crawl where every query is new, that costs ~0.6 ms a query. A crawl
# matches one listing's few images at a time, so for registries up to ~100k hashes this is the
# faster path (1,000 hashes, 5 queries: 0.014 ms against 3.1 ms probing).
SCAN_PAIRS = 1_000_000


@dataclass(frozen=True)
class RadiusHits:
    """Flat result of a batch query: row k says query[query_index[k]] is within radius of
    entry[entry_index[k]] at `distance` bits. Sorted by query, then distance, then entry."""

    query_index: npt.NDArray[np.int64]
    entry_index: npt.NDArray[np.int64]
    distance: npt.NDArray[np.int64]

    def __len__(self) -> int:
        return len(self.query_index)

    def for_query(self, q: int) -> list[tuple[int, int]]:
        lo, hi = np.searchsorted(self.query_index, [q, q + 1])
        return list(zip(self.entry_index[lo:hi].tolist(), self.distance[lo:hi].tolist(), strict=True))


def _sorted_hits(q: npt.NDArray[np.int64], e: npt.NDArray[np.int64], d: npt.NDArray[np.int64]) -> RadiusHits:
    order = np.lexsort((e, d, q))
    return RadiusHits(q[order], e[order], d[order])


def _scan(
    hashes: U64, queries: U64, radius: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Every query against every hash in one vectorised pass: exact, for small inputs. Unsorted
    (query, entry, distance) columns."""
    dist = np.bitwise_count(queries[:, None] ^ hashes[None, :])
    q, e = np.nonzero(dist <= radius)
    return q.astype(np.int64), e.astype(np.int64), dist[q, e].astype(np.int64)


def brute_force(hashes: U64, queries: U64, radius: int) -> RadiusHits:
    """Reference implementation: compare every query with every hash."""
    qs, es, ds = [], [], []
    for qi, q in enumerate(np.asarray(queries, dtype=np.uint64)):
        dist = np.bitwise_count(hashes ^ q)
        idx = np.flatnonzero(dist <= radius)
        qs.append(np.full(len(idx), qi, dtype=np.int64))
        es.append(idx.astype(np.int64))
        ds.append(dist[idx].astype(np.int64))
    if not qs:
        empty = np.empty(0, dtype=np.int64)
        return RadiusHits(empty, empty, empty)
    return _sorted_hits(np.concatenate(qs), np.concatenate(es), np.concatenate(ds))


@cache
def _flip_masks(bits: int, max_flips: int) -> npt.NDArray[np.uint32]:
    """Every `bits`-bit mask with at most `max_flips` bits set: the probe neighbourhood."""
    masks = [0]
    for k in range(1, min(max_flips, bits) + 1):
        masks.extend(sum(1 << b for b in combo) for combo in itertools.combinations(range(bits), k))
    return np.array(masks, dtype=np.uint32)


def _substring(hashes: U64, j: int) -> npt.NDArray[np.uint32]:
    shift = sum(SPLIT[:j])
    return ((hashes >> np.uint64(shift)) & np.uint64((1 << SPLIT[j]) - 1)).astype(np.uint32)


def _expand(starts: npt.NDArray[np.int64], lengths: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Concatenate the ranges [start, start + length) without a Python loop."""
    total = int(lengths.sum())
    if total == 0:
        return np.empty(0, dtype=np.int64)
    ends = np.cumsum(lengths)
    shift = np.repeat(starts - (ends - lengths), lengths)
    out: npt.NDArray[np.int64] = np.arange(total, dtype=np.int64) + shift
    return out


class MultiIndexHash:
    def __init__(self, hashes: U64, *, scan_pairs: int = SCAN_PAIRS) -> None:
        self.scan_pairs = scan_pairs  # 0: always probe
        hashes = np.ascontiguousarray(hashes, dtype=np.uint64)
        if len(hashes) >= 2**32:
            raise ValueError("at most 2**32 - 1 hashes per index")
        key0 = _substring(hashes, 0)
        order = np.argsort(key0, kind="stable").astype(np.uint32)
        self.perm = order  # sorted position -> caller's index
        self.hashes = hashes[order]
        # The probe tables (24 MiB of offsets, whatever the size) are built on the first search
        # that probes: an index that only ever scans, as small registries do, never needs them.
        self.offsets: list[npt.NDArray[np.uint32]] = []
        self.positions: list[npt.NDArray[np.uint32] | None] = [None]  # table 0 is the sorted array itself

    def build_tables(self) -> MultiIndexHash:
        """Build the probe tables now (a benchmark timing the build; otherwise the first probe does)."""
        if self.offsets:
            return self
        for j, bits in enumerate(SPLIT):
            key = _substring(self.hashes, j)
            counts = np.bincount(key, minlength=1 << bits)
            self.offsets.append(np.concatenate(([0], np.cumsum(counts))).astype(np.uint32))
            if j:
                self.positions.append(np.argsort(key, kind="stable").astype(np.uint32))
        return self

    def __len__(self) -> int:
        return len(self.hashes)

    @property
    def nbytes(self) -> int:
        """Memory of the index with its probe tables (built if they were not)."""
        self.build_tables()
        arrays: list[npt.NDArray[np.generic]] = [self.hashes, self.perm, *self.offsets]
        arrays += [p for p in self.positions if p is not None]
        return sum(int(a.nbytes) for a in arrays)

    def search(self, queries: U64, radius: int) -> RadiusHits:
        """Every (query, entry) pair within `radius` bits, exactly the brute-force set."""
        queries = np.ascontiguousarray(queries, dtype=np.uint64)
        if radius < 0 or radius > 64:
            raise ValueError(f"radius must be 0..64, got {radius}")
        if len(queries) * len(self.hashes) <= self.scan_pairs:
            q, pos, dist = _scan(self.hashes, queries, radius)
            return _sorted_hits(q, self.perm[pos].astype(np.int64), dist)  # sorted once, by caller's index
        self.build_tables()
        probes_per_query = sum(len(_flip_masks(b, radius // 3)) for b in SPLIT)
        chunk = max(1, _MAX_PROBES_PER_CHUNK // probes_per_query)
        parts = [self._search_chunk(queries[i : i + chunk], radius, i) for i in range(0, len(queries), chunk)]
        if not parts:
            empty = np.empty(0, dtype=np.int64)
            return RadiusHits(empty, empty, empty)
        return _sorted_hits(*(np.concatenate([p[k] for p in parts]) for k in range(3)))

    def _search_chunk(
        self, queries: U64, radius: int, first: int
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        found_q, found_pos = [], []
        for j, bits in enumerate(SPLIT):
            masks = _flip_masks(bits, radius // 3)
            probes = (_substring(queries, j)[:, None] ^ masks[None, :]).ravel()
            offsets = self.offsets[j]
            starts = offsets[probes].astype(np.int64)
            lengths = offsets[probes + 1].astype(np.int64) - starts
            slots = _expand(starts, lengths)
            table = self.positions[j]
            pos = slots if table is None else table[slots].astype(np.int64)
            qidx = np.repeat(np.repeat(np.arange(len(queries), dtype=np.int64), len(masks)), lengths)
            found_q.append(qidx)
            found_pos.append(pos)
        q = np.concatenate(found_q)
        pos = np.concatenate(found_pos)
        dist = np.bitwise_count(self.hashes[pos] ^ queries[q]).astype(np.int64)
        keep = dist <= radius
        q, pos, dist = q[keep], pos[keep], dist[keep]
        # A hit close in several substrings was found in several tables: keep one.
        key = np.unique(q * len(self.hashes) + pos, return_index=True)[1]
        q, pos, dist = q[key], pos[key], dist[key]
        return q + first, self.perm[pos].astype(np.int64), dist
