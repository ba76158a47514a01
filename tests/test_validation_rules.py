"""Domain rules of the register, with exact row numbers, on small CSVs and the shipped samples."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import pytest

from pipeline.validation.upload import upload_schemas, validate_file

ROOT = Path(__file__).resolve().parents[1]
SCHEMAS = upload_schemas(ROOT / "schemas")
SAMPLES = ROOT / "datasets" / "samples"
MANIFEST = json.loads((SAMPLES / "MANIFEST.json").read_text("utf-8"))
TODAY = dt.date(2024, 12, 31)

COLUMNS = ["Fecha de Registro", "Fecha de Visita", "Entidad visitada", "Visitante",
           "Documento del visitante", "Entidad del visitante", "Funcionario visitado",
           "Hora Ingreso", "Hora Salida", "Motivo", "Lugar específico", "Observación"]
GOOD = ["05/08/2024", "05/08/2024", "MINISTERIO DE PRUEBA", "PEREZ GOMEZ ANA",
        "DNI 12345678", "Entidad privada - ACME SAC", "RUIZ LUIS - OFICINA DE TI - JEFE",
        "09:00", "10:30", "Reunión de trabajo - coordinación", "Sala 1", ""]


def write_upload(tmp_path: Path, changes: dict[str, str]) -> Path:
    """A 3-row upload: rows 2 and 4 are good, row 3 carries the changes."""
    bad = [changes.get(c, v) for c, v in zip(COLUMNS, GOOD, strict=True)]
    path = tmp_path / "carga.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerows([COLUMNS, GOOD, bad, GOOD])
    return path


def errors_of(path: Path) -> set[tuple[int | None, str | None, str]]:
    report = validate_file(path, path.name, SCHEMAS, today=TODAY)
    return {tuple(r) for r in report.flatten()}  # type: ignore[misc]


@pytest.mark.parametrize(("changes", "field", "kind"), [
    ({"Hora Salida": "08:15"}, "Hora Salida", "exit-before-entry"),
    ({"Fecha de Visita": "02/01/2025", "Fecha de Registro": "03/01/2025"},
     "Fecha de Visita", "future-date"),
    ({"Fecha de Visita": "06/08/2024"}, "Fecha de Visita", "visit-after-registration"),
    ({"Fecha de Visita": "31/02/2024"}, "Fecha de Visita", "invalid-date"),
    ({"Hora Ingreso": "25:10"}, "Hora Ingreso", "invalid-time"),
    ({"Documento del visitante": "DNI 1234567"}, "Documento del visitante",
     "invalid-document-number"),
    ({"Documento del visitante": "CE 12"}, "Documento del visitante", "invalid-document-number"),
    ({"Documento del visitante": "CE AB1234"}, "Documento del visitante",
     "invalid-document-number"),  # a carné de extranjería number is digits only
    ({"Documento del visitante": "PASAPORTE AB1"}, "Documento del visitante",
     "invalid-document-number"),
    ({"Documento del visitante": "DNI 12345678K"}, "Documento del visitante",
     "invalid-document-number"),  # the card's check character for 12345678 is 1 or E
    ({"Documento del visitante": "RUC 20131370646"}, "Documento del visitante", "invalid-ruc"),
    ({"Documento del visitante": "RUC 30131370645"}, "Documento del visitante", "invalid-ruc"),
    ({"Documento del visitante": "XYZ 123"}, "Documento del visitante", "unknown-document-type"),
    ({"Funcionario visitado": " - OFICINA DE TI - JEFE"}, "Funcionario visitado",
     "missing-official"),
    ({"Motivo": " - sin categoría"}, "Motivo", "missing-reason"),
    ({"Funcionario visitado": ""}, "Funcionario visitado", "constraint-error"),
    ({"Motivo": ""}, "Motivo", "constraint-error"),
    ({"Visitante": ""}, "Visitante", "constraint-error"),
])
def test_rule_reports_exact_row(tmp_path: Path, changes: dict[str, str], field: str,
                                kind: str) -> None:
    assert errors_of(write_upload(tmp_path, changes)) == {(3, field, kind)}


@pytest.mark.parametrize("document", ["DNI 12345678", "DNI 12345678E", "DNI 123456781", "12345678",
                                      "CE 001234567", "RUC 20131370645", "PASAPORTE AB123456",
                                      "DNI/LE 87654321"])
def test_valid_documents_pass(tmp_path: Path, document: str) -> None:
    assert errors_of(write_upload(tmp_path, {"Documento del visitante": document})) == set()


def test_exit_may_be_blank(tmp_path: Path) -> None:
    assert errors_of(write_upload(tmp_path, {"Hora Salida": ""})) == set()


@pytest.mark.parametrize("entry", MANIFEST["files"], ids=lambda e: e["file"])
def test_samples_report_the_manifest_rows(entry: dict) -> None:
    path = SAMPLES / entry["path"]
    report = validate_file(path, path.name, SCHEMAS, today=TODAY)
    rows = {(e.rowNumber, e.fieldName) for e in report.errors}
    assert rows == {(r["row"], r["field"]) for r in entry["invalid_rows"]}
    assert report.placeholder_rows == len(entry["placeholder_rows"])
    assert report.valid_rows == entry["valid_rows"]


def test_every_error_type_is_documented() -> None:
    """docs/validacion.md names every error type a report can carry."""
    from pipeline.validation.errors import ERROR_TYPES

    doc = (ROOT / "docs" / "validacion.md").read_text("utf-8")
    frictionless_own = {"source-error", "format-error", "encoding-error", "missing-label",
                        "extra-label", "duplicate-label", "incorrect-label", "blank-label",
                        "blank-row", "extra-cell", "missing-cell", "type-error",
                        "constraint-error", "unique-error", "primary-key"}
    missing = [t for t in ERROR_TYPES if t not in frictionless_own and f"`{t}`" not in doc]
    assert missing == []
