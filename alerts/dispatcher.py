"""Claim pending hits per organisation, render one message each, deliver, then mark them sent.

Delivery is at-least-once: hits are claimed before sending and marked sent after, so a crash
in between means at most one resend, with the same Message-ID.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

from alerts.render import AlertItem, payload, render
from alerts.smtp import TransientSendError
from alerts.webhook import WebhookSender
from indexer.store import CLAIM_LEASE, Store
from pipeline.models import Delivery, Hit, Organisation

log = logging.getLogger(__name__)

DIGESTS = {"instant": timedelta(0), "hourly": timedelta(hours=1), "daily": timedelta(days=1)}
BACKOFF_START = timedelta(minutes=1)
BACKOFF_CAP = timedelta(hours=1)
BACKOFF_STEPS = 8  # 1, 2, 4 ... 60 minutes: enough history to reach the cap


@dataclass
class DispatchReport:
    sent: dict[str, int] = field(default_factory=dict)  # org -> messages sent
    hits: dict[str, int] = field(default_factory=dict)  # org -> hits covered
    deferred: dict[str, str] = field(default_factory=dict)  # org -> why it stays pending
    suppressed: dict[str, int] = field(default_factory=dict)  # org -> hits not alerted (see _split)
    waiting: dict[str, str] = field(default_factory=dict)  # org -> why it is not due yet (digest, backoff)


class Outbox:
    """Keeps a copy of every message as an .eml file: an audit trail, and delivery without SMTP."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)

    def save(self, message: EmailMessage) -> Path:
        name = str(message["Message-ID"]).strip("<>").split("@")[0]
        path = self.directory / f"{message['X-Bioleak-Org']}-{name}.eml"
        path.write_bytes(bytes(message))
        return path


