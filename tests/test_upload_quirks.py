"""Bad input as `visitas validate FILE` and the pipeline meet it: title rows with odd line
characters, XLSX formulas and error cells, control characters, huge cells, XLSX rows with an
extra cell, files exported from the published data, and files dropped in the wrong folder.

Every test reads what a user reads: the report JSON of `visitas validate --json`, its Spanish
text, or the published and quarantined rows.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import openpyxl
import pytest
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.flow import included_entities, run_full_pass, seed_sample_uploads
from tests.published import parquet_glob

HEADER = ["Fecha de Registro", "Fecha de Visita", "Entidad visitada", "Visitante",
          "Documento del visitante", "Entidad del visitante", "Funcionario visitado",
          "Hora Ingreso", "Hora Salida", "Motivo", "Lugar específico", "Observación"]
ENTITY = "20999100016"  # a shipped sample entity
ENTITY_NAME = "Municipalidad Distrital de Ejemplo Norte"


def visit(day: int, person: str = "PEREZ GOMEZ ANA", document: str = "DNI 12345678",
          entry: str = "09:00", exit_: str = "10:30", note: str = "",
          entity: str = ENTITY_NAME) -> list[str]:
    date = f"{day:02d}/08/2024"
    return [date, date, entity, person, document, "Entidad privada - ACME SAC",
            "RUIZ LUIS - OFICINA DE TI - JEFE", entry, exit_,
            "Reunión de trabajo - coordinación", "Sala 1", note]


def validate(path: Path, *extra: str) -> tuple[int, dict, str]:
    """(exit code, the task of the JSON report, the Spanish text) of `visitas validate`."""
    runner = CliRunner()
    as_json = runner.invoke(main, ["validate", str(path), "--json", "--today", "2024-12-31",
                                   *extra])
    text = runner.invoke(main, ["validate", str(path), "--today", "2024-12-31", *extra])
    assert as_json.exit_code == text.exit_code, (as_json.output, text.output)
    return as_json.exit_code, json.loads(as_json.output)["tasks"][0], text.output


def flat(task: dict) -> list[list[object]]:
    return [[e.get("rowNumber"), e.get("fieldName"), e["type"]] for e in task["errors"]]


def write_csv(path: Path, rows: list[list[str]], *, title: str | None = None,
              delimiter: str = ";", encoding: str = "utf-8") -> Path:
    lines = ([title] if title is not None else []) + [delimiter.join(r) for r in [HEADER, *rows]]
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode(encoding))
    return path


@pytest.mark.parametrize("odd", ["\f", "\u2028", "\u2029", "\x1c", "\x85"])
def test_title_row_with_an_odd_line_character_keeps_every_row(project, tmp_path: Path,
                                                              odd: str) -> None:
    """`str.splitlines()` splits on these; CSV rows end only at CR or LF."""
    rows = [visit(5), visit(6, person=""), visit(7)]
    path = write_csv(tmp_path / "carga.csv", rows, title=f"Registro de visitas{odd}Agosto 2024")
    code, task, _ = validate(path)
    assert code == 1
    assert task["stats"]["rows"] == 3
    assert flat(task) == [[4, "Visitante", "constraint-error"]]  # title 1, header 2, rows 3-5
    assert task["summary"]["filasValidas"] == 2


def xlsx(path: Path, rows: list[list[object]]) -> Path:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(HEADER)
    for row in rows:
        sheet.append(row)
    workbook.save(path)  # openpyxl writes formulas without a computed value, as some exports do
    return path


def test_xlsx_formula_without_value_is_named_per_cell(project, tmp_path: Path) -> None:
    """A formula Excel never computed reads as empty: in an optional column the row would be
    published blank, in a required one the message would not say why."""
    optional = visit(5, note="=CONCATENATE(\"sala \", 1)")
    required = visit(6, entry="=NOW()")
    path = xlsx(tmp_path / "carga.xlsx", [optional, required, visit(7)])
    code, task, text = validate(path)
    assert code == 1
    assert flat(task) == [[2, "Observación", "formula-without-value"],
                          [3, "Hora Ingreso", "formula-without-value"]]
    assert [e["cell"] for e in task["errors"]] == ['=CONCATENATE("sala ", 1)', "=NOW()"]
    assert task["summary"]["filasValidas"] == 1
    assert "Fila 3, «Hora Ingreso»: la celda tiene la fórmula «=NOW()» y ningún valor" in text


def test_xlsx_error_value_is_reported_not_read_as_empty(project, tmp_path: Path) -> None:
    path = tmp_path / "carga.xlsx"
    xlsx(path, [visit(5), visit(6)])
    # an error value cached by Excel (#N/A) in Observación of the second data row
    import zipfile

    with zipfile.ZipFile(path) as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    sheet = parts["xl/worksheets/sheet1.xml"].decode()
    sheet = sheet.replace('<c r="L3" t="inlineStr"><is><t></t></is></c>',
                          '<c r="L3" t="e"><v>#N/A</v></c>')
    if '<c r="L3" t="e">' not in sheet:  # openpyxl leaves an empty cell out
        sheet = sheet.replace('</row></sheetData>',
                              '<c r="L3" t="e"><v>#N/A</v></c></row></sheetData>')
    parts["xl/worksheets/sheet1.xml"] = sheet.encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    code, task, _ = validate(path)
    assert code == 1
    assert flat(task) == [[3, "Observación", "spreadsheet-error"]]
    assert task["errors"][0]["cell"] == "#N/A"


@pytest.mark.parametrize("far", [False, True], ids=["first-64k", "beyond-64k"])
def test_control_character_rejects_its_row_wherever_it_is(project, tmp_path: Path,
                                                          far: bool) -> None:
    """One rule for a NUL byte: the row is quarantined, the rest of the file publishes."""
    filler = [visit(1 + i % 28, person=f"PERSONA NUMERO {i}") for i in range(700 if far else 2)]
    bad = visit(9, person="QUISPE\x00 ROSA")
    path = write_csv(tmp_path / "carga.csv", [*filler, bad, visit(10)])
    if far:
        assert path.read_bytes().index(b"\x00") > 64 * 1024
    code, task, text = validate(path)
    row = len(filler) + 2
    assert code == 1
    assert flat(task) == [[row, "Visitante", "control-character"]]
    assert task["errors"][0]["cell"] == "QUISPE[U+0000] ROSA"
    assert task["summary"]["filasValidas"] == len(filler) + 1
    assert "carácter de control no imprimible (U+0000 en la posición 7)" in text


def test_a_huge_cell_is_quoted_by_a_bounded_prefix(project, tmp_path: Path) -> None:
    huge = "X" * 1_000_000
    path = write_csv(tmp_path / "carga.csv", [visit(5, person=huge), visit(6)])
    code, task, text = validate(path)
    assert code == 1
    [error] = task["errors"]
    assert (error["type"], error["fieldName"]) == ("constraint-error", "Visitante")
    assert error["cell"] == "X" * 200
    assert error["cellLength"] == 1_000_000
    assert "La celda tiene 1.000.000 caracteres; se muestran los primeros 200." in text
    assert len(text) < 5_000
    assert len(json.dumps(task)) < 10_000


def test_xlsx_row_with_an_extra_cell_counts_once(project, tmp_path: Path) -> None:
    path = xlsx(tmp_path / "carga.xlsx", [visit(5), [*visit(6), "sobra"]])
    code, task, _ = validate(path)
    assert code == 1
    assert task["stats"]["rows"] == 2
    assert flat(task) == [[3, "", "extra-cell"]]
    summary = task["summary"]
    assert (summary["filasValidas"], summary["filasRechazadas"]) == (1, 1)


# ---------------------------------------------------------------- the file's own entity

NORMALISED = ["fecha_registro", "fecha_visita", "hora_ingreso", "hora_salida", "visitante_nombre",
              "visitante_tipo_documento", "visitante_numero_documento", "visitante_tipo_entidad",
              "visitante_entidad", "funcionario_nombre", "funcionario_area", "funcionario_cargo",
              "motivo", "motivo_detalle", "lugar", "observacion"]


def exported(path: Path, ruc: str) -> Path:
    """A normalised-layout file as exported from the published data (entity columns first)."""
    rows = [["entidad_ruc", "entidad_nombre", *NORMALISED]]
    for day in (5, 6):
        rows.append([ruc, ENTITY_NAME, f"2024-08-{day:02d}", f"2024-08-{day:02d}", "09:00:00",
                     "", "PEREZ GOMEZ ANA", "DNI", "12345678", "Persona natural", "",
                     "RUIZ LUIS", "OFICINA DE TI", "JEFE", "Reunión de trabajo", "", "", ""])
    path.write_text("\n".join(",".join(r) for r in rows) + "\n", encoding="utf-8")
    return path


def test_export_of_published_data_is_accepted_for_its_entity(project, tmp_path: Path) -> None:
    code, task, _ = validate(exported(tmp_path / "export.csv", ENTITY), "--entity", ENTITY)
    assert (code, flat(task)) == (0, [])
    assert task["summary"]["filasValidas"] == 2


def test_file_of_another_entity_is_rejected_whole(project, tmp_path: Path) -> None:
    other = "20999300031"
    code, task, text = validate(exported(tmp_path / "export.csv", other), "--entity", ENTITY)
    assert code == 1  # read, so invalid (1), not unreadable (2)
    assert flat(task) == [[None, None, "wrong-entity"]]
    assert task["summary"]["filasValidas"] == 0
    assert f"la columna entidad_ruc dice {other} (fila 2)" in text
    assert f"se cargó para {ENTITY_NAME} (RUC {ENTITY})" in text


def test_wrong_entity_file_in_the_landing_area_publishes_nothing(project) -> None:
    other = "20999300031"
    seed_sample_uploads(project, included_entities(project))
    exported(project.var_dir / "landing" / ENTITY / "export.csv", other)
    outcome = run_full_pass(project, echo=lambda _: None)
    [batch] = [b for e in outcome.entities for b in e.batches if b.name == "export.csv"]
    assert (batch.status, batch.readable, batch.valid_rows) == ("rejected", False, 0)
    published = duckdb.sql(
        f"SELECT count(*) FROM '{parquet_glob(project.var_dir / 'publish')}' "
        f"WHERE entidad_ruc = '{ENTITY}' AND fecha_visita IN ('2024-08-05', '2024-08-06') "
        "AND visitante_nombre = 'PEREZ GOMEZ ANA'").fetchone()[0]
    assert published == 0
    assert not (project.var_dir / "warehouse" / "batches" / ENTITY / batch.sha256 /
                "valid.parquet").exists()


def test_official_layout_naming_another_entity_warns(project, tmp_path: Path) -> None:
    rows = [visit(5, entity="MINISTERIO DE OTRA COSA"), visit(6, entity="MINISTERIO DE OTRA COSA"),
            visit(7, entity=ENTITY_NAME.upper())]
    path = write_csv(tmp_path / "carga.csv", rows)
    code, task, text = validate(path, "--entity", ENTITY)
    assert (code, flat(task)) == (0, [])
    assert task["warnings"] == [
        "La columna «Entidad visitada» nombra otra entidad: «MINISTERIO DE OTRA COSA» (2 filas); "
        f"la entidad registrada es «{ENTITY_NAME}». Verifique que el archivo corresponda a esta "
        "entidad."]
    assert "⚠ La columna «Entidad visitada» nombra otra entidad" in text
