"""The e-mails themselves, in Spanish: a batch with rejected rows, a promotion, a failed run."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

from pipeline.registry import Entity
from pipeline.settings import Settings
from pipeline.spanish import counted, lima_time

SENDER_NAME = "Registro de Visitas en Línea"
#: how many of a batch's errors the e-mail quotes; the attached report has them all
FIRST_ERRORS = 10
SIGNATURE = ("--\nRegistro de Visitas en Línea. Mensaje automático: por favor no responda a "
             "este correo.")


def _title(settings: Settings) -> str:
    """The subject's prefix; outside production it says which environment wrote."""
    if settings.environment == "production":
        return SENDER_NAME
    return f"{SENDER_NAME} (entorno {settings.environment})"


def new_message(settings: Settings, to: Sequence[Address], subject: str, body: str, *,
                now: dt.datetime | None = None) -> EmailMessage:
    message = EmailMessage()
    message["From"] = Address(SENDER_NAME, addr_spec=settings.mail_from)
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(now or dt.datetime.now(dt.UTC))
    message["Message-ID"] = make_msgid(domain=settings.mail_from.rpartition("@")[2])
    message.set_content(f"{body.rstrip()}\n\n{SIGNATURE}\n")
    return message


def administrator(entity: Entity) -> Address:
    return Address(str(entity.administrator.get("name") or ""),
                   addr_spec=str(entity.administrator["email"]))


def _greeting(entity: Entity) -> str:
    name = str(entity.administrator.get("name") or "").strip()
    return f"Estimado(a) {name}:" if name else "Estimado(a) administrador(a):"


def error_messages(report: Mapping[str, Any]) -> tuple[list[str], int]:
    """The report's Spanish error messages (file-level first, as the report lists them) and
    how many errors it counts in all (it may detail only the first ones)."""
    messages = [str(e.get("message") or e.get("title") or e.get("type"))
                for e in report.get("errors", [])]
    for task in report.get("tasks", []):
        messages += [str(e.get("message") or e.get("title") or e.get("type"))
                     for e in task.get("errors", [])]
    total = int(report.get("stats", {}).get("errors") or 0)
    return messages, max(total, len(messages))


def batch_message(settings: Settings, entity: Entity, record: Mapping[str, Any],
                  report: Mapping[str, Any], folder: Path) -> EmailMessage:
    """The administrator's e-mail about a batch that was rejected, whole or in part."""
    name = str(record.get("archivo", ""))
    withdrawal = record.get("tipo") == "retiros"
    register = record.get("tipo") == "decisores"
    rows, valid = int(record.get("rows") or 0), int(record.get("filas_validas") or 0)
    rejected = int(record.get("filas_rechazadas") or 0)
    readable = bool(record.get("legible", True))
    whole = record.get("estado") == "rejected"
    if whole:
        subject = f"{_title(settings)}: el archivo «{name}» fue rechazado"
    else:
        subject = (f"{_title(settings)}: "
                   f"{counted(rejected, 'fila rechazada', 'filas rechazadas')} en «{name}»")
    received = f", recibido el {lima_time(record['ingestado_en'])}," \
        if record.get("ingestado_en") else ""
    lines = [_greeting(entity), "",
             f"El archivo «{name}» de {entity.name} (RUC {entity.ruc}){received} se validó "
             "con este resultado:", ""]
    if not readable and register:
        lines += ["  No se pudo leer como registro de decisores: no se registra ningún decisor "
                  "y sigue vigente el registro anterior, si la entidad tiene uno.", ""]
    elif not readable:
        lines += ["  No se pudo leer como tabla: ninguna de sus filas se publica.", ""]
    elif register:
        # a register is taken whole: the rows without errors are not registered either
        lines += [f"  Filas leídas: {rows}", f"  Filas con errores: {rejected}",
                  "  El registro se rechaza entero: no se registra ningún decisor y sigue "
                  "vigente el registro anterior, si la entidad tiene uno.", ""]
    else:
        accepted = "Retiros aplicados" if withdrawal else "Filas válidas"
        lines += [f"  Filas leídas: {rows}",
                  f"  {accepted}: {valid}" + ("" if withdrawal else " (se publican)"),
                  f"  Filas rechazadas: {rejected}" + ("" if withdrawal else
                                                        " (no se publican)"), ""]
    messages, total = error_messages(report)
    if messages:
        shown = messages[:FIRST_ERRORS]
        more = total - len(shown)
        lines += ["Error:" if total == 1 else "Primeros errores:" if more > 0 else "Errores:"]
        lines += [f"  - {m}" for m in shown]
        if more > 0:
            lines += [f"  … y {counted(more, 'error más', 'errores más')} en el reporte adjunto."]
        lines += [""]
    html = folder / "reporte.html"
    text = folder / "informe.txt"
    if html.is_file():
        lines += ["El reporte completo va adjunto (reporte.html): ábralo en su navegador.", ""]
    elif text.is_file():
        lines += ["El informe completo va adjunto (informe.txt).", ""]
    if whole:
        lines += ["Corrija el archivo y vuelva a subirlo."]
    else:
        example = f"{Path(name).stem}-correccion{Path(name).suffix}"
        lines += ["Corrija las filas rechazadas y súbalas de nuevo en un archivo cuyo nombre "
                  f"se ordene después de este, p. ej. «{example}»: una visita que ya se "
                  "publicó no se duplica."]
    message = new_message(settings, [administrator(entity)], subject, "\n".join(lines))
    if html.is_file():
        # as bytes (base64), so the page arrives exactly as the batch folder holds it
        message.add_attachment(html.read_bytes(), maintype="text", subtype="html",
                               filename="reporte.html", params={"charset": "utf-8"})
    elif text.is_file():
        message.add_attachment(text.read_text(encoding="utf-8"), subtype="plain",
                               filename="informe.txt")
    return message


