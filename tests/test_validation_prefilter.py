"""The prefilter only skips rows that hold no error: reports are the same with or without it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import frictionless
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pipeline.sources.readers.delimited as delimited
import pipeline.validation.driver as driver
import pipeline.validation.tabular as tabular
from pipeline.validation.prefilter import Prefilter, char_class_pattern
from pipeline.validation.schema import schema_from_descriptor
from tests.test_validation_differential import CASES, SCHEMAS, make_corpus_file

SIMPLE = ["[0-9a-f]{64}", "[0-9]{8}", "[A-Z0-9]*", "x{2,5}", "[a-z_]{1,3}", "[0-9]+"]
NOT_SIMPLE = [r"\d+", "(10|15|17|20)[0-9]{9}", "[^a]+", "[acegikmoq]+", "(?i)[a-f]+", "ñ+",
              "[A-Z]{2}-[0-9]{3}", "a|b"]



@pytest.fixture(autouse=True)
def prefilter_on_every_chunk(monkeypatch: pytest.MonkeyPatch) -> None:
    """These files are small: without this, the driver would check them per distinct value
    and never reach the prefilter."""
    monkeypatch.setattr(driver, "PREFILTER_MIN_ROWS", 0)


def test_which_patterns_are_a_single_class() -> None:
    assert [p for p in SIMPLE if char_class_pattern(p) is None] == []
    assert [p for p in NOT_SIMPLE if char_class_pattern(p) is not None] == []
    assert char_class_pattern("[0-9a-f]{64}") is not None
    pattern = char_class_pattern("[0-9a-f]{64}")
    assert pattern is not None and pattern.ranges == ((48, 57), (97, 102))
    assert (pattern.least, pattern.most) == (64, 64)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(SIMPLE),
       st.lists(st.one_of(st.text(alphabet="0123456789abcdefxyzXYZ_-ñé ", max_size=70),
                          st.text(max_size=10)), min_size=1, max_size=30),
       st.integers(0, 5))
def test_single_class_patterns_agree_with_re(pattern: str, cells: list[str], offset: int) -> None:
    """Byte-level matching gives what Python's `re` (frictionless's engine) gives, cell by cell,
    also on a sliced Arrow array (non-zero offset) and on non-ASCII text."""
    compiled = char_class_pattern(pattern)
    assert compiled is not None
    array = pa.array(["pad"] * offset + cells, pa.string()).slice(offset)
    got = compiled.violations(array).tolist()
    assert got == [re.fullmatch(pattern, c) is None for c in cells]


def _report_rows(report: tabular.Report) -> list[tuple[object, ...]]:
    return sorted(report.flatten(("rowNumber", "fieldNumber", "type", "cell", "note")),
                  key=lambda r: json.dumps(r, default=str))


@pytest.mark.parametrize(("schema_name", "seed"), CASES, ids=[f"{n}-{s}" for n, s in CASES])
def test_same_report_without_prefilter_in_small_chunks(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, schema_name: str, seed: int) -> None:
    """Many small chunks: dictionaries grow from chunk to chunk, errors land in later chunks
    with values the first chunk never had; every error must still be found, exactly."""
    data = tmp_path / "data.csv"
    make_corpus_file(data, schema_name, seed, rows=400)
    schema = schema_from_descriptor(SCHEMAS[schema_name], schema_name)
    monkeypatch.setattr(delimited, "BLOCK_SIZE", 2048)
    monkeypatch.setattr(driver, "CHUNK_ROWS", 60)
    with_prefilter = tabular.validate_table(data, schema, error_limit=100_000)

    monkeypatch.setattr(Prefilter, "suspects", lambda self, con, table, encodings=None: table)
    every_row = tabular.validate_table(data, schema, error_limit=100_000)

    assert with_prefilter.error_count == every_row.error_count > 0
    assert _report_rows(with_prefilter) == _report_rows(every_row)
    schema_file = tmp_path / "schema.json"
    schema_file.write_text(json.dumps(SCHEMAS[schema_name]), encoding="utf-8")
    with frictionless.system.use_context(trusted=True):
        theirs = frictionless.validate(str(data), schema=str(schema_file), limit_errors=100_000)
    spec = ("rowNumber", "fieldName", "type")
    assert {tuple(r) for r in with_prefilter.flatten(spec)} == \
        {tuple(r) for r in theirs.flatten(list(spec))}


def test_repetitive_columns_are_checked_per_distinct_value(tmp_path: Path) -> None:
    """A date column with few values goes through the dictionary; a unique one does not; an
    error first seen in a later chunk is still reported, at its row."""
    descriptor = {"fields": [{"name": "id", "type": "integer"},
                             {"name": "dia", "type": "date"},
                             {"name": "hex", "type": "string",
                              "constraints": {"pattern": "[0-9a-f]{8}"}}]}
    schema = schema_from_descriptor(descriptor)
    rows = [f"{i},2024-01-{1 + i % 3:02d},{i:08x}" for i in range(1, 301)]
    rows[250] = "251,2024-02-30,000000fb"    # a date the first chunk never had
    rows[260] = "261,2024-01-02,0000010G"    # not hex
    rows[270] = "271,2024-01-03,"            # missing: no pattern error
    path = tmp_path / "dias.csv"
    path.write_text("id,dia,hex\n" + "\n".join(rows) + "\n", encoding="utf-8")
    report = tabular.validate_table(path, schema)
    assert [(e.rowNumber, e.fieldName, e.type, e.cell) for e in report.errors] == [
        (252, "dia", "type-error", "2024-02-30"),
        (262, "hex", "constraint-error", "0000010G"),
    ]


def test_lengths_are_counted_in_characters(tmp_path: Path) -> None:
    """Accented names have more bytes than characters: only a name over the limit in
    characters is an error, whichever side of the byte count it falls."""
    descriptor = {"fields": [{"name": "nombre", "type": "string",
                              "constraints": {"maxLength": 5, "minLength": 3}}]}
    path = tmp_path / "nombres.csv"
    path.write_text("nombre\nÑAÑEZ\nÑAÑEZA\nÑÑ\nABCDE\nABCDEF\nÁÉ\n", encoding="utf-8")
    report = tabular.validate_table(path, schema_from_descriptor(descriptor))
    assert [(e.rowNumber, e.cell, e.note) for e in report.errors] == [
        (3, "ÑAÑEZA", 'constraint "maxLength" is "5"'),
        (4, "ÑÑ", 'constraint "minLength" is "3"'),
        (6, "ABCDEF", 'constraint "maxLength" is "5"'),
        (7, "ÁÉ", 'constraint "minLength" is "3"'),
    ]
