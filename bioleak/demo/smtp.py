"""A real SMTP server on 127.0.0.1 (aiosmtpd) that keeps what it receives, for the demo and tests."""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage


@dataclass
class _Handler:
    received: list[Received] = field(default_factory=list)
    reject_recipients: frozenset[str] = frozenset()
    drop_data: int = 0  # hang up on this many DATA commands before answering (a dropped connection)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any) -> str:
        if address.lower() in self.reject_recipients:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.drop_data > 0:
            self.drop_data -= 1
            server.transport.close()
            return "421 4.4.2 connection dropped"
        msg = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        self.received.append(Received(envelope.mail_from, tuple(envelope.rcpt_tos), msg))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LoopbackSmtpServer:
    """`tls` (a server certificate and key) makes STARTTLS mandatory; `login` (user, password)
    makes AUTH mandatory too, as on a real submission port."""

    def __init__(
        self,
        *,
        reject_recipients: set[str] | None = None,
        tls: tuple[str, str] | None = None,
        login: tuple[str, str] | None = None,
        drop_data: int = 0,
    ) -> None:
        self._handler = _Handler(
            reject_recipients=frozenset(a.lower() for a in reject_recipients or ()), drop_data=drop_data
        )
        self.port = free_port()
        options: dict[str, Any] = {}
        if tls is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(*tls)
            options |= {"tls_context": context, "require_starttls": True}
        if login is not None:
            expected = (login[0].encode(), login[1].encode())

            def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
                ok = isinstance(data, LoginPassword) and (data.login, data.password) == expected
                return AuthResult(success=ok, handled=False)

            options |= {"authenticator": authenticate, "auth_required": True}
        self._controller = Controller(self._handler, hostname="127.0.0.1", port=self.port, **options)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    @property
    def received(self) -> list[Received]:
        return self._handler.received

    def __enter__(self) -> LoopbackSmtpServer:
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()
