"""Peruvian identifiers: the RUC (Registro Único de Contribuyentes), the DNI, and their checks.

Entities are keyed by RUC: 11 digits, a two-digit prefix (10 natural person, 15 and 17 other
registrants, 20 legal entity, which covers every public entity) and a modulo-11 check digit.
A DNI is 8 digits, sometimes written with the check character printed on the card after them.
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


DNI_WEIGHTS: tuple[int, ...] = (3, 2, 7, 6, 5, 4, 3, 2)
"""Weights applied to the eight digits of a DNI."""

DNI_CHECK_DIGITS = "65432110987"
DNI_CHECK_LETTERS = "KJIHGFEDCBA"
"""The check character, as a digit or as a letter, indexed by Σ wᵢ·dᵢ mod 11."""


def dni_check_characters(first8: str) -> str:
    """The two spellings (digit, letter) of the check character of an 8-digit DNI.

    >>> dni_check_characters("10117410")
    '2G'
    """
    if len(first8) != 8 or not (first8.isascii() and first8.isdigit()):
        raise ValueError(f"Se esperaban 8 dígitos para calcular el carácter verificador: {first8!r}")
    index = sum(weight * int(digit) for weight, digit in zip(DNI_WEIGHTS, first8, strict=True)) % 11
    return DNI_CHECK_DIGITS[index] + DNI_CHECK_LETTERS[index]


def is_valid_dni(number: str) -> bool:
    """8 digits, or 8 digits and their check character (as a digit or a letter).

    >>> is_valid_dni("10117410"), is_valid_dni("101174102"), is_valid_dni("101174103")
    (True, True, False)
    """
    if not isinstance(number, str) or len(number) not in (8, 9):
        return False
    if not (number[:8].isascii() and number[:8].isdigit()):
        return False
    return len(number) == 8 or number[8] in dni_check_characters(number[:8])


#: Well-formed numbers of the other document types, after normalisation (upper case, no
#: spaces). The SQL macro `doc_number_valid` is generated from these patterns.
#: - CE (carné de extranjería): the 9 digits Migraciones prints, which some systems zero-pad
#:   to 12; never letters.
#: - PASAPORTE: 6 to 12 letters or digits (ICAO documents of every country).
#: - CDI, DMI (diplomatic and military cards): 4 to 15 letters, digits or dashes.
#: - OTRO: 1 to 20 letters, digits or dashes.
DOCUMENT_PATTERNS: dict[str, str] = {
    "CE": r"[0-9]{9,12}",
    "PASAPORTE": r"[0-9A-Z]{6,12}",
    "CDI": r"[0-9A-Z][0-9A-Z\-]{3,14}",
    "DMI": r"[0-9A-Z][0-9A-Z\-]{3,14}",
    "OTRO": r"[0-9A-Z][0-9A-Z\-]{0,19}",
}


def is_valid_document_number(kind: str | None, number: str | None) -> bool:
    """Whether `number` is well formed for the (normalised) document type `kind`.

    >>> is_valid_document_number("CE", "001234567"), is_valid_document_number("CE", "AB1234")
    (True, False)
    """
    import re

    if kind is None or number is None:
        return False
    if kind == "DNI":
        return is_valid_dni(number)
    if kind == "RUC":
        return is_valid_ruc(number)
    pattern = DOCUMENT_PATTERNS.get(kind)
    return pattern is not None and re.fullmatch(pattern, number) is not None
