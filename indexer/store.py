"""The Store protocol: one contract, an embedded SQLite default and Elasticsearch for scale."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from pipeline.models import Category, Delivery, Hit, Listing, Organisation, Triage

# A hit left in `sending` by a dispatcher that died is claimable again after this long.
CLAIM_LEASE = timedelta(minutes=10)


SORTS = ("last_seen", "first_seen", "score")
AGGREGATIONS = ("category", "site", "org", "day")
AGG_SIZE = 50  # buckets per aggregation (largest first; days: the most recent)


@dataclass(frozen=True)
class SearchQuery:
    """What an analyst asks. Every filter narrows (AND); `text` is the query language of
    indexer/query.py, whose field:value filters add to the ones here."""

    text: str = ""
    category: Category | None = None
    site: str | None = None
    source: str | None = None
    org: str | None = None  # listings with a hit for this organisation
    has_match: bool | None = None
    needs_review: bool | None = None  # the classifier was unsure of the category: an analyst should look
    max_distance: int | None = None  # listings with a hit at most this many pHash bits away
    triage: Triage | None = None  # listings with a hit in this triage state
    contact: str | None = None  # a seller contact, exactly as normalised (QQ number, handle, ...)
    price_min: float | None = None  # some price of the listing within [min, max], any currency
    price_max: float | None = None
    first_seen_from: str | None = None  # ISO 8601; "from" inclusive, "to" exclusive
    first_seen_to: str | None = None
    last_seen_from: str | None = None
    last_seen_to: str | None = None
    sort: str = "last_seen"  # one of SORTS; ties broken by id
    descending: bool = True
    limit: int = 20
    offset: int = 0
    after: str | None = None  # the `next_after` cursor of the previous page (deep pages)
    aggregations: tuple[str, ...] = ("category",)

    def __post_init__(self) -> None:
        if self.sort not in SORTS:
            raise ValueError(f"sort must be one of {', '.join(SORTS)}, got {self.sort!r}")
        unknown = set(self.aggregations) - set(AGGREGATIONS)
        if unknown:
            raise ValueError(f"aggregations must be among {', '.join(AGGREGATIONS)}, got {sorted(unknown)}")
        if self.limit < 0 or self.offset < 0:
            raise ValueError("limit and offset must be >= 0")
        if self.after is not None and self.offset:
            raise ValueError("use either offset or after, not both")


@dataclass(frozen=True)
class SearchPage:
    total: int
    listings: list[Listing]
    # name -> [(key, listings)], largest first (day: by date)
    aggregations: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    next_after: str | None = None  # pass as `after` for the page behind this one

    @property
    def by_category(self) -> dict[str, int]:
        return dict(self.aggregations.get("category", []))


@dataclass(frozen=True)
class TriageEvent:
    hit_id: str
    status: Triage
    note: str
    who: str
    at: str  # ISO 8601 UTC


def iso_utc(value: str) -> str:
    """A date or datetime from a user or a record as `YYYY-MM-DDTHH:MM:SS+00:00`, the one form
    both stores compare correctly (SQLite compares these as text)."""
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"not an ISO 8601 date or time: {value!r} (e.g. 2026-11-01 or 2026-11-01T08:00:00Z)") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).isoformat(timespec="seconds")


_CANONICAL_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00")


def sortable_time(value: str) -> str:
    """A record's time in the form `iso_utc` gives, for sorting and comparing; a time that is
    not ISO 8601 is kept as it is rather than rejected (it came from a page, not a user)."""
    if _CANONICAL_TIME.fullmatch(value):  # what bioleak itself writes: nothing to convert
        return value
    try:
        return iso_utc(value)
    except ValueError:
        return value


def encode_cursor(values: Sequence[object]) -> str:
    """An opaque, URL-safe cursor from a store's own sort values."""
    return base64.urlsafe_b64encode(json.dumps(list(values), separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"not a cursor from a previous page: {cursor[:40]!r}") from exc
    if not (isinstance(values, list) and len(values) == 2 and all(isinstance(v, str | int | float) for v in values)):
        raise ValueError(f"not a cursor from a previous page: {cursor[:40]!r}")
    return list(values)


@dataclass(frozen=True)
class WriteResult:
    written: int
    failed: int = 0
    errors: tuple[str, ...] = ()


class Store(Protocol):
    def upsert_listings(self, listings: Sequence[Listing]) -> WriteResult:
        """Insert or update by id; `first_seen` of an existing listing is kept."""
        ...

    def upsert_hits(self, hits: Sequence[Hit]) -> WriteResult:
        """Insert new hits; an existing hit keeps its alert state, triage and found_at."""
        ...

    def get_listing(self, listing_id: str) -> Listing | None: ...

    def listing_ids_with_prefix(self, prefix: str, limit: int = 2) -> list[str]:
        """Ids starting with `prefix` (what `search` prints), sorted; `limit` bounds the answer."""
        ...

    def get_hit(self, hit_id: str) -> Hit | None: ...

    def hit_ids_with_prefix(self, prefix: str, limit: int = 2) -> list[str]: ...

    def hits_for_listing(self, listing_id: str) -> list[Hit]: ...

    def hits_for_org(self, org: str) -> list[Hit]: ...

    def search(self, query: SearchQuery) -> SearchPage: ...

    def count(self, query: SearchQuery) -> int:
        """How many listings `search` would find, without fetching any."""
        ...

    def upsert_org(self, org: Organisation) -> None: ...

    def list_orgs(self) -> list[Organisation]: ...

    def remove_org(self, name: str) -> bool:
        """Forget an organisation (its hits and their history stay as evidence); False if unknown."""
        ...

    def claim_pending_hits(self, org: str, limit: int = 500, lease: timedelta = CLAIM_LEASE) -> list[Hit]:
        """Atomically move pending hits of `org` to `sending` and return them; concurrent
        claimers never receive the same hit. Hits left in `sending` longer than `lease` (their
        dispatcher died between claiming and marking) are claimable again."""
        ...

    def set_alert_state(self, hit_ids: Iterable[str], state: str) -> None: ...

    def triage(self, hit_ids: Sequence[str], status: Triage, *, note: str = "", who: str = "") -> list[TriageEvent]:
        """Set the triage state of hits and record one event per hit; unknown ids are skipped."""
        ...

    def triage_history(self, hit_id: str) -> list[TriageEvent]:
        """Every triage event of a hit, oldest first."""
        ...

    def put_thumbnails(self, thumbnails: Mapping[str, bytes]) -> WriteResult:
        """Keep small JPEG thumbnails of matched images, by image sha256 (evidence for analysts
        and opt-in alert attachments); writing one again changes nothing."""
        ...

    def get_thumbnails(self, image_sha256s: Sequence[str]) -> dict[str, bytes]:
        """The kept thumbnails among these images, by sha256."""
        ...

    def record_delivery(self, delivery: Delivery) -> None: ...

    def deliveries(self, org: str | None = None, limit: int = 20) -> list[Delivery]:
        """The most recent delivery attempts, newest first."""
        ...

    def refresh(self) -> None:
        """Make all writes visible to search (a no-op where they already are)."""
        ...

    def close(self) -> None: ...
