"""Extraction helpers on literal pages (no crawl)."""

from __future__ import annotations

import re

from parsel import Selector

from crawlers.extract import AUTHOR_SELECTORS, base_url, first_of, image_urls, srcset_urls


def test_first_of_takes_the_first_expression_whose_first_match_is_not_blank() -> None:
    page = Selector(
        text="<html><head><meta name=author content='from-meta'></head>"
        "<body><span class=author>  </span><span class=username>wang</span></body></html>"
    )
    # .author matches only blank text, so the next fallback in order wins, not the meta tag
    assert first_of(page, AUTHOR_SELECTORS) == "wang"
    assert first_of(Selector(text="<html><body><p>no seller here</p></body></html>"), AUTHOR_SELECTORS) == ""
    assert first_of(page, ["//meta[@name='author']/@content", ".username::text"]) == "from-meta"  # XPath too


def test_every_distinct_file_of_picture_srcset_and_fallback_is_an_image() -> None:
    page = Selector(
        text="<html><body>"
        "<picture><source srcset='/a.webp 1x, /a-2x.webp 2x' type='image/webp'><img src='/a-fallback.jpg'></picture>"
        "<picture><img src='/b-only.jpg'></picture>"
        "<img src='/c.jpg' srcset='/c-320.jpg 320w, /c-640.jpg 640w'>"
        "</body></html>"
    )
    assert [u.rsplit("/", 1)[-1] for u in image_urls(page, "http://market.example/t/1")] == [
        "a.webp", "a-2x.webp", "a-fallback.jpg", "b-only.jpg", "c.jpg", "c-320.jpg", "c-640.jpg",
    ]  # fmt: skip


def test_srcset_is_read_as_the_standard_reads_it() -> None:
    assert srcset_urls("a.jpg 320w, b.jpg 2x") == ["a.jpg", "b.jpg"]
    assert srcset_urls("/img,q=80/x.jpg 1x, /img,q=80/x2.jpg 2x") == ["/img,q=80/x.jpg", "/img,q=80/x2.jpg"]
    assert srcset_urls("  one.jpg  ,two.jpg,, three.jpg 100w ") == ["one.jpg", "two.jpg", "three.jpg"]
    assert srcset_urls("") == [] and srcset_urls(" , , ") == []
    assert len(srcset_urls("x.jpg 1w, " * 10_000)) == 32  # capped, and linear in the attribute


def test_lazy_attributes_replace_their_placeholder_and_zoomfile_and_file_are_both_kept() -> None:
    page = Selector(
        text="<html><body>"
        "<img src='static/image/common/none.gif' zoomfile='data/attachment/full.jpg' file='data/attachment/full.jpg.thumb.jpg'>"
        "<img src='data:image/gif;base64,R0lGOD' data-original='/goods/1.jpg'>"
        "<img class='lazyload' src='/loading.gif' data-src='/goods/2.jpg' data-srcset='/goods/2-1.jpg 1x, /goods/2-2.jpg 2x'>"
        "<div style=\"background-image: url('/card.jpg')\"></div><div data-bg='/bg.webp'></div>"
        "</body></html>"
    )
    assert [u.split("/", 3)[-1] for u in image_urls(page, "http://h/bbs/thread-1-1-1.html")] == [
        "bbs/data/attachment/full.jpg", "bbs/data/attachment/full.jpg.thumb.jpg", "goods/1.jpg", "goods/2.jpg",
        "goods/2-1.jpg", "goods/2-2.jpg", "card.jpg", "bg.webp",
    ]  # fmt: skip


def test_attachment_links_full_size_links_and_chrome_last() -> None:
    discuz = re.compile(r"mod=attachment")
    generic = re.compile(r"download/file\.php")
    page = Selector(
        text="<html><body><header><img src='/logo.png'></header>"
        "<a href='download/file.php?id=4&mode=view'><img src='download/file.php?id=4&t=1'></a>"  # thumbnail: both
        "<a href='download/file.php?id=9'>manual</a>"  # a generic attachment link around no image: not one
        "<a href='forum.php?mod=attachment&aid=QUJD'>tool.rar</a>"  # the engine's attachment: sniffed by content
        "<a href='/full/photo.JPG'>see full size</a><a href='/t/2'>next thread</a>"
        "</body></html>"
    )
    urls = image_urls(page, "http://h/viewtopic.php?t=1", attachment=[generic], attachments=[discuz])
    assert [u.split("/", 3)[-1] for u in urls] == [
        "download/file.php?id=4&mode=view", "download/file.php?id=4&t=1", "forum.php?mod=attachment&aid=QUJD",
        "full/photo.JPG", "logo.png",
    ]  # fmt: skip


def test_a_malformed_base_href_is_ignored_and_hostile_attributes_are_skipped() -> None:
    page = Selector(text="<html><head><base href='http://[::1'></head><body><img src='a.jpg'></body></html>")
    assert base_url(page, "http://h/x/y") == "http://h/x/y"
    assert image_urls(page, "http://h/x/y") == ["http://h/x/a.jpg"]
    assert (
        image_urls(Selector(text="<img src='http://h:99999/x.jpg'><img src='javascript:alert(1)'>"), "http://h/") == []
    )
