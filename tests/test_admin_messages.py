"""What an entity's administrator reads from `visitas validate` and from an ingested batch:
Spanish that agrees in number, every error type with its count and what was left out, values
quoted as typed, the rejected rows to fix and upload again, exit codes that tell a usage
mistake from an invalid or unreadable file, and warnings about what is suspicious but valid.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from click.testing import CliRunner

from pipeline.cli import main
from tests.test_upload_quirks import ENTITY, ENTITY_NAME, HEADER, validate, visit, write_csv


def with_cells(row: list[str], **cells: str) -> list[str]:
    """`row` with some cells replaced, named by their column's label."""
    changed = list(row)
    for label, value in cells.items():
        changed[HEADER.index(label.replace("_", " "))] = value
    return changed


def future(day: int) -> list[str]:
    return with_cells(visit(day), Fecha_de_Registro="16/03/2031", Fecha_de_Visita="15/03/2031")


def many_kinds(tmp_path: Path) -> Path:
    """Eight error types: future dates on rows 2-8, then one each of seven other types,
    then three valid rows."""
    rows = [future(1 + i) for i in range(7)]
    rows += [
        with_cells(visit(10), Hora_Ingreso="25:10"),
        with_cells(visit(11), Documento_del_visitante="DNI 1234"),
        with_cells(visit(12), Funcionario_visitado=""),
        with_cells(visit(13), Motivo="- detalle"),
        with_cells(visit(14), Fecha_de_Visita="31/02/2024"),
        with_cells(visit(15), Documento_del_visitante="XYZ 1"),
        with_cells(visit(16), Hora_Ingreso="10:00", Hora_Salida="09:00"),
        visit(17), visit(18), visit(19),
    ]
    return write_csv(tmp_path / "carga.csv", rows)


KINDS = {"future-date": 7, "invalid-time": 1, "invalid-document-number": 1,
         "constraint-error": 1, "missing-reason": 1, "invalid-date": 1,
         "unknown-document-type": 1, "exit-before-entry": 1}


# ------------------------------------------------------------------ every type, what is left out

def test_every_error_type_is_named_with_its_count_when_examples_are_cut(project, tmp_path):
    """`--limit-errors 1` details one error: the other seven types are still named, with their
    counts, and the text says how many cases of each it does not show."""
    code, task, text = validate(many_kinds(tmp_path), "--limit-errors", "1")
    assert code == 1
    assert len(task["errors"]) == 1
    assert task["summary"]["erroresPorTipo"] == dict(sorted(KINDS.items()))
    assert task["summary"]["erroresOmitidos"] == 13
    for kind, n in KINDS.items():
        assert f"[{kind}] — {n} {'caso' if n == 1 else 'casos'}." in text, kind
    # the one detailed error, then how many of its type are not shown
    assert "      … y 6 casos más que no se muestran." in text
    assert text.count("Ningún caso detallado") == 7
    assert "El reporte detalla 1 de los 14 errores (límite de errores detallados: 1)" in text


def test_examples_stay_under_their_type_and_the_rest_is_counted(project, tmp_path):
    """Three examples per type in the text, each under its own heading, then '… y N más'."""
    _, _, text = validate(many_kinds(tmp_path))
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if "[future-date]" in line)
    assert lines[start + 1:start + 5] == [
        "      Fila 2, «Fecha de Visita»: la fecha 15/03/2031 es posterior a hoy (31/12/2024).",
        "      Fila 3, «Fecha de Visita»: la fecha 15/03/2031 es posterior a hoy (31/12/2024).",
        "      Fila 4, «Fecha de Visita»: la fecha 15/03/2031 es posterior a hoy (31/12/2024).",
        "      … y 4 casos más que no se muestran."]
    assert lines[start + 5].startswith("  • ")
    # no example of one type under another's heading
    exit_at = next(i for i, line in enumerate(lines) if "[exit-before-entry]" in line)
    assert lines[exit_at + 1:] == [
        "      Fila 15: la hora de salida 09:00 es anterior a la hora de ingreso 10:00."]


def test_four_missing_columns_are_all_counted_and_the_one_not_shown_is_said(project, tmp_path):
    path = tmp_path / "carga.csv"
    gone = {"Fecha de Visita", "Visitante", "Documento del visitante", "Funcionario visitado"}
    kept = [i for i, label in enumerate(HEADER) if label not in gone]
    path.write_text(";".join(HEADER[i] for i in kept) + "\n"
                    + ";".join(visit(5)[i] for i in kept) + "\n", encoding="utf-8")
    code, task, text = validate(path)
    assert code == 1  # the file was read: invalid, not unreadable
    assert task["summary"]["erroresPorTipo"] == {"missing-label": 4}
    assert text.splitlines()[0] == ("✘ carga.csv: el archivo se leyó, pero le faltan 4 columnas "
                                    "obligatorias: su fila no sigue su curso.")
    assert "[missing-label] — 4 casos." in text
    assert text.splitlines()[-1] == "      … y 1 caso más que no se muestra."


