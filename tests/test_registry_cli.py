"""Enrolment and manual matching from the command line, with real image files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bioleak.cli import main
from bioleak.demo.images import leaked_copy, portrait, to_bytes
from pipeline.registry import SqliteRegistry


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def thousand_images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("photos")
    for i in range(1000):
        sub = folder / f"batch{i // 250}"
        sub.mkdir(exist_ok=True)
        # small but real, distinct JPEGs
        (sub / f"cust-{i:04d}.jpg").write_bytes(to_bytes(portrait(10_000 + i, size=64), "JPEG", quality=85))
    (folder / "README.txt").write_text("not an image: ignored when walking a directory")
    (folder / "batch0" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    return folder


def test_registry_add_a_directory_of_1000_images(
    thousand_images: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = str(tmp_path / "data")
    code, out, err = run(capsys, "--data-dir", data, "registry", "add", "--org", "acme-bank", "--no-augment",
                         str(thousand_images))  # fmt: skip
    assert code == 0
    progress = [line for line in err.splitlines() if line.startswith("hashed ")]
    assert len(progress) >= 10 and progress[-1].startswith("hashed 1001/1001 (100%)")
    assert "skipped" in err and "broken.jpg" in err
    assert out.startswith("1000 image(s): 1000 hash entries added, 0 already present, 1 file(s) skipped")

    code, out, _ = run(capsys, "--data-dir", data, "registry", "add", "--org", "acme-bank", "--no-augment",
                       str(thousand_images), "--json")  # fmt: skip
    result = json.loads(out)
    assert (result["entries_added"], result["entries_already_present"], result["registry_size"]) == (0, 1000, 1000)

    registry = SqliteRegistry(Path(data) / "registry.sqlite3")
    refs = {e.ref for e in registry.entries("acme-bank")}
    registry.close()
    assert "batch1/cust-0250.jpg" in refs and len(refs) == 1000  # default ref: path below the argument


def test_export_then_import_round_trips(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(4):
        (photos / f"id-{i}.png").write_bytes(to_bytes(portrait(500 + i), "PNG"))
    first, second = str(tmp_path / "a"), str(tmp_path / "b")
    assert (
        run(capsys, "--data-dir", first, "registry", "add", "--org", "acme-bank", "--ref-from-filename", str(photos))[0]
        == 0
    )
    for fmt in ("jsonl", "csv"):
        code, exported, _ = run(capsys, "--data-dir", first, "registry", "export", "--format", fmt)
        assert code == 0
        (tmp_path / f"export.{fmt}").write_text(exported)
        target = f"{second}-{fmt}"
        code, out, _ = run(
            capsys, "--data-dir", target, "registry", "import", "--org", "acme-bank", str(tmp_path / f"export.{fmt}")
        )
        assert code == 0 and out.startswith("44 entries for 4 ref(s): 44 added")
        a, b = SqliteRegistry(Path(first) / "registry.sqlite3"), SqliteRegistry(Path(target) / "registry.sqlite3")
        strip = lambda entries: [(e.org, e.ref, e.kind, e.variant, e.phash, e.dhash) for e in entries]  # noqa: E731
        assert strip(a.entries()) == strip(b.entries())
        a.close()
        b.close()


def test_hash_then_import_then_match(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The hash-only flow: the organisation hashes on its own machine; only hashes travel."""
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(3):
        (photos / f"cust-{i}.jpg").write_bytes(to_bytes(portrait(700 + i), "JPEG", quality=92))
    (photos / "cust-9.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated before any image data")
    code, records, err = run(capsys, "hash", "--ref-from-filename", str(photos))
    assert code == 0 and "3 image(s) hashed, 1 skipped" in err
    assert "skipped" in err and "cust-9.jpg" in err
    lines = [json.loads(line) for line in records.splitlines()]
    assert len(lines) == 33 and {r["ref"] for r in lines} == {"cust-0", "cust-1", "cust-2"}
    assert all(set(r) == {"ref", "kind", "variant", "phash", "dhash"} for r in lines)
    (tmp_path / "hashes.jsonl").write_text(records)
    data = str(tmp_path / "data")
    assert (
        run(capsys, "--data-dir", data, "registry", "import", "--org", "pixelpay", str(tmp_path / "hashes.jsonl"))[0]
        == 0
    )

    (tmp_path / "leak.jpg").write_bytes(leaked_copy(portrait(701), "crop_3"))
    (tmp_path / "unrelated.jpg").write_bytes(to_bytes(portrait(12345), "JPEG"))
    (tmp_path / "fake.jpg").write_bytes(b"<!doctype html><p>denied")
    code, out, _ = run(capsys, "--data-dir", data, "match", "--json",
                       str(tmp_path / "leak.jpg"), str(tmp_path / "unrelated.jpg"), str(tmp_path / "fake.jpg"))  # fmt: skip
    rows = {Path(r["file"]).name: r for r in map(json.loads, out.splitlines())}
    assert rows["leak.jpg"]["status"] == "match"
    assert [(m["org"], m["ref"]) for m in rows["leak.jpg"]["matches"]] == [("pixelpay", "cust-1")]
    assert rows["unrelated.jpg"]["status"] == "no_match"
    assert (rows["fake.jpg"]["status"], rows["fake.jpg"]["reason"]) == ("rejected", "not_an_image")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"ref": "a", "phash": "00000000000000zz", "dhash": "0000000000000000"}\n', "input.jsonl:1: phash"),
        (
            '{"ref": "a", "phash": "0000000000000000", "dhash": "0000000000000000"}\n{broken\n',
            "input.jsonl:2: not valid JSON",
        ),
        ('{"ref": "", "phash": "0000000000000000", "dhash": "0000000000000000"}\n', "invalid ref"),
        ('{"ref": "a", "kind": "photo", "phash": "0000000000000000", "dhash": "0000000000000000"}\n', "invalid kind"),
        ("name,hash\nx,y\n", "CSV header lacks"),
        ('["a", "b"]\n', "CSV header lacks"),
    ],
)
def test_bad_import_files_import_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    path = tmp_path / "input.jsonl"
    path.write_text(content)
    data = str(tmp_path / "data")
    code, _, err = run(capsys, "--data-dir", data, "registry", "import", "--org", "acme", str(path))
    assert code == 2 and "nothing imported" in err and message in err
    registry = SqliteRegistry(Path(data) / "registry.sqlite3")
    assert registry.count() == 0
    registry.close()


def test_remove_and_stats(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    photos = tmp_path / "p"
    photos.mkdir()
    for i in range(2):
        (photos / f"r{i}.png").write_bytes(to_bytes(portrait(40 + i), "PNG"))
    data = str(tmp_path / "data")
    run(capsys, "--data-dir", data, "registry", "add", "--org", "acme", "--ref-from-filename", str(photos))
    code, out, _ = run(capsys, "--data-dir", data, "registry", "stats", "--json")
    assert json.loads(out)["orgs"] == [{"org": "acme", "refs": 2, "entries": 22, "by_kind": {"whole": 22}}]
    code, _, err = run(capsys, "--data-dir", data, "registry", "remove", "--org", "acme")
    assert code == 2 and "--ref" in err
    code, out, _ = run(capsys, "--data-dir", data, "registry", "remove", "--org", "acme", "--ref", "r0", "--json")
    assert json.loads(out) == {"org": "acme", "removed": 11}
    code, out, _ = run(capsys, "--data-dir", data, "registry", "list", "--json")
    assert [json.loads(line)["ref"] for line in out.splitlines()] == ["r1"]
