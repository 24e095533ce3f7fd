"""Elasticsearch store: the scale path. Same contract as SqliteStore, checked by the same tests.

Indices are versioned (`{prefix}-listings-v1`) behind aliases (`{prefix}-listings`), created from
the JSON templates in indexer/templates/. Only core features of the minimal 8.19 distribution
are used: no Painless, no update-by-query, no ingest pipelines, no non-default analyzers.

Listings and hits refresh every 5 s rather than every second (15% faster bulk indexing in
bench/index_bench.py); a crawl refreshes when it ends, and claims refresh before they search.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from importlib import resources
from typing import Any, TypeVar

from elastic_transport import TransportError
from elasticsearch import ApiError, BadRequestError, ConflictError, Elasticsearch, NotFoundError, helpers

from indexer.codec import hit_from_doc, hit_to_doc, listing_from_doc, listing_to_doc, org_from_doc, org_to_doc
from indexer.query import Criteria, Phrase, QueryError, criteria
from indexer.store import (
    AGG_SIZE,
    CLAIM_LEASE,
    SearchPage,
    SearchQuery,
    TriageEvent,
    WriteResult,
    decode_cursor,
    encode_cursor,
    sortable_time,
)
from indexer.text import search_text
from pipeline.models import TRIAGE_STATES, Delivery, Hit, Listing, Organisation, Triage, sha256_hex

log = logging.getLogger(__name__)
T = TypeVar("T")
SCHEMA_VERSION = 1
KINDS = ("listings", "hits", "orgs", "triage", "deliveries", "thumbnails")
BULK_CHUNK = 500
# Per-document statuses worth another try: rejected under load, or the server (re)starting.
RETRYABLE = frozenset({429, 502, 503, 504, "unreachable"})
MAX_WINDOW = 10_000  # from + size beyond this needs search_after (index.max_result_window)


class ElasticsearchStore:
    def __init__(
        self, url: str, *, prefix: str = "bioleak", request_timeout: float = 30.0, outage_seconds: float = 120.0
    ) -> None:
        self.prefix = prefix
        self.outage_seconds = outage_seconds  # how long writes wait out an unreachable server
        self.outages = 0  # write attempts that found the server away (for tests and logs)
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

    def _bulk(
        self, actions: Iterable[dict[str, Any]], *, conflicts_ok: bool = False, conflicted: list[str] | None = None
    ) -> WriteResult:
        """Every action is written, or counted and reported as failed; none is dropped silently.

        Documents Elasticsearch rejects (mapping errors) fail alone. While the server is
        unreachable or not ready (restarting, 429/503), a chunk is retried with backoff for up
        to `outage_seconds`; re-sending is safe because every write is idempotent by id."""
        written, failed, errors = 0, 0, []
        batch = list(actions)
        for start in range(0, len(batch), BULK_CHUNK):
            pending = {action["_id"]: action for action in batch[start : start + BULK_CHUNK]}
            outage = _Outage(self.outage_seconds)
            while pending:
                outcome: dict[str, dict[str, Any]] = {}
                try:
                    for ok, item in helpers.streaming_bulk(
                        self.es, list(pending.values()), raise_on_error=False, raise_on_exception=False,
                        max_retries=3, initial_backoff=1, chunk_size=BULK_CHUNK,
                    ):  # fmt: skip
                        result = next(iter(item.values()))
                        outcome[result.get("_id", "")] = {"ok": ok, **result}
                except TransportError as exc:  # connection refused or reset, timeout: the server is away
                    outcome = {}
                    unanswered = str(exc)
                else:
                    unanswered = "no answer for this document"
                retry = {}
                for doc_id, action in pending.items():
                    result = outcome.get(doc_id, {"ok": False, "status": "unreachable", "error": unanswered})
                    status = result.get("status")
                    if result["ok"]:
                        written += 1 if result.get("result") != "noop" else 0
                    elif conflicts_ok and status == 409:
                        continue  # already there: idempotent create
                    elif conflicted is not None and status == 409:
                        conflicted.append(doc_id)  # changed since read: the caller reads and tries again
                    elif status in RETRYABLE and outage.ongoing():
                        retry[doc_id] = action
                    else:
                        failed += 1
                        errors.append(f"{doc_id}: {json.dumps(result.get('error'), default=str)[:300]}")
                pending = retry
                if pending:
                    self.outages += 1
                    outage.wait()
        return WriteResult(written=written, failed=failed, errors=tuple(errors))

    def _retrying(self, call: Callable[[], T]) -> T:
        """A read the writes depend on, retried like them while the server is away."""
        outage = _Outage(self.outage_seconds)
        while True:
            try:
                return call()
            except (TransportError, ApiError) as exc:
                status = getattr(exc, "status_code", "unreachable") if isinstance(exc, ApiError) else "unreachable"
                if status not in RETRYABLE or not outage.ongoing():
                    raise
                self.outages += 1
                outage.wait()

    def upsert_listings(self, listings: Sequence[Listing]) -> WriteResult:
        """Read the stored first sight and matches, then write whole documents: an `index` is
        cheaper for Elasticsearch than an `update` (itself a read and a write), and the
        sequence-number check keeps a concurrent writer's change from being overwritten."""
        pending = list({x.id: x for x in listings}.values())
        written, failed, errors = 0, 0, list[str]()
        for _attempt in range(5):
            if not pending:
                break
            try:
                found = self._retrying(
                    partial(
                        self.es.mget, index=self.alias["listings"], ids=[x.id for x in pending],
                        source_includes=["first_seen", "matches"],
                    )
                )  # fmt: skip
            except (TransportError, ApiError) as exc:
                return WriteResult(written, failed + len(pending), (*errors, *(f"{x.id}: {exc}" for x in pending)))
            stored = {d["_id"]: d for d in found["docs"] if d.get("found")}
            actions = []
            for x in pending:
                doc = listing_to_doc(x)
                doc.update(tiebreak=tiebreak(x.id), title_terms=search_text(x.title), text_terms=search_text(x.text))
                old = stored.get(x.id)
                if old is None:
                    actions.append(
                        {"_op_type": "create", "_index": self.alias["listings"], "_id": x.id, "_source": doc}
                    )
                    continue
                # first sight is kept
                doc["first_seen"] = min(old["_source"]["first_seen"], x.first_seen, key=sortable_time)
                if old["_source"].get("matches"):
                    doc["matches"] = old["_source"]["matches"]
                actions.append({
                    "_op_type": "index", "_index": self.alias["listings"], "_id": x.id, "_source": doc,
                    "if_seq_no": old["_seq_no"], "if_primary_term": old["_primary_term"],
                })  # fmt: skip
            conflicted: list[str] = []
            result = self._bulk(actions, conflicted=conflicted)
            written, failed, errors = written + result.written, failed + result.failed, [*errors, *result.errors]
            again = set(conflicted)
            pending = [x for x in pending if x.id in again]
        failed += len(pending)
        errors += [f"{x.id}: kept changing under concurrent writers" for x in pending]
        return WriteResult(written=written, failed=failed, errors=tuple(errors))

    def upsert_hits(self, hits: Sequence[Hit]) -> WriteResult:
        result = self._bulk(
            ({"_op_type": "create", "_index": self.alias["hits"], "_id": h.id, "_source": hit_to_doc(h)} for h in hits),
            conflicts_ok=True,  # an existing hit keeps its alert and triage state
        )
        entries: dict[str, dict[str, dict[str, Any]]] = {}
        for h in hits:
            entries.setdefault(h.listing_id, {})[h.id] = _match_entry(h, h.triage)
        self._merge_matches(entries, override=False)
        return result

    def _merge_matches(self, entries: dict[str, dict[str, dict[str, Any]]], *, override: bool) -> None:
        """Keep `matches` (one nested entry per hit) on listings, so hit filters and the org
        aggregation are one query at scale. Read-modify-write guarded by the document's sequence
        number: a concurrent writer's change is re-read and merged, never overwritten."""
        pending = dict(entries)
        for _attempt in range(10):
            if not pending:
                return
            found = self._retrying(
                partial(self.es.mget, index=self.alias["listings"], ids=list(pending), source_includes=["matches"])
            )
            actions = []
            for doc in found["docs"]:
                if not doc.get("found"):
                    pending.pop(doc["_id"], None)  # hits of a listing not stored: nothing to annotate
                    continue
                current = {m["hit_id"]: m for m in doc["_source"].get("matches") or []}
                changes = pending[doc["_id"]]
                merged = {**current, **changes} if override else {**changes, **current}
                if merged == current:
                    pending.pop(doc["_id"])
                    continue
                actions.append({
                    "_op_type": "update", "_index": self.alias["listings"], "_id": doc["_id"],
                    "if_seq_no": doc["_seq_no"], "if_primary_term": doc["_primary_term"],
                    "doc": {"matches": sorted(merged.values(), key=lambda m: m["hit_id"])},
                })  # fmt: skip
            conflicted: list[str] = []
            result = self._bulk(actions, conflicted=conflicted)
            if result.failed:  # the hits themselves are stored; only the listing's summary lags
                log.error("matches of %d listing(s) not updated: %s", result.failed, "; ".join(result.errors[:3]))
            pending = {k: pending[k] for k in conflicted}
        if pending:
            raise RuntimeError(f"matches of {len(pending)} listing(s) kept changing under concurrent writers")

    def upsert_org(self, org: Organisation) -> None:
        self.es.index(index=self.alias["orgs"], id=org.name, document=org_to_doc(org), refresh="wait_for")

    def remove_org(self, name: str) -> bool:
        try:
            self.es.delete(index=self.alias["orgs"], id=name, refresh="wait_for")
        except NotFoundError:
            return False
        return True

    def claim_pending_hits(self, org: str, limit: int = 500, lease: timedelta = CLAIM_LEASE) -> list[Hit]:
        stale = (datetime.now(UTC) - lease).isoformat(timespec="microseconds")
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
        now = datetime.now(UTC).isoformat(timespec="microseconds")
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

    def triage(self, hit_ids: Sequence[str], status: Triage, *, note: str = "", who: str = "") -> list[TriageEvent]:
        if status not in TRIAGE_STATES:
            raise ValueError(f"triage status must be one of {', '.join(TRIAGE_STATES)}, got {status!r}")
        ids = list(dict.fromkeys(hit_ids))
        if not ids:
            return []
        found = self.es.mget(index=self.alias["hits"], ids=ids)["docs"]
        hits = [hit_from_doc(d["_source"]) for d in found if d.get("found")]
        at = datetime.now(UTC).isoformat(timespec="microseconds")
        events = [TriageEvent(h.id, status, note, who, at) for h in hits]
        self._bulk({"_op_type": "update", "_index": self.alias["hits"], "_id": h.id, "doc": {"triage": status}}
                   for h in hits)  # fmt: skip
        self._bulk(
            {"_op_type": "index", "_index": self.alias["triage"], "_id": _event_id(e), "_source": dataclasses.asdict(e)}
            for e in events
        )
        entries: dict[str, dict[str, dict[str, Any]]] = {}
        for h in hits:
            entries.setdefault(h.listing_id, {})[h.id] = _match_entry(h, status)
        self._merge_matches(entries, override=True)
        self.refresh()
        return events

    def put_thumbnails(self, thumbnails: Mapping[str, bytes]) -> WriteResult:
        at = datetime.now(UTC).isoformat(timespec="seconds")
        return self._bulk(
            (
                {"_op_type": "create", "_index": self.alias["thumbnails"], "_id": sha,
                 "_source": {"jpeg": base64.b64encode(jpeg).decode("ascii"), "at": at}}
                for sha, jpeg in thumbnails.items()
            ),
            conflicts_ok=True,
        )  # fmt: skip

    def get_thumbnails(self, image_sha256s: Sequence[str]) -> dict[str, bytes]:
        if not image_sha256s:
            return {}
        found = self.es.mget(index=self.alias["thumbnails"], ids=list(image_sha256s))
        return {d["_id"]: base64.b64decode(d["_source"]["jpeg"]) for d in found["docs"] if d.get("found")}

    def record_delivery(self, delivery: Delivery) -> None:
        # The time goes first in the id so that two attempts of one message are two records.
        doc_id = sha256_hex(delivery.at, delivery.org, delivery.message_id, delivery.channel, delivery.detail)
        self._retrying(
            lambda: self.es.index(
                index=self.alias["deliveries"], id=doc_id, document=dataclasses.asdict(delivery), refresh="wait_for"
            )
        )

    def deliveries(self, org: str | None = None, limit: int = 20) -> list[Delivery]:
        query = {"term": {"org": org}} if org is not None else {"match_all": {}}
        response = self.es.search(index=self.alias["deliveries"], query=query, sort=[{"at": "desc"}], size=limit)
        return [Delivery(**d["_source"]) for d in response["hits"]["hits"]]

    def triage_history(self, hit_id: str) -> list[TriageEvent]:
        response = self.es.search(
            index=self.alias["triage"], query={"term": {"hit_id": hit_id}}, sort=[{"at": "asc"}], size=MAX_WINDOW
        )
        return [TriageEvent(**d["_source"]) for d in response["hits"]["hits"]]

    # --- reads ----------------------------------------------------------------------------

    def _with_prefix(self, kind: str, prefix: str, limit: int) -> list[str]:
        response = self.es.search(
            index=self.alias[kind], query={"prefix": {"id": prefix}}, sort=[{"id": "asc"}], size=limit,
            source=False, docvalue_fields=[{"field": "id"}],
        )  # fmt: skip
        return [d["fields"]["id"][0] for d in response["hits"]["hits"]]

    def listing_ids_with_prefix(self, prefix: str, limit: int = 2) -> list[str]:
        return self._with_prefix("listings", prefix, limit)

    def hit_ids_with_prefix(self, prefix: str, limit: int = 2) -> list[str]:
        return self._with_prefix("hits", prefix, limit)

    def _source(self, kind: str, doc_id: str) -> dict[str, Any] | None:
        try:
            source: dict[str, Any] = self.es.get(index=self.alias[kind], id=doc_id)["_source"]
        except NotFoundError:
            return None
        return source

    def get_hit(self, hit_id: str) -> Hit | None:
        source = self._source("hits", hit_id)
        return hit_from_doc(source) if source is not None else None

    def get_listing(self, listing_id: str) -> Listing | None:
        source = self._source("listings", listing_id)
        return listing_from_doc(source) if source is not None else None

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

    def count(self, query: SearchQuery) -> int:
        return int(self.es.count(index=self.alias["listings"], query=_es_query(criteria(query)))["count"])

    def search(self, query: SearchQuery) -> SearchPage:
        c = criteria(query)
        if query.offset + query.limit > MAX_WINDOW:
            raise QueryError(f"offset + limit beyond {MAX_WINDOW:,}: page deeper with the cursor (after)")
        extra: dict[str, Any] = {}
        if query.after is not None:
            extra["search_after"] = decode_cursor(query.after)
        else:
            extra["from_"] = query.offset
        try:
            response = self.es.search(
                index=self.alias["listings"], query=_es_query(c),
                sort=[{query.sort: "desc" if query.descending else "asc"}, {"tiebreak": "asc"}],
                size=query.limit, track_total_hits=True,
                aggs={name: _es_agg(name, c) for name in query.aggregations} or None,
                **extra,
            )  # fmt: skip
        except BadRequestError as exc:
            if query.after is None:
                raise
            # a cursor of another store, another sort or a hand-edited one: its values do not fit
            raise QueryError(f"not a cursor from a previous page of this search: {exc.message}") from exc
        docs = response["hits"]["hits"]
        return SearchPage(
            total=int(response["hits"]["total"]["value"]),
            listings=[listing_from_doc(d["_source"]) for d in docs],
            aggregations={name: _es_buckets(name, response["aggregations"][name]) for name in query.aggregations},
            next_after=encode_cursor(docs[-1]["sort"]) if docs and len(docs) == query.limit else None,
        )


