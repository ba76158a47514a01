"""`visitas validate FILE --schema SCHEMA.json`: any CSV against any Table Schema."""

from __future__ import annotations

import json
from pathlib import Path

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
