"""Extraction helpers on literal pages (no crawl)."""

from __future__ import annotations

from parsel import Selector

from crawlers.extract import AUTHOR_SELECTORS, first_of, image_urls


def test_first_of_takes_the_first_expression_whose_first_match_is_not_blank() -> None:
    page = Selector(
        text="<html><head><meta name=author content='from-meta'></head>"
        "<body><span class=author>  </span><span class=username>wang</span></body></html>"
    )
    # .author matches only blank text, so the next fallback in order wins, not the meta tag
    assert first_of(page, AUTHOR_SELECTORS) == "wang"
    assert first_of(Selector(text="<html><body><p>no seller here</p></body></html>"), AUTHOR_SELECTORS) == ""
    assert first_of(page, ["//meta[@name='author']/@content", ".username::text"]) == "from-meta"  # XPath too


def test_picture_fallbacks_are_skipped_only_where_their_own_picture_has_sources() -> None:
    page = Selector(
        text="<html><body>"
        "<picture><source srcset='/a-big.jpg 2x'><img src='/a-fallback.jpg'></picture>"
        "<picture><img src='/b-only.jpg'></picture>"  # no sources: its <img> is the image
        "<img src='/c.jpg'>"
        "</body></html>"
    )
    assert image_urls(page, "http://market.example/t/1") == [
        "http://market.example/a-big.jpg",
        "http://market.example/b-only.jpg",
        "http://market.example/c.jpg",
    ]
