"""Raw value → normalised value, one table per family of DESIGN §2, through the DuckDB macros."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.normalization import install_macros


@pytest.fixture(scope="module")
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect()
    install_macros(connection)
    yield connection
    connection.close()


def call(con: duckdb.DuckDBPyConnection, macro: str, *args: object) -> object:
    placeholders = ", ".join("?" for _ in args)
    return con.execute(f"SELECT {macro}({placeholders})", list(args)).fetchone()[0]


@pytest.mark.parametrize(("raw", "expected"), [
    ("OFICINA\u00a0204", "OFICINA 204"),            # NBSP
    ("Sala  de   reuniones", "Sala de reuniones"),  # doubled spaces
    ("  Despacho ", "Despacho"),                    # leading and trailing
    ("Sala\tB\r\n", "Sala B"),
    ("Gestio\u0301n", "Gestión"),                   # decomposed accent → NFC
    ("a\u200bb", "ab"),                             # zero-width space
    ("   ", None),
    ("", None),
    (None, None),
])
def test_clean_text(con: duckdb.DuckDBPyConnection, raw: str | None, expected: str | None) -> None:
    assert call(con, "clean_text", raw) == expected


@pytest.mark.parametrize(("raw", "expected"), [
    ("QUISPE MAMANI, JUAN CARLOS", "QUISPE MAMANI JUAN CARLOS"),
    ("Quispe Mamani Juan Carlos", "QUISPE MAMANI JUAN CARLOS"),
    ("quispe\u00a0mamani ,juan", "QUISPE MAMANI JUAN"),
    ("muñoz lópez fiorella ", "MUÑOZ LÓPEZ FIORELLA"),
    ("  DE LA CRUZ,  PERCY", "DE LA CRUZ PERCY"),
])
def test_person_name(con: duckdb.DuckDBPyConnection, raw: str, expected: str) -> None:
    assert call(con, "person_name", raw) == expected


@pytest.mark.parametrize(("raw", "doc_type", "number"), [
    ("DNI 12345678", "DNI", "12345678"),
    ("dni 01234567", "DNI", "01234567"),             # leading zero kept
    ("DNI: 12345678", "DNI", "12345678"),
    ("D.N.I. 12345678", "DNI", "12345678"),
    ("DNI/LE 12345678", "DNI", "12345678"),
    ("DNI / LE 12345678", "DNI", "12345678"),
    ("L.E. 12345678", "DNI", "12345678"),
    ("12345678", "DNI", "12345678"),                 # a bare 8-digit number is a DNI
    ("\u00a012345678 ", "DNI", "12345678"),
    ("CE 001234567", "CE", "001234567"),
    ("CEX : 001234567", "CE", "001234567"),
    ("C.E. 001234567", "CE", "001234567"),
    ("CARNÉ DE EXTRANJERÍA 001234567", "CE", "001234567"),
    ("PASAPORTE AB123456", "PASAPORTE", "AB123456"),
    ("PSP : AB1234567", "PASAPORTE", "AB1234567"),
    ("pasaporte ab 123456", "PASAPORTE", "AB123456"),
    ("CDI : 12-3456", "CDI", "12-3456"),
    ("DMI : 0012345", "DMI", "0012345"),
    ("RUC 20131370645", "RUC", "20131370645"),
    ("OTR : X-99", "OTRO", "X-99"),
    ("OTROS 123", "OTRO", "123"),
    ("XYZ 123", None, None),
    ("1234567", None, None),                          # 7 digits: not a DNI, no type
])
def test_document(con: duckdb.DuckDBPyConnection, raw: str, doc_type: str | None,
                  number: str | None) -> None:
    assert call(con, "doc_type", raw) == doc_type
    assert call(con, "doc_number", raw) == number


@pytest.mark.parametrize(("doc_type", "number", "valid"), [
    ("DNI", "12345678", True),
    ("DNI", "12345678E", True),       # optional check character, as a letter
    ("DNI", "123456781", True),       # or as a digit
    ("DNI", "12345678K", False),      # a check character that does not match
    ("DNI", "1234567", False),
    ("DNI", "123456789X", False),
    ("CE", "001234567", True),
    ("CE", "AB1234", False),
    ("PASAPORTE", "AB123456", True),
    ("PASAPORTE", "AB1", False),
    ("RUC", "20131370645", True),
    ("RUC", "20131370646", False),    # wrong check digit
    ("RUC", "30131370645", False),    # unknown prefix
    ("RUC", "2013137064", False),
    ("CDI", "12-3456", True),
    ("DMI", "0012345", True),
    ("OTRO", "X-99", True),
    ("OTRO", "-", False),
    (None, "12345678", False),
    ("DNI", None, False),
])
def test_doc_number_valid(con: duckdb.DuckDBPyConnection, doc_type: str | None,
                          number: str | None, valid: bool) -> None:
    assert call(con, "doc_number_valid", doc_type, number) is valid


@pytest.mark.parametrize(("ruc", "valid"), [
    ("20131370645", True), ("20999100016", True), ("20999200029", True),
    ("20131370646", False), ("2013137064A", False), ("", False), (None, False),
])
def test_ruc_valid(con: duckdb.DuckDBPyConnection, ruc: str | None, valid: bool) -> None:
    assert call(con, "ruc_valid", ruc) is valid


@pytest.mark.parametrize(("raw", "expected"), [
    ("05/08/2024", dt.date(2024, 8, 5)),
    ("5/8/2024", dt.date(2024, 8, 5)),
    ("05-08-2024", dt.date(2024, 8, 5)),
    ("2024-08-05", dt.date(2024, 8, 5)),
    ("2024-08-05 10:30:00", dt.date(2024, 8, 5)),
    ("24/08/21 17:46", dt.date(2021, 8, 24)),       # 2-digit year
    ("01/10/24", dt.date(2024, 10, 1)),
    ("45512", dt.date(2024, 8, 8)),                 # Excel serial
    ("45512.4375", dt.date(2024, 8, 8)),            # Excel serial with time of day
    (" 05/08/2024\u00a0", dt.date(2024, 8, 5)),
    ("31/02/2024", None),                           # no such day
    ("123", None),                                  # a stray number is no date
    ("ayer", None),
    (None, None),
])
def test_parse_date(con: duckdb.DuckDBPyConnection, raw: str | None, expected: dt.date | None) -> None:
    assert call(con, "parse_date", raw) == expected


@pytest.mark.parametrize(("raw", "expected"), [
    ("10:30", dt.time(10, 30)),
    ("9:05", dt.time(9, 5)),
    ("10:30:15", dt.time(10, 30, 15)),
    ("3:05 p.m.", dt.time(15, 5)),
    ("03:05 PM", dt.time(15, 5)),
    ("12:10 a. m.", dt.time(0, 10)),
    ("11:45:24 a.m.", dt.time(11, 45, 24)),
    ("24/08/21 17:46", dt.time(17, 46)),           # a date before the time is ignored
    ("0.4375", dt.time(10, 30)),                   # Excel fraction of a day
    ("0,5", dt.time(12, 0)),
    ("45512.75", dt.time(18, 0)),                  # Excel serial date-time
    ("0.99999999", dt.time(23, 59, 59)),
    ("25:00", None),
    ("10", None),
    ("", None),
])
def test_parse_time(con: duckdb.DuckDBPyConnection, raw: str, expected: dt.time | None) -> None:
    assert call(con, "parse_time", raw) == expected


@pytest.mark.parametrize(("raw", "kind", "name"), [
    ("Entidad pública - MINISTERIO DE EJEMPLO", "Entidad pública", "MINISTERIO DE EJEMPLO"),
    ("Entidad publica -  MINISTERIO\u00a0DE EJEMPLO ", "Entidad pública", "MINISTERIO DE EJEMPLO"),
    ("ENTIDAD PRIVADA - ACME S.A.C.", "Entidad privada", "ACME S.A.C."),
    ("Persona natural - a titulo personal", "Persona natural", None),
])
def test_visitor_entity(con: duckdb.DuckDBPyConnection, raw: str, kind: str, name: str | None) -> None:
    assert call(con, "visitor_entity_kind", raw) == kind
    assert call(con, "visitor_entity_name", raw) == name


@pytest.mark.parametrize(("raw", "name", "area", "post"), [
    ("PAREDES LUNA GLADYS - GERENCIA MUNICIPAL - GERENTE MUNICIPAL",
     "PAREDES LUNA GLADYS", "GERENCIA MUNICIPAL", "GERENTE MUNICIPAL"),
    ("ARCE VIDAL WALTER - GERENCIA - SUBGERENCIA DE CATASTRO - ASISTENTE",
     "ARCE VIDAL WALTER", "GERENCIA - SUBGERENCIA DE CATASTRO", "ASISTENTE"),
    ("Arce, Walter  -  Alcaldía", "ARCE WALTER", None, "Alcaldía"),
    # no name before the first dash: the name is missing, not "- ÁREA"
    (" - ÁREA DE TI - JEFE", None, "ÁREA DE TI", "JEFE"),
    ("- JEFE", None, None, "JEFE"),
    ("RIOS ANA -", "RIOS ANA", None, None),
    ("  -  ", None, None, None),
    ("SOTO-PEREZ LUIS - JEFE", "SOTO-PEREZ LUIS", None, "JEFE"),
])
def test_official(con: duckdb.DuckDBPyConnection, raw: str, name: str | None, area: str | None,
                  post: str | None) -> None:
    assert call(con, "official_name", raw) == name
    assert call(con, "official_area", raw) == area
    assert call(con, "official_post", raw) == post


@pytest.mark.parametrize(("raw", "category", "detail"), [
    ("Reunión de trabajo - Coordinación", "Reunión de trabajo", "Coordinación"),
    ("REUNION DE TRABAJO", "Reunión de trabajo", None),
    ("gestión  de intereses - Ordenanza - art. 3", "Gestión de intereses", "Ordenanza - art. 3"),
    ("Otros Motivos", "Otros Motivos", None),
])
def test_reason(con: duckdb.DuckDBPyConnection, raw: str, category: str, detail: str | None) -> None:
    assert call(con, "reason_category", raw) == category
    assert call(con, "reason_detail", raw) == detail


@pytest.mark.parametrize(("raw", "placeholder"), [
    ("No se recibieron visitas", True),
    ("NO SE RECIBIERON VISITAS ", True),
    ("No se registraron visitas en la fecha", True),
    ("QUISPE MAMANI JUAN", False),
    (None, False),
])
def test_placeholder(con: duckdb.DuckDBPyConnection, raw: str | None, placeholder: bool) -> None:
    assert call(con, "is_placeholder", raw) is placeholder


@pytest.mark.parametrize("layout", ["upload-oficial", "upload-normalizado"])
def test_per_value_normalisation_equals_per_row(layout: str) -> None:
    """Normalising each distinct key once and mapping the results back gives, row for row,
    what running every expression on every row gives: repeated values, NULLs, empty cells, a
    document split over two columns, an optional column left out, and the domain rules' flags
    computed with their keys included; and so does remembering the keys of earlier uploads."""
    import pyarrow as pa

    from pipeline.normalization.project import PER_VALUE_MIN_ROWS, Memo, project
    from pipeline.validation.connection import validation_cursor
    from pipeline.validation.rules import layout_rules, rule_outputs

    outputs = rule_outputs(layout, layout_rules(dt.date(2024, 12, 31)))
    cells = sorted({c for o in outputs for c in o.key})
    absent = cells[-1]  # an optional column the file left out: its cells are NULL
    samples = {
        "date": ["05/08/2024", "2024-08-05", "45509", None, "", "31/02/2024", "02/01/2025"],
        "time": ["9:05 a.m.", "17:46", "0.5", None, "", "25:00"],
        "text": ["DNI 12345678", "CE 001234567", "RUIZ LUIS - OFICINA DE TI - JEFE",
                 " - ÁREA - CARGO", "Reunión de trabajo - coordinación", "Entidad privada - ACME",
                 "12345678", None, "", "PEREZ, ANA", "RUC 20131370646", "CE AB1234"],
    }

    def family(cell: str) -> str:
        lowered = cell.lower()
        return "date" if "fecha" in lowered else "time" if "hora" in lowered else "text"

    rows = 60
    table = pa.table({"_fila": pa.array(range(2, rows + 2), pa.int64()), **{
        c: pa.array([samples[family(c)][(i * (j + 3)) % len(samples[family(c)])]
                     for i in range(rows)], pa.string())
        for j, c in enumerate(cells) if c != absent}})
    # rows with every cell absent, as a short row padded by the reader has
    table = pa.concat_tables([table, pa.table({
        "_fila": pa.array(range(rows + 2, rows + 5), pa.int64()),
        **{c: pa.nulls(3, pa.string()) for c in table.column_names if c != "_fila"}})])
    con = validation_cursor()
    per_row = project(con, table, outputs, mode="per_row")
    # remembered across uploads: first with nothing known, then part of it known already
    memo = Memo()
    assert project(con, table, outputs, memo=memo).to_pylist() == per_row.to_pylist()
    assert project(con, table.slice(20), outputs, memo=memo).to_pylist() == \
        per_row.slice(20).to_pylist()
    # a large chunk: keys that repeat go through the memo, the others row by row
    large = pa.concat_tables([table] * (PER_VALUE_MIN_ROWS // table.num_rows + 1))
    # unique documents and names, mostly plain (Arrow's fast paths), some not (DuckDB)
    unique = pa.array([f"DNI {10_000_000 + i}" if i % 7 else f"CE 0{100_000_000 + i}"
                       for i in range(large.num_rows)], pa.string())
    names = pa.array([f"APELLIDO{i} NOMBRE" if i % 5 else f"Ñahui, Rosa {i}"
                      for i in range(large.num_rows)], pa.string())
    visitor = "Visitante" if layout == "upload-oficial" else "visitante_nombre"
    large = large.drop_columns([c for c in (visitor,) if c in large.column_names]
                               ).append_column(visitor, names)
    large = large.set_column(large.column_names.index(cells[0]), cells[0], unique)
    large = large.set_column(0, "_fila", pa.array(range(2, large.num_rows + 2), pa.int64()))
    per_value = project(con, large, outputs, memo=Memo())
    assert per_value.to_pylist() == project(con, large, outputs, mode="per_row").to_pylist()
    flags = [o.name for o in outputs if o.name.startswith("_regla")]
    assert any(per_value.column(f).to_pylist().count(True) for f in flags)
    assert any(v is not None for row in per_value.to_pylist() for v in row.values())


# --- Arrow's fast paths for ordinary cells give what the macros give ---------------------

NAME_TEXT = st.text(alphabet="ABCÑÁÉazñßǅ ,.'-\t\u00a0\u0301\u2003\u200b", max_size=14)
DOC_TEXT = st.one_of(st.from_regex(r"(DNI ?)?[0-9]{8}", fullmatch=True),
                     st.text(alphabet="DNIdni 0123456789:-\t", max_size=14))


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(st.none(), NAME_TEXT), min_size=1, max_size=30))
def test_fast_person_name_is_the_macro(cells: list[str | None]) -> None:
    import pyarrow as pa

    from pipeline.normalization.project import fast_person_name
    from pipeline.validation.connection import validation_cursor

    mask, values = fast_person_name(pa.array(cells, pa.string()))
    con = validation_cursor()
    for cell, ordinary, value in zip(cells, mask, values.to_pylist(), strict=True):
        if ordinary:
            assert con.execute("SELECT person_name(?)", [cell]).fetchone()[0] == value


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(st.none(), DOC_TEXT), min_size=1, max_size=30))
def test_fast_doc_parts_is_the_macro(cells: list[str | None]) -> None:
    import pyarrow as pa

    from pipeline.normalization.project import fast_doc_parts
    from pipeline.validation.connection import validation_cursor

    mask, values = fast_doc_parts(pa.array(cells, pa.string()))
    con = validation_cursor()
    for cell, ordinary, value in zip(cells, mask, values.to_pylist(), strict=True):
        if ordinary:
            assert con.execute("SELECT doc_parts(?)", [cell]).fetchone()[0] == value


def test_fast_paths_take_the_ordinary_cells() -> None:
    """They are not vacuous: plain names and plain DNIs never reach DuckDB."""
    import pyarrow as pa

    from pipeline.normalization.project import fast_doc_parts, fast_person_name

    names = ["QUISPE MAMANI ROSA", "O'BRIEN J.", "PÉREZ ÑAUPA ANA", "Perez Ana", "PEREZ, ANA",
             " PEREZ", "PEREZ  ANA", "PE\u0301REZ", None, ""]
    assert fast_person_name(pa.array(names))[0].tolist() == [True, True, True] + [False] * 7
    docs = ["DNI 12345678", "12345678", "DNI12345678", "dni 12345678", "DNI: 12345678",
            "CE 001234567", "DNI 1234567", None]
    assert fast_doc_parts(pa.array(docs))[0].tolist() == [True, True, True] + [False] * 5
