"""Counts in Spanish messages: '1 lote nuevo', '2 lotes nuevos', never '1 lotes'; shares as
'86,8 %'; numbers, file sizes, dates and Lima time as a Spanish reader writes them."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from babel.dates import format_date
from babel.numbers import format_decimal


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """`count` and the noun phrase that agrees with it.

    >>> plural(1, "fila válida", "filas válidas"), plural(3, "error", "errores")
    ('1 fila válida', '3 errores')
    """
    if count == 1:
        return f"1 {singular}"
    return f"{count} {plural_form or singular + 's'}"


def percent(share: float) -> str:
    """A share as Spanish writes a percentage: decimal comma, a space before the sign.

    >>> percent(0.2), percent(33 / 38), percent(1)
    ('20 %', '86,8 %', '100 %')
    """
    if 0 < share < 0.0005:
        return "menos de 0,1 %"  # not "0 %": something was counted
    text = f"{share * 100:.1f}".removesuffix(".0")
    return text.replace(".", ",") + " %"


#: CLDR's generic Spanish: decimal comma and a point between thousands ("1,2 MB", "1.234"),
#: as the project's other messages write shares ("86,8 %").
LOCALE = "es"
LIMA = ZoneInfo("America/Lima")
_SIZE_UNITS = ("kB", "MB", "GB", "TB")


def number(value: int) -> str:
    """A count as a Spanish reader writes it.

    >>> number(115), number(1234), number(1234567)
    ('115', '1.234', '1.234.567')
    """
    return format_decimal(value, locale=LOCALE)


def size(n_bytes: int) -> str:
    """A file size a person reads: decimal units (1 kB = 1000 bytes), one decimal.

    >>> size(1), size(618), size(14989), size(1_234_567), size(3_000_000_000)
    ('1 byte', '618 bytes', '15 kB', '1,2 MB', '3 GB')
    """
    if n_bytes < 1000:
        return plural(n_bytes, "byte", "bytes")
    value = float(n_bytes)
    for unit in _SIZE_UNITS:
        value /= 1000
        if value < 999.95 or unit == _SIZE_UNITS[-1]:
            break
    # one decimal below 10 (1,2 MB), none above (15 kB): as precise as a reader needs
    pattern = "#,##0.#" if value < 10 else "#,##0"
    return f"{format_decimal(value, format=pattern, locale=LOCALE)} {unit}"


def counted(count: int, singular: str, plural_form: str | None = None) -> str:
    """`plural` for figures a reader scans: thousands marked.

    >>> counted(1, "visita"), counted(12345, "visita")
    ('1 visita', '12.345 visitas')
    """
    return plural(count, singular, plural_form).replace(str(count), number(count), 1)


def long_date(day: dt.date | str) -> str:
    """A day (or its ISO text) as a Spanish reader writes it.

    >>> long_date(dt.date(2024, 8, 5)), long_date("2024-10-31")
    ('5 de agosto de 2024', '31 de octubre de 2024')
    """
    if isinstance(day, str):
        day = dt.date.fromisoformat(day)
    return format_date(day, format="long", locale=LOCALE)


def month_name(month: str) -> str:
    """'YYYY-MM' as a Spanish reader names the month.

    >>> month_name("2024-08")
    'agosto de 2024'
    """
    return format_date(dt.date(int(month[:4]), int(month[5:7]), 1), "LLLL 'de' y",
                       locale=LOCALE)


def short_month(month: str) -> str:
    """'YYYY-MM' as a chart's axis labels it.

    >>> short_month("2024-09")
    'sept 2024'
    """
    return format_date(dt.date(int(month[:4]), int(month[5:7]), 1), "LLL y", locale=LOCALE)


def lima_time(moment: dt.datetime | str) -> str:
    """A moment (aware, or ISO 8601 with its offset or Z) in Lima's time, as people there say it.

    >>> lima_time("2024-02-01T12:00:00Z")
    '1 de febrero de 2024 a las 07:00 (hora de Lima)'
    """
    if isinstance(moment, str):
        moment = dt.datetime.fromisoformat(moment.replace("Z", "+00:00"))
    local = moment.astimezone(LIMA)
    return f"{long_date(local.date())} a las {local:%H:%M} (hora de Lima)"
