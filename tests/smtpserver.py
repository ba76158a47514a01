"""A real SMTP server for tests (aiosmtpd), on a free local port, keeping what it receives."""

from __future__ import annotations

import email
import email.policy
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage

    @property
    def body(self) -> str:
        part = self.message.get_body(preferencelist=("plain",))
        assert part is not None
        return part.get_content().replace("\r\n", "\n")  # the wire's line ends

    def attachments(self) -> dict[str, tuple[str, bytes]]:
        """file name → (content type, bytes as sent)."""
        return {a.get_filename(): (a.get_content_type(), a.get_payload(decode=True))
                for a in self.message.iter_attachments()}


@dataclass
class Mailbox:
    """Collects every message the server accepts, in order."""

    messages: list[Received] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    #: addresses the server says do not exist (550)
    unknown: set[str] = field(default_factory=set)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          options: list[str]) -> str:
        if address in self.unknown:
            return "550 5.1.1 Usuario desconocido"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def smtp_server(mailbox: Mailbox, port: int, *, account: tuple[str, str] | None = None,
                tls: ssl.SSLContext | None = None) -> Iterator[Controller]:
    """Serve on 127.0.0.1:`port` until the block ends. With `account`, only that user and
    password may send (AUTH LOGIN/PLAIN); with `tls`, STARTTLS is offered and required."""
    kwargs: dict[str, Any] = {}
    if account is not None:
        def authenticate(server: Any, session: Any, envelope: Any, mechanism: str,
                         data: Any) -> AuthResult:
            ok = (isinstance(data, LoginPassword)
                  and (data.login.decode(), data.password.decode()) == account)
            if ok:
                mailbox.logins.append(data.login.decode())
            return AuthResult(success=ok, handled=False)  # False: the server answers 535

        kwargs.update(authenticator=authenticate, auth_required=True,
                      auth_require_tls=tls is not None)
    if tls is not None:
        kwargs.update(tls_context=tls, require_starttls=True)
    controller = Controller(mailbox, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    try:
        yield controller
    finally:
        controller.stop()
