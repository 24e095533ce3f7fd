"""Real `scrapy crawl` subprocesses against fixture sites on 127.0.0.1."""

from __future__ import annotations

import asyncio
import io
import os
import struct
import sys
import zlib
from pathlib import Path

import pytest
from PIL import Image

from bioleak.config import Config, defaults
from bioleak.crawl import crawl
from bioleak.demo.images import portrait, to_bytes
from bioleak.demo.server import FixtureSite, Page
from crawlers.sources import Selectors, Source, SourceError, dump_sources, load_sources
from indexer.sqlite_store import SqliteStore
from indexer.store import SearchQuery
from pipeline.registry import SqliteRegistry, entry_for_image
from tests.factories import modules_loaded_after

SELECTORS = Selectors(
    listing_links="a.item::attr(href)",
    next_page="a.next::attr(href)",
    title="h1::text",
    text="div.content ::text",
    images="img::attr(src), img::attr(data-src)",
)


def bomb_png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 90_000, 90_000, 8, 2, 0, 0, 0))
        + chunk(b"IEND", b"")
    )


FORBIDDEN_IMAGES = [
    "http://169.254.169.254/latest/meta-data/iam.jpg",
    "http://[::ffff:169.254.169.254]/x.jpg",
    "http://2852039166/decimal-metadata.jpg",
    "http://0xa9fea9fe/hex-metadata.jpg",
    "http://0251.0376.0251.0376/octal-metadata.jpg",
    "http://[fd00:ec2::254]/aws-ipv6-metadata.jpg",
    "http://10.0.0.1/internal.jpg",
    "http://127.0.0.2:9/other-loopback.jpg",
    "/redirect-to-metadata.jpg",
]


