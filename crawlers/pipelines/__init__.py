"""Thin Scrapy adapters, in ITEM_PIPELINES order: classify -> images -> matching -> store."""
