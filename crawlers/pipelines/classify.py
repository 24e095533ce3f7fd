"""Thin Scrapy adapters, in ITEM_PIPELINES order:
skip unchanged -> classify -> images -> matching -> store -> mark processed."""

from __future__ import annotations

from typing import Any

from crawlers.items import ListingItem
from pipeline.classify import classify, detect_lang, extract_entities


class ClassifyPipeline:
    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Any) -> ClassifyPipeline:
        return cls(crawler)

    def process_item(self, item: ListingItem) -> ListingItem:
        result = classify(item["title"], item["text"])
        item["classification"] = result
        item["entities"] = extract_entities(f"{item['title']}\n{item['text']}")
        item["lang"] = detect_lang(f"{item['title']} {item['text']}")
        self.crawler.stats.inc_value(f"bioleak/listings/{result.category}")
        return item