def hostile_site() -> dict[str, Page]:
    photo = to_bytes(portrait(42), "JPEG", quality=85)
    images = ["/img/ok.jpg", "/img/fake.jpg", "/img/bomb.png", "/img/trunc.jpg", "/img/empty.jpg", "/img/missing.jpg"]
    tags = "".join(f'<img src="{u}">' for u in images + FORBIDDEN_IMAGES)
    tags += '<img src="file:///etc/passwd"><img src="ftp://files.example/x.jpg"><img data-src="/img/lazy.jpg">'
    listing = (
        "<html><body><h1>&lt;script&gt;alert(1)&lt;/script&gt; 人脸数据 出售</h1>"
        f"<div class='content'>口罩人脸照片 10万张 0.2元/张</div>{tags}</body></html>"
    )
    return {
        "/robots.txt": Page(b"User-agent: *\nDisallow: /private/\n", "text/plain"),
        "/": Page(
            b"<html><body><a class='item' href='/l/1'>1</a><a class='item' href='/private/x'>p</a>"
            b"<a class='item' href='/loop'>loop</a><a class='item' href='/refresh'>r</a>"
            b"<a class='next' href='/?page=2'>next</a></body></html>"
        ),
        "/?page=2": Page(b"<html><body><a class='item' href='/l/2'>2</a><!-- malformed <div <p></body>"),
        "/l/1": Page(listing.encode("utf-8")),
        "/l/2": Page(
            "<html><body><h1>保湿面霜</h1><div class='content'>护肤</div></body></html>".encode("gbk"),
            "text/html; charset=gbk",
        ),
        "/loop": Page(b"", status=302, headers=(("Location", "/loop"),)),
        "/refresh": Page(
            b'<html><head><meta http-equiv="refresh" content="0;url=http://169.254.169.254/latest/">'
            b"</head><body>moved</body></html>"
        ),
        "/img/ok.jpg": Page(photo, "image/jpeg"),
        "/img/lazy.jpg": Page(photo, "image/jpeg"),
        "/img/fake.jpg": Page(b"<html><body>hotlinking denied</body></html>", "image/jpeg"),
        "/img/bomb.png": Page(bomb_png(), "image/png"),
        "/img/trunc.jpg": Page(photo[: len(photo) // 3], "image/jpeg"),
        "/img/empty.jpg": Page(b"", "image/jpeg"),
        "/redirect-to-metadata.jpg": Page(
            b"", status=302, headers=(("Location", "http://169.254.169.254/latest/x.jpg"),)
        ),
    }


def make_config(tmp_path: Path, source: Source) -> Config:
    config = defaults(tmp_path)
    tmp_path.mkdir(parents=True, exist_ok=True)
    config.sources.write_text(dump_sources([source]), "utf-8")
    return config


def local_source_with_registry(tmp_path: Path, name: str, site: FixtureSite) -> Config:
    """A source allowed to reach 127.0.0.1, and a registry protecting portrait 42 for acme-bank."""
    source = Source(name, (site.url + "/",), allowed_domains=("127.0.0.1",),
                    allow_networks=("127.0.0.1/32",), selectors=SELECTORS, delay=0)  # fmt: skip
    config = make_config(tmp_path, source)
    registry = SqliteRegistry(config.registry)
    registry.add([entry_for_image("acme-bank", "cust-42", to_bytes(portrait(42), "PNG"))])
    registry.close()
    return config


def test_hostile_site_is_crawled_safely(tmp_path: Path) -> None:
    with FixtureSite(hostile_site()) as site:
        config = local_source_with_registry(tmp_path, "hostile", site)
        result = crawl(config, "hostile", timeout=120)
        log = list(site.access_log)

    assert result.ok, result.log_file.read_text()
    stats = result.stats
    # ok.jpg and the lazy one: same photo, two URLs, downloaded twice but decoded once
    assert stats["bioleak/images/hashed"] == 1 and stats["bioleak/images/known_content"] == 1
    rejected = {k.rsplit("/", 1)[-1]: v for k, v in stats.items() if k.startswith("bioleak/images/rejected/")}
    assert rejected == {
        "not_an_image": 1, "decompression_bomb": 1, "corrupt": 1, "empty": 1, "http_404": 1,
        "refused": len(FORBIDDEN_IMAGES),
    }  # fmt: skip
    # dotted, IPv4-mapped, decimal, hex, octal, IPv6, via a redirect, and the meta refresh to it
    assert stats["bioleak/refused/metadata_address"] == 8
    assert stats["bioleak/refused/private_address"] == 2
    assert stats["bioleak/hits"] == 1  # same bytes under two URLs on one listing: one finding
    # robots.txt obeyed, the redirect loop bounded, and nothing outside the fixture requested
    assert "/private/x" not in log
    assert 1 <= log.count("/loop") <= 10
    assert all(path.startswith("/") for path in log)

    store = SqliteStore(config.store)
    page = store.search(SearchQuery())
    titles = {item.title: item for item in page.listings}
    assert page.total == 2
    hostile = titles["<script>alert(1)</script> 人脸数据 出售"]  # kept as literal text, never rendered
    assert hostile.category == "face_data_sale" and hostile.quantity == 100_000
    assert titles["保湿面霜"].category == "benign"  # GBK decoded from the header
    assert {h.registry_ref for h in store.hits_for_listing(hostile.id)} == {"cust-42"}
    store.close()


def thumbnail_site() -> dict[str, Page]:
    other = to_bytes(portrait(9), "JPEG", quality=85)
    page = "<html><body><h1>人脸数据 出售 {n}</h1><div class='content'>0.2元/张</div>{imgs}</body></html>"
    return {
        "/": Page(b"<html><body><a class='item' href='/l/1'>1</a><a class='item' href='/l/2'>2</a></body></html>"),
        "/l/1": Page(page.format(n=1, imgs='<img src="/img/42.jpg"><img src="/img/7.jpg">').encode()),
        "/l/2": Page(page.format(n=2, imgs='<img src="/img/8.png">').encode()),
        "/img/42.jpg": Page(to_bytes(portrait(42), "JPEG", quality=85), "image/jpeg"),
        "/img/7.jpg": Page(to_bytes(portrait(7), "JPEG", quality=85), "image/jpeg"),
        # once hashed, the site serves other bytes under this URL
        "/img/8.png": Page(to_bytes(portrait(8), "PNG"), "image/png", later=other),
    }


@pytest.mark.parametrize("enabled", [True, False])
def test_thumbnails_are_kept_for_matched_images_only(tmp_path: Path, enabled: bool) -> None:
    settings: dict[str, str | int | float] = {"BIOLEAK_THUMBNAILS": str(enabled)}
    with FixtureSite(thumbnail_site()) as site:
        config = local_source_with_registry(tmp_path, "thumbs", site)  # protects portrait 42
        first = crawl(config, "thumbs", timeout=120, settings=settings)
        downloads_first = list(site.access_log)
        registry = SqliteRegistry(config.registry)  # enrolled after the crawl hashed (and dropped) them
        registry.add([entry_for_image("acme-bank", f"cust-{n}", to_bytes(portrait(n), "PNG")) for n in (7, 8)])
        registry.close()
        second = crawl(config, "thumbs", timeout=120, settings=settings)
        downloads = list(site.access_log)
    assert first.ok and second.ok, second.log_file.read_text()
    store = SqliteStore(config.store)
    try:
        sha = {h.registry_ref: h.image_sha256 for h in store.hits_for_org("acme-bank")}
        assert set(sha) == {"cust-42", "cust-7", "cust-8"}
        kept = store.get_thumbnails(list(sha.values()))
    finally:
        store.close()
    # hashing fetches each image once; nothing else is fetched in the first crawl
    assert [downloads_first.count(f"/img/{n}") for n in ("42.jpg", "7.jpg", "8.png")] == [1, 1, 1]
    if not enabled:
        assert kept == {} and [downloads.count(f"/img/{n}") for n in ("42.jpg", "7.jpg", "8.png")] == [1, 1, 1]
        return
    # The first crawl kept the thumbnail its hashing made of the matched image, and no other.
    assert first.stats["bioleak/thumbnails/kept"] == 1
    # The second matched two images hashed before (bytes long gone): each fetched once more. 7 is
    # the same bytes and is kept; 8 is not what was hashed any more, so no thumbnail of it.
    assert [downloads.count(f"/img/{n}") for n in ("42.jpg", "7.jpg", "8.png")] == [1, 2, 2]
    assert second.stats["bioleak/thumbnails/kept"] == 1
    assert second.stats["bioleak/thumbnails/skipped/changed"] == 1
    assert set(kept) == {sha["cust-42"], sha["cust-7"]}
    thumbnail = Image.open(io.BytesIO(kept[sha["cust-42"]]))
    assert thumbnail.format == "JPEG" and max(thumbnail.size) <= 160 and thumbnail.mode == "RGB"


def test_private_addresses_are_refused_unless_the_source_allows_them(tmp_path: Path) -> None:
    with FixtureSite(hostile_site()) as site:
        source = Source("public-only", (site.url + "/",), selectors=SELECTORS, delay=0)  # default: public internet only
        result = crawl(make_config(tmp_path, source), "public-only", timeout=120)
        log = list(site.access_log)
    assert log == []  # not even robots.txt was fetched from a loopback address
    assert result.returncode == 0
    assert result.stats["bioleak/refused/private_address"] >= 1
    assert "bioleak/pages" not in result.stats


def test_recrawl_is_idempotent(tmp_path: Path) -> None:
    with FixtureSite(hostile_site()) as site:
        config = local_source_with_registry(tmp_path, "again", site)
        assert crawl(config, "again", timeout=120).ok
        assert crawl(config, "again", timeout=120).ok
    store = SqliteStore(config.store)
    assert store.search(SearchQuery()).total == 2
    assert len(store.hits_for_org("acme-bank")) == 1
    store.close()


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        ("sources: [{name: a}]", "start_urls"),
        ("sources: [{name: a, start_urls: ['ftp://x']}]", r"http\(s\)"),
        ("sources: [{name: a, start_urls: ['http://x'], allow_networks: ['not-a-net']}]", "allow_networks"),
        ("sources: [{name: a, start_urls: ['http://x'], colour: red}]", "unknown field"),
        ("sources: [{name: a, start_urls: ['http://x']}, {name: a, start_urls: ['http://y']}]", "duplicate"),
        ("just: [a, list", "invalid YAML"),
        ("- a\n- b\n", "sources:"),
        (
            "sources: [{name: a, start_urls: ['http://x'], selectors: {title: 'h1[class'}}]",
            r"selectors: title: .* compile",
        ),
        (
            "sources: [{name: a, start_urls: ['http://x'], selectors: {text: '//div[@'}}]",
            r"selectors: text: .* compile",
        ),
        (
            "sources: [{name: a, start_urls: ['http://x'], schedule: 'every 1m'}]",
            r"every 60 s, more often than the floor",
        ),
        ("sources: [{name: a, start_urls: ['http://x'], schedule: '*/2 * * * *'}]", r"every 120 s, more often"),
        ("sources: [{name: a, start_urls: ['http://x'], topic: faces}]", r"topic: must be one of face_data"),
    ],
)
def test_invalid_sources_files_name_the_problem(tmp_path: Path, yaml_text: str, message: str) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text(yaml_text)
    with pytest.raises(SourceError, match=message) as info:
        load_sources(path)
    assert str(path) in str(info.value)


