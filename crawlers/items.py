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
    fetched_at = scrapy.Field()
    # added by the pipeline stages, in order
    classification = scrapy.Field()
    entities = scrapy.Field()
    images = scrapy.Field()  # list[(url, ImageHashes)]
    hits = scrapy.Field()  # list[Hit]
