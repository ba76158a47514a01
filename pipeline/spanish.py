"""Counts in Spanish messages: '1 lote nuevo', '2 lotes nuevos', never '1 lotes'."""

from __future__ import annotations


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """`count` and the noun phrase that agrees with it.

    >>> plural(1, "fila válida", "filas válidas"), plural(3, "error", "errores")
    ('1 fila válida', '3 errores')
    """
    if count == 1:
        return f"1 {singular}"
    return f"{count} {plural_form or singular + 's'}"
