"""The mail server: its settings, checked, and one connection that sends messages.

`VISITAS_SMTP_URL` names the server and how to talk to it, by scheme:

    smtp://host[:port]            plain SMTP (port 25 by default), e.g. a relay on the host
    smtp+starttls://host[:port]   SMTP upgraded with STARTTLS (port 587 by default)
    smtps://host[:port]           SMTP over TLS from the first byte (port 465 by default)

The account comes from `VISITAS_SMTP_USER` and `VISITAS_SMTP_PASSWORD` only, never from the
URL, which tends to end up in files and logs. TLS checks the server's certificate against the
system's authorities (`SSL_CERT_FILE` adds one). The standard library speaks SMTP (`smtplib`).
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from pipeline.settings import SettingsError

if TYPE_CHECKING:
    from pipeline.settings import Settings

#: scheme → (default port, STARTTLS, TLS from the start)
SCHEMES = {"smtp": (25, False, False), "smtp+starttls": (587, True, False),
           "smtps": (465, False, True)}
#: seconds to wait for the server at each step: a mail server that hangs must not hold a run
TIMEOUT_SECONDS = 20


@dataclass(frozen=True)
class MailServer:
    host: str
    port: int
    starttls: bool
    tls: bool

    def __str__(self) -> str:
        scheme = next(k for k, v in SCHEMES.items() if v[1:] == (self.starttls, self.tls))
        return f"{scheme}://{self.host}:{self.port}"


def parse_smtp_url(url: str) -> MailServer:
    """The server `url` names; `SettingsError` (Spanish) when it names none."""
    example = "p. ej. smtp+starttls://correo.example.gob.pe:587"
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES:
        raise SettingsError(f"VISITAS_SMTP_URL={url!r} no es válido: use smtp://, "
                            f"smtp+starttls:// o smtps:// y el servidor, {example}.")
    if parts.username or parts.password or "@" in parts.netloc:
        raise SettingsError("VISITAS_SMTP_URL no debe llevar usuario ni contraseña: defínalos en "
                            "VISITAS_SMTP_USER y VISITAS_SMTP_PASSWORD.")
    try:
        port = parts.port
    except ValueError:
        port = -1
    if not parts.hostname or port == -1 or parts.path not in ("", "/") or parts.query:
        raise SettingsError(f"VISITAS_SMTP_URL={url!r} no es válido: indique solo el servidor "
                            f"y, si hace falta, el puerto, {example}.")
    default_port, starttls, tls = SCHEMES[parts.scheme]
    return MailServer(parts.hostname, port or default_port, starttls, tls)


def check_mail_settings(settings: Settings) -> None:
    """Raise `SettingsError` for mail settings that could never send (called with a URL set)."""
    from pipeline.registry import email_problem

    parse_smtp_url(settings.smtp_url)
    if not settings.mail_from:
        raise SettingsError("VISITAS_MAIL_FROM no está definida: con VISITAS_SMTP_URL hace falta "
                            "el remitente de los avisos, p. ej. registro-visitas@example.gob.pe.")
    for name, address in [("VISITAS_MAIL_FROM", settings.mail_from),
                          *(("VISITAS_OPERATORS_EMAIL", a) for a in settings.operators_email)]:
        problem = email_problem(address)
        if problem:
            raise SettingsError(f"{name}: {address!r} no es una dirección de correo: {problem}.")
    if settings.smtp_password and not settings.smtp_user:
        raise SettingsError("VISITAS_SMTP_PASSWORD está definida sin VISITAS_SMTP_USER: defina "
                            "el usuario de la cuenta de correo.")


@contextmanager
def connection(settings: Settings) -> Iterator[smtplib.SMTP]:
    """A logged-in connection to the configured server. Raises `OSError` (smtplib's
    exceptions are) when the server cannot be reached or refuses the account."""
    server = parse_smtp_url(settings.smtp_url)
    context = ssl.create_default_context()
    client: smtplib.SMTP
    if server.tls:
        client = smtplib.SMTP_SSL(server.host, server.port, timeout=TIMEOUT_SECONDS,
                                  context=context)
    else:
        client = smtplib.SMTP(server.host, server.port, timeout=TIMEOUT_SECONDS)
    try:
        if server.starttls:
            client.starttls(context=context)
        if settings.smtp_user:
            client.login(settings.smtp_user, settings.smtp_password)
        yield client
    finally:
        try:
            client.quit()
        except (OSError, smtplib.SMTPException):
            client.close()


def send(client: smtplib.SMTP, message: EmailMessage) -> None:
    """Send one message on an open connection (`OSError` on failure)."""
    client.send_message(message)
