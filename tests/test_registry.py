from __future__ import annotations

from pathlib import Path

import pytest

from bioleak.demo.images import portrait, to_bytes
from pipeline.images import ImageRejected
from pipeline.models import RegistryEntry
from pipeline.registry import InvalidEntry, SqliteRegistry, entry_for_image


def test_add_is_idempotent_and_stores_only_hashes(tmp_path: Path) -> None:
    registry = SqliteRegistry(tmp_path / "r.sqlite3")
    entry = entry_for_image("acme-bank", "cust-1", to_bytes(portrait(1), "PNG"))
    assert registry.add([entry]) == 1
    assert registry.add([entry]) == 0
    assert registry.count() == 1
    [stored] = registry.entries("acme-bank")
    assert (stored.ref, stored.phash, stored.dhash) == (entry.ref, entry.phash, entry.dhash)
    registry.close()
    # privacy: the file holds no image bytes, only short hex strings
    assert b"\x89PNG" not in (tmp_path / "r.sqlite3").read_bytes()


def test_arrays_are_numpy_columns(tmp_path: Path) -> None:
    registry = SqliteRegistry(tmp_path / "r.sqlite3")
    registry.add([RegistryEntry("o", "a", "00000000000000ff", "ff00000000000000")])
    arrays = registry.arrays()
    assert arrays.phash.dtype.name == "uint64" and int(arrays.phash[0]) == 0xFF
    assert arrays.refs == ["a"]


@pytest.mark.parametrize(
    "entry",
    [
        RegistryEntry("acme bank", "r", "0" * 16, "0" * 16),
        RegistryEntry("acme", "", "0" * 16, "0" * 16),
        RegistryEntry("acme", "r\n", "0" * 16, "0" * 16),
        RegistryEntry("acme", "r", "ABCDEF0123456789", "0" * 16),
        RegistryEntry("acme", "r", "0" * 15, "0" * 16),
        RegistryEntry("acme", "r", "0" * 16, "zz" * 8),
    ],
    ids=["space-in-org", "empty-ref", "control-char", "uppercase-hex", "short-hash", "not-hex"],
)
def test_invalid_entries_are_refused(tmp_path: Path, entry: RegistryEntry) -> None:
    with pytest.raises(InvalidEntry):
        SqliteRegistry(tmp_path / "r.sqlite3").add([entry])


def test_enrolling_a_non_image_is_refused() -> None:
    with pytest.raises(ImageRejected):
        entry_for_image("acme", "x", b"<html>not a photo</html>")