def test_a_name_resolving_to_loopback_is_refused_by_the_resolver(tmp_path: Path) -> None:
    """No literal IP to check up front: the DNS resolver refuses, and the connection never happens."""
    with FixtureSite(hostile_site()) as site:
        url = site.url.replace("127.0.0.1", "localhost") + "/"
        source = Source("by-name", (url,), selectors=SELECTORS, delay=0)
        result = crawl(make_config(tmp_path, source), "by-name", timeout=120)
        log = list(site.access_log)
    assert log == []
    assert result.returncode == 0 and result.stats["bioleak/refused/private_address"] >= 1
    # refused once, not retried: the start page's name is resolved and refused before robots.txt
    # is even asked for
    assert result.stats["bioleak/refused/private_address"] == 1


def test_a_source_declares_its_topic(tmp_path: Path) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text(
        "sources: [{name: a, start_urls: ['http://x'], topic: face_data}, {name: b, start_urls: ['http://y']}]"
    )
    sources = load_sources(path)
    assert (sources["a"].topic, sources["b"].topic) == ("face_data", "")


def test_the_schedule_floor_is_the_operators_to_lower(tmp_path: Path) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text("sources: [{name: a, start_urls: ['http://x'], schedule: '*/2 * * * *'}]", "utf-8")
    assert load_sources(path, min_interval=60)["a"].schedule == "*/2 * * * *"
    path.write_text("sources: [{name: a, start_urls: ['http://x'], schedule: '0 3 * * 1-5'}]", "utf-8")
    assert load_sources(path)["a"].schedule == "0 3 * * 1-5"  # daily on weekdays: well above the floor


