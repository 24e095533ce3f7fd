"""Pure logic on bytes, text and hashes: no Scrapy, no Elasticsearch, no SMTP."""
