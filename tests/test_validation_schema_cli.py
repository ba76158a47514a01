"""`visitas validate FILE --schema SCHEMA.json`: any CSV against any Table Schema."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from benchmarks.__main__ import replace_section
from pipeline.cli import main

SCHEMA = {
    "fields": [
        {"name": "id", "type": "integer", "constraints": {"unique": True}},
        {"name": "fecha", "type": "date", "constraints": {"required": True}},
    ],
    "primaryKey": ["id"],
}


def run(tmp_path: Path, text: str, *extra: str) -> tuple[int, str]:
    data = tmp_path / "datos.csv"
    data.write_text(text, encoding="utf-8")
    schema = tmp_path / "esquema.json"
    schema.write_text(json.dumps(SCHEMA), encoding="utf-8")
    result = CliRunner().invoke(main, ["validate", str(data), "--schema", str(schema), *extra])
    return result.exit_code, result.output


def test_valid_file_exits_zero(tmp_path: Path) -> None:
    code, output = run(tmp_path, "id,fecha\n1,2024-01-01\n2,2024-01-02\n")
    assert code == 0, output
    assert "válido" in output


def test_json_report_has_frictionless_shape(tmp_path: Path) -> None:
    code, output = run(tmp_path, "id,fecha\n1,2024-01-01\n1,2024-02-30\n", "--json")
    assert code == 1
    report = json.loads(output)
    task = report["tasks"][0]
    assert report["valid"] is False and task["stats"]["rows"] == 2
    assert len(task["stats"]["sha256"]) == 64
    assert [(e["rowNumber"], e.get("fieldName"), e["type"]) for e in task["errors"]] == [
        (3, "fecha", "type-error"), (3, "id", "unique-error"), (3, None, "primary-key")]
    assert all(e["message"] and e["note"] is not None for e in task["errors"])


def test_error_limit_keeps_counts(tmp_path: Path) -> None:
    rows = "".join(f"{i},nope\n" for i in range(1, 51))
    code, output = run(tmp_path, "id,fecha\n" + rows, "--json", "--limit-errors", "5")
    task = json.loads(output)["tasks"][0]
    assert code == 1
    assert len(task["errors"]) == 5 and task["stats"]["errors"] == 50
    assert task["summary"]["erroresOmitidos"] == 45


def test_unreadable_file_exits_two(tmp_path: Path) -> None:
    code, _ = run(tmp_path, "")
    assert code == 2


def test_benchmark_sections_replace_only_their_block() -> None:
    text = "# B\n\n<!-- bench:other -->\nkeep\n<!-- /bench:other -->\n"
    once = replace_section(text, "validation", "first")
    twice = replace_section(once, "validation", "second")
    assert "keep" in twice and "second" in twice and "first" not in twice
    assert twice.count("<!-- bench:validation -->") == 1


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["validate", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
    return result.exit_code, result.output


def test_summary_speaks_of_rows_not_visits(tmp_path: Path) -> None:
    code, output = run(tmp_path, "id,fecha\n1,2024-01-01\n2,2024-01-02\n")
    assert (code, output) == (0, "✔ datos.csv: válido. 2 filas cumplen el esquema.\n")
    code, output = run(tmp_path, "id,fecha\n1,2024-01-01\n2,nope\n")
    assert code == 1
    assert output.splitlines()[0] == "✘ datos.csv: 1 error en 1 fila; 1 fila cumple el esquema."


def test_a_workbook_is_read_whatever_its_name(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    wb.active.append(["id", "fecha"])
    wb.active.append([1, "2024-01-01"])
    schema = tmp_path / "esquema.json"
    schema.write_text(json.dumps(SCHEMA), encoding="utf-8")
    for name in ("datos.xlsx", "datos.csv"):
        wb.save(tmp_path / name)
        code, output = invoke(str(tmp_path / name), "--schema", str(schema))
        assert code == 0, output
        assert output.startswith(f"✔ {name}: válido. 1 fila cumple el esquema.\n")
    assert "se llama «datos.csv» pero es un libro de Excel (.xlsx): se leyó como tal." in output


@pytest.mark.parametrize(("text", "message"), [
    ('{"fields": [{"name": "id"} {"name": "fecha"}]}',
     "El esquema esquema.json no es un JSON válido: falta una coma (línea 1, columna 28)."),
    ('{"fields": [', "El esquema esquema.json no es un JSON válido: se esperaba un valor "
     "(línea 1, columna 13)."),
    ('["id", "fecha"]', "El esquema esquema.json no es un Table Schema válido: debe ser un objeto "
     "JSON ({…}) con la lista «fields»."),
    ('{"fields": [{"type": "integer"}], "primaryKey": "id"}',
     "El esquema esquema.json no es un Table Schema válido: el campo 1 de «fields» no tiene "
     "«name»; «primaryKey» nombra «id», que no es un campo."),
])
def test_a_malformed_schema_is_told_without_a_traceback(tmp_path: Path, text: str,
                                                        message: str) -> None:
    (tmp_path / "datos.csv").write_text("id,fecha\n1,2024-01-01\n", encoding="utf-8")
    (tmp_path / "esquema.json").write_text(text, encoding="utf-8")
    code, output = invoke(str(tmp_path / "datos.csv"), "--schema", str(tmp_path / "esquema.json"))
    assert (code, output) == (2, f"Error: {message}\n")


def test_a_workbook_given_as_the_schema(tmp_path: Path) -> None:
    (tmp_path / "datos.csv").write_text("id,fecha\n1,2024-01-01\n", encoding="utf-8")
    openpyxl.Workbook().save(tmp_path / "esquema.xlsx")
    code, output = invoke(str(tmp_path / "datos.csv"), "--schema", str(tmp_path / "esquema.xlsx"))
    assert (code, output) == (2, "Error: El esquema esquema.xlsx no es un archivo JSON: es un "
                                 "libro de Excel (.xlsx). Indique con --schema el archivo JSON "
                                 "del Table Schema.\n")


@pytest.mark.parametrize("with_schema", [True, False])
def test_files_that_cannot_be_read(tmp_path: Path, with_schema: bool) -> None:
    schema = tmp_path / "esquema.json"
    schema.write_text(json.dumps(SCHEMA), encoding="utf-8")
    extra = ["--schema", str(schema)] if with_schema else []
    (tmp_path / "vacio.csv").write_bytes(b"")
    (tmp_path / "basura.csv").write_bytes(bytes(range(256)) * 8)
    (tmp_path / "carpeta").mkdir()
    expected = {
        "no-existe.csv": f"Error: El archivo {tmp_path}/no-existe.csv no existe. Revise la ruta "
                         "y el nombre.\n",
        "carpeta": f"Error: El archivo {tmp_path}/carpeta es una carpeta, no un archivo.\n",
    }
    for name, message in expected.items():
        code, output = invoke(str(tmp_path / name), *extra)
        assert (code, output) == (2, message)
    for name, words in (("vacio.csv", "El archivo está vacío: no tiene encabezados ni filas."),
                        ("basura.csv", "Formato no admitido: «basura.csv» es un archivo binario, "
                                       "no una tabla de texto ni una hoja de cálculo.")):
        code, output = invoke(str(tmp_path / name), *extra)
        assert code == 2
        assert output.startswith(f"✘ {name}: no se pudo leer el archivo.\n")
        assert words in output
        assert "Traceback" not in output and "Warning" not in output