def test_resolver_policy_pins_public_addresses_only() -> None:
    from crawlers.netpolicy import RefusedAddressError
    from crawlers.resolver import PublicOnlyResolver
    from pipeline.addresses import AddressPolicy

    resolver = PublicOnlyResolver(None, AddressPolicy.build(["10.1.0.0/16"], proxy="http://tor-bridge:8118"), timeout=5)
    assert resolver._check("93.184.216.34", "example.com") == "93.184.216.34"
    assert resolver._check("10.1.2.3", "intranet.allowed") == "10.1.2.3"  # allowed by the source
    assert resolver._check("127.0.0.1", "tor-bridge") == "127.0.0.1"  # the operator's own proxy
    for address, reason in [("10.2.0.1", "private_address"), ("169.254.169.254", "metadata_address"),
                            ("127.0.0.1", "private_address"), ("0.0.0.0", "private_address")]:  # fmt: skip
        with pytest.raises(RefusedAddressError) as info:
            resolver._check(address, "rebinding.example")
        assert info.value.reason == reason
    assert "rebinding.example" not in resolver._cache  # a refused answer is never cached


def test_robots_override_is_logged_and_counted(tmp_path: Path) -> None:
    with FixtureSite(hostile_site()) as site:
        source = Source("rude", (site.url + "/",), selectors=SELECTORS, robots="ignore",
                        allow_networks=("127.0.0.1/32",), delay=0)  # fmt: skip
        result = crawl(make_config(tmp_path, source), "rude", timeout=120)
        log = list(site.access_log)
    assert result.ok
    assert "/private/x" in log and "/robots.txt" not in log
    assert result.stats["bioleak/robots_ignored"] == 1
    assert "robots.txt is IGNORED for source 'rude'" in result.log_file.read_text()


