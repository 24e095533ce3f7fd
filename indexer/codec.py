"""Records <-> plain JSON documents, shared by both stores so they cannot drift apart."""

from __future__ import annotations

import dataclasses
from typing import Any

from pipeline.models import Contact, Hit, Listing, Organisation, Price, Quantity

_LISTING_FIELDS = tuple(f.name for f in dataclasses.fields(Listing))
_HIT_FIELDS = tuple(f.name for f in dataclasses.fields(Hit))


def listing_to_doc(listing: Listing) -> dict[str, Any]:
    # What dataclasses.asdict gives, written out: asdict's deep copy was half of indexing time.
    doc = {name: getattr(listing, name) for name in _LISTING_FIELDS}
    doc["prices"] = [{"amount": p.amount, "currency": p.currency, "unit": p.unit} for p in listing.prices]
    doc["contacts"] = [{"kind": c.kind, "value": c.value} for c in listing.contacts]
    doc["quantities"] = [{"value": q.value, "unit": q.unit} for q in listing.quantities]
    for name in ("evidence", "image_urls", "tool_links"):
        doc[name] = list(doc[name])
    return doc


def listing_from_doc(doc: dict[str, Any]) -> Listing:
    known = {f.name for f in dataclasses.fields(Listing)}
    fields = {k: v for k, v in doc.items() if k in known}
    fields["prices"] = tuple(Price(**p) for p in doc.get("prices") or ())
    fields["contacts"] = tuple(Contact(**c) for c in doc.get("contacts") or ())
    fields["quantities"] = tuple(Quantity(**q) for q in doc.get("quantities") or ())
    fields["image_urls"] = tuple(doc.get("image_urls") or ())
    fields["evidence"] = tuple(doc.get("evidence") or ())
    fields["tool_links"] = tuple(doc.get("tool_links") or ())
    return Listing(**fields)


def hit_to_doc(hit: Hit) -> dict[str, Any]:
    return {name: getattr(hit, name) for name in _HIT_FIELDS}


def hit_from_doc(doc: dict[str, Any]) -> Hit:
    known = {f.name for f in dataclasses.fields(Hit)}
    return Hit(**{k: v for k, v in doc.items() if k in known})


def org_to_doc(org: Organisation) -> dict[str, Any]:
    return {
        "name": org.name, "emails": list(org.emails), "max_distance": org.max_distance,
        "webhook_url": org.webhook_url, "webhook_secret": org.webhook_secret, "digest": org.digest,
    }  # fmt: skip


def org_from_doc(doc: dict[str, Any]) -> Organisation:
    return Organisation(
        name=doc["name"], emails=tuple(doc.get("emails") or ()), max_distance=doc.get("max_distance"),
        webhook_url=doc.get("webhook_url") or "", webhook_secret=doc.get("webhook_secret") or "",
        digest=doc.get("digest") or "instant",
    )  # fmt: skip
