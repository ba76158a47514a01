"""Counts in Spanish messages: '1 lote nuevo', '2 lotes nuevos', never '1 lotes'; shares as
'86,8 %'."""

from __future__ import annotations


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
