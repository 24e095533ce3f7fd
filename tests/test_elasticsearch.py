"""Behaviour only the real Elasticsearch server can show."""

from __future__ import annotations

import dataclasses

from indexer.es_store import ElasticsearchStore
from indexer.store import SearchQuery
from tests.factories import make_listing


def test_a_document_violating_the_mapping_is_reported_and_the_rest_lands(es_store: ElasticsearchStore) -> None:
    good = [make_listing(i) for i in range(5)]
    bad = dataclasses.replace(make_listing(99), quantity="lots")  # type: ignore[arg-type]
    result = es_store.upsert_listings([*good[:2], bad, *good[2:]])
    es_store.refresh()
    assert (result.written, result.failed) == (5, 1)
    assert bad.id in result.errors[0] and "quantity" in result.errors[0]
    assert es_store.search(SearchQuery()).total == 5


def test_templates_and_aliases_are_installed_idempotently(es_url: str, es_store: ElasticsearchStore) -> None:
    again = ElasticsearchStore(es_url, prefix=es_store.prefix)  # a second start must not fail or reset
    es_store.upsert_listings([make_listing(1)])
    es_store.refresh()
    assert again.search(SearchQuery()).total == 1
    aliases = es_store.es.indices.get_alias(name=f"{es_store.prefix}-listings")
    assert list(aliases) == [f"{es_store.prefix}-listings-v1"]
    again.close()