def test_timeouts_and_size_caps_skip_without_hanging(tmp_path: Path) -> None:
    photo = to_bytes(portrait(5), "PNG")
    pages = {
        "/": Page(b"<a class='item' href='/l/1'>1</a><a class='item' href='/l/stuck'>2</a>"),
        "/l/1": Page(
            b"<h1>x</h1><div class='content'>y</div><img src='/img/stuck.jpg'><img src='/img/big.png'>"
            b"<img src='/img/ok.png'>"
        ),
        "/l/stuck": Page(b"", hang=True),
        "/img/stuck.jpg": Page(b"", "image/jpeg", hang=True),
        "/img/big.png": Page(photo + b"\0" * 200_000, "image/png"),
        "/img/ok.png": Page(photo, "image/png"),
    }
    with FixtureSite(pages) as site:
        source = Source("slow", (site.url + "/",), selectors=SELECTORS, allow_networks=("127.0.0.1/32",), delay=0)
        result = crawl(make_config(tmp_path, source), "slow", timeout=120,
                       settings={"DOWNLOAD_TIMEOUT": 2, "RETRY_TIMES": 0, "BIOLEAK_IMAGE_MAX_BYTES": 150_000})  # fmt: skip
    # one page of three failed: more than the share a source may lose before its run is degraded
    assert (result.status, result.reason) == ("degraded", "1 of 3 pages failed")
    assert result.stats["bioleak/images/rejected/timeout"] == 1  # the stuck image, counted by its reason
    assert result.stats["bioleak/images/rejected/too_large"] == 1
    assert result.stats["bioleak/images/hashed"] == 1
    assert result.stats["bioleak/stored/listings"] == 1  # the stuck page never arrived, the other did
    assert result.stats["bioleak/skipped/page_failed"] == result.stats["bioleak/pages_failed/timeout"] == 1


def test_source_proxy_carries_every_request(tmp_path: Path) -> None:
    """A name only the proxy can resolve (as with .onion through a Tor HTTP bridge)."""
    pages = {
        "/robots.txt": Page(b"User-agent: *\nAllow: /\n", "text/plain"),
        "/": Page(b"<a class='item' href='/l/1'>1</a>"),
        "/l/1": Page("<h1>人脸数据 出售</h1><div class='content'>口罩人脸照片 1万张</div><img src='/i.jpg'>".encode()),
        "/i.jpg": Page(to_bytes(portrait(9), "JPEG"), "image/jpeg"),
    }
    with FixtureSite(pages, proxy=True) as proxy:
        source = Source("hidden", ("http://market.invalid/",), selectors=SELECTORS, proxy=proxy.url, delay=0)
        result = crawl(make_config(tmp_path, source), "hidden", timeout=120)
        log = list(proxy.access_log)
    assert result.ok, result.log_file.read_text()
    assert log == ["http://market.invalid/robots.txt", "http://market.invalid/",
                   "http://market.invalid/l/1", "http://market.invalid/i.jpg"]  # fmt: skip
    assert result.stats["bioleak/images/hashed"] == 1 and result.stats["bioleak/listings/face_data_sale"] == 1


def test_literal_private_addresses_are_refused_even_behind_a_proxy(tmp_path: Path) -> None:
    with FixtureSite({"/": Page(b"<a class='item' href='http://10.0.0.8/l/1'>1</a>")}, proxy=True) as proxy:
        source = Source("px", ("http://market.invalid/",), selectors=SELECTORS, proxy=proxy.url, delay=0,
                        robots="ignore")  # fmt: skip
        result = crawl(make_config(tmp_path, source), "px", timeout=120)
        log = list(proxy.access_log)
    assert (result.status, result.reason) == ("degraded", "no listings found")  # its one listing was refused
    assert log == ["http://market.invalid/"]
    assert result.stats["bioleak/refused/private_address"] == 1


def test_meta_refresh_and_redirects_are_checked_again(tmp_path: Path) -> None:
    pages = {
        "/": Page(b"<a class='item' href='/refresh'>1</a><a class='item' href='/moved'>2</a>"),
        "/refresh": Page(
            b'<html><head><meta http-equiv="refresh" content="0;url=http://0xa9fea9fe/latest/">'
            b"</head><body>moved</body></html>"
        ),
        "/moved": Page(b"", status=301, headers=(("Location", "http://[::ffff:10.0.0.1]/admin"),)),
    }
    with FixtureSite(pages) as site:  # no allowed_domains: only the address policy stands in the way
        source = Source("any", (site.url + "/",), selectors=SELECTORS, allow_networks=("127.0.0.1/32",), delay=0)
        result = crawl(make_config(tmp_path, source), "any", timeout=120)
    assert (result.status, result.reason) == ("degraded", "no listings found")  # both led to refused addresses
    assert result.stats["bioleak/refused/metadata_address"] == 1
    assert result.stats["bioleak/refused/private_address"] == 1


