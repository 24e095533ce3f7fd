"""The Store protocol: one contract, an embedded SQLite default and Elasticsearch for scale."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol

from pipeline.models import Category, Hit, Listing, Organisation

# A hit left in `sending` by a dispatcher that died is claimable again after this long.
CLAIM_LEASE = timedelta(minutes=10)


@dataclass(frozen=True)
class SearchQuery:
    text: str = ""  # all words must occur (CJK matched by bigrams)
    category: Category | None = None
    site: str | None = None
    org: str | None = None  # listings with a hit for this organisation
    has_match: bool | None = None
    limit: int = 20
    offset: int = 0


@dataclass(frozen=True)
class SearchPage:
    total: int
    listings: list[Listing]
    by_category: dict[str, int] = field(default_factory=dict)


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

    def hits_for_listing(self, listing_id: str) -> list[Hit]: ...

    def hits_for_org(self, org: str) -> list[Hit]: ...

    def search(self, query: SearchQuery) -> SearchPage: ...

    def upsert_org(self, org: Organisation) -> None: ...

    def list_orgs(self) -> list[Organisation]: ...

    def claim_pending_hits(self, org: str, limit: int = 500) -> list[Hit]:
        """Atomically move pending hits of `org` to `sending` and return them; concurrent
        claimers never receive the same hit."""
        ...

    def set_alert_state(self, hit_ids: Iterable[str], state: str) -> None: ...

    def refresh(self) -> None:
        """Make all writes visible to search (a no-op where they already are)."""
        ...

    def close(self) -> None: ...
