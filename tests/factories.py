"""Small builders for records in tests, and a probe of what a fresh interpreter imports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from pipeline.models import Category, Contact, Hit, Listing, Price, Quantity, listing_id, sha256_hex


def make_listing(
    n: int,
    *,
    title: str = "",
    text: str = "",
    category: Category = "face_data_sale",
    site: str = "market.example",
    seen: str = "2026-11-01T00:00:00+00:00",
) -> Listing:
    url = f"http://{site}/item/{n}"
    return Listing(
        id=listing_id(url),
        source="test",
        url=url,
        site=site,
        title=title or f"listing {n}",
        text=text,
        category=category,
        score=0.9,
        first_seen=seen,
        last_seen=seen,
        content_sha256=f"{n:064x}",
        prices=(Price(0.2, "CNY", "per_item"),),
        quantity=100_000,
        quantities=(Quantity(100_000, "photo"),),
        contacts=(Contact("qq", "2874561032"),),
        image_urls=(f"http://{site}/img/{n}.jpg",),
    )


def make_hit(listing: Listing, org: str, ref: str, *, distance: int = 2) -> Hit:
    entry_id = f"{org}:{ref}"
    image_sha = sha256_hex("image", listing.id)
    return Hit(
        id=Hit.make_id(listing.id, image_sha, entry_id),
        org=org,
        registry_ref=ref,
        registry_entry_id=entry_id,
        algorithm="phash+dhash",
        distance=distance,
        dhash_distance=distance + 1,
        region="whole",
        image_url=listing.image_urls[0],
        image_sha256=image_sha,
        listing_id=listing.id,
        found_at="2026-11-01T00:00:00+00:00",
    )


def modules_loaded_after(code: str, modules: set[str]) -> list[str]:
    """Which of `modules` a fresh interpreter has loaded once it has run `code` (from the repo)."""
    root = Path(__file__).resolve().parents[1]
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(set({sorted(modules)!r}) & set(sys.modules))))"
    done = subprocess.run([sys.executable, "-c", probe], cwd=root, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(root)})  # fmt: skip
    assert done.returncode == 0, done.stderr
    loaded: list[str] = json.loads(done.stdout)
    return loaded


def crash(*_args: object, **_kwargs: object) -> None:
    """A job that kills the worker process running it, as a decoder crashing on hostile bytes
    would (in a worker process: it must be importable there, hence here)."""
    os._exit(70)


class _NotRebuildable(Exception):
    def __init__(self, what: str, why: str) -> None:  # unpickling calls cls(*args): one arg short
        super().__init__(f"{what}: {why}")


def raise_not_rebuildable() -> None:
    """A job whose exception pickles in the worker but cannot be unpickled by the pool."""
    raise _NotRebuildable("decoder", "odd exception")
