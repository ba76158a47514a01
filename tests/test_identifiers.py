"""RUC check digit, DNI check character, and validity (pipeline.identifiers)."""

from __future__ import annotations

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.identifiers import (
    dni_check_characters,
    is_valid_dni,
    is_valid_document_number,
    is_valid_ruc,
    ruc_check_digit,
)
from pipeline.normalization import install_macros

VALID_RUCS: list[tuple[str, str]] = [
    # Public entities' RUCs as published by the entities themselves.
    ("20131370645", "Ministerio de Economía y Finanzas"),
    ("20131312955", "SUNAT"),
    ("20161749126", "Congreso de la República"),
    ("20131380951", "Municipalidad Metropolitana de Lima"),
    ("20131373237", "Ministerio de Salud"),
    # Synthetic sample entities shipped in datasets/entities/.
    ("20999100016", "muestra: municipalidad"),
    ("20999200029", "muestra: ministerio"),
    ("20999300031", "muestra: gobierno regional"),
    # Synthetic, one per accepted prefix, and the two wrap-around cases of the formula.
    ("10456789124", "prefijo 10 (persona natural)"),
    ("10045678917", "prefijo 10, DNI con cero inicial"),
    ("15045678919", "prefijo 15"),
    ("17204567891", "prefijo 17"),
    ("20000000010", "Σ mod 11 = 1 → dígito 0"),
    ("20000000061", "Σ mod 11 = 0 → dígito 1"),
]

INVALID_RUCS: list[tuple[str, str]] = [
    ("20131370646", "dígito verificador incorrecto"),
    ("20131370640", "dígito verificador incorrecto"),
    ("20131370654", "dígitos transpuestos"),
    ("30131370641", "prefijo 30 no existe (dígito verificador correcto)"),
    ("25999100018", "prefijo 25 no existe (dígito verificador correcto)"),
    ("11111111111", "prefijo 11 no existe"),
    ("2013137064", "10 dígitos"),
    ("201313706451", "12 dígitos"),
    ("", "vacío"),
    ("2013137064A", "contiene una letra"),
    (" 20131370645", "espacio inicial"),
    ("20131370645 ", "espacio final"),
    ("20-13137064-5", "con guiones"),
    ("２０131370645", "dígitos de ancho completo"),
]


@pytest.mark.parametrize(("ruc", "description"), VALID_RUCS, ids=[r for r, _ in VALID_RUCS])
def test_valid_ruc(ruc: str, description: str) -> None:
    assert is_valid_ruc(ruc), description


@pytest.mark.parametrize(("ruc", "description"), INVALID_RUCS, ids=[d for _, d in INVALID_RUCS])
def test_invalid_ruc(ruc: str, description: str) -> None:
    assert not is_valid_ruc(ruc), description


@pytest.mark.parametrize(
    ("first10", "digit"),
    [
        ("2013137064", 5),
        ("2016174912", 6),
        ("2000000001", 0),  # Σ = 12, 12 mod 11 = 1, (11 - 1) mod 10 = 0
        ("2000000006", 1),  # Σ = 22, 22 mod 11 = 0, (11 - 0) mod 10 = 1
        ("2000000000", 1),  # Σ = 10, (11 - 10) mod 10 = 1
    ],
)
def test_ruc_check_digit(first10: str, digit: int) -> None:
    assert ruc_check_digit(first10) == digit


@pytest.mark.parametrize("first10", ["", "201313706", "20131370645", "201313706X", "２０13137064"])
def test_ruc_check_digit_rejects_malformed_input(first10: str) -> None:
    with pytest.raises(ValueError, match="10 dígitos"):
        ruc_check_digit(first10)


def test_is_valid_ruc_rejects_non_strings() -> None:
    assert not is_valid_ruc(20131370645)  # type: ignore[arg-type]
    assert not is_valid_ruc(None)  # type: ignore[arg-type]


# DNI check character: Σ wᵢ·dᵢ mod 11 with weights 3,2,7,6,5,4,3,2 indexes "65432110987"
# (digit) and "KJIHGFEDCBA" (letter). 10117410: 3+0+7+6+35+16+3+0 = 70, 70 mod 11 = 4 → 2 / G.
@pytest.mark.parametrize(("number", "valid"), [
    ("10117410", True),     # no check character: 8 digits are a DNI
    ("101174102", True),    # check digit
    ("10117410G", True),    # the same check as a letter
    ("101174103", False),   # wrong check digit
    ("10117410K", False),   # wrong check letter
    ("12345678E", True), ("123456781", True), ("12345678K", False),
    ("00000000K", True),    # Σ = 0 → index 0 → 6 / K
    ("000000006", True),
    ("1234567", False), ("1234567890", False), ("1234567A", False), ("", False),
])
def test_dni_check_character(number: str, valid: bool) -> None:
    assert is_valid_dni(number) is valid


# --- The SQL macros (the rules validation and normalisation run) and their Python twins

SQL = duckdb.connect()
install_macros(SQL)
KINDS = ["DNI", "RUC", "CE", "PASAPORTE", "CDI", "DMI", "OTRO", "LIBRETA", None]
#: numbers near every rule's edges: digits, letters (check letters among them), dashes, a space
NUMBERS = st.one_of(st.none(), st.text(alphabet="0123456789ABEKZ- ", max_size=22),
                    st.text(max_size=12))


@st.composite
def rucs(draw: st.DrawFn) -> str:
    """A RUC with a right check digit and a known prefix, or one of them off."""
    prefix = draw(st.sampled_from(["10", "15", "17", "20", "11", "30"]))
    body = draw(st.text(alphabet="0123456789", min_size=8, max_size=8))
    digit = ruc_check_digit(prefix + body)
    return prefix + body + str(draw(st.sampled_from([digit, (digit + 1) % 10])))


@settings(max_examples=400, deadline=None)
@given(st.one_of(rucs(), st.text(alphabet="0123456789A -", max_size=13)))
def test_ruc_macro_is_the_python_rule(ruc: str) -> None:
    assert SQL.execute("SELECT ruc_valid(?)", [ruc]).fetchone()[0] is is_valid_ruc(ruc)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789", min_size=8, max_size=8),
       st.sampled_from(["", *"0123456789ABCDEFGHIJKLZ"]))
def test_dni_macro_is_the_python_rule(first8: str, check: str) -> None:
    number = first8 + check
    assert SQL.execute("SELECT dni_valid(?)", [number]).fetchone()[0] is is_valid_dni(number)
    assert dni_check_characters(first8)[0] in "0123456789"


@settings(max_examples=600, deadline=None)
@given(st.sampled_from(KINDS), st.one_of(NUMBERS, rucs()))
def test_document_number_macro_is_the_python_rule(kind: str | None, number: str | None) -> None:
    got = SQL.execute("SELECT doc_number_valid(?, ?)", [kind, number]).fetchone()[0]
    assert got is is_valid_document_number(kind, number)


@pytest.mark.parametrize(("kind", "number", "valid"), [
    ("CE", "001234567", True), ("CE", "000001234567", True),
    ("CE", "AB1234", False),  # letters: no carné de extranjería has them
    ("CE", "12345678", False),  # 8 digits: too short for Migraciones' 9
    ("PASAPORTE", "X1234567", True), ("PASAPORTE", "AB1", False),
])
def test_document_rules_decided_from_the_domain(kind: str, number: str, valid: bool) -> None:
    assert is_valid_document_number(kind, number) is valid
