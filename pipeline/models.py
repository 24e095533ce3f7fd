"""Records that cross package boundaries. Frozen, plain data; hashes are lowercase hex strings."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Literal

Category = Literal["face_data_sale", "over_face_tool", "tutorial", "benign"]
CATEGORIES: tuple[Category, ...] = ("face_data_sale", "over_face_tool", "tutorial", "benign")
AlertState = Literal["pending", "sending", "sent", "suppressed"]
Triage = Literal["new", "confirmed", "false_positive", "resolved"]
TRIAGE_STATES: tuple[Triage, ...] = ("new", "confirmed", "false_positive", "resolved")
# What a source is about, if its operator knows (sources.yaml `topic:`): a prior for the classifier.
TOPICS = ("face_data", "tools", "tutorials", "general")
Region = Literal["whole", "mirror", "tile", "face"]
Box = tuple[int, int, int, int]  # left, top, right, bottom in original-image pixels


def sha256_hex(*parts: str) -> str:
    """Deterministic id from parts; the separator keeps ("ab", "c") and ("a", "bc") apart."""
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


def listing_id(canonical_url: str) -> str:
    return sha256_hex(canonical_url)


@dataclass(frozen=True)
class Price:
    amount: float
    currency: str  # ISO 4217 (CNY, USD, EUR, GBP, RUB, TWD, HKD, JPY) or USDT, BTC, ETH
    unit: str  # per_item, per_set, per_lot, per_month, per_other, total


@dataclass(frozen=True)
class Quantity:
    value: float
    unit: str  # photo, set, person, video, model, record, account, GB, item


@dataclass(frozen=True)
class Contact:
    kind: str  # qq, wechat, telegram, email, url
    value: str


@dataclass(frozen=True)
class Listing:
    id: str
    source: str
    url: str
    site: str
    title: str
    text: str
    category: Category
    score: float
    first_seen: str  # ISO 8601 UTC
    last_seen: str
    content_sha256: str
    lang: str = ""
    evidence: tuple[str, ...] = ()
    prices: tuple[Price, ...] = ()
    quantity: int | None = None  # the largest of `quantities`
    contacts: tuple[Contact, ...] = ()
    image_urls: tuple[str, ...] = ()
    author: str = ""  # seller or poster, as the page names them
    posted_at: str = ""  # as the page states it (often not ISO 8601)
    tool_links: tuple[str, ...] = ()  # downloadable tools linked from the listing
    quantities: tuple[Quantity, ...] = ()
    # The classifier was unsure (close call between categories, or little evidence): an analyst
    # should look, whatever the category says.
    needs_review: bool = False


@dataclass(frozen=True)
class RegionHash:
    region: Region
    phash: str
    dhash: str
    box: Box | None = None  # for tiles and faces


@dataclass(frozen=True)
class ImageHashes:
    """Perceptual hashes of one decoded image; the image itself is not kept."""

    sha256: str
    width: int
    height: int
    regions: tuple[RegionHash, ...]


@dataclass(frozen=True)
class RegistryEntry:
    org: str
    ref: str  # the organisation's own id for the protected image
    phash: str
    dhash: str
    kind: str = "whole"  # whole | face | tile
    added_at: str = ""
    # An augmented copy of the original (e.g. "crop10-tl"), enrolled so crops still match with
    # one lookup; "" for the original itself.
    variant: str = ""

    @property
    def id(self) -> str:
        return sha256_hex(self.org, self.ref, self.kind, self.variant, self.phash, self.dhash)


@dataclass(frozen=True)
class Match:
    """A registry entry within radius of one region of a query image."""

    entry_id: str
    org: str
    ref: str
    region: Region
    distance: int  # pHash Hamming distance in bits
    dhash_distance: int
    box: Box | None = None
    variant: str = ""


@dataclass(frozen=True)
class Hit:
    id: str
    org: str
    registry_ref: str
    registry_entry_id: str
    algorithm: str
    distance: int
    dhash_distance: int
    region: Region
    image_url: str
    image_sha256: str
    listing_id: str
    found_at: str
    alert_state: AlertState = "pending"
    triage: Triage = "new"

    @staticmethod
    def make_id(listing_id: str, image_sha256: str, registry_entry_id: str) -> str:
        # Deterministic so a re-crawl updates the same hit instead of adding a duplicate.
        return sha256_hex(listing_id, image_sha256, registry_entry_id)


@dataclass(frozen=True)
class Organisation:
    name: str
    emails: tuple[str, ...] = field(default_factory=tuple)
    max_distance: int | None = None  # alert only matches at most this many pHash bits away
    webhook_url: str = ""  # also POST each alert here as signed JSON
    webhook_secret: str = ""  # HMAC-SHA256 key shared with the receiver
    digest: str = "instant"  # instant | hourly | daily: at most one alert per window


@dataclass(frozen=True)
class Delivery:
    """One attempt to deliver an alert through one channel, kept for `bioleak alerts status`."""

    org: str
    message_id: str
    channel: str  # email | webhook
    status: str  # sent | deferred (transient: retried next run) | failed (permanent)
    detail: str  # the server's answer, or which recipients were refused
    hits: int
    at: str  # ISO 8601 UTC
