"""Composite official fields split into atomic fields, over the quirks of DESIGN §2."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from pipeline.normalization import install_macros


@pytest.fixture(scope="module")
def con():
    connection = duckdb.connect()
    install_macros(connection)
    return connection


def one(con, macro: str, raw: str | None):
    return con.execute(f"SELECT {macro}(?::VARCHAR)", [raw]).fetchone()[0]


@pytest.mark.parametrize(("raw", "kind", "number"), [
    ("DNI 12345678", "DNI", "12345678"),
    ("DNI 04567891", "DNI", "04567891"),
    ("04567891", "DNI", "04567891"),
    ("DNI/LE 06794905", "DNI", "06794905"),
    ("dni:  40944302 ", "DNI", "40944302"),
    ("CE 001234567", "CE", "001234567"),
    ("CEX : 001234567", "CE", "001234567"),
    ("PASAPORTE AB123456", "PASAPORTE", "AB123456"),
    ("PSP : AB1234567", "PASAPORTE", "AB1234567"),
    ("CDI 12-345-A", "CDI", "12-345-A"),
    ("DMI : 7788", "DMI", "7788"),
    ("DNI\u00a012345678", "DNI", "12345678"),
    ("XYZ 123", None, None),
    ("", None, None),
])
def test_document(con, raw, kind, number):
    assert one(con, "doc_type", raw) == kind
    assert one(con, "doc_number", raw) == number


@pytest.mark.parametrize(("raw", "kind", "name"), [
    ("Entidad pública - MINISTERIO DE SALUD", "Entidad pública", "MINISTERIO DE SALUD"),
    ("Entidad publica - GOBIERNO REGIONAL", "Entidad pública", "GOBIERNO REGIONAL"),
    ("Entidad privada - ANDES S.A.C. ", "Entidad privada", "ANDES S.A.C."),
    ("Entidad privada - CONSORCIO NORTE - SUR", "Entidad privada", "CONSORCIO NORTE - SUR"),
    ("Persona natural - a titulo personal", "Persona natural", None),
    ("SIN INSTITUCION", None, "SIN INSTITUCION"),
    (None, None, None),
])
def test_visitor_entity(con, raw, kind, name):
    assert one(con, "visitor_entity_kind", raw) == kind
    assert one(con, "visitor_entity_name", raw) == name


@pytest.mark.parametrize(("raw", "name", "area", "post"), [
    ("RAMIREZ CASTILLO DIANA - Equipo de Inversión - Asesor",
     "RAMIREZ CASTILLO DIANA", "Equipo de Inversión", "Asesor"),
    # The area itself contains ' - ': split from the right.
    ("PÉREZ LUNA ANA - GERENCIA DE DESARROLLO URBANO - SUBGERENCIA DE OBRAS - Subgerente",
     "PÉREZ LUNA ANA", "GERENCIA DE DESARROLLO URBANO - SUBGERENCIA DE OBRAS", "Subgerente"),
    ("ZUÑIGA PAREDES, BLANCA LEONOR - AUXILIAR", "ZUÑIGA PAREDES BLANCA LEONOR", None, "AUXILIAR"),
    ("ROJAS  TORRES\u00a0LUIS   -  OFICINA  -  Jefe ", "ROJAS TORRES LUIS", "OFICINA", "Jefe"),
    ("SOLO NOMBRE", "SOLO NOMBRE", None, None),
])
def test_official(con, raw, name, area, post):
    assert one(con, "official_name", raw) == name
    assert one(con, "official_area", raw) == area
    assert one(con, "official_post", raw) == post


@pytest.mark.parametrize(("raw", "category", "detail"), [
    ("Reunión de trabajo - Coordinación de obra", "Reunión de trabajo", "Coordinación de obra"),
    ("REUNION DE TRABAJO - x - y", "Reunión de trabajo", "x - y"),
    ("Gestión de intereses - Proyecto", "Gestión de intereses", "Proyecto"),
    ("Otros Motivos", "Otros Motivos", None),
    ("otros motivos - Trámite", "Otros Motivos", "Trámite"),
])
def test_reason(con, raw, category, detail):
    assert one(con, "reason_category", raw) == category
    assert one(con, "reason_detail", raw) == detail


@pytest.mark.parametrize(("raw", "expected"), [
    ("RIOS  RAMIREZ , ANGELICA ROSARIO ", "RIOS RAMIREZ ANGELICA ROSARIO"),
    ("Muñoz\u00a0Peña José", "MUÑOZ PEÑA JOSÉ"),
    ("  QUISPE   MAMANI  ", "QUISPE MAMANI"),
])
def test_person_name(con, raw, expected):
    assert one(con, "person_name", raw) == expected


@pytest.mark.parametrize(("raw", "expected"), [
    ("05/08/2024", dt.date(2024, 8, 5)),
    ("5/8/2024", dt.date(2024, 8, 5)),
    ("2024-08-05", dt.date(2024, 8, 5)),
    ("24/08/21 17:46", dt.date(2021, 8, 24)),
    ("05/08/24", dt.date(2024, 8, 5)),
    ("31/02/2024", None),
    ("ayer", None),
])
def test_date(con, raw, expected):
    assert one(con, "parse_date", raw) == expected


@pytest.mark.parametrize(("raw", "expected"), [
    ("09:30", dt.time(9, 30)),
    ("9:05:07", dt.time(9, 5, 7)),
    ("10:42 AM", dt.time(10, 42)),
    ("10:42 p.m.", dt.time(22, 42)),
    ("12:15 a. m.", dt.time(0, 15)),
    ("2024-08-05 17:46:00", dt.time(17, 46)),
    ("25:00", None),
])
def test_time(con, raw, expected):
    assert one(con, "parse_time", raw) == expected