def test_a_crashed_hashing_worker_costs_one_image_not_the_crawl(monkeypatch: pytest.MonkeyPatch) -> None:
    import signal

    from crawlers.pipelines import images
    from pipeline.images import ImageRejected
    from tests.factories import crash

    pipeline = images.ImageHashPipeline(None, max_bytes=10_000_000, max_pixels=10_000_000, workers=1)
    photo = to_bytes(portrait(3), "JPEG")

    async def crawl() -> None:
        first = await pipeline._hash(photo, False)
        assert pipeline._pool is not None
        for pid in pipeline._pool.pids():
            os.kill(pid, signal.SIGKILL)  # a worker that dies between images costs nothing
        assert await pipeline._hash(photo, False) == first  # a fresh worker took over
        with monkeypatch.context() as patch:
            patch.setattr(images, "decode_and_hash", crash)  # what a decoder crashing on hostile bytes does
            culprit = asyncio.ensure_future(pipeline._hash(photo, False))
            await asyncio.sleep(0)  # sent first: the worker runs it first
        behind = [asyncio.ensure_future(pipeline._hash(photo, False)) for _ in range(3)]
        with pytest.raises(ImageRejected) as info:
            await culprit
        assert info.value.reason == "worker_crashed"
        assert await asyncio.gather(*behind) == [first] * 3  # queued behind it, hashed all the same

    try:
        asyncio.run(crawl())
    finally:
        pipeline.close_spider()


def test_only_images_that_match_the_registry_get_a_thumbnail_made(tmp_path: Path) -> None:
    from crawlers.hashworker import decode_and_hash
    from crawlers.pipelines.images import ImageHashPipeline
    from pipeline.matching import RegistryIndex
    from pipeline.registry import RegistryArrays, SqliteRegistry, entry_for_image

    enrolled, other = to_bytes(portrait(5), "JPEG"), to_bytes(portrait(6), "JPEG")
    registry = SqliteRegistry(tmp_path / "registry.sqlite3")
    registry.add([entry_for_image("acme-bank", "selfie-5", enrolled)])
    arrays = registry.arrays()
    registry.close()
    hashes = (arrays.phash, arrays.dhash)
    # In a worker process, which gets the registry's hashes when it starts:
    pipeline = ImageHashPipeline(
        None, max_bytes=10_000_000, max_pixels=10_000_000, workers=1, thumbnail_size=160, registry_hashes=hashes
    )

    async def hash_both() -> None:
        _, thumbnail = await pipeline._hash(enrolled, False)
        assert thumbnail is not None and thumbnail.startswith(b"\xff\xd8")  # a JPEG
        hashed, nothing = await pipeline._hash(other, False)
        assert nothing is None and hashed.regions  # hashed all the same

    try:
        asyncio.run(hash_both())
    finally:
        pipeline.close_spider()
    # In a thread of the crawl process (BIOLEAK_HASH_WORKERS=0), which is handed the registry:
    limits = {"max_bytes": 10_000_000, "max_pixels": 10_000_000, "faces": False, "thumbnail": 160}
    index = RegistryIndex(RegistryArrays.hashes_only(*hashes))
    assert decode_and_hash(enrolled, registry=index, **limits)[1] is not None
    assert decode_and_hash(other, registry=index, **limits)[1] is None
    empty = RegistryIndex(RegistryArrays.hashes_only(hashes[0][:0], hashes[1][:0]))
    assert decode_and_hash(enrolled, registry=empty, **limits)[1] is None  # an empty registry matches nothing


def test_a_crawl_matches_and_thumbnails_against_one_registry_snapshot(tmp_path: Path) -> None:
    from crawlers.context import CrawlContext
    from pipeline.addresses import AddressPolicy
    from pipeline.registry import SqliteRegistry, entry_for_image

    path = str(tmp_path / "registry.sqlite3")
    registry = SqliteRegistry(path)
    registry.add([entry_for_image("acme-bank", "selfie-5", to_bytes(portrait(5), "JPEG"))])
    context = CrawlContext(source=None, policy=AddressPolicy(), registry_path=path)
    first = context.registry
    registry.add([entry_for_image("acme-bank", "selfie-6", to_bytes(portrait(6), "JPEG"))])  # enrolled mid-crawl
    registry.close()
    assert first is not None and context.registry is first and len(first.arrays) == 1  # every component: the same
    later = CrawlContext(source=None, policy=AddressPolicy(), registry_path=path).registry
    assert later is not None and len(later.arrays) == 2  # the next crawl sees the new one


