"""ListingItem: one listing as the spiders scrape it, carried through the item pipelines, each
stage filling in its own typed fields (see crawlers/settings.py ITEM_PIPELINES for the order)."""

from __future__ import annotations

from dataclasses import dataclass, field

from pipeline.classify import Classification, Entities
from pipeline.models import Hit, ImageHashes


@dataclass(slots=True, eq=False)
class ListingItem:
    listing_id: str
    source: str
    url: str
    site: str
    title: str
    text: str
    image_urls: list[str]
    content_sha256: str  # of title, text and image URLs: unchanged -> not processed again
    fetched_at: str  # ISO 8601 UTC
    author: str = ""
    posted_at: str = ""
    tool_links: list[str] = field(default_factory=list)  # links to downloadable tools (apk, exe, zip...)
    engine: str = ""  # the site engine the spider recognised, if any
    # ClassifyPipeline
    classification: Classification | None = None
    entities: Entities | None = None
    lang: str = ""
    # ImageHashPipeline: (url, hashes) of every image that could be hashed, and the worker's
    # thumbnails by sha256 (transient: ThumbnailPipeline keeps those of matched images only)
    images: list[tuple[str, ImageHashes]] = field(default_factory=list)
    image_thumbnails: dict[str, bytes] = field(default_factory=dict)
    # MatchPipeline
    hits: list[Hit] = field(default_factory=list)
    # ThumbnailPipeline: JPEG thumbnails of matched images, by image sha256
    thumbnails: dict[str, bytes] = field(default_factory=dict)
