"""One contract, two stores: each test runs against SQLite and the real Elasticsearch server."""

from __future__ import annotations

import dataclasses
import threading

from indexer.es_store import ElasticsearchStore
from indexer.sqlite_store import SqliteStore
from indexer.store import SearchQuery, Store
from pipeline.models import Delivery, Organisation
from tests.factories import make_hit, make_listing

ZH = make_listing(1, title="出售口罩人脸数据 10万张", text="0.2元/张 QQ 2874561032", category="face_data_sale")
EN = make_listing(2, title="Liveness bypass tool", text="virtual camera for KYC", category="over_face_tool")
CREAM = make_listing(
    3, title="Best face cream", text="moisturizer for dry skin", category="benign", site="forum.example"
)


def ids(page) -> list[str]:  # type: ignore[no-untyped-def]
    return [listing.id for listing in page.listings]


def seed(store: Store) -> None:
    store.upsert_listings([ZH, EN, CREAM])
    store.upsert_hits([make_hit(ZH, "acme-bank", "acme-1"), make_hit(EN, "pixelpay", "pix-1")])
    store.refresh()


def test_roundtrip_keeps_every_field(store: Store) -> None:
    seed(store)
    assert store.get_listing(ZH.id) == ZH
    assert store.get_listing("0" * 64) is None
    [hit] = store.hits_for_listing(ZH.id)
    assert hit == make_hit(ZH, "acme-bank", "acme-1")


def test_reindexing_is_idempotent_and_keeps_first_seen(store: Store) -> None:
    seed(store)
    later = dataclasses.replace(ZH, last_seen="2026-11-20T00:00:00+00:00", first_seen="2026-11-20T00:00:00+00:00")
    store.upsert_listings([later])
    store.upsert_hits([make_hit(ZH, "acme-bank", "acme-1")])
    store.refresh()
    assert store.search(SearchQuery()).total == 3
    stored = store.get_listing(ZH.id)
    assert stored is not None
    assert (stored.first_seen, stored.last_seen) == (ZH.first_seen, "2026-11-20T00:00:00+00:00")
    assert len(store.hits_for_org("acme-bank")) == 1


def test_recrawl_does_not_reset_alert_state(store: Store) -> None:
    seed(store)
    [claimed] = store.claim_pending_hits("acme-bank")
    store.set_alert_state([claimed.id], "sent")
    store.upsert_hits([make_hit(ZH, "acme-bank", "acme-1")])  # the same finding, crawled again
    store.refresh()
    assert [h.alert_state for h in store.hits_for_org("acme-bank")] == ["sent"]
    assert store.claim_pending_hits("acme-bank") == []


def test_chinese_and_english_text_search(store: Store) -> None:
    seed(store)
    assert ids(store.search(SearchQuery(text="人脸"))) == [ZH.id]
    assert ids(store.search(SearchQuery(text="口罩 数据"))) == [ZH.id]
    assert ids(store.search(SearchQuery(text="LIVENESS bypass"))) == [EN.id]
    assert ids(store.search(SearchQuery(text="camera"))) == [EN.id]
    assert store.search(SearchQuery(text="人脸 camera")).total == 0  # all words must occur
    assert store.search(SearchQuery(text='"; DROP TABLE listings; --')).total == 0


def test_filters_and_aggregations(store: Store) -> None:
    seed(store)
    page = store.search(SearchQuery())
    assert page.total == 3
    assert page.by_category == {"face_data_sale": 1, "over_face_tool": 1, "benign": 1}
    assert ids(store.search(SearchQuery(category="benign"))) == [CREAM.id]
    assert ids(store.search(SearchQuery(site="forum.example"))) == [CREAM.id]
    assert ids(store.search(SearchQuery(org="acme-bank"))) == [ZH.id]
    assert sorted(ids(store.search(SearchQuery(has_match=True)))) == sorted([ZH.id, EN.id])
    assert ids(store.search(SearchQuery(has_match=False))) == [CREAM.id]


