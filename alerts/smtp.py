"""SMTP delivery with smtplib, configured by a URL such as smtp://user:pass@host:587?starttls=1
(query options: starttls=1, timeout=SECONDS, cafile=PATH; smtps:// for implicit TLS)."""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import parse_qs, unquote, urlsplit


class TransientSendError(Exception):
    """Try again later: the hits stay pending."""


class PermanentSendError(Exception):
    """The server refused for good (5xx: unknown recipient, rejected sender or content)."""


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    implicit_tls: bool = False
    timeout: float = 30.0
    cafile: str | None = None  # trust this CA (a relay with an internal certificate) besides the system's

    @classmethod
    def from_url(cls, url: str) -> SmtpConfig:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps"):
            raise ValueError(f"SMTP URL must start with smtp:// or smtps://, got {url!r}")
        if not parts.hostname:
            raise ValueError(f"SMTP URL has no host: {url!r}")
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        implicit = parts.scheme == "smtps"
        return cls(
            host=parts.hostname,
            port=parts.port or (465 if implicit else 25),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            starttls=query.get("starttls", "0") in ("1", "true", "yes"),
            implicit_tls=implicit,
            timeout=float(query.get("timeout", "30")),
            cafile=query.get("cafile") or None,
        )


class SmtpSender:
    def __init__(self, config: SmtpConfig) -> None:
        self.config = config

    def _tls(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        if self.config.cafile:
            context.load_verify_locations(cafile=self.config.cafile)
        return context

    def send(self, message: EmailMessage) -> dict[str, str]:
        """Deliver; returns the recipients the server refused while it accepted others
        (address -> its answer). All refused raises PermanentSendError or TransientSendError."""
        c = self.config
        try:
            smtp: smtplib.SMTP
            if c.implicit_tls:
                smtp = smtplib.SMTP_SSL(c.host, c.port, timeout=c.timeout, context=self._tls())
            else:
                smtp = smtplib.SMTP(c.host, c.port, timeout=c.timeout)
            with smtp:
                if c.starttls:
                    smtp.starttls(context=self._tls())
                if c.username:
                    smtp.login(c.username, c.password or "")
                refused = smtp.send_message(message)
            return {addr: f"{code} {reply.decode(errors='replace')}" for addr, (code, reply) in refused.items()}
        except smtplib.SMTPRecipientsRefused as exc:
            # smtplib's exceptions subclass OSError: classify the 5xx refusals before the catch-all.
            codes = {code for code, _ in exc.recipients.values()}
            error = PermanentSendError if all(code >= 500 for code in codes) else TransientSendError
            raise error(f"{c.host}:{c.port}: recipients refused: {exc.recipients}") from exc
        except smtplib.SMTPResponseException as exc:
            error = PermanentSendError if exc.smtp_code >= 500 else TransientSendError
            raise error(f"{c.host}:{c.port}: {exc.smtp_code} {exc.smtp_error!r}") from exc
        except OSError as exc:  # connection refused, reset, timeout, TLS failure, disconnect
            raise TransientSendError(f"{c.host}:{c.port}: {exc}") from exc
