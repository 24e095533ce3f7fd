"""Claim pending hits per organisation, render one message each, deliver, then mark them sent.

Delivery is at-least-once: hits are claimed before sending and marked sent after, so a crash
in between means at most one resend, with the same Message-ID.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

from alerts.render import AlertItem, render
from alerts.smtp import TransientSendError
from indexer.store import Store

log = logging.getLogger(__name__)


@dataclass
class DispatchReport:
    sent: dict[str, int] = field(default_factory=dict)  # org -> messages sent
    hits: dict[str, int] = field(default_factory=dict)  # org -> hits covered
    deferred: dict[str, str] = field(default_factory=dict)  # org -> why it stays pending


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
        send: Callable[[EmailMessage], None] | None,
        sender: str = "bioleak@localhost",
        domain: str = "bioleak.local",
    ) -> None:
        self.store = store
        self.outbox = outbox
        self.send = send
        self.sender = sender
        self.domain = domain

    def run_once(self) -> DispatchReport:
        report = DispatchReport()
        for org in self.store.list_orgs():
            if not org.emails:
                continue
            hits = self.store.claim_pending_hits(org.name)
            if not hits:
                continue
            items = [AlertItem(h, self.store.get_listing(h.listing_id)) for h in hits]
            message = render(org, items, sender=self.sender, domain=self.domain)
            self.outbox.save(message)
            if self.send is not None:
                try:
                    self.send(message)
                except Exception as exc:  # one organisation's failure must not stop the others
                    transient = isinstance(exc, TransientSendError)
                    log.log(logging.WARNING if transient else logging.ERROR, "alert for %s deferred: %s", org.name, exc)
                    self.store.set_alert_state([h.id for h in hits], "pending")
                    report.deferred[org.name] = f"{type(exc).__name__}: {exc}"
                    continue
            self.store.set_alert_state([h.id for h in hits], "sent")
            report.sent[org.name] = report.sent.get(org.name, 0) + 1
            report.hits[org.name] = report.hits.get(org.name, 0) + len(hits)
            log.info("alert for %s: %d hit(s), %s", org.name, len(hits), message["Message-ID"])
        return report
