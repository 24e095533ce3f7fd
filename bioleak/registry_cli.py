"""`bioleak hash`, `bioleak match` and `bioleak registry ...`: enrolment and manual checks."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bioleak.config import Config
from bioleak.output import CliError, emit_json, stderr
from bioleak.progress import Progress

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp", ".tif", ".tiff", ".jfif"}


def image_files(paths: list[str], *, ref_from_filename: bool) -> list[tuple[Path, str]]:
    """(file, ref) for every argument: files as given, directories walked for image files.
    The ref is the path relative to the directory argument (or the file name), or with
    --ref-from-filename the file name without its extension."""
    found: list[tuple[Path, str]] = []
    for arg in paths:
        path = Path(arg)
        if path.is_dir():
            for p in sorted(path.rglob("*")):
                if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."):
                    found.append((p, p.stem if ref_from_filename else p.relative_to(path).as_posix()))
        elif path.is_file():
            found.append((path, path.stem if ref_from_filename else path.name))
        else:
            raise CliError(f"no such file or directory: {arg}")
    return found


def _hash_files(
    files: list[tuple[Path, str]], org: str, *, faces: bool, augment: bool, progress: Progress
) -> Iterator[tuple[Path, str, list[Any] | None, str]]:
    """(file, ref, entries or None, rejection reason) for each file, advancing the progress."""
    from pipeline.images import ImageRejected
    from pipeline.registry import InvalidEntry, enrolment_entries

    for path, ref in files:
        try:
            yield path, ref, enrolment_entries(org, ref, path.read_bytes(), augment=augment, faces=faces), ""
        except ImageRejected as exc:
            yield path, ref, None, exc.reason
        except InvalidEntry as exc:
            raise CliError(f"{path}: {exc}") from exc
        except OSError as exc:
            yield path, ref, None, f"unreadable ({exc.strerror})"
        finally:
            progress.advance()


def cmd_hash(args: argparse.Namespace, config: Config) -> int:
    from pipeline.registry import to_record

    files = image_files(args.paths, ref_from_filename=args.ref_from_filename)
    progress = Progress(len(files), "hashed", enabled=not args.quiet)
    rejected = 0
    # The org is the importer's business: records carry a placeholder that import replaces.
    for path, _ref, entries, reason in _hash_files(files, "local", faces=args.faces, augment=not args.no_augment,
                                                  progress=progress):  # fmt: skip
        if entries is None:
            rejected += 1
            stderr(f"skipped {path}: {reason}")
            continue
        for entry in entries:
            emit_json(to_record(entry))
    if not args.quiet:
        stderr(f"{len(files) - rejected} image(s) hashed, {rejected} skipped")
    return 0


def cmd_match(args: argparse.Namespace, config: Config) -> int:
    from pipeline.hashing import hash_bytes
    from pipeline.images import ImageRejected
    from pipeline.matching import RegistryIndex
    from pipeline.registry import SqliteRegistry

    files = image_files(args.paths, ref_from_filename=False)
    registry = SqliteRegistry(config.registry)
    try:
        index = RegistryIndex(registry.arrays())
    finally:
        registry.close()
    if not len(index):
        stderr(f"warning: the registry at {config.registry} is empty; nothing can match")
    any_match = False
    for path, _ in files:
        try:
            matches = index.match(hash_bytes(path.read_bytes(), faces=args.faces))
        except ImageRejected as exc:
            row: dict[str, Any] = {"file": str(path), "status": "rejected", "reason": exc.reason}
        except OSError as exc:
            row = {"file": str(path), "status": "rejected", "reason": f"unreadable ({exc.strerror})"}
        else:
            any_match = any_match or bool(matches)
            row = {"file": str(path), "status": "match" if matches else "no_match", "matches": [
                {"org": m.org, "ref": m.ref, "algorithm": "phash+dhash", "distance": m.distance,
                 "dhash_distance": m.dhash_distance, "region": m.region, "box": m.box, "variant": m.variant}
                for m in matches
            ]}  # fmt: skip
        if args.json:
            emit_json(row)
        elif row["status"] == "rejected":
            print(f"{path}: rejected ({row['reason']})")
        elif not row["matches"]:
            print(f"{path}: no match")
        else:
            for m in row["matches"]:
                where = m["region"] + (f" {tuple(m['box'])}" if m["box"] else "")
                print(
                    f"{path}: MATCH {m['org']}/{m['ref']}  {where}  pHash {m['distance']} dHash {m['dhash_distance']}"
                )
    return 0


def cmd_registry_add(args: argparse.Namespace, config: Config) -> int:
    from pipeline.registry import SqliteRegistry

    files = image_files(args.paths, ref_from_filename=args.ref_from_filename)
    registry = SqliteRegistry(config.registry)
    added = entries = rejected = 0
    batch: list[Any] = []
    progress = Progress(len(files), "hashed", enabled=not args.json)
    try:
        for path, _, new, reason in _hash_files(files, args.org, faces=args.faces, augment=not args.no_augment,
                                                progress=progress):  # fmt: skip
            if new is None:
                rejected += 1
                stderr(f"skipped {path}: {reason}")
                continue
            batch += new
            if len(batch) >= 2000:  # bounded memory and a durable partial result on big folders
                entries, added = entries + len(batch), added + registry.add(batch)
                batch = []
        entries, added = entries + len(batch), added + registry.add(batch)
        total = registry.count()
    finally:
        registry.close()
    images = len(files) - rejected
    result = {"org": args.org, "files": len(files), "images": images, "entries_added": added,
              "entries_already_present": entries - added, "rejected": rejected, "registry_size": total}  # fmt: skip
    if args.json:
        emit_json(result)
    else:
        print(f"{images} image(s): {added} hash entries added, {entries - added} already present, "
              f"{rejected} file(s) skipped; registry holds {total}")  # fmt: skip
    return 0


def cmd_registry_import(args: argparse.Namespace, config: Config) -> int:
    from pipeline.registry import InvalidEntry, SqliteRegistry, parse_records

    source = "stdin" if args.file == "-" else args.file
    try:
        text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"cannot read {source}: {exc}") from exc
    try:
        entries = parse_records(text, args.org, source=source)
    except InvalidEntry as exc:
        raise CliError(f"nothing imported: {exc}") from exc
    registry = SqliteRegistry(config.registry)
    try:
        added = registry.add(entries)
    finally:
        registry.close()
    refs = len({e.ref for e in entries})
    if args.json:
        emit_json({"org": args.org, "entries": len(entries), "refs": refs, "added": added})
    else:
        print(f"{len(entries)} entries for {refs} ref(s): {added} added, {len(entries) - added} already present")
    return 0


def cmd_registry_export(args: argparse.Namespace, config: Config) -> int:
    import csv

    from pipeline.registry import RECORD_FIELDS, SqliteRegistry, to_record

    registry = SqliteRegistry(config.registry)
    try:
        if args.format == "csv":
            writer = csv.writer(sys.stdout)
            writer.writerow(("org", *RECORD_FIELDS))
            for e in registry.entries(args.org):
                writer.writerow((e.org, e.ref, e.kind, e.variant, e.phash, e.dhash))
        else:
            for e in registry.entries(args.org):
                emit_json(to_record(e, org=e.org))
    finally:
        registry.close()
    return 0


def cmd_registry_list(args: argparse.Namespace, config: Config) -> int:
    from pipeline.registry import SqliteRegistry

    registry = SqliteRegistry(config.registry)
    try:
        refs: dict[tuple[str, str], int] = {}
        for e in registry.entries(args.org):
            refs[(e.org, e.ref)] = refs.get((e.org, e.ref), 0) + 1
    finally:
        registry.close()
    for (org, ref), n in refs.items():
        emit_json({"org": org, "ref": ref, "entries": n}) if args.json else print(f"{org}\t{ref}\t{n} hash entries")
    return 0


def cmd_registry_remove(args: argparse.Namespace, config: Config) -> int:
    from pipeline.registry import SqliteRegistry

    if not args.all and not args.ref:
        raise CliError("name the refs to remove with --ref REF (repeatable), or --all for the whole organisation")
    registry = SqliteRegistry(config.registry)
    try:
        removed = registry.remove(args.org, None if args.all else args.ref)
    finally:
        registry.close()
    emit_json({"org": args.org, "removed": removed}) if args.json else print(f"{removed} hash entries removed")
    return 0


def cmd_registry_stats(args: argparse.Namespace, config: Config) -> int:
    from dataclasses import asdict

    from pipeline.registry import SqliteRegistry

    registry = SqliteRegistry(config.registry)
    try:
        stats = registry.stats()
    finally:
        registry.close()
    if args.json:
        emit_json({"registry": str(config.registry), "orgs": [asdict(s) for s in stats]})
        return 0
    print(f"registry {config.registry}")
    for s in stats:
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(s.by_kind.items()))
        print(f"  {s.org}: {s.refs} protected image(s), {s.entries} hash entries ({kinds})")
    if not stats:
        print("  empty: enrol images with `bioleak registry add --org ORG PATH...`")
    return 0


Adder = Callable[..., argparse.ArgumentParser]


def register(sub: Any, add: Adder, json_flag: Callable[[argparse.ArgumentParser], None]) -> None:
    p = add(sub, "hash", cmd_hash,
            "Hash images on this machine and print hash records as JSON lines, for an organisation to "
            "send instead of photos (then `bioleak registry import`). Includes augmented crops unless "
            "--no-augment; --faces adds a record per detected face.",
            "bioleak hash --ref-from-filename ./selfies/ > hashes.jsonl")  # fmt: skip
    p.add_argument("paths", nargs="+", metavar="PATH", help="image files or directories")
    _enrol_flags(p)
    p.add_argument("--quiet", action="store_true", help="no progress or summary on stderr")

    p = add(sub, "match", cmd_match,
            "Check image files against the protected registry by hand: each file's matches (org, ref, "
            "distance, region) or why it was rejected.",
            "bioleak match suspicious/*.jpg --json")  # fmt: skip
    p.add_argument("paths", nargs="+", metavar="PATH", help="image files or directories")
    p.add_argument("--faces", action="store_true", help="also hash each detected face (slower)")
    json_flag(p)

    registry = sub.add_parser("registry", help="The protected registry: hashes of organisations' images, no photos.")
    rsub = registry.add_subparsers(dest="registry_command", metavar="ACTION", required=True)
    p = add(rsub, "add", cmd_registry_add,
            "Hash image files (directories are walked) and enrol them for an organisation. Re-adding is a no-op.",
            "bioleak registry add --org acme-bank --ref-from-filename ./selfies/")  # fmt: skip
    p.add_argument("--org", required=True, help="organisation that owns the images")
    p.add_argument("paths", nargs="+", metavar="PATH")
    _enrol_flags(p)
    json_flag(p)
    p = add(rsub, "import", cmd_registry_import,
            "Enrol hash records that `bioleak hash` wrote (JSON lines, or CSV with a header ref,kind,variant,"
            "phash,dhash). Every line is checked first; one bad line imports nothing.",
            "bioleak registry import --org acme-bank hashes.jsonl")  # fmt: skip
    p.add_argument("--org", required=True)
    p.add_argument("file", help="the records file, or - for standard input")
    json_flag(p)
    p = add(rsub, "export", cmd_registry_export, "Write registry entries as JSON lines (or CSV) to stdout.",
            "bioleak registry export --org acme-bank > acme.jsonl")  # fmt: skip
    p.add_argument("--org")
    p.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")
    p = add(rsub, "list", cmd_registry_list, "List enrolled refs and how many hash entries each has.",
            "bioleak registry list --org acme-bank")  # fmt: skip
    p.add_argument("--org", help="only this organisation")
    json_flag(p)
    p = add(rsub, "remove", cmd_registry_remove, "Remove refs (with all their hash entries), or a whole organisation.",
            "bioleak registry remove --org acme-bank --ref cust-0042")  # fmt: skip
    p.add_argument("--org", required=True)
    p.add_argument("--ref", action="append", help="a ref to remove (repeatable)")
    p.add_argument("--all", action="store_true", help="remove every entry of the organisation")
    json_flag(p)
    p = add(rsub, "stats", cmd_registry_stats, "Protected images and hash entries per organisation.",
            "bioleak registry stats --json")  # fmt: skip
    json_flag(p)


def _enrol_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--ref-from-filename", action="store_true",
        help="use the file name without extension as the ref (default: path relative to the argument)",
    )  # fmt: skip
    p.add_argument("--faces", action="store_true", help="also enrol each detected face")
    p.add_argument("--no-augment", action="store_true", help="only the original, no augmented crops")