class _Outage:
    """Backoff while the server is away or not ready: 0.5 s doubling to 10 s, for `seconds`."""

    def __init__(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds
        self.delay = 0.5

    def ongoing(self) -> bool:
        return time.monotonic() < self.deadline

    def wait(self) -> None:
        time.sleep(min(self.delay, max(0.0, self.deadline - time.monotonic())))
        self.delay = min(self.delay * 2, 10.0)


def tiebreak(listing_id: str) -> int:
    """The id's first 60 bits as a number: sorts like the id (SQLite breaks ties by id).

    A keyword tie-breaker made every sorted search read the id of each newer document: at 200k
    listings, 160 ms instead of 13 ms for newest-first (bench/index_bench.py)."""
    return int(listing_id[:15], 16)


def _event_id(event: TriageEvent) -> str:
    return sha256_hex(event.hit_id, event.status, event.at)


def _match_entry(hit: Hit, triage: str) -> dict[str, Any]:
    return {"hit_id": hit.id, "org": hit.org, "distance": hit.distance, "triage": triage}


def _phrase(p: Phrase) -> dict[str, Any]:
    text = " ".join(p.terms)
    if p.field:
        return {"match_phrase": {f"{p.field}_terms": text}}
    return {"bool": {"should": [{"match_phrase": {"title_terms": text}}, {"match_phrase": {"text_terms": text}}],
                     "minimum_should_match": 1}}  # fmt: skip


def _hit_filter(c: Criteria) -> dict[str, Any]:
    conditions: list[dict[str, Any]] = []
    if c.hit_orgs is not None:
        conditions.append({"terms": {"matches.org": list(c.hit_orgs)}})
    if c.hit_triage is not None:
        conditions.append({"terms": {"matches.triage": list(c.hit_triage)}})
    if c.max_distance is not None:
        conditions.append({"range": {"matches.distance": {"lte": c.max_distance}}})
    return {"bool": {"filter": conditions}}


def _es_query(c: Criteria) -> dict[str, Any]:
    must = [{"bool": {"should": [_phrase(p) for p in group], "minimum_should_match": 1}} for group in c.groups]
    filters: list[dict[str, Any]] = []
    must_not: list[dict[str, Any]] = []
    for name, values in c.keywords:
        filters.append({"terms": {"contacts.value" if name == "contact" else name: list(values)}})
    if c.on_hits:
        filters.append({"nested": {"path": "matches", "query": _hit_filter(c)}})
    if c.has_match is not None:
        (filters if c.has_match else must_not).append({"nested": {"path": "matches", "query": {"match_all": {}}}})
    if c.needs_review is not None:
        (filters if c.needs_review else must_not).append({"term": {"needs_review": True}})
    if c.price_min is not None or c.price_max is not None:
        bounds = {k: v for k, v in (("gte", c.price_min), ("lte", c.price_max)) if v is not None}
        filters.append({"range": {"prices.amount": bounds}})
    for field_name, op, value in c.ranges:
        filters.append({"range": {field_name: {"gte" if op == ">=" else "lt": value}}})
    return {"bool": {"must": must, "filter": filters, "must_not": must_not}}


def _es_agg(name: str, c: Criteria) -> dict[str, Any]:
    order = [{"_count": "desc"}, {"_key": "asc"}]
    if name == "day":
        return {"date_histogram": {"field": "first_seen", "calendar_interval": "day", "format": "yyyy-MM-dd",
                                   "time_zone": "UTC", "min_doc_count": 1}}  # fmt: skip
    if name == "org":  # listings per organisation, among the hits the query's hit filters allow
        return {
            "nested": {"path": "matches"},
            "aggs": {"allowed": {"filter": _hit_filter(c), "aggs": {"org": {
                "terms": {"field": "matches.org", "size": AGG_SIZE, "order": [{"listings": "desc"}, {"_key": "asc"}]},
                "aggs": {"listings": {"reverse_nested": {}}},
            }}}},
        }  # fmt: skip
    return {"terms": {"field": name, "size": AGG_SIZE, "order": order}}


def _es_buckets(name: str, agg: dict[str, Any]) -> list[tuple[str, int]]:
    if name == "day":
        return [(b["key_as_string"], int(b["doc_count"])) for b in agg["buckets"]][-AGG_SIZE:]
    if name == "org":
        return [(b["key"], int(b["listings"]["doc_count"])) for b in agg["allowed"]["org"]["buckets"]]
    return [(b["key"], int(b["doc_count"])) for b in agg["buckets"]]
