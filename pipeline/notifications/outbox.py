"""The outbox: every notification is written down before it is sent, and moved aside once sent.

    <var>/notificaciones/pendientes/<clave>.eml   written, not sent yet (server down: retried)
                         enviando/<clave>.eml     taken by a process that is sending it now
                         enviados/<clave>.eml     sent: the record that it must not go again
                         rechazados/<clave>.eml   refused for good by the server (a recipient
                                                  that does not exist): not retried

A notification has a key that names what it is about (`lote-<RUC>-<sha256>` for a batch,
`promocion-<RUC>-<moment>`, `falla-<run id>`): a key already in any of these folders is never
written again, so a re-run that sees the same batch sends nothing. Each pending message is
taken by renaming it into `enviando/` (atomic: two processes never send the same one), and
renamed into `enviados/` after the server accepted it. Only a process killed between those two
steps can send a message twice: its claim is given back after `STALE_CLAIM_SECONDS`.
"""

from __future__ import annotations

import email
import email.policy
import os
import smtplib
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

from pipeline.atomic import scratch_path
from pipeline.notifications import smtp
from pipeline.settings import Settings
from pipeline.spanish import plural

PENDING, SENDING, SENT, REFUSED = "pendientes", "enviando", "enviados", "rechazados"
#: a claim older than this was left by a process that died mid-send (a send takes seconds)
STALE_CLAIM_SECONDS = 600


@dataclass
class Delivery:
    """What one delivery attempt did, told in Spanish by `lines`."""

    server: str = ""
    sent: list[tuple[str, str]] = field(default_factory=list)  #: (to, subject)
    refused: list[tuple[str, str, str]] = field(default_factory=list)  #: (to, subject, why)
    #: why the server could not be used (unreachable, account refused); None if it could
    failure: str | None = None
    pending: int = 0  #: messages left for the next attempt

    def lines(self) -> list[str]:
        out = [f"correo enviado a {to}: {subject}" for to, subject in self.sent]
        out += [f"aviso: el servidor de correo rechazó el correo a {to} ({subject}): {why}; "
                "no se reintenta" for to, subject, why in self.refused]
        if self.failure is not None:
            left = ("queda pendiente y se reintenta" if self.pending == 1
                    else "quedan pendientes y se reintentan")
            out.append(f"aviso: no se pudo enviar correo por {self.server} ({self.failure}): "
                       f"{plural(self.pending, 'correo', 'correos')} {left} en la próxima pasada")
        return out


class Outbox:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.root = settings.notifications_dir

    def _path(self, state: str, key: str) -> Path:
        return self.root / state / f"{key}.eml"

    def known(self, key: str) -> bool:
        """Whether the notification `key` was written already (pending, sent or refused)."""
        return any(self._path(s, key).exists() for s in (PENDING, SENDING, SENT, REFUSED))

    def add(self, key: str, message: EmailMessage) -> bool:
        """Write `message` as pending under `key`; False (nothing written) if `key` is known."""
        if self.known(key):
            return False
        target = self._path(PENDING, key)
        target.parent.mkdir(parents=True, exist_ok=True)
        scratch = scratch_path(target)
        scratch.write_bytes(message.as_bytes(policy=email.policy.SMTP))
        scratch.replace(target)
        return True

    def pending(self) -> list[str]:
        folder = self.root / PENDING
        return sorted(p.stem for p in folder.glob("*.eml")) if folder.is_dir() else []

    def deliver(self) -> Delivery:
        """Send every pending message over one connection. Never raises for the server: a
        server that cannot be reached leaves them pending, and the `Delivery` says so."""
        self._give_back_stale_claims()
        keys = self.pending()
        result = Delivery(server=str(smtp.parse_smtp_url(self.settings.smtp_url)))
        if not keys:
            return result
        try:
            with smtp.connection(self.settings) as client:
                for key in keys:
                    self._send_one(client, key, result)
        except OSError as exc:  # smtplib's exceptions are OSErrors
            result.failure = _describe(exc)
        result.pending = len(self.pending())
        return result

    def _send_one(self, client: smtplib.SMTP, key: str, result: Delivery) -> None:
        """Send one pending message; raises `OSError` when the connection is no use."""
        claimed = self._path(SENDING, key)
        claimed.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._path(PENDING, key).rename(claimed)
        except FileNotFoundError:
            return  # another process took it
        message = email.message_from_bytes(claimed.read_bytes(), policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        to, subject = str(message["To"]), str(message["Subject"])
        try:
            smtp.send(client, message)
        except (smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError) as exc:
            if _permanent(exc):
                self._move(claimed, REFUSED, key)
                result.refused.append((to, subject, _describe(exc)))
                return
            self._move(claimed, PENDING, key)
            raise
        except BaseException:
            self._move(claimed, PENDING, key)
            raise
        self._move(claimed, SENT, key)
        result.sent.append((to, subject))

    def _move(self, path: Path, state: str, key: str) -> None:
        target = self._path(state, key)
        target.parent.mkdir(parents=True, exist_ok=True)
        path.replace(target)

    def _give_back_stale_claims(self) -> None:
        folder = self.root / SENDING
        for path in folder.glob("*.eml") if folder.is_dir() else []:
            try:
                if time.time() - path.stat().st_mtime > STALE_CLAIM_SECONDS:
                    self._move(path, PENDING, path.stem)
            except FileNotFoundError:
                continue  # its sender finished meanwhile


def _permanent(exc: smtplib.SMTPException) -> bool:
    """A 5xx answer about this message or its recipients: sending it again cannot help."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    return isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code >= 500


def _describe(exc: BaseException) -> str:
    """An SMTP or network error in a line (the server's own words are kept as they are)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        answers = {f"{code} {text.decode(errors='replace')}" for code, text in
                   exc.recipients.values()}
        return "; ".join(sorted(answers))
    if isinstance(exc, smtplib.SMTPResponseException):
        text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) \
            else str(exc.smtp_error)
        return f"{exc.smtp_code} {text}"
    if isinstance(exc, ConnectionRefusedError):
        return "conexión rechazada: el servidor no está escuchando"
    if isinstance(exc, TimeoutError):
        return f"no respondió en {smtp.TIMEOUT_SECONDS} s"
    return str(exc) or type(exc).__name__


def sent_messages(settings: Settings) -> list[Path]:
    """The record of every message sent, oldest first (for operators and tests)."""
    folder = settings.notifications_dir / SENT
    paths = list(folder.glob("*.eml")) if folder.is_dir() else []
    return sorted(paths, key=lambda p: (os.stat(p).st_mtime, p.name))
