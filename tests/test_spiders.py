"""Each spider kind, crawled for real (`scrapy crawl` subprocess) against fixture sites on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

from bioleak.config import Config, defaults
from bioleak.crawl import crawl
from bioleak.demo.images import portrait, to_bytes
from bioleak.demo.server import FixtureSite, Page
from crawlers.sources import Selectors, Source, dump_sources
from indexer.sqlite_store import SqliteStore
from indexer.store import SearchQuery
from pipeline.models import Listing
from pipeline.registry import SqliteRegistry, entry_for_image

LOCAL = {"allowed_domains": ("127.0.0.1",), "allow_networks": ("127.0.0.1/32",), "delay": 0.0}


def jpeg(seed: int) -> Page:
    return Page(to_bytes(portrait(seed), "JPEG", quality=85), "image/jpeg")


def setup(tmp_path: Path, *sources: Source, protect: tuple[int, ...] = ()) -> Config:
    config = defaults(tmp_path)
    tmp_path.mkdir(parents=True, exist_ok=True)
    config.sources.write_text(dump_sources(list(sources)), "utf-8")
    registry = SqliteRegistry(config.registry)
    registry.add([entry_for_image("acme-bank", f"cust-{seed}", to_bytes(portrait(seed), "PNG")) for seed in protect])
    registry.close()
    return config


def listings(config: Config) -> dict[str, Listing]:
    store = SqliteStore(config.store)
    try:
        return {item.url.split("/", 3)[-1]: item for item in store.search(SearchQuery(limit=500)).listings}
    finally:
        store.close()


def hit_refs(config: Config) -> set[str]:
    store = SqliteStore(config.store)
    try:
        return {h.registry_ref for h in store.hits_for_org("acme-bank")}
    finally:
        store.close()


# --- listing spider without selectors: a Discuz-like forum ---------------------------------------


def forum_pages() -> dict[str, Page]:
    thread = """<html><head><title>Forum</title><base href="/static/"></head><body>
      <nav>首页 登录 注册</nav>
      <h1>出售 人脸照片 5k张</h1>
      <div class="author"><a>seller_wang</a></div><time datetime="2026-11-01T08:00:00Z">11月1日</time>
      <div class="t_f">人脸照片 5k张，0.5元/张，V信 face_wang88
        <script>var tracking = "人脸数据 should not be text";</script>
        <img src="placeholder.gif" data-original="/attach/lazy.jpg">
        <img srcset="/attach/small.jpg 320w, /attach/large.jpg 1024w" src="/attach/small.jpg">
        <picture><source srcset="/attach/pic.webp 1x, /attach/pic2x.jpg 2x"><img src="/attach/pic-fallback.jpg"></picture>
        <div style="background-image: url('/attach/bg.jpg')">bg</div>
        <img src="relative.jpg">
        <a href="/downloads/over-face-tool.apk">tool</a> <a href="manual.zip">manual</a>
      </div></body></html>"""
    benign = "<html><body><h1>洗面奶 推荐</h1><div class='t_f'>护肤 好用</div></body></html>"
    return {
        "/robots.txt": Page(b"User-agent: *\nDisallow: /admin/\n", "text/plain"),
        "/forum.php": Page(
            b"<html><body><a href='/forum.php?mod=viewthread&tid=101'>t1</a>"
            b"<a href='/admin/thread-999-1-1.html'>hidden by robots</a>"
            b"<a href='/forum.php?page=2'>\xe4\xb8\x8b\xe4\xb8\x80\xe9\xa1\xb5</a></body></html>"
        ),
        "/forum.php?page=2": Page(
            b"<html><body><a href='/thread-102-1-1.html'>t2</a>"
            b"<a rel='next' href='/calendar?month=1'>calendar</a><a href='/loop/'>&raquo;</a></body></html>"
        ),
        "/forum.php?mod=viewthread&tid=101": Page(thread.encode("utf-8")),
        "/thread-102-1-1.html": Page(benign.encode("utf-8")),
        **{
            f"/attach/{n}": jpeg(7)
            for n in ("lazy.jpg", "small.jpg", "large.jpg", "pic.webp", "pic2x.jpg", "pic-fallback.jpg", "bg.jpg")
        },
        "/static/relative.jpg": jpeg(8),
    }


def calendar_and_loop_pages() -> dict[str, Page]:
    pages = {
        f"/calendar?month={n}": Page(f"<html><body><a href='/calendar?month={n + 1}'>next</a></body></html>".encode())
        for n in range(1, 500)
    }
    pages["/loop/"] = Page(b"<html><body><a href='a/'>next</a></body></html>")
    for depth in range(1, 30):
        pages["/loop/" + "a/" * depth] = pages["/loop/"]
    return pages


def test_listing_spider_without_selectors_finds_threads_images_and_tools(tmp_path: Path) -> None:
    with FixtureSite(forum_pages() | calendar_and_loop_pages()) as site:
        source = Source("forum", (site.url + "/forum.php",), max_depth=100, **LOCAL)  # type: ignore[arg-type]
        config = setup(tmp_path, source, protect=(7,))
        result = crawl(config, "forum", timeout=120)
        log = list(site.access_log)
    assert result.ok, result.log_file.read_text()
    found = listings(config)
    thread = found["forum.php?mod=viewthread&tid=101"]
    assert thread.title == "出售 人脸照片 5k张" and thread.category == "face_data_sale"
    assert thread.author == "seller_wang" and thread.posted_at == "2026-11-01T08:00:00Z"
    assert "should not be text" not in thread.text and "首页" not in thread.text
    assert thread.quantity == 5000 and thread.lang == "zh"
    paths = [u.split("/", 3)[-1] for u in thread.image_urls]
    # every distinct file: the lazy attribute (not its placeholder), every srcset candidate,
    # <picture> sources and their fallback, CSS, and <base href> resolution
    assert paths == [
        "attach/lazy.jpg", "attach/small.jpg", "attach/large.jpg", "attach/pic.webp", "attach/pic2x.jpg",
        "attach/pic-fallback.jpg", "attach/bg.jpg", "static/relative.jpg",
    ]  # fmt: skip
    assert [u.split("/", 3)[-1] for u in thread.tool_links] == ["downloads/over-face-tool.apk", "static/manual.zip"]
    assert found["thread-102-1-1.html"].category == "benign"  # reached through "下一页"
    assert hit_refs(config) == {"cust-7"}
    # robots.txt obeyed; the calendar and the relative-link loop are bounded
    assert not [p for p in log if p.startswith("/admin/")]
    assert 10 <= sum(p.startswith("/calendar") for p in log) <= 51
    assert max(p.count("a/") for p in log if p.startswith("/loop/")) <= 3
    assert result.stats["bioleak/skipped/trap"] >= 2
    assert "/static/placeholder.gif" not in log


# --- encodings and lying Content-Types -----------------------------------------------------------


def encoding_pages() -> dict[str, Page]:
    def page(title: str, charset: str, meta: str = "") -> bytes:
        return (
            f"<html><head>{meta}</head><body><h1>{title}</h1><div class='content'>{title}</div></body></html>".encode(
                charset
            )
        )

    return {
        "/": Page(b"".join(f"<a class='item' href='/l/{n}'>{n}</a>".encode() for n in range(1, 6))),
        "/l/1": Page(page("人脸数据 出售", "gbk"), "text/html; charset=gbk"),
        "/l/2": Page(page("人脸照片 打包", "gb18030", '<meta charset="gb18030">'), "text/html"),
        "/l/3": Page(
            page("人臉照片 出售", "big5", '<meta http-equiv="Content-Type" content="text/html; charset=big5">'), ""
        ),
        "/l/4": Page(page("過人臉 軟體", "big5", '<meta charset="big5">'), "image/jpeg"),
        "/l/5": Page(b"\x89PNG\r\n\x1a\n not a page", "text/html"),
    }


def test_chinese_encodings_from_header_or_meta_and_sniffed_pages(tmp_path: Path) -> None:
    with FixtureSite(encoding_pages()) as site:
        source = Source("enc", (site.url + "/",), selectors=Selectors(listing_links="a.item::attr(href)"), **LOCAL)  # type: ignore[arg-type]
        config = setup(tmp_path, source)
        result = crawl(config, "enc", timeout=120)
    assert result.ok, result.log_file.read_text()
    titles = {path: item.title for path, item in listings(config).items()}
    assert titles == {"l/1": "人脸数据 出售", "l/2": "人脸照片 打包", "l/3": "人臉照片 出售", "l/4": "過人臉 軟體"}
    assert result.stats["bioleak/skipped/not_html"] == 1  # l/5: a PNG served as text/html (l/4 the reverse)
    categories = {path: item.category for path, item in listings(config).items()}
    assert categories == {"l/1": "face_data_sale", "l/2": "face_data_sale", "l/3": "face_data_sale",
                          "l/4": "over_face_tool"}  # traditional characters hit the same terms  # fmt: skip


# --- telegram --------------------------------------------------------------------------------------


def telegram_message(post: int, text: str, photos: tuple[str, ...] = (), document: str = "") -> str:
    wraps = "".join(
        f"<a class='tgme_widget_message_photo_wrap' href='https://t.me/leakchan/{post}?single' "
        f"style=\"width:100px;background-image:url('{photo}')\"></a>"
        for photo in photos
    )
    album = f"<div class='tgme_widget_message_grouped_wrap'>{wraps}</div>" if len(photos) > 1 else wraps
    doc = f"<div class='tgme_widget_message_document_title'>{document}</div>" if document else ""
    return f"""<div class="tgme_widget_message_wrap"><div class="tgme_widget_message" data-post="leakchan/{post}">
      <div class="tgme_widget_message_owner_name"><span>Leak Channel</span></div>{album}{doc}
      <div class="tgme_widget_message_text">{text}</div>
      <a class="tgme_widget_message_date" href="/leakchan/{post}"><time datetime="2026-11-0{post % 9 + 1}T10:00:00+00:00">
      </time></a></div></div>"""


def telegram_pages(site_url: str) -> dict[str, Page]:
    newest = "".join(
        [
            telegram_message(
                11,
                "出售人脸照片 10万张 0.2元/张 飞机 @leak_seller",
                (f"{site_url}/file/a.jpg", f"{site_url}/file/b.jpg"),
            ),
            telegram_message(12, "过人脸 软件 更新", document="过人脸.apk"),
            telegram_message(13, "<b>Tutorial</b>: how to bypass liveness, step by step"),
        ]
    )
    older = "".join(
        [
            telegram_message(9, "KYC pack selfie with ID, 20 USDT per pack", (f"{site_url}/file/c.jpg",)),
            telegram_message(10, "face cream discount today"),
        ]
    )
    more = "<a class='tme_messages_more' data-before='11' href='/s/leakchan?before=11'></a>"
    return {
        "/s/leakchan": Page(
            f"<html><body><section class='tgme_channel_history'>{more}{newest}</section></body></html>".encode()
        ),
        "/s/leakchan?before=11": Page(f"<html><body><section>{older}</section></body></html>".encode()),
        "/file/a.jpg": jpeg(21),
        "/file/b.jpg": jpeg(22),
        "/file/c.jpg": jpeg(23),
    }


def test_telegram_spider_reads_messages_albums_and_older_pages(tmp_path: Path) -> None:
    site = FixtureSite({}).start()
    try:
        site.pages.update(telegram_pages(site.url))
        source = Source("chan", (site.url + "/s/leakchan",), kind="telegram", **LOCAL)  # type: ignore[arg-type]
        config = setup(tmp_path, source, protect=(22, 23))
        result = crawl(config, "chan", timeout=120)
    finally:
        site.stop()
    assert result.ok, result.log_file.read_text()
    found = listings(config)
    assert set(found) == {f"leakchan/{n}" for n in (9, 10, 11, 12, 13)}
    album = found["leakchan/11"]
    assert album.category == "face_data_sale" and album.author == "Leak Channel"
    assert [u.rsplit("/", 1)[-1] for u in album.image_urls] == ["a.jpg", "b.jpg"]
    assert album.quantity == 100_000 and {c.value for c in album.contacts} == {"leak_seller"}
    assert album.posted_at == "2026-11-03T10:00:00+00:00"
    assert found["leakchan/12"].category == "over_face_tool" and "过人脸.apk" in found["leakchan/12"].text
    assert found["leakchan/13"].category == "tutorial"
    assert found["leakchan/10"].category == "benign"
    assert hit_refs(config) == {"cust-22", "cust-23"}  # one album photo, one on the older page


# --- paste -----------------------------------------------------------------------------------------


def paste_pages(site_url: str) -> dict[str, Page]:
    raw = f"KYC pack dump\nselfie with ID + passport, 300 packs, 25 USDT per pack\nsamples: {site_url}/i/sample.jpg\nTG: @paste_seller\n"
    return {
        "/archive": Page(
            b"<html><body><table><tr><td><a href='/AbC123xy'>KYC</a></td></tr><tr><td><a href='/ZzTop987'>x</a>"
            b"</td></tr><tr><td><a href='/archive'>archive</a><a href='/faq'>faq</a></td></tr></table></body></html>"
        ),
        "/AbC123xy": Page(
            b"<html><head><title>KYC pack dump - Paste</title></head><body><h1>KYC pack dump</h1>"
            b"<a href='/raw/AbC123xy'>raw</a><textarea>...</textarea></body></html>"
        ),
        "/raw/AbC123xy": Page(raw.encode(), "text/plain; charset=utf-8"),
        "/ZzTop987": Page(b"<html><body><h1>notes</h1><pre>face wash routine, skincare</pre></body></html>"),
        "/i/sample.jpg": jpeg(31),
    }


def test_paste_spider_follows_archive_to_raw_text(tmp_path: Path) -> None:
    site = FixtureSite({}).start()
    try:
        site.pages.update(paste_pages(site.url))
        source = Source("pastes", (site.url + "/archive",), kind="paste", **LOCAL)  # type: ignore[arg-type]
        config = setup(tmp_path, source, protect=(31,))
        result = crawl(config, "pastes", timeout=120)
        log = list(site.access_log)
    finally:
        site.stop()
    assert result.ok, result.log_file.read_text()
    found = listings(config)
    assert set(found) == {"AbC123xy", "ZzTop987"}
    dump = found["AbC123xy"]
    assert dump.title == "KYC pack dump" and dump.category == "face_data_sale" and dump.quantity == 300
    assert "passport" in dump.text and {c.value for c in dump.contacts} == {"paste_seller"}
    assert found["ZzTop987"].category == "benign"
    assert "/raw/AbC123xy" in log and "/faq" not in log
    assert hit_refs(config) == {"cust-31"}


# --- incremental -----------------------------------------------------------------------------------


def test_recrawl_skips_unchanged_listings_and_known_images(tmp_path: Path) -> None:
    with FixtureSite(forum_pages()) as site:
        source = Source("inc", (site.url + "/forum.php",), **LOCAL)  # type: ignore[arg-type]
        config = setup(tmp_path, source, protect=(7,))
        first = crawl(config, "inc", timeout=120)
        images_after_first = sum(p.startswith(("/attach/", "/static/")) for p in site.access_log)
        second = crawl(config, "inc", timeout=120)
        images_after_second = sum(p.startswith(("/attach/", "/static/")) for p in site.access_log)

        registry = SqliteRegistry(config.registry)  # a newly protected photo: listings are matched again
        registry.add([entry_for_image("acme-bank", "cust-8", to_bytes(portrait(8), "PNG"))])
        registry.close()
        third = crawl(config, "inc", timeout=120)
        images_after_third = sum(p.startswith(("/attach/", "/static/")) for p in site.access_log)

        site.pages["/thread-102-1-1.html"] = Page("<html><body><h1>洗面奶 新品</h1></body></html>".encode())
        fourth = crawl(config, "inc", timeout=120)

    assert all(r.ok for r in (first, second, third, fourth)), [
        (r.status, r.reason) for r in (first, second, third, fourth)
    ]
    assert first.stats["bioleak/images/hashed"] == 2 and images_after_first == 8
    assert second.stats["bioleak/listings/unchanged"] == 2 and "bioleak/images/hashed" not in second.stats
    assert images_after_second == images_after_first  # not downloaded again
    assert "bioleak/listings/unchanged" not in third.stats and third.stats["bioleak/images/known_url"] == 8
    # only the newly matched image is fetched again, for its thumbnail: hashed by an earlier crawl,
    # its bytes are gone (cust-7's thumbnail was made while hashing and is in the store)
    assert images_after_third == images_after_first + 1 and third.stats["bioleak/thumbnails/kept"] == 1
    assert hit_refs(config) == {"cust-7", "cust-8"}
    assert fourth.stats["bioleak/listings/unchanged"] == 1 and fourth.stats["bioleak/listings/benign"] == 1
