"""The analyst's search contract: every query feature, on SQLite and on the real Elasticsearch,
and both stores answering the same ids for the same queries on the same data."""

from __future__ import annotations

import dataclasses

import pytest

from indexer.es_store import ElasticsearchStore
from indexer.query import QueryError
from indexer.sqlite_store import SqliteStore
from indexer.store import SearchPage, SearchQuery, Store, encode_cursor
from pipeline.models import Contact, Listing, Price
from tests.factories import make_hit, make_listing


def ids(page: SearchPage) -> list[str]:
    return [listing.id for listing in page.listings]


def listing(n: int, title: str, text: str = "", **changes: object) -> Listing:
    return dataclasses.replace(make_listing(n, title=title, text=text), **changes)  # type: ignore[arg-type]


MASKS = listing(
    1, "出售口罩人脸数据 10万张", "0.2元/张 QQ 2874561032", category="face_data_sale", score=0.95,
    contacts=(Contact("qq", "2874561032"),), prices=(Price(0.2, "CNY", "per_item"),),
    first_seen="2026-11-01T08:00:00+00:00", last_seen="2026-11-05T08:00:00+00:00",
)  # fmt: skip
KYC = listing(
    2, "KYC selfie with ID packs", "selfie with id card, 20 USDT per pack, t.me/kyc_shop", category="face_data_sale",
    score=0.9, contacts=(Contact("telegram", "@kyc_shop"),), prices=(Price(20, "USDT", "per_pack"),),
    first_seen="2026-11-02T09:00:00+00:00", last_seen="2026-11-06T09:00:00+00:00", source="forum",
)  # fmt: skip
TOOL = listing(
    3, "过人脸 活体 工具", "人脸 和 数据 分开写的 说明; liveness bypass, id selfie not needed", category="over_face_tool",
    score=0.8, contacts=(Contact("wechat", "vx_tool88"),), prices=(Price(300, "CNY", "total"),),
    first_seen="2026-11-02T23:30:00+00:00", last_seen="2026-11-04T00:00:00+00:00", author="toolman",
)  # fmt: skip
CREAM = listing(
    4, "Best face cream", "moisturizer, the selfie is mine", category="benign", score=0.1, site="forum.example",
    first_seen="2026-11-03T00:00:00+00:00", last_seen="2026-11-03T00:00:00+00:00", prices=(), contacts=(),
)  # fmt: skip
ALL = [MASKS, KYC, TOOL, CREAM]


def seed(store: Store) -> None:
    store.upsert_listings(ALL)
    store.upsert_hits([
        make_hit(MASKS, "acme-bank", "acme-1", distance=2),
        make_hit(MASKS, "pixelpay", "pix-9", distance=7),
        make_hit(KYC, "pixelpay", "pix-1", distance=5),
    ])  # fmt: skip
    store.refresh()


def q(store: Store, text: str = "", **kwargs: object) -> list[str]:
    return ids(store.search(SearchQuery(text=text, limit=100, **kwargs)))  # type: ignore[arg-type]


def test_words_phrases_or_and_fields(store: Store) -> None:
    seed(store)
    assert q(store, "人脸数据") == [MASKS.id]  # adjacent bigrams: TOOL has 人脸 and 数据 apart
    assert set(q(store, "人脸 数据")) == {MASKS.id, TOOL.id}  # separate words: anywhere
    assert q(store, '"selfie with id"') == [KYC.id]
    assert set(q(store, "selfie")) == {KYC.id, TOOL.id, CREAM.id}
    assert set(q(store, "口罩 OR liveness")) == {MASKS.id, TOOL.id}
    assert set(q(store, "selfie 口罩 OR liveness")) == {TOOL.id}  # OR binds tighter than AND
    assert q(store, "title:selfie") == [KYC.id]
    assert set(q(store, "text:selfie")) == {KYC.id, TOOL.id, CREAM.id}
    assert q(store, 'text:"selfie is mine"') == [CREAM.id]
    assert q(store, "author:toolman") == [TOOL.id]
    assert q(store, "source:forum") == [KYC.id]
    assert set(q(store, "category:benign OR category:over_face_tool")) == {TOOL.id, CREAM.id}
    assert q(store, "selfie site:forum.example") == [CREAM.id]
    assert q(store, "category:benign category:tutorial") == []
    assert q(store, '"; DROP TABLE listings; --') == []


