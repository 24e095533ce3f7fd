"""The alert dispatcher as configured: shared by `bioleak alerts` and the scheduler's alert job."""

from __future__ import annotations

from collections.abc import Callable
from email.message import EmailMessage

from alerts.dispatcher import Dispatcher, Outbox
from alerts.smtp import SmtpConfig, SmtpSender
from bioleak.config import Config, ConfigError
from indexer.store import Store

Send = Callable[[EmailMessage], dict[str, str] | None]


def smtp_send(config: Config) -> Send | None:
    """How messages leave: SMTP when an URL is configured, else None (the outbox only)."""
    if not config.smtp_url:
        return None
    try:
        return SmtpSender(SmtpConfig.from_url(config.smtp_url)).send
    except ValueError as exc:
        raise ConfigError(f"smtp_url: {exc}") from exc


def make_dispatcher(config: Config, store: Store, *, attach_thumbnails: bool | None = None) -> Dispatcher:
    attach = config.attach_thumbnails if attach_thumbnails is None else attach_thumbnails
    return Dispatcher(
        store, outbox=Outbox(config.outbox), send=smtp_send(config), sender=config.sender, attach_thumbnails=attach
    )
