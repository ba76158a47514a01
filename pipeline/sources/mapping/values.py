"""One source value through a field's rule: pattern, split, value map, default, and the
declared date or time formats, into the text an upload layout expects.

Run once per distinct value of a file (`stream.py`): a history export repeats the same
dates, officials and motives on thousands of rows.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import cache, lru_cache

from pipeline.sources.mapping.language import FieldRule, value_key

#: the error types a value that does not meet its declared format gets (validation/errors.py)
DATE_MISMATCH = "date-format-mismatch"
TIME_MISMATCH = "time-format-mismatch"


@cache
def _months() -> dict[str, str]:
    """Spanish month names, full and abbreviated (and Peru's 'setiembre'), folded → the English
    abbreviation strptime reads in any locale."""
    from babel.dates import get_month_names

    english = get_month_names("abbreviated", locale="en")
    names: dict[str, str] = {}
    for width in ("wide", "abbreviated"):
        for number, name in get_month_names(width, locale="es").items():
            names[name.lower().rstrip(".")] = english[number]
    names["setiembre"] = names["set"] = names["sep"] = english[9]
    return names


_WORD = re.compile(r"[^\W\d_]+\.?")


def _english_months(text: str) -> str:
    import unicodedata

    plain = "".join(c for c in unicodedata.normalize("NFKD", text)
                    if not unicodedata.combining(c))
    months = _months()
    return _WORD.sub(lambda m: months.get(m.group(0).lower().rstrip("."), m.group(0)), plain)


@lru_cache(maxsize=65_536)  # the same time of day, the same date, on many rows of a history
def _strptime(text: str, fmt: str) -> dt.datetime | None:
    try:
        return dt.datetime.strptime(text, fmt)
    except ValueError:
        return None


def parse_with(text: str, formats: tuple[str, ...], family: str) -> str | None:
    """`text` read with the first format that fits, as ISO date or HH:MM[:SS]; None if none
    does. A date may be followed by more (a time), and a time preceded by more (a date)."""
    words = text.split()
    if not words:
        return None
    for fmt in formats:
        candidate = " ".join(words)
        if "%b" in fmt or "%B" in fmt:
            candidate = _english_months(candidate)
            fmt = fmt.replace("%B", "%b")
        parts = candidate.split()
        # as many words as the format has first (one strptime in the usual case), then the
        # others, longest first
        wanted = len(fmt.split())
        counts = [wanted] if wanted <= len(parts) else []
        counts += [i for i in range(len(parts), 0, -1) if i != wanted]
        tries = [" ".join(parts[:i] if family == "date" else parts[-i:]) for i in counts]
        for attempt in tries:
            moment = _strptime(attempt, fmt)
            if moment is None:
                continue
            if family == "date":
                return moment.date().isoformat()
            return moment.strftime("%H:%M:%S" if "%S" in fmt else "%H:%M")
    return None


def transform(rule: FieldRule, text: str) -> tuple[str, str | None]:
    """(the upload cell, the error type when a declared format was not met) for one source
    value; on an error the cell keeps the value as read, for the report to quote."""
    value = text.strip()
    if rule.pattern is not None and value:
        match = rule.pattern.search(value)
        if match is None:
            if rule.formats:  # the date or time is not where the rule looks for it
                return value, DATE_MISMATCH if rule.family == "date" else TIME_MISMATCH
            value = ""
        else:
            value = (match.group(1) if rule.pattern.groups else match.group(0)) or ""
            value = value.strip()
    if rule.split is not None and value:
        value = rule.split.apply(value)
    if rule.values and value:
        value = rule.value_map.get(value_key(value), value)
    if not value and rule.default is not None:
        value = rule.default
    if rule.formats and value:
        parsed = parse_with(value, rule.formats, rule.family)
        if parsed is None:
            return value, DATE_MISMATCH if rule.family == "date" else TIME_MISMATCH
        value = parsed
    return value, None


def formats_note(rule: FieldRule) -> str:
    """The formats a value should have met, for the report's message."""
    shown = " o ".join(f"«{f}»" for f in rule.formats)
    where = {"title": "en el título del archivo", "filename": "en el nombre del archivo"}
    place = where.get(rule.origin, "")
    pattern = f" con el patrón «{rule.pattern.pattern}»" if rule.pattern is not None else ""
    if place:
        return f"se busca {place}{pattern}; formato {shown}"
    return f"formato declarado {shown}"


__all__ = ["DATE_MISMATCH", "TIME_MISMATCH", "formats_note", "parse_with", "transform"]