def test_bad_queries_are_errors_that_say_what_to_fix(store: Store) -> None:
    with pytest.raises(QueryError, match="OR needs a word"):
        store.search(SearchQuery(text="OR 人脸"))
    with pytest.raises(QueryError, match="category:selling is not one of"):
        store.search(SearchQuery(text="category:selling"))
    with pytest.raises(QueryError, match="not an ISO 8601"):
        store.search(SearchQuery(first_seen_from="last tuesday"))


def test_filters_on_hits_contacts_prices_and_time(store: Store) -> None:
    seed(store)
    assert q(store, org="acme-bank") == [MASKS.id]
    assert set(q(store, "org:pixelpay")) == {MASKS.id, KYC.id}
    assert set(q(store, has_match=True)) == {MASKS.id, KYC.id}
    assert set(q(store, has_match=False)) == {TOOL.id, CREAM.id}
    assert set(q(store, max_distance=5)) == {MASKS.id, KYC.id}
    assert q(store, max_distance=4) == [MASKS.id]
    # org and distance apply to the same hit: MASKS' pixelpay hit is 7 bits away
    assert q(store, org="pixelpay", max_distance=5) == [KYC.id]
    assert q(store, contact="2874561032") == [MASKS.id]
    assert q(store, "contact:@kyc_shop") == [KYC.id]
    assert q(store, price_min=10, price_max=100) == [KYC.id]
    assert set(q(store, price_max=20)) == {MASKS.id, KYC.id}
    assert set(q(store, first_seen_from="2026-11-02")) == {KYC.id, TOOL.id, CREAM.id}
    assert set(q(store, first_seen_from="2026-11-02", first_seen_to="2026-11-03")) == {KYC.id, TOOL.id}
    # a time with an offset is the same instant in UTC: 2026-11-03T07:00+08:00 = 2026-11-02T23:00Z
    assert q(store, first_seen_from="2026-11-03T07:00:00+08:00", first_seen_to="2026-11-03") == [TOOL.id]
    assert q(store, last_seen_to="2026-11-04") == [CREAM.id]


def test_listings_the_classifier_was_unsure_of(store: Store) -> None:
    unsure = dataclasses.replace(TOOL, needs_review=True)
    store.upsert_listings([MASKS, unsure, CREAM])
    store.refresh()
    assert q(store, needs_review=True) == [TOOL.id]
    assert set(q(store, needs_review=False)) == {MASKS.id, CREAM.id}
    store.upsert_listings([dataclasses.replace(unsure, needs_review=False)])  # reclassified
    store.refresh()
    assert q(store, needs_review=True) == []


def test_sorts_and_deep_pages_with_a_cursor(store: Store) -> None:
    many = [
        make_listing(100 + i, seen=f"2026-10-{1 + i % 20:02d}T00:00:00+00:00", title=f"pack {i}") for i in range(60)
    ]
    store.upsert_listings(many)
    store.refresh()
    # newest first, ties (several listings share a time) by id: two stable sorts
    expected = [m.id for m in sorted(sorted(many, key=lambda m: m.id), key=lambda m: m.last_seen, reverse=True)]
    assert len({m.last_seen for m in many}) < 60  # there are ties for the cursor to get right
    seen: list[str] = []
    after = None
    for _ in range(20):
        page = store.search(SearchQuery(limit=7, after=after))
        seen += ids(page)
        after = page.next_after
        if after is None:
            break
    assert seen == expected
    by_offset = [i for o in range(0, 60, 25) for i in ids(store.search(SearchQuery(limit=25, offset=o)))]
    assert by_offset == expected
    oldest = ids(store.search(SearchQuery(sort="first_seen", descending=False, limit=3)))
    assert oldest == [m.id for m in sorted(many, key=lambda m: (m.first_seen, m.id))][:3]


def test_sort_by_score_with_cursor(store: Store) -> None:
    seed(store)
    first = store.search(SearchQuery(sort="score", limit=2))
    second = store.search(SearchQuery(sort="score", limit=2, after=first.next_after))
    assert ids(first) + ids(second) == [MASKS.id, KYC.id, TOOL.id, CREAM.id]
    assert second.total == 4