def test_html_report_has_a_section_per_type_and_says_what_it_leaves_out(project, tmp_path):
    from tests.dom import parse
    from tests.test_validation_html import visible_text

    html = tmp_path / "reporte.html"
    result = CliRunner().invoke(main, ["validate", str(many_kinds(tmp_path)), "--html", str(html),
                                       "--today", "2024-12-31", "--limit-errors", "3"])
    assert result.exit_code == 1, result.output
    dom = parse(html.read_text("utf-8"))
    headings = [h.text() for h in dom.iter("h3")]
    assert len(headings) == len(KINDS)
    assert headings[0] == "Fecha en el futuro future-date — 7 casos"
    text = visible_text(dom)
    assert "… y 4 casos más de este tipo que no se muestran." in text
    assert text.count("Ningún caso detallado") == 7
    assert "<code>15/03/2031</code>" in html.read_text("utf-8")


# ------------------------------------------------------------------ values as typed

def test_dates_are_quoted_as_typed(project, tmp_path):
    rows = [future(5), with_cells(visit(6), Fecha_de_Registro="05/08/2024",
                                  Fecha_de_Visita="6/8/2024")]
    code, task, text = validate(write_csv(tmp_path / "carga.csv", rows))
    assert code == 1
    by_type = {e["type"]: e for e in task["errors"]}
    assert by_type["future-date"]["cell"] == "15/03/2031"
    assert by_type["future-date"]["note"] == "31/12/2024"
    assert (by_type["visit-after-registration"]["cell"],
            by_type["visit-after-registration"]["note"]) == ("6/8/2024", "05/08/2024")
    assert "la fecha de visita 6/8/2024 es posterior a la fecha de registro 05/08/2024" in text
    assert "2031-03-15" not in text and "2031-03-15" not in json.dumps(task)


# ------------------------------------------------------------------ the rejected rows

def read_csv(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle, delimiter=";"))


def test_rejected_rows_as_a_csv_to_fix_and_upload_again(project, tmp_path):
    """The rejected rows in the upload's own columns and values, with the reasons; fixed and
    uploaded again, the file is valid (the reasons' column is recognised and ignored)."""
    extra = [*HEADER, "Notas internas"]
    rows = [[*visit(5), "a"], [*with_cells(visit(6), Hora_Ingreso="25:10"), "b"],
            [*future(7), "c"], [*visit(8), "d"]]
    path = tmp_path / "carga.csv"
    path.write_text("\n".join(";".join(r) for r in [extra, *rows]) + "\n", encoding="utf-8")
    out = tmp_path / "rechazadas.csv"
    result = CliRunner().invoke(main, ["validate", str(path), "--today", "2024-12-31",
                                       "--rechazadas", str(out)])
    assert result.exit_code == 1, result.output
    assert f"Filas rechazadas, para corregir y volver a subir: {out}" in result.output
    table = read_csv(out)
    assert table[0] == [*extra, "Errores de validación"]
    assert table[1] == [*rows[1], "Fila 3: Hora inexistente en «Hora Ingreso» («25:10»)"]
    assert table[2] == [*rows[2], "Fila 4: Fecha en el futuro en «Fecha de Visita» "
                                  "(«15/03/2031»)"]
    assert len(table) == 3
    # fixed, the same file is accepted as it is, reasons' column included
    fixed = [table[0], [*with_cells(table[1][:12], Hora_Ingreso="10:10"), "b", table[1][13]],
             [*visit(7), "c", table[2][13]]]
    again = tmp_path / "corregidas.csv"
    again.write_text("\n".join(";".join(r) for r in fixed) + "\n", encoding="utf-8")
    code, task, _ = validate(again)
    assert code == 1
    assert [e["type"] for e in task["errors"]] == ["extra-label"]  # only Notas internas
    assert task["summary"]["filasValidas"] == 2


def test_no_rejected_rows_writes_a_file_with_the_header_only(project, tmp_path):
    out = tmp_path / "rechazadas.csv"
    path = write_csv(tmp_path / "carga.csv", [visit(5)])
    result = CliRunner().invoke(main, ["validate", str(path), "--rechazadas", str(out)])
    assert result.exit_code == 0, result.output
    assert read_csv(out) == [[*HEADER, "Errores de validación"]]


def test_an_ingested_batch_keeps_its_rejected_rows_and_html_report(project):
    from pipeline.flow import included_entities, seed_sample_uploads
    from pipeline.ingestion.batches import ingest_entity

    entity = next(e for e in included_entities(project) if e.ruc == ENTITY)
    seed_sample_uploads(project, [entity])
    outcome = ingest_entity(project, entity)
    [batch] = [b for b in outcome.batches if b.name == "visitas-2024-08.csv"]
    folder = project.warehouse_dir / "batches" / ENTITY / batch.sha256
    table = read_csv(folder / "rechazadas.csv")
    assert [r[-1] for r in table[1:]] == [
        "Fila 35: Salida antes del ingreso en «Hora Salida» («11:05»)",
        "Fila 40: Valor no permitido en «Visitante»"]
    page = (folder / "reporte.html").read_text("utf-8")
    assert 'href="rechazadas.csv"' in page


# ------------------------------------------------------------------ exit codes

