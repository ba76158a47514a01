"""Peruvian identifiers: the RUC (Registro Único de Contribuyentes) and its check digit.

Entities are keyed by RUC: 11 digits, a two-digit prefix (10 natural person, 15 and 17 other
registrants, 20 legal entity, which covers every public entity) and a modulo-11 check digit.
"""

from __future__ import annotations

RUC_WEIGHTS: tuple[int, ...] = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)
"""Weights applied to the first ten digits of a RUC."""

RUC_PREFIXES: frozenset[str] = frozenset({"10", "15", "17", "20"})
"""Prefixes a RUC may start with."""


def ruc_check_digit(first10: str) -> int:
    """Return the check digit for the first ten digits of a RUC.

    The digit is ``(11 - (Σ wᵢ·dᵢ mod 11)) mod 10`` with weights 5,4,3,2,7,6,5,4,3,2.

    >>> ruc_check_digit("2013137064")
    5

    Raises ``ValueError`` when ``first10`` is not exactly ten ASCII digits.
    """
    if len(first10) != 10 or not (first10.isascii() and first10.isdigit()):
        raise ValueError(
            f"Se esperaban 10 dígitos para calcular el dígito verificador: {first10!r}"
        )
    total = sum(weight * int(digit) for weight, digit in zip(RUC_WEIGHTS, first10, strict=True))
    return (11 - total % 11) % 10


def is_valid_ruc(ruc: str) -> bool:
    """Tell whether ``ruc`` is a well-formed RUC: 11 digits, a known prefix, a correct check digit.

    The value is taken as is: surrounding whitespace or separators make it invalid.

    >>> is_valid_ruc("20131370645")
    True
    >>> is_valid_ruc("20131370646")
    False
    """
    if not isinstance(ruc, str) or len(ruc) != 11 or not (ruc.isascii() and ruc.isdigit()):
        return False
    if ruc[:2] not in RUC_PREFIXES:
        return False
    return ruc_check_digit(ruc[:10]) == int(ruc[10])