def test_aggregations(store: Store) -> None:
    seed(store)
    page = store.search(SearchQuery(limit=0, aggregations=("category", "site", "org", "day")))
    assert page.total == 4
    assert page.aggregations["category"] == [("face_data_sale", 2), ("benign", 1), ("over_face_tool", 1)]
    assert page.aggregations["site"] == [("market.example", 3), ("forum.example", 1)]
    assert page.aggregations["org"] == [("pixelpay", 2), ("acme-bank", 1)]
    assert page.aggregations["day"] == [("2026-11-01", 1), ("2026-11-02", 2), ("2026-11-03", 1)]
    narrowed = store.search(SearchQuery(max_distance=5, aggregations=("org",)))
    assert narrowed.aggregations["org"] == [("acme-bank", 1), ("pixelpay", 1)]  # MASKS' pixelpay hit is too far
    assert store.search(SearchQuery(text="selfie")).by_category == {"face_data_sale": 1, "over_face_tool": 1,
                                                                   "benign": 1}  # fmt: skip


def test_triage_is_kept_as_history_and_filters(store: Store) -> None:
    seed(store)
    hit = make_hit(MASKS, "acme-bank", "acme-1", distance=2)
    [first] = store.triage([hit.id], "confirmed", note="seller matches our case 17", who="ana")
    store.triage([hit.id, "0" * 64], "resolved", note="takedown done", who="bo")  # unknown ids are skipped
    history = store.triage_history(hit.id)
    assert [(e.status, e.note, e.who) for e in history] == [
        ("confirmed", "seller matches our case 17", "ana"),
        ("resolved", "takedown done", "bo"),
    ]
    assert history[0] == first
    assert store.triage_history("0" * 64) == []
    stored = store.get_hit(hit.id)
    assert stored is not None and stored.triage == "resolved"
    assert stored.alert_state == "pending"  # triage does not touch alert delivery
    assert q(store, triage="resolved") == [MASKS.id]
    assert set(q(store, "triage:new")) == {MASKS.id, KYC.id}  # MASKS' pixelpay hit is still new
    assert q(store, "triage:resolved org:pixelpay") == []  # both on the same hit


def test_id_prefixes(store: Store) -> None:
    seed(store)
    assert store.listing_ids_with_prefix(MASKS.id[:12]) == [MASKS.id]
    assert store.listing_ids_with_prefix("zz") == []
    assert len(store.listing_ids_with_prefix("", limit=3)) == 3
    hit = make_hit(KYC, "pixelpay", "pix-1", distance=5)
    assert store.hit_ids_with_prefix(hit.id[:10]) == [hit.id]


QUERIES = [
    SearchQuery(),
    SearchQuery(text="人脸"),
    SearchQuery(text="selfie OR 活体", sort="score"),
    SearchQuery(text='"selfie with"', descending=False),
    SearchQuery(org="pixelpay", sort="first_seen"),
    SearchQuery(has_match=False),
    SearchQuery(price_max=50, contact="2874561032"),
    SearchQuery(first_seen_from="2026-11-02", last_seen_to="2026-11-07"),
    SearchQuery(text="category:face_data_sale", max_distance=6, limit=1),
    SearchQuery(limit=3, offset=1, aggregations=("category", "site", "org", "day")),
]


def test_both_stores_answer_the_same(sqlite_store: SqliteStore, es_store: ElasticsearchStore) -> None:
    for store in (sqlite_store, es_store):
        seed(store)
    for query in QUERIES:
        a, b = sqlite_store.search(query), es_store.search(query)
        assert (ids(a), a.total, a.aggregations) == (ids(b), b.total, b.aggregations), query
        assert sqlite_store.count(query) == es_store.count(query) == a.total, query
        if a.next_after:  # each store's cursor leads to the same next page
            after_a = ids(sqlite_store.search(dataclasses.replace(query, after=a.next_after, offset=0)))
            after_b = ids(es_store.search(dataclasses.replace(query, after=b.next_after, offset=0)))
            assert after_a == after_b, query


@pytest.mark.parametrize(
    "cursor",
    ["garbage!", encode_cursor([1, 2, 3]), encode_cursor([["nested"], "x"]), "W3siYSI6IDF9LCAiYiJd"],
    ids=["not-base64-json", "three-values", "nested", "object"],
)
def test_a_bad_cursor_is_a_clear_error(store: Store, cursor: str) -> None:
    seed(store)
    with pytest.raises(ValueError, match="not a cursor from a previous page"):
        store.search(SearchQuery(after=cursor))


def test_a_cursor_that_does_not_fit_the_sort_is_a_query_error(es_store: ElasticsearchStore) -> None:
    seed(es_store)
    with pytest.raises(QueryError, match="not a cursor from a previous page"):
        es_store.search(SearchQuery(after=encode_cursor(["yesterday", "someone"])))  # dates and a number expected