def test_unknown_entity_is_a_usage_error_not_an_invalid_file(project):
    path = write_csv(project.root / "carga.csv", [visit(5)])
    result = CliRunner().invoke(main, ["validate", str(path), "--entity", "20100000006"])
    assert result.exit_code == 64
    assert "La entidad 20100000006 no está registrada" in result.output


def test_wrong_headers_are_an_invalid_file_not_an_unreadable_one(project, tmp_path):
    path = tmp_path / "carga.csv"
    path.write_text("Fecha;Persona;Hora;Motivo;Documento\n05/08/2024;X;09:00;Y;DNI 1\n",
                    encoding="utf-8")
    code, task, text = validate(path)
    assert code == 1
    assert "missing-label" in task["summary"]["erroresPorTipo"]
    assert "no se pudo procesar" not in text


# ------------------------------------------------------------------ Spanish that reads right

def test_no_valid_row_is_not_zero_rows_that_go_on(project, tmp_path):
    path = write_csv(tmp_path / "carga.csv", [with_cells(visit(5), Hora_Ingreso="25:10")])
    _, _, text = validate(path)
    first = text.splitlines()[0]
    assert first == ("✘ carga.csv: 1 error en 1 fila; ninguna visita es válida y la fila con "
                     "errores queda en cuarentena.")


def test_counts_agree_with_their_nouns_in_entity_warnings(project, tmp_path):
    rows = [visit(5, entity="MINISTERIO UNO"), visit(6, entity="MINISTERIO DOS"),
            visit(7, entity="MINISTERIO TRES"), visit(8, entity="MINISTERIO CUATRO")]
    _, task, _ = validate(write_csv(tmp_path / "carga.csv", rows), "--entity", ENTITY)
    [warning] = [w for w in task["warnings"] if "nombra otra entidad" in w]
    assert " y 1 nombre más;" in warning


def test_a_length_constraint_of_one_is_one_character(tmp_path):
    schema = tmp_path / "esquema.json"
    schema.write_text(json.dumps({"fields": [{"name": "codigo", "type": "string",
                                               "constraints": {"maxLength": 1}}]}))
    data = tmp_path / "datos.csv"
    data.write_text("codigo\nab\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["validate", str(data), "--schema", str(schema)])
    assert result.exit_code == 1
    assert "el valor «ab» tiene más de 1 carácter." in result.output


def test_schema_mode_speaks_of_rows_and_missing_cells_name_their_column(tmp_path):
    schema = tmp_path / "esquema.json"
    schema.write_text(json.dumps({"fields": [{"name": "id", "type": "integer"},
                                             {"name": "nombre", "type": "string"},
                                             {"name": "monto", "type": "number"}]}))
    data = tmp_path / "datos.csv"
    data.write_text("id,nombre,monto\n1,a,2\n2\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["validate", str(data), "--schema", str(schema)])
    assert result.exit_code == 1
    first, *rest = result.output.splitlines()
    assert first == "✘ datos.csv: 2 errores en 1 fila; 1 fila cumple el esquema."
    assert "visita" not in result.output and "cuarentena" not in result.output
    assert "      La fila 3 no tiene la celda de «nombre» (tiene menos celdas que el encabezado)." \
        in rest


# ------------------------------------------------------------------ suspicious but valid

def test_header_only_file_is_valid_with_a_warning(project, tmp_path):
    code, task, text = validate(write_csv(tmp_path / "carga.csv", []))
    assert code == 0
    assert task["warnings"] == ["El archivo no tiene ninguna fila de datos: solo el encabezado."]
    assert "⚠ El archivo no tiene ninguna fila de datos" in text


def test_exact_duplicate_rows_are_counted_and_warned(project, tmp_path):
    distinct = [visit(1 + i, person=f"PERSONA {i}") for i in range(10)]
    rows = distinct + distinct[2:7]  # rows 12-16 repeat rows 4-8
    code, task, text = validate(write_csv(tmp_path / "carga.csv", rows))
    assert code == 0
    assert task["summary"]["filasRepetidas"] == 5
    assert task["warnings"] == [
        "5 filas repiten exactamente otra fila del archivo (la fila 12 repite la fila 4, "
        "la 13 la 5, la 14 la 6 y 2 más): el archivo tiene 10 visitas distintas, no 15. "
        "Cada visita se publica una sola vez; elimine las filas repetidas si sobran."]
    assert text.splitlines()[0] == ("✔ carga.csv: válido. 15 filas válidas, 10 visitas "
                                    "distintas, listas para publicar.")


def test_a_file_naming_several_entities_is_warned_without_entity(project, tmp_path):
    rows = [visit(5), visit(6, entity="MINISTERIO DE OTRA COSA")]
    code, task, _ = validate(write_csv(tmp_path / "carga.csv", rows))
    assert code == 0
    assert task["warnings"] == [
        "La columna «Entidad visitada» nombra 2 entidades distintas: "
        f"«{ENTITY_NAME}» (1 fila), «MINISTERIO DE OTRA COSA» (1 fila). Un archivo debe ser "
        "de una sola entidad: verifique que corresponda a la suya."]