def promotion_message(settings: Settings, entity: Entity, batch: Mapping[str, Any] | None,
                      when: dt.datetime) -> EmailMessage:
    """The administrator's e-mail when the entity moves from demo to production."""
    subject = f"{SENDER_NAME}: {entity.name} pasó a producción"
    lines = [_greeting(entity), "",
             f"{entity.name} (RUC {entity.ruc}) pasó del entorno de demostración a producción "
             f"el {lima_time(when)}. Desde ahora las visitas que suba se publican como datos "
             "abiertos oficiales del Registro de Visitas en Línea.", ""]
    if batch:
        received = (f", recibida el {lima_time(batch['ingestado_en'])}"
                    if batch.get("ingestado_en") else "")
        valid = int(batch.get("filas_validas") or 0)
        lines += [f"La promoción se basó en su última carga validada en demostración: "
                  f"«{batch.get('archivo', '')}»{received}, con "
                  f"{counted(valid, 'fila válida', 'filas válidas')} y ningún error.", ""]
    lines += ["Siga subiendo su registro de visitas a diario, como lo pide la Ley 28024."]
    return new_message(settings, [administrator(entity)], subject, "\n".join(lines), now=when)


def run_failure_message(settings: Settings, *, job: str, run_id: str, steps: Sequence[str],
                        error: str, when: dt.datetime) -> EmailMessage:
    """The operators' e-mail about a Dagster run that failed."""
    subject = f"{_title(settings)}: falló la ejecución {run_id[:8]} de {job}"
    lines = ["Una ejecución de Dagster del Registro de Visitas en Línea falló.", "",
             f"  Trabajo: {job}",
             f"  Ejecución: {run_id}",
             f"  {'Paso' if len(steps) == 1 else 'Pasos'}: {', '.join(steps) or '(ninguno)'}",
             f"  Cuándo: {lima_time(when)}",
             f"  Entorno: {settings.environment}", "",
             "Error:", "", error.strip() or "(sin mensaje)", "",
             "El detalle y el registro completo están en la interfaz de Dagster "
             f"(visitas serve), ejecución {run_id}."]
    to = [Address(addr_spec=a) for a in settings.operators_email]
    return new_message(settings, to, subject, "\n".join(lines), now=when)
