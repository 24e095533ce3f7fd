"""Discovery without selectors: real crawls of fixture sites built from real engines' markup, and
the structural fallback on an engine bioleak has no module for."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest
from parsel import Selector

from bioleak.config import defaults
from bioleak.crawl import CrawlResult, crawl
from bioleak.demo.server import FixtureSite, Page
from crawlers.discovery import Discovery, read_links
from crawlers.engines import BY_NAME
from crawlers.engines.base import GENERIC, Role, Url
from crawlers.sources import Source, dump_sources
from indexer.sqlite_store import SqliteStore
from indexer.store import SearchQuery
from pipeline.models import Listing
from tests.engine_sites import EngineSite, engine_names, load_engine_site, route_key


def crawl_engine_site(site: EngineSite, tmp_path: Path, **settings: str) -> tuple[CrawlResult, list[Listing]]:
    config = defaults(tmp_path)
    tmp_path.mkdir(parents=True, exist_ok=True)
    allow = [urlsplit(site.url).netloc] + ([urlsplit(site.cdn.url).netloc] if site.cdn else [])
    source = Source(site.name, (site.url + site.seed,), kind=site.kind, allow_networks=tuple(allow), delay=0)
    config.sources.write_text(dump_sources([source]), "utf-8")
    result = crawl(config, site.name, timeout=300, settings=dict(settings) or None)
    store = SqliteStore(config.store)
    try:
        return result, store.search(SearchQuery(limit=1000, aggregations=())).listings
    finally:
        store.close()


def stored_paths(listings: list[Listing], site: EngineSite) -> dict[str, Listing]:
    out: dict[str, Listing] = {}
    for listing in listings:
        parts = urlsplit(listing.url)
        out[route_key(parts.path + ("?" + parts.query if parts.query else ""))] = listing
    return out


def robots_allows(site: EngineSite, path: str) -> bool:
    from protego import Protego

    spec = site.routes.get("/robots.txt")
    if not spec or "file" not in spec or path.startswith("{{CDN}}"):
        return True
    return bool(Protego.parse((site.directory / spec["file"]).read_text("utf-8")).can_fetch(path, "bioleak"))


@pytest.mark.parametrize("name", engine_names())
def test_every_listing_of_an_engine_site_is_found_once_with_every_page_and_image(name: str, tmp_path: Path) -> None:
    site = load_engine_site(name)
    with site:
        result, listings = crawl_engine_site(site, tmp_path)
        requested = site.requested()
    assert result.ok, result
    assert result.stats[f"bioleak/engine/{site.engine}"] == 1  # recognised, once per site, by its markup
    by_path = stored_paths(listings, site)
    for expected in site.listings:
        found = [listing for path, listing in by_path.items() if path in expected.paths()]
        assert len(found) == 1, f"{expected.url}: stored {len(found)} times"
        if site.kind == "listing":  # a multi-page thread: one listing, read from every one of its pages
            assert {route_key(p) for p in expected.pages[1:]} <= set(requested), expected.url
    assert len(listings) <= len(site.listings) + 2  # nothing else taken for a listing (a notice page at most)
    # every content image robots.txt lets a crawler fetch, each downloaded once in the crawl
    wanted = [route_key(i.removeprefix("{{CDN}}")) for e in site.listings for i in e.images if robots_allows(site, i)]
    assert set(wanted) <= set(requested), sorted(set(wanted) - set(requested))[:5]
    images = [p for p in requested if p in set(wanted)]
    assert len(images) == len(set(images))
    # within the page budget a newcomer would expect: at most three pages per listing found
    assert result.stats["bioleak/pages"] <= 3 * len(site.listings)


def test_multi_page_thread_text_is_joined_in_page_order(tmp_path: Path) -> None:
    site = load_engine_site("phpbb")
    with site:
        _, listings = crawl_engine_site(site, tmp_path)
    longest = max(site.listings, key=lambda e: len(e.pages))
    listing = stored_paths(listings, site)[route_key(longest.url)]
    page_texts = []
    with site:
        import urllib.request

        from crawlers.extract import main_text

        for page in longest.pages:
            html = urllib.request.urlopen(site.url + page).read().decode("utf-8")
            page_texts.append(main_text(Selector(text=html), BY_NAME["phpbb"].post_selectors)[:40])
    positions = [listing.text.find(t) for t in page_texts]
    assert all(p >= 0 for p in positions) and positions == sorted(positions)


# --- an engine bioleak has no module for ------------------------------------------------------------

FORUM_ROW = "<div class='row'><span class='ico'></span><a class='ttl' href='/board/{n}/{slug}'>{title}</a></div>"
TITLES = [
    "Selling verified selfie sets with passport scans", "Fresh face photo pack from a lending app",
    "Question about the new shipping rules for members", "Liveness video bundle, blink and nod, 300 people",
    "Face cream recommendations for dry winter skin", "How do I reset my board password properly",
]  # fmt: skip


def unknown_engine_pages() -> dict[str, Page]:
    rows = "".join(FORUM_ROW.format(n=100 + i, slug=f"topic-{i}", title=t) for i, t in enumerate(TITLES))
    nav = "<ul class='nav'><li><a href='/about'>About us</a></li><li><a href='/members'>Members</a></li></ul>"
    pages = {
        "/": Page(f"<html><body>{nav}<h2>Latest</h2>{rows}<a href='/?pg=2'>2</a></body></html>".encode()),
        "/?pg=2": Page(
            f"<html><body>{nav}{FORUM_ROW.format(n=200, slug='topic-6', title=TITLES[0] + ' II')}</body></html>".encode()
        ),
        "/about": Page(b"<html><body><p>A board.</p></body></html>"),
    }
    for i, title in enumerate(TITLES):
        pages[f"/board/{100 + i}/topic-{i}"] = Page(
            f"<html><body><h1>{title}</h1><p>{title}</p></body></html>".encode()
        )
    pages["/board/200/topic-6"] = Page(f"<html><body><h1>{TITLES[0]} II</h1></body></html>".encode())
    return pages


def test_listing_links_of_an_unknown_engine_are_found_by_their_repeated_blocks() -> None:
    page_url = "http://forum.example/"
    html = unknown_engine_pages()["/"].body.decode()
    discovery = Discovery(engines=())
    links = read_links(Selector(text=html), page_url)
    found = discovery.classify(links, Url.parse(page_url), GENERIC)  # type: ignore[arg-type]
    assert sorted(u.rsplit("/", 2)[-2] for u in found.listings) == [str(100 + i) for i in range(len(TITLES))]
    assert found.indexes == ["http://forum.example/?pg=2"]  # a number in a pager row: the next list page
    assert "http://forum.example/about" in found.explore  # nothing says what it is: explored, once
    assert not any("members" in u for u in found.listings + found.indexes + found.explore)
    # the shape of those links is remembered for the site's other pages
    older = Url.parse("http://forum.example/board/200/topic-6")
    link = read_links(Selector(text="<a href='/board/200/topic-6'>x</a>"), page_url)[0]
    assert older is not None and discovery.role(link, GENERIC) is Role.LISTING


def test_an_unknown_engine_is_crawled_by_structure(tmp_path: Path) -> None:
    with FixtureSite(unknown_engine_pages()) as site:
        config = defaults(tmp_path)
        source = Source("unknown", (site.url + "/",), allow_networks=(urlsplit(site.url).netloc,), delay=0)
        config.sources.write_text(dump_sources([source]), "utf-8")
        result = crawl(config, "unknown", timeout=120)
    assert result.ok, result
    store = SqliteStore(config.store)
    try:
        urls = {urlsplit(listing.url).path for listing in store.search(SearchQuery(limit=100)).listings}
    finally:
        store.close()
    assert urls == {f"/board/{100 + i}/topic-{i}" for i in range(len(TITLES))} | {"/board/200/topic-6"}
    assert result.stats["bioleak/engine/generic"] == 1


@pytest.mark.parametrize("name", ["phpbb", "xenforo", "invision", "discourse"])
def test_engine_sites_are_found_by_structure_alone_without_their_module(name: str, tmp_path: Path) -> None:
    """Leave-one-engine-out: how bioleak does on forum software it has no module for."""
    site = load_engine_site(name)
    with site:
        result, listings = crawl_engine_site(site, tmp_path, BIOLEAK_ENGINES="generic")
    by_path = stored_paths(listings, site)
    found = sum(any(path in e.paths() for path in by_path) for e in site.listings)
    assert result.stats["bioleak/engine/generic"] == 1
    assert found >= 0.85 * len(site.listings), (found, len(site.listings))


def test_a_listing_keeps_the_thumbnail_its_card_shows_on_the_list_page(tmp_path: Path) -> None:
    from bioleak.demo.images import portrait, to_bytes

    photo = Page(to_bytes(portrait(11), "JPEG"), "image/jpeg")
    grid = "".join(
        f"<div class='card'><a href='/item/{n}'><div class='thumb' style=\"background-image:url('/thumbs/{n}.jpg')\">"
        f"</div></a><a href='/item/{n}'>Verified selfie set number {n} with ID</a></div>"
        for n in range(1, 4)
    )
    pages = {"/": Page(f"<html><body><nav><a href='/cart'>cart</a></nav>{grid}</body></html>".encode())}
    for n in range(1, 4):
        pages[f"/item/{n}"] = Page(f"<html><body><h1>Set {n}</h1><p>no photo here</p></body></html>".encode())
        pages[f"/thumbs/{n}.jpg"] = photo
    with FixtureSite(pages) as site:
        config = defaults(tmp_path)
        source = Source("shop", (site.url + "/",), allow_networks=(urlsplit(site.url).netloc,), delay=0)
        config.sources.write_text(dump_sources([source]), "utf-8")
        result = crawl(config, "shop", timeout=120)
        log = list(site.access_log)
    assert result.ok, result
    store = SqliteStore(config.store)
    try:
        images = {
            urlsplit(x.url).path: [urlsplit(u).path for u in x.image_urls] for x in store.search(SearchQuery()).listings
        }
    finally:
        store.close()
    assert images == {f"/item/{n}": [f"/thumbs/{n}.jpg"] for n in range(1, 4)}
    assert sorted(p for p in log if p.startswith("/thumbs/")) == ["/thumbs/1.jpg", "/thumbs/2.jpg", "/thumbs/3.jpg"]