def test_pagination_is_stable(store: Store) -> None:
    listings = [make_listing(100 + i, seen=f"2026-11-{1 + i % 9:02d}T00:00:00+00:00") for i in range(25)]
    store.upsert_listings(listings)
    store.refresh()
    pages = [ids(store.search(SearchQuery(limit=10, offset=o))) for o in (0, 10, 20)]
    assert [len(p) for p in pages] == [10, 10, 5]
    assert len({i for p in pages for i in p}) == 25


def test_orgs(store: Store) -> None:
    store.upsert_org(Organisation("acme-bank", ("a@acme.example",)))
    store.upsert_org(Organisation("acme-bank", ("b@acme.example",)))
    hooked = Organisation("pixelpay", ("soc@pix.example",), max_distance=4, webhook_url="https://h.example/x",
                          webhook_secret="s")  # fmt: skip
    store.upsert_org(hooked)
    assert store.list_orgs() == [Organisation("acme-bank", ("b@acme.example",)), hooked]
    assert store.remove_org("acme-bank") is True and store.remove_org("acme-bank") is False
    assert store.list_orgs() == [hooked]


def reopen(store: Store) -> Store:
    """A second, independent store instance on the same data (another process, in effect)."""
    if isinstance(store, SqliteStore):
        return SqliteStore(store.path)
    assert isinstance(store, ElasticsearchStore)
    return ElasticsearchStore(store.es.transport.node_pool.get().base_url, prefix=store.prefix)


def test_concurrent_claimers_never_get_the_same_hit(store: Store) -> None:
    listings = [make_listing(200 + i) for i in range(30)]
    store.upsert_listings(listings)
    store.upsert_hits([make_hit(listing, "acme-bank", f"r{i}") for i, listing in enumerate(listings)])
    store.refresh()
    claimed: dict[int, list[str]] = {0: [], 1: []}
    start = threading.Barrier(2)

    def claimer(slot: int) -> None:
        instance = reopen(store)  # each dispatcher has its own connection, as separate processes would
        try:
            start.wait()
            for _ in range(100):  # bounded: losers of a race get fewer hits per round
                got = instance.claim_pending_hits("acme-bank", limit=4)
                claimed[slot] += [h.id for h in got]
                if not got and len(claimed[0]) + len(claimed[1]) >= 30:
                    break
        finally:
            instance.close()

    threads = [threading.Thread(target=claimer, args=(slot,)) for slot in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    everything = claimed[0] + claimed[1]
    assert len(everything) == len(set(everything)) == 30
    assert store.claim_pending_hits("acme-bank") == []


def test_deliveries_newest_first(store: Store) -> None:
    first = Delivery(
        "acme-bank", "<m1@x>", "email", "deferred", "TransientSendError: down", 2, "2026-11-01T00:00:00.000100+00:00"
    )
    second = dataclasses.replace(first, status="sent", detail="soc@acme.example", at="2026-11-01T00:05:00.000200+00:00")
    other = dataclasses.replace(first, org="pixelpay", at="2026-11-01T00:06:00+00:00")
    for d in (first, second, other):
        store.record_delivery(d)
    store.refresh()
    assert store.deliveries("acme-bank") == [second, first]
    assert store.deliveries(limit=1) == [other]


def test_thumbnails_by_image_sha256(store: Store) -> None:
    jpeg = b"\xff\xd8\xff\xe0 thumbnail bytes \x00\xff\xd9"
    assert store.put_thumbnails({"a" * 64: jpeg}).failed == 0
    # Written again with other bytes (another crawl's re-encode): the first one is kept.
    assert store.put_thumbnails({"a" * 64: b"other", "b" * 64: b"\x00"}).failed == 0
    assert store.get_thumbnails(["a" * 64, "b" * 64, "c" * 64]) == {"a" * 64: jpeg, "b" * 64: b"\x00"}
    assert store.get_thumbnails([]) == {}
