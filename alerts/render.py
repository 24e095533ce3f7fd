"""Alert messages in plain text and HTML. Every scraped string is escaped in the HTML part."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from html import escape
from typing import Any

from pipeline.models import Hit, Listing, Organisation


@dataclass(frozen=True)
class AlertItem:
    hit: Hit
    listing: Listing | None
    thumbnail: bytes | None = None  # JPEG of the matched image, only when attachments were asked for


def thumbnail_name(hit: Hit) -> str:
    return f"evidence-{hit.image_sha256[:16]}.jpg"


def message_id(org: str, hit_ids: list[str], domain: str) -> str:
    # Stable for the same set of hits: a resend after a crash carries the same Message-ID,
    # so receivers can drop the duplicate.
    digest = hashlib.sha256("\n".join([org, *sorted(hit_ids)]).encode()).hexdigest()[:32]
    return f"<{digest}@{domain}>"


def _listing_lines(item: AlertItem) -> list[str]:
    h, listing = item.hit, item.listing
    lines = [
        f"Your ref: {h.registry_ref}  (match: {h.region}, pHash distance {h.distance}/64, dHash {h.dhash_distance}/64)",
        f"Image: {h.image_url}",
        f"Evidence id: {h.id}",
    ]
    if item.thumbnail is not None:
        lines.append(f"Attached: {thumbnail_name(h)}")
    if listing is not None:
        lines[:0] = [
            f"Listing: {listing.title}",
            f"URL: {listing.url}",
            f"Site: {listing.site}   Category: {listing.category}   First seen: {listing.first_seen}",
        ]
        if listing.prices:
            lines.append("Prices: " + ", ".join(f"{p.amount:g} {p.currency} ({p.unit})" for p in listing.prices))
        if listing.quantity:
            lines.append(f"Quantity offered: {listing.quantity}")
        if listing.contacts:
            lines.append("Seller contacts: " + ", ".join(f"{c.kind}:{c.value}" for c in listing.contacts))
    return lines


def _attachments(items: list[AlertItem]) -> dict[str, bytes]:
    """File name -> JPEG, one per matched image (several hits can share one image)."""
    return {thumbnail_name(i.hit): i.thumbnail for i in items if i.thumbnail is not None}


def render(org: Organisation, items: list[AlertItem], *, sender: str, domain: str) -> EmailMessage:
    listings = {i.hit.listing_id for i in items}
    attachments = _attachments(items)
    subject = f"[bioleak] {len(items)} protected image(s) of {org.name} found on {len(listings)} listing(s)"
    blocks = ["\n".join(_listing_lines(i)) for i in items]
    attached = (
        f"Thumbnails of {len(attachments)} matched image(s) are attached." if attachments
        else "No leaked image is attached."
    )  # fmt: skip
    text = (
        f"bioleak found images enrolled by {org.name} offered on black-market listings.\n"
        f"{attached} Evidence ids identify each finding in bioleak.\n\n" + "\n\n".join(blocks) + "\n"
    )
    html_blocks = "".join("<li><pre>" + escape("\n".join(_listing_lines(i))) + "</pre></li>" for i in items)
    html = (
        "<html><body>"
        f"<p>bioleak found images enrolled by <b>{escape(org.name)}</b> offered on black-market listings."
        f" {escape(attached)}</p>"
        f"<ol>{html_blocks}</ol></body></html>"
    )
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = sender
    msg["To"] = ", ".join(org.emails)
    msg["Date"] = formatdate(usegmt=True)
    msg["Message-ID"] = message_id(org.name, [i.hit.id for i in items], domain)
    msg["X-Bioleak-Org"] = org.name
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    for name, jpeg in sorted(attachments.items()):
        msg.add_attachment(jpeg, maintype="image", subtype="jpeg", filename=name)
    return msg


def payload(org: Organisation, items: list[AlertItem], delivery_id: str) -> dict[str, Any]:
    """The webhook body: the same facts as the email, as data (the receiver escapes on display)."""
    findings = []
    for item in items:
        h, listing = item.hit, item.listing
        finding: dict[str, Any] = {
            "evidence_id": h.id, "ref": h.registry_ref, "region": h.region, "phash_distance": h.distance,
            "dhash_distance": h.dhash_distance, "image_url": h.image_url, "image_sha256": h.image_sha256,
            "found_at": h.found_at, "listing_id": h.listing_id,
        }  # fmt: skip
        if item.thumbnail is not None:
            finding["thumbnail_jpeg_base64"] = base64.b64encode(item.thumbnail).decode("ascii")
        if listing is not None:
            finding["listing"] = {
                "url": listing.url, "site": listing.site, "title": listing.title, "category": listing.category,
                "first_seen": listing.first_seen, "quantity": listing.quantity,
                "prices": [dataclasses.asdict(p) for p in listing.prices],
                "contacts": [dataclasses.asdict(c) for c in listing.contacts],
            }  # fmt: skip
        findings.append(finding)
    return {"org": org.name, "delivery_id": delivery_id, "findings": findings}
