"""CSV cells a spreadsheet would run as formulas are neutralised; Parquet and JSON are not."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from pipeline.publication.spreadsheet import csv_safe_query, neutralise_sql
from tests.published import release_dir
from tests.stages import (
    SAMPLES,
    consolidate_and_publish,
    drop,
    ingest,
    published_rows,
    settings_for,
)


@pytest.mark.parametrize(("raw", "expected"), [
    ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
    ("+51 999", "'+51 999"),
    ("-2+3", "'-2+3"),
    ("@SUM(A1)", "'@SUM(A1)"),
    ("\tcmd", "'\tcmd"),
    ("\rcmd", "'\rcmd"),
    ("Sala de reuniones", "Sala de reuniones"),
    ("A=B", "A=B"),
    ("", ""),
    (None, None),
])
def test_neutralise(raw: str | None, expected: str | None) -> None:
    assert duckdb.execute(f"SELECT {neutralise_sql('?')}", [raw] * 3).fetchone()[0] == expected


def test_only_text_columns_are_wrapped() -> None:
    con = duckdb.connect()
    query = "SELECT '=1' AS t, -5 AS n, DATE '2024-01-01' AS d"
    assert con.execute(csv_safe_query(con, query)).fetchall() == [("'=1", -5, duckdb.execute(
        "SELECT DATE '2024-01-01'").fetchone()[0])]


def test_published_csv_is_safe_and_other_formats_keep_the_value(tmp_path: Path) -> None:
    s = settings_for(tmp_path)
    path = SAMPLES / "20999100016" / "visitas-2024-08.csv"
    drop(s, "20999100016", path.name, path.read_bytes())
    ingest(s, "20999100016")
    latest = consolidate_and_publish(s)
    formula = '=HYPERLINK("http://x")'
    csv_values = {r["observacion"] for r in published_rows(latest)}
    assert "'" + formula in csv_values and formula not in csv_values
    release = release_dir(latest.parent) / "visitas"
    json_values = {r["observacion"] for path in release.glob("json/*.json")
                   for r in json.loads(path.read_text("utf-8"))}
    assert formula in json_values
    # Every month's file, read as the hive dataset analysts read.
    parquet = pq.read_table(release / "parquet")
    assert formula in set(parquet.column("observacion").to_pylist())
