"""Differential test: our DuckDB engine and the real frictionless-py report the same errors.

A seeded generator writes CSV files with errors of every kind both tools support injected at
random rows; for each file the set of (rowNumber, fieldName, type) must be equal.
"""

from __future__ import annotations

import csv
import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import frictionless
import pytest

from pipeline.validation.schema import schema_from_descriptor
from pipeline.validation.tabular import validate_table

Row = list[str]


@pytest.fixture(params=["per-value", "compiled"])
def check_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both ways the driver checks a chunk: per distinct value (a small chunk, as these files
    are) and the prefilter with the query compiled from the schema (a large one)."""
    from pipeline.validation import driver

    if request.param == "compiled":
        monkeypatch.setattr(driver, "PREFILTER_MIN_ROWS", 0)
    return str(request.param)

SCHEMAS: dict[str, dict[str, Any]] = {
    "typed": {
        "fields": [
            {"name": "id", "type": "integer", "constraints": {"required": True, "unique": True,
                                                              "minimum": 1}},
            {"name": "code", "type": "string",
             "constraints": {"pattern": "[A-Z]{2}-[0-9]{3}", "minLength": 6, "maxLength": 6}},
            {"name": "amount", "type": "number",
             "constraints": {"minimum": 0, "maximum": 1000}},
            {"name": "active", "type": "boolean"},
            {"name": "day", "type": "date",
             "constraints": {"minimum": "2020-01-01", "maximum": "2025-12-31"}},
            {"name": "at", "type": "time"},
            {"name": "stamp", "type": "datetime"},
            {"name": "year", "type": "year", "constraints": {"maximum": 2030}},
            {"name": "kind", "type": "string", "constraints": {"enum": ["a", "b", "c"]}},
        ],
    },
    "custom-formats": {
        "fields": [
            {"name": "fecha", "type": "date", "format": "%d/%m/%Y",
             "constraints": {"required": True, "minimum": "01/01/2021"}},
            {"name": "hora", "type": "time", "format": "%H:%M"},
            {"name": "si", "type": "boolean", "trueValues": ["sí", "S"], "falseValues": ["no", "N"]},
            {"name": "monto", "type": "number", "decimalChar": ",", "groupChar": "."},
            {"name": "cantidad", "type": "integer", "bareNumber": False,
             "constraints": {"maximum": 500}},
            {"name": "id", "type": "string", "format": "uuid", "constraints": {"unique": True}},
            {"name": "nivel", "type": "integer", "constraints": {"enum": [1, 2, 3]}},
        ],
        "missingValues": ["", "NA", "-"],
    },
    "keyed": {
        "fields": [
            {"name": "ruc", "type": "string", "constraints": {"required": True,
                                                              "pattern": "[0-9]{11}"}},
            {"name": "fecha", "type": "date"},
            {"name": "visitante", "type": "string", "constraints": {"maxLength": 12}},
            {"name": "n", "type": "integer"},
        ],
        "primaryKey": ["ruc", "fecha"],
    },
}


def _valid_typed(rng: random.Random, i: int) -> Row:
    return [str(i), f"{rng.choice('ABCD')}{rng.choice('XYZ')}-{rng.randint(100, 999)}",
            f"{rng.uniform(0, 1000):.2f}", rng.choice(["true", "false", "1", "0", "TRUE"]),
            f"2023-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:00",
            f"2024-05-{rng.randint(10, 28)}T10:{rng.randint(10, 59)}:00",
            str(rng.randint(1990, 2030)), rng.choice("abc")]


def _valid_custom(rng: random.Random, i: int) -> Row:
    return [f"{rng.randint(1, 28):02d}/{rng.randint(1, 12):02d}/2023",
            f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}", rng.choice(["sí", "S", "no", "N"]),
            f"{rng.randint(1, 9)}.{rng.randint(100, 999)},{rng.randint(10, 99)}",
            f"{rng.randint(1, 500)} unidades",
            f"{rng.getrandbits(32):08x}-{rng.getrandbits(16):04x}-4{rng.getrandbits(12):03x}-"
            f"a{rng.getrandbits(12):03x}-{rng.getrandbits(48):012x}", str(rng.randint(1, 3))]


def _valid_keyed(rng: random.Random, i: int) -> Row:
    return [f"20{rng.randint(10**8, 10**9 - 1)}", f"2024-01-{1 + i % 28:02d}",
            rng.choice(["ANA", "LUIS PEREZ", "MARIA"]), str(i)]


# Per schema: bad values per column index (type, pattern, enum, min/max, length …)
BAD_CELLS: dict[str, dict[int, list[str]]] = {
    "typed": {
        0: ["", "x1", "1.5", "0", "-3", " "],
        1: ["ab-123", "AB-1234", "AB-12", "", "AB_123"],
        2: ["abc", "-1", "1000.5", "1,5", "1e4"],
        3: ["yes", "T", "verdadero", "2"],
        4: ["2024-13-01", "2019-12-31", "2026-01-01", "01/02/2023", "2023-02-30"],
        5: ["25:00:00", "10:00", "ab:cd:ef", "10:61:00"],
        6: ["2024-05-10 10:10:00", "2024-05-10", "2024-05-10T10:10", "nope"],
        7: ["2031", "99", "20a4", "12345"],
        8: ["d", "A", "ab"],
    },
    "custom-formats": {
        0: ["", "NA", "2023-01-02", "31/02/2023", "15/06/2020"],
        1: ["25:00", "10.30", "x"],
        2: ["si", "yes", "true"],
        3: ["1.234.5", "12.5,3,2", "abc"],
        4: ["600 u", "x", "7.5"],
        5: ["not-a-uuid", "1234"],
        6: ["4", "0", "uno", "1.0"],
    },
    "keyed": {
        0: ["", "2012345678", "abc"],
        1: ["2024-02-31", "x"],
        2: ["NOMBRE MUY LARGO DE VERDAD"],
        3: ["1.5", "n"],
    },
}

VALID_ROW: dict[str, Callable[[random.Random, int], Row]] = {
    "typed": _valid_typed, "custom-formats": _valid_custom, "keyed": _valid_keyed,
}


LABEL_FAULTS = ("none", "incorrect", "blank", "duplicate", "extra", "missing")


def make_corpus_file(path: Path, schema_name: str, seed: int, rows: int = 150) -> None:
    """A CSV for the schema with ~1 in 4 rows broken in some way (seeded)."""
    rng = random.Random(seed)
    names = [f["name"] for f in SCHEMAS[schema_name]["fields"]]
    header = list(names)
    # one header fault per seed, so every schema meets each of them
    label_fault = LABEL_FAULTS[seed % len(LABEL_FAULTS)]
    if label_fault == "incorrect":
        header[rng.randrange(len(header))] += "_x"
    elif label_fault == "blank":
        header[rng.randrange(len(header))] = ""
    elif label_fault == "duplicate":
        header[-1] = header[0]
    elif label_fault == "extra":
        header.append("sobrante")
    elif label_fault == "missing":
        header.pop()
    width = len(header)
    body: list[Row] = []
    for i in range(1, rows + 1):
        row = VALID_ROW[schema_name](rng, i)
        fault = rng.random()
        if fault < 0.15:
            col = rng.randrange(len(names))
            row[col] = rng.choice(BAD_CELLS[schema_name][col])
        elif fault < 0.18 and body:
            # a repeated row breaks unique fields and the primary key
            row = list(rng.choice(body))
        elif fault < 0.20:
            row = [""] * len(row)  # blank row
        elif fault < 0.22:
            row = row[: rng.randint(1, len(row) - 1)]  # missing cells
        elif fault < 0.24:
            row = [*row, "extra"]  # extra cell
        # cells match the header's width, so the only ragged rows are the injected ones
        if len(row) >= len(names):
            row = row[:width] + row[len(names):] if width < len(names) else row + [""] * (width - len(names))
        body.append(row)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(body)


def _key(rows: list[list[Any]]) -> set[tuple[Any, ...]]:
    return {tuple(r) for r in rows}


CASES = [(name, seed) for name in SCHEMAS for seed in range(6)]


@pytest.mark.parametrize(("schema_name", "seed"), CASES, ids=[f"{n}-{s}" for n, s in CASES])
def test_same_errors_as_frictionless(tmp_path: Path, schema_name: str, seed: int,
                                     check_path: str) -> None:
    descriptor = SCHEMAS[schema_name]
    data = tmp_path / f"{schema_name}-{seed}.csv"
    make_corpus_file(data, schema_name, seed)
    schema_file = tmp_path / "schema.json"
    schema_file.write_text(json.dumps(descriptor), encoding="utf-8")

    # trusted: frictionless refuses absolute paths (tmp_path) otherwise
    with frictionless.system.use_context(trusted=True):
        theirs = frictionless.validate(str(data), schema=str(schema_file), limit_errors=100_000)
    ours = validate_table(data, schema_from_descriptor(descriptor, schema_name), error_limit=100_000)

    spec = ["rowNumber", "fieldName", "type"]
    expected = _key(theirs.flatten(spec))
    got = _key(ours.flatten(tuple(spec)))
    assert got - expected == set(), "reported by us only"
    assert expected - got == set(), "reported by frictionless only"
    assert ours.rows == theirs.tasks[0].stats["rows"]
    assert ours.error_count == len(theirs.tasks[0].errors)
    # the corpus really exercises the checks
    assert expected


def test_corpus_covers_every_error_type(tmp_path: Path) -> None:
    """Across the corpus, frictionless finds every error type we claim to match."""
    seen: set[str] = set()
    for schema_name, seed in CASES:
        data = tmp_path / f"{schema_name}-{seed}.csv"
        make_corpus_file(data, schema_name, seed)
        report = validate_table(data, schema_from_descriptor(SCHEMAS[schema_name]),
                                error_limit=100_000)
        seen |= {t for _, _, t in report.flatten()}
    assert seen >= {"type-error", "constraint-error", "unique-error", "primary-key", "blank-row",
                    "missing-cell", "extra-cell", "incorrect-label", "blank-label",
                    "duplicate-label", "extra-label", "missing-label"}


# ---------------------------------------------------------------- the upload path

UPLOAD_SCHEMAS_DIR = Path(__file__).resolve().parents[1] / "schemas"
#: error types frictionless knows; the rest are the register's domain rules
FRICTIONLESS_TYPES = {"type-error", "constraint-error", "unique-error", "primary-key", "blank-row",
                      "missing-cell", "extra-cell", "incorrect-label", "blank-label",
                      "duplicate-label", "extra-label", "missing-label"}


def _upload_row(rng: random.Random, layout: str) -> dict[str, str]:
    day = f"{rng.randint(1, 28):02d}/{rng.randint(1, 12):02d}/2024"
    entry = f"{rng.randint(7, 12):02d}:{rng.randint(0, 59):02d}"
    leave = rng.choice(["", f"{rng.randint(13, 18):02d}:{rng.randint(0, 59):02d}"])
    person = rng.choice(["PEREZ GOMEZ ANA", "QUISPE, ROSA", "SMITH JOHN", "ÑAUPARI LUZ"])
    if layout == "upload-oficial":
        return {"Fecha de Registro": day, "Fecha de Visita": day, "Entidad visitada": "MUNI",
                "Visitante": person, "Documento del visitante": f"DNI {rng.randint(10**7, 10**8 - 1)}",
                "Entidad del visitante": "Entidad privada - ACME SAC",
                "Funcionario visitado": "RUIZ LUIS - OFICINA DE TI - JEFE",
                "Hora Ingreso": entry, "Hora Salida": leave,
                "Motivo": "Reunión de trabajo - coordinación", "Lugar específico": "Sala 1",
                "Observación": rng.choice(["", "ninguna"])}
    return {"fecha_registro": day, "fecha_visita": day, "hora_ingreso": entry, "hora_salida": leave,
            "visitante_nombre": person, "visitante_tipo_documento": "DNI",
            "visitante_numero_documento": str(rng.randint(10**7, 10**8 - 1)),
            "visitante_tipo_entidad": "Entidad privada", "visitante_entidad": "ACME SAC",
            "funcionario_nombre": "RUIZ LUIS", "funcionario_area": "OFICINA DE TI",
            "funcionario_cargo": "JEFE", "motivo": "Reunión de trabajo",
            "motivo_detalle": "coordinación", "lugar": "Sala 1", "observacion": "",
            "entidad_ruc": "20999100016", "entidad_nombre": "MUNI"}


#: values that break an upload field's schema checks (required, pattern, maxLength)
UPLOAD_BAD = ["", " ", "31-02-2024x", "9h30", "x" * 1001, "2024/13/45", "25:61:99:00"]


def make_upload_file(path: Path, layout: str, seed: int, rows: int = 200) -> None:
    rng = random.Random(seed)
    names = [f["name"] for f in json.loads(
        (UPLOAD_SCHEMAS_DIR / f"{layout}.schema.json").read_text("utf-8"))["fields"]]
    body: list[Row] = []
    for _ in range(rows):
        row = [_upload_row(rng, layout)[n] for n in names]
        fault = rng.random()
        if fault < 0.2:
            row[rng.randrange(len(row))] = rng.choice(UPLOAD_BAD)
        elif fault < 0.23:
            row = [""] * len(row)
        elif fault < 0.25:
            row = row[: rng.randint(1, len(row) - 1)]
        elif fault < 0.27:
            row = [*row, "sobra"]
        body.append(row)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(names)
        writer.writerows(body)


UPLOAD_CASES = [(layout, seed) for layout in ("upload-oficial", "upload-normalizado")
                for seed in range(4)]


@pytest.mark.parametrize(("layout", "seed"), UPLOAD_CASES, ids=[f"{n}-{s}" for n, s in UPLOAD_CASES])
def test_upload_path_finds_what_frictionless_finds(tmp_path: Path, layout: str, seed: int,
                                                   check_path: str) -> None:
    """`visitas validate FILE` (normalisation and domain rules included) reports the schema's
    errors exactly as frictionless does with the same upload schema; its domain rules only add."""
    from pipeline.validation.upload import upload_schemas, validate_file

    data = tmp_path / f"{layout}-{seed}.csv"
    make_upload_file(data, layout, seed)
    with frictionless.system.use_context(trusted=True):
        theirs = frictionless.validate(str(data), schema=str(UPLOAD_SCHEMAS_DIR /
                                                             f"{layout}.schema.json"),
                                       limit_errors=100_000)
    ours = validate_file(data, data.name, upload_schemas(UPLOAD_SCHEMAS_DIR),
                         error_limit=100_000)
    assert ours.schema == layout
    spec = ["rowNumber", "fieldName", "type"]
    expected = _key(theirs.flatten(spec))
    got = {e for e in _key(ours.flatten(tuple(spec))) if e[2] in FRICTIONLESS_TYPES}
    assert got - expected == set(), "reported by us only"
    assert expected - got == set(), "reported by frictionless only"
    assert ours.rows == theirs.tasks[0].stats["rows"]
    assert {t for _, _, t in expected} >= {"constraint-error", "blank-row", "missing-cell",
                                            "extra-cell"}
