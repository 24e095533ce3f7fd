from __future__ import annotations

from scrapy.crawler import Crawler

from crawlers.items import ListingItem
from pipeline.classify import classify, detect_lang, extract_entities


class ClassifyPipeline:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ClassifyPipeline:
        return cls(crawler)

    def process_item(self, item: ListingItem) -> ListingItem:
        result = classify(item.title, item.text)
        item.classification = result
        item.entities = extract_entities(f"{item.title}\n{item.text}")
        item.lang = detect_lang(f"{item.title} {item.text}")
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value(f"bioleak/listings/{result.category}")
        return item
