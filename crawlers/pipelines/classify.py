from __future__ import annotations

from scrapy.crawler import Crawler

from crawlers.classifier import cached_classifier
from crawlers.context import crawl_context
from crawlers.items import ListingItem
from pipeline.classify import Classifier, detect_lang, extract_entities


class ClassifyPipeline:
    """Entities first (the classifier reads them: a price per photo is evidence), then the
    category, with the source's kind (a bare @handle in a Telegram channel is a handle) and its
    declared topic."""

    def __init__(self, crawler: Crawler, classifier: Classifier, *, channel: str = "", topic: str = "") -> None:
        self.crawler = crawler
        self.classifier = classifier
        self.channel = channel
        self.topic = topic

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ClassifyPipeline:
        source = crawl_context(crawler).source
        return cls(
            crawler, cached_classifier(crawler.settings.get("BIOLEAK_CLASSIFIER_CACHE")),
            channel=source.kind if source else "", topic=source.topic if source else "",
        )  # fmt: skip

    def process_item(self, item: ListingItem) -> ListingItem:
        entities = extract_entities(f"{item.title}\n{item.text}", channel=self.channel)
        result = self.classifier.classify_many([(item.title, item.text, entities)], topic=self.topic)[0]
        item.classification = result
        item.entities = entities
        item.lang = detect_lang(f"{item.title} {item.text}")
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value(f"bioleak/listings/{result.category}")
        if result.needs_review:
            self.crawler.stats.inc_value("bioleak/listings/needs_review")
        return item