class Dispatcher:
    def __init__(
        self,
        store: Store,
        *,
        outbox: Outbox,
        send: Callable[[EmailMessage], dict[str, str] | None] | None,
        sender: str = "bioleak@localhost",
        domain: str = "bioleak.local",
        batch: int = 500,
        lease: timedelta = CLAIM_LEASE,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        attach_thumbnails: bool = False,
    ) -> None:
        # Opt-in: by default no leaked face leaves bioleak, only the facts about it.
        self.attach_thumbnails = attach_thumbnails
        self.clock = clock
        self.batch = batch  # hits claimed per organisation per run
        self.lease = lease  # after this long a claim whose dispatcher died is taken over
        self.store = store
        self.outbox = outbox
        self.send = send
        self.sender = sender
        self.domain = domain

    def _split(self, organisation: Organisation, hits: list[Hit]) -> tuple[list[Hit], list[Hit]]:
        """(to alert, to suppress). Not alerted: hits an analyst judged false positives, hits
        farther than the organisation asked for, and hits of an image the organisation was
        already told about on the same listing (a re-crawl against a changed registry can match
        it through another entry, which is another hit)."""
        limit = organisation.max_distance
        keep: list[Hit] = []
        drop: list[Hit] = []
        told: dict[str, set[str]] = {}
        for h in hits:
            if h.listing_id not in told:
                told[h.listing_id] = {
                    other.image_sha256
                    for other in self.store.hits_for_listing(h.listing_id)
                    if other.org == organisation.name and other.alert_state == "sent"
                }
            unwanted = h.triage == "false_positive" or (limit is not None and h.distance > limit)
            (drop if unwanted or h.image_sha256 in told[h.listing_id] else keep).append(h)
        return keep, drop

    def _suppress(self, organisation: Organisation, hits: list[Hit], report: DispatchReport) -> list[Hit]:
        keep, drop = self._split(organisation, hits)
        if drop:
            org = organisation.name
            self.store.set_alert_state([h.id for h in drop], "suppressed")
            report.suppressed[org] = report.suppressed.get(org, 0) + len(drop)
            log.info("alert for %s: %d hit(s) suppressed (false positive, too far or already alerted)", org, len(drop))
        return keep

    def _not_before(self, org: Organisation) -> str | None:
        """Why this organisation is not due yet: its digest window since the last alert, or the
        backoff after consecutive failed attempts (doubling from BACKOFF_START to BACKOFF_CAP).
        Read from the delivery log in the store, so every dispatcher sees the same schedule."""
        history = self.store.deliveries(org.name, limit=BACKOFF_STEPS + 1)
        now = self.clock()
        failures = 0
        for d in history:
            if d.status == "sent":
                window = DIGESTS.get(org.digest, timedelta(0))
                due = datetime.fromisoformat(d.at) + window
                if failures == 0 and now < due:
                    return f"{org.digest} digest: next alert from {due.isoformat(timespec='seconds')}"
                break
            failures += 1
        if failures:
            delay = min(BACKOFF_CAP, BACKOFF_START * 2 ** (failures - 1))
            due = datetime.fromisoformat(history[0].at) + delay
            if now < due:
                return f"{failures} failed attempt(s): retrying from {due.isoformat(timespec='seconds')}"
        return None

    def _record(self, org: str, message_id: str, channel: str, status: str, detail: str, hits: list[Hit]) -> None:
        at = self.clock().isoformat(timespec="microseconds")
        self.store.record_delivery(Delivery(org, message_id, channel, status, detail[:500], len(hits), at))

    def preview(self, organisation: Organisation) -> EmailMessage | None:
        """The message the next run would send this organisation, without claiming or sending."""
        pending = [h for h in self.store.hits_for_org(organisation.name) if h.alert_state == "pending"]
        keep, _ = self._split(organisation, pending)
        return self._message(organisation, keep)[1] if keep else None

    def _message(self, org: Organisation, hits: list[Hit]) -> tuple[list[AlertItem], EmailMessage]:
        thumbnails = self.store.get_thumbnails(sorted({h.image_sha256 for h in hits})) if self.attach_thumbnails else {}
        items = [AlertItem(h, self.store.get_listing(h.listing_id), thumbnails.get(h.image_sha256)) for h in hits]
        return items, render(org, items, sender=self.sender, domain=self.domain)

    def run_once(self) -> DispatchReport:
        report = DispatchReport()
        for org in self.store.list_orgs():
            if not org.emails and not org.webhook_url:
                continue
            wait = self._not_before(org)
            if wait is not None:
                report.waiting[org.name] = wait
                continue
            hits = self._suppress(org, self.store.claim_pending_hits(org.name, self.batch, self.lease), report)
            if not hits:
                continue
            items, message = self._message(org, hits)
            message_id = str(message["Message-ID"])
            channel = "email"
            try:
                # Every channel, or the hits stay pending: a retry may repeat a channel that had
                # succeeded, with the same Message-ID / delivery id for the receiver to drop.
                if org.emails:
                    self.outbox.save(message)
                    if self.send is not None:
                        refused = self.send(message) or {}
                        for address, answer in refused.items():  # the others did get it
                            self._record(org.name, message_id, "email", "failed", f"{address}: {answer}", hits)
                        self._record(org.name, message_id, "email", "sent", ", ".join(org.emails), hits)
                if org.webhook_url:
                    channel = "webhook"
                    delivery = message_id.strip("<>")
                    WebhookSender(org.webhook_url, org.webhook_secret).send(payload(org, items, delivery), delivery)
                    self._record(org.name, message_id, "webhook", "sent", org.webhook_url, hits)
            except Exception as exc:  # one organisation's failure must not stop the others
                transient = isinstance(exc, TransientSendError)
                log.log(logging.WARNING if transient else logging.ERROR, "alert for %s deferred: %s", org.name, exc)
                self.store.set_alert_state([h.id for h in hits], "pending")
                status = "deferred" if transient else "failed"
                self._record(org.name, message_id, channel, status, f"{type(exc).__name__}: {exc}", hits)
                report.deferred[org.name] = f"{type(exc).__name__}: {exc}"
                continue
            self.store.set_alert_state([h.id for h in hits], "sent")
            report.sent[org.name] = report.sent.get(org.name, 0) + 1
            report.hits[org.name] = report.hits.get(org.name, 0) + len(hits)
            log.info("alert for %s: %d hit(s), %s", org.name, len(hits), message_id)
        return report
