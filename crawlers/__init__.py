"""The Scrapy project: spiders, the safety middleware and thin adapters onto pipeline/ and indexer/."""