def test_listings_are_marked_processed_against_the_registry_version_they_were_matched_with(tmp_path: Path) -> None:
    from crawlers.context import CrawlContext
    from crawlers.pipelines.incremental import MarkProcessedPipeline, SkipUnchangedPipeline
    from pipeline.addresses import AddressPolicy

    path = str(tmp_path / "registry.sqlite3")
    state = str(tmp_path / "state.sqlite3")
    registry = SqliteRegistry(path)
    registry.add([entry_for_image("acme-bank", "selfie-5", to_bytes(portrait(5), "JPEG"))])
    matched_against = registry.version()
    context = CrawlContext(source=None, policy=AddressPolicy(), registry_path=path, state_path=state)
    assert context.registry is not None and len(context.registry.arrays) == 1  # MatchPipeline's entries
    registry.add([entry_for_image("acme-bank", "selfie-6", to_bytes(portrait(6), "JPEG"))])  # enrolled mid-crawl
    assert registry.snapshot()[0] == matched_against + 1 and len(registry.snapshot()[1]) == 2
    registry.close()
    assert context.state is not None
    for cls in (SkipUnchangedPipeline, MarkProcessedPipeline):
        pipeline = cls(None, context.state, context.registry_version)  # type: ignore[arg-type]
        # not the version after the enrolment: that one counts an entry this crawl never matched
        assert pipeline.registry_version == str(matched_against)
    context.close()
    later = CrawlContext(source=None, policy=AddressPolicy(), registry_path=path, state_path=state)
    assert later.registry_version == str(matched_against + 1)  # so the next crawl re-matches every listing
    later.close()
    assert CrawlContext(source=None, policy=AddressPolicy(), state_path=state).registry_version == "none"


def test_a_site_gets_no_more_connections_than_the_source_allows(tmp_path: Path) -> None:
    """60 listings with two images each, from a source with `concurrency: 4`: the site sees 4
    connections, reused for all 182 requests. Under the asyncio reactor Scrapy's downloader
    let every queued request out at once (34 in flight here) and opened well over 100."""
    photo = to_bytes(portrait(3), "JPEG", quality=85)
    links = "".join(f"<a class='item' href='/l/{n}'>{n}</a>" for n in range(60))
    pages = {"/": Page(f"<html><body>{links}</body></html>".encode())}
    for n in range(60):
        imgs = f"<img src='/img/{n}-a.jpg'><img src='/img/{n}-b.jpg'>"
        pages[f"/l/{n}"] = Page(
            f"<html><body><h1>face pack {n}</h1><div class='content'>{n}</div>{imgs}</body></html>".encode()
        )
        pages[f"/img/{n}-a.jpg"] = pages[f"/img/{n}-b.jpg"] = Page(photo, "image/jpeg")
    with FixtureSite(pages) as site:
        source = Source("polite", (site.url + "/",), allowed_domains=("127.0.0.1",),
                        allow_networks=("127.0.0.1/32",), selectors=SELECTORS, concurrency=4, delay=0)  # fmt: skip
        result = crawl(make_config(tmp_path, source), "polite", timeout=120)
        requests, connections = len(site.access_log), site.connections
    assert result.ok, result.log_file.read_text()
    assert requests == 2 + 60 * 3  # robots.txt, the index, the listings and their images
    # HTTP/1.1 without pipelining: one request per connection at a time, so at most 4 at once
    assert connections <= 4


def test_a_hashing_worker_imports_neither_scrapy_nor_twisted() -> None:
    """What a worker process unpickles its job from: Scrapy and Twisted would double its start."""
    loaded = modules_loaded_after("import crawlers.hashworker, crawlers.workerpool", {"scrapy", "twisted"})
    assert loaded == []


@pytest.mark.skipif(sys.platform != "linux", reason="pipe sizes are set with a Linux fcntl")
def test_the_pipes_to_hashing_workers_hold_several_photos() -> None:
    import fcntl

    from crawlers.pipelines.images import WORKER_PIPE_BYTES, ImageHashPipeline

    pipeline = ImageHashPipeline(None, max_bytes=10_000_000, max_pixels=10_000_000, workers=1)
    try:
        hashes, _ = asyncio.run(pipeline._hash(to_bytes(portrait(4), "JPEG"), False))
        assert hashes.regions
        [(jobs, results)] = pipeline._worker_pool().pipes()
        for pipe in (jobs, results):
            assert fcntl.fcntl(pipe, fcntl.F_GETPIPE_SZ) >= WORKER_PIPE_BYTES  # the default is 64 KiB
    finally:
        pipeline.close_spider()
