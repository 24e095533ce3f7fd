"""Pick the store from one string: an http(s) URL means Elasticsearch, anything else a SQLite file."""

from __future__ import annotations

from indexer.sqlite_store import SqliteStore
from indexer.store import Store


def open_store(url: str, *, es_prefix: str = "bioleak") -> Store:
    if url.startswith(("http://", "https://")):
        # Imported only here: the Elasticsearch client (with aiohttp) takes ~0.2 s to import, which
        # every crawl process and CLI command on the embedded default would otherwise pay.
        from indexer.es_store import ElasticsearchStore

        return ElasticsearchStore(url, prefix=es_prefix)
    return SqliteStore(url.removeprefix("sqlite:///").removeprefix("sqlite://"))
