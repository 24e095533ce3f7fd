from __future__ import annotations

import scrapy


class ListingItem(scrapy.Item):
    listing_id = scrapy.Field()
    source = scrapy.Field()
    url = scrapy.Field()
    site = scrapy.Field()
    title = scrapy.Field()
    text = scrapy.Field()
    image_urls = scrapy.Field()
    author = scrapy.Field()
    posted_at = scrapy.Field()
    tool_links = scrapy.Field()  # links to downloadable tools (apk, exe, zip, ...)
    content_sha256 = scrapy.Field()  # of title, text and image URLs: unchanged -> not re-processed
    fetched_at = scrapy.Field()
    # added by the pipeline stages, in order
    classification = scrapy.Field()
    lang = scrapy.Field()
    entities = scrapy.Field()
    images = scrapy.Field()  # list[(url, ImageHashes)]
    image_thumbnails = scrapy.Field()  # dict[sha256, JPEG] made while hashing; dropped after matching
    hits = scrapy.Field()  # list[Hit]
    thumbnails = scrapy.Field()  # dict[image sha256, JPEG bytes], of matched images only
