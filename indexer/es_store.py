"""Elasticsearch store: the scale path. Same contract as SqliteStore, checked by the same tests.

Indices are versioned (`{prefix}-listings-v1`) behind aliases (`{prefix}-listings`), created from
the JSON templates in indexer/templates/. Only core features of the minimal 8.19 distribution
are used: no Painless, no update-by-query, no ingest pipelines, no non-default analyzers.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from importlib import resources
from typing import Any

from elasticsearch import ConflictError, Elasticsearch, NotFoundError, helpers

from indexer.codec import hit_from_doc, hit_to_doc, listing_from_doc, listing_to_doc, org_from_doc, org_to_doc
from indexer.store import CLAIM_LEASE, SearchPage, SearchQuery, WriteResult
from indexer.text import search_text, terms
from pipeline.models import Hit, Listing, Organisation

SCHEMA_VERSION = 1
KINDS = ("listings", "hits", "orgs")


class ElasticsearchStore:
    def __init__(self, url: str, *, prefix: str = "bioleak", request_timeout: float = 30.0) -> None:
        self.prefix = prefix
        self.es = Elasticsearch(url, request_timeout=request_timeout, retry_on_timeout=True, max_retries=3)
        self.alias = {kind: f"{prefix}-{kind}" for kind in KINDS}
        self._install()

    def _install(self) -> None:
        """Install templates and create versioned indices behind aliases; safe to repeat."""
        for kind in KINDS:
            text = resources.files("indexer").joinpath(f"templates/{kind}.json").read_text("utf-8")
            body = json.loads(text.replace("{prefix}", self.prefix))
            self.es.indices.put_index_template(name=f"{self.prefix}-{kind}", **body)
            if not self.es.indices.exists_alias(name=self.alias[kind]):
                index = f"{self.alias[kind]}-v{SCHEMA_VERSION}"
                if not self.es.indices.exists(index=index):
                    self.es.indices.create(index=index, aliases={self.alias[kind]: {"is_write_index": True}})
            else:
                # Additive field changes reach indices created by an older release.
                self.es.indices.put_mapping(index=self.alias[kind], **body["template"]["mappings"])

    def close(self) -> None:
        self.es.close()

    def refresh(self) -> None:
        self.es.indices.refresh(index=",".join(self.alias.values()))

    def drop(self) -> None:
        """Delete this prefix's indices and templates (tests and demo workspaces)."""
        self.es.indices.delete(index=f"{self.prefix}-*", ignore_unavailable=True, allow_no_indices=True)
        for kind in KINDS:
            try:
                self.es.indices.delete_index_template(name=f"{self.prefix}-{kind}")
            except NotFoundError:
                pass

    # --- writes ---------------------------------------------------------------------------

    def _bulk(self, actions: Iterable[dict[str, Any]], *, conflicts_ok: bool = False) -> WriteResult:
        written, failed, errors = 0, 0, []
        for ok, item in helpers.streaming_bulk(
            self.es, actions, raise_on_error=False, raise_on_exception=False, max_retries=5,
            initial_backoff=1, chunk_size=500,
        ):  # fmt: skip
            result = next(iter(item.values()))
            if ok:
                written += 1 if result.get("result") != "noop" else 0
            elif conflicts_ok and result.get("status") == 409:
                continue  # already there: idempotent create
            else:
                failed += 1
                errors.append(f"{result.get('_id')}: {json.dumps(result.get('error'))[:300]}")
        return WriteResult(written=written, failed=failed, errors=tuple(errors))

    def upsert_listings(self, listings: Sequence[Listing]) -> WriteResult:
        def actions() -> Iterator[dict[str, Any]]:
            for listing in listings:
                doc = listing_to_doc(listing)
                doc["search_text"] = search_text(listing.title, listing.text)
                update = {k: v for k, v in doc.items() if k != "first_seen"}  # first sight is kept
                yield {
                    "_op_type": "update", "_index": self.alias["listings"], "_id": listing.id,
                    "doc": update, "upsert": doc, "retry_on_conflict": 3,
                }  # fmt: skip

        return self._bulk(actions())

    def upsert_hits(self, hits: Sequence[Hit]) -> WriteResult:
        result = self._bulk(
            ({"_op_type": "create", "_index": self.alias["hits"], "_id": h.id, "_source": hit_to_doc(h)} for h in hits),
            conflicts_ok=True,  # an existing hit keeps its alert and triage state
        )
        self._denormalise_matched_orgs(hits)
        return result

    def _denormalise_matched_orgs(self, hits: Sequence[Hit]) -> None:
        """Keep `matched_orgs` on listings so org/has_match filters are one query at scale."""
        new_orgs: dict[str, set[str]] = {}
        for h in hits:
            new_orgs.setdefault(h.listing_id, set()).add(h.org)
        if not new_orgs:
            return
        found = self.es.mget(index=self.alias["listings"], ids=list(new_orgs), source_includes=["matched_orgs"])
        actions = []
        for doc in found["docs"]:
            if not doc.get("found"):
                continue
            orgs = set(doc["_source"].get("matched_orgs") or []) | new_orgs[doc["_id"]]
            actions.append({
                "_op_type": "update", "_index": self.alias["listings"], "_id": doc["_id"],
                "doc": {"matched_orgs": sorted(orgs)}, "retry_on_conflict": 5,
            })  # fmt: skip
        self._bulk(actions)

    def upsert_org(self, org: Organisation) -> None:
        self.es.index(index=self.alias["orgs"], id=org.name, document=org_to_doc(org), refresh="wait_for")

    def claim_pending_hits(self, org: str, limit: int = 500) -> list[Hit]:
        stale = (datetime.now(UTC) - CLAIM_LEASE).isoformat(timespec="seconds")
        self.es.indices.refresh(index=self.alias["hits"])
        response = self.es.search(
            index=self.alias["hits"],
            query={"bool": {"filter": [
                {"term": {"org": org}},
                {"bool": {"should": [
                    {"term": {"alert_state": "pending"}},
                    {"bool": {"filter": [
                        {"term": {"alert_state": "sending"}}, {"range": {"claimed_at": {"lt": stale}}},
                    ]}},
                ]}},
            ]}},
            sort=[{"id": "asc"}], size=limit, seq_no_primary_term=True,
        )  # fmt: skip
        claimed = []
        now = datetime.now(UTC).isoformat(timespec="seconds")
        for doc in response["hits"]["hits"]:
            try:
                # Optimistic concurrency: only one claimer can move this version of the doc.
                self.es.update(
                    index=doc["_index"], id=doc["_id"], if_seq_no=doc["_seq_no"],
                    if_primary_term=doc["_primary_term"], doc={"alert_state": "sending", "claimed_at": now},
                )  # fmt: skip
            except ConflictError:
                continue
            claimed.append(hit_from_doc({**doc["_source"], "alert_state": "sending"}))
        return claimed

    def set_alert_state(self, hit_ids: Iterable[str], state: str) -> None:
        self._bulk(
            {"_op_type": "update", "_index": self.alias["hits"], "_id": i, "doc": {"alert_state": state}}
            for i in hit_ids
        )
        self.es.indices.refresh(index=self.alias["hits"])

    # --- reads ----------------------------------------------------------------------------

    def get_listing(self, listing_id: str) -> Listing | None:
        try:
            doc = self.es.get(index=self.alias["listings"], id=listing_id)
        except NotFoundError:
            return None
        return listing_from_doc(doc["_source"])

    def _hits(self, field: str, value: str) -> list[Hit]:
        response = self.es.search(
            index=self.alias["hits"], query={"term": {field: value}},
            sort=[{"distance": "asc"}, {"id": "asc"}], size=10_000,
        )  # fmt: skip
        return [hit_from_doc(d["_source"]) for d in response["hits"]["hits"]]

    def hits_for_listing(self, listing_id: str) -> list[Hit]:
        return self._hits("listing_id", listing_id)

    def hits_for_org(self, org: str) -> list[Hit]:
        return self._hits("org", org)

    def list_orgs(self) -> list[Organisation]:
        response = self.es.search(index=self.alias["orgs"], sort=[{"name": "asc"}], size=10_000)
        return [org_from_doc(d["_source"]) for d in response["hits"]["hits"]]

    def search(self, query: SearchQuery) -> SearchPage:
        must: list[dict[str, Any]] = []
        filters: list[dict[str, Any]] = []
        must_not: list[dict[str, Any]] = []
        query_terms = terms(query.text)
        if query_terms:
            must.append({"match": {"search_text": {"query": " ".join(query_terms), "operator": "and"}}})
        if query.category is not None:
            filters.append({"term": {"category": query.category}})
        if query.site is not None:
            filters.append({"term": {"site": query.site}})
        if query.org is not None:
            filters.append({"term": {"matched_orgs": query.org}})
        if query.has_match is True:
            filters.append({"exists": {"field": "matched_orgs"}})
        elif query.has_match is False:
            must_not.append({"exists": {"field": "matched_orgs"}})
        response = self.es.search(
            index=self.alias["listings"],
            query={"bool": {"must": must, "filter": filters, "must_not": must_not}},
            sort=[{"last_seen": "desc"}, {"id": "asc"}],
            from_=query.offset, size=query.limit, track_total_hits=True,
            aggs={"category": {"terms": {"field": "category", "size": 10}}},
        )  # fmt: skip
        return SearchPage(
            total=int(response["hits"]["total"]["value"]),
            listings=[listing_from_doc(d["_source"]) for d in response["hits"]["hits"]],
            by_category={b["key"]: int(b["doc_count"]) for b in response["aggregations"]["category"]["buckets"]},
        )
