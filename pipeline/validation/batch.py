"""Validate one upload (a batch) and split it into valid normalised rows and quarantine.

Plain Python over Arrow and DuckDB, testable without Dagster; `visitas validate` and the
pipeline both call `validate_upload`.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from pipeline.normalization import install_macros
from pipeline.normalization.project import VISITOR_FIELD, normalised_select
from pipeline.sources.readers import ROW_NUMBER, UnreadableUpload, UploadTable, read_upload
from pipeline.validation.engine import check_cells
from pipeline.validation.labels import check_labels, choose_schema
from pipeline.validation.report import Report, ReportError
from pipeline.validation.rules import check_rules
from pipeline.validation.schema import TableSchema, load_schema

UPLOAD_SCHEMAS = ("upload-oficial", "upload-normalizado")


def upload_schemas(schemas_dir: Path) -> list[TableSchema]:
    return [load_schema(schemas_dir / f"{name}.schema.json") for name in UPLOAD_SCHEMAS]


def known_labels(schemas: list[TableSchema]) -> list[str]:
    return [name for s in schemas for name in s.field_names]


@dataclass
class BatchResult:
    report: Report
    #: valid visits, normalised (None when the file could not be read)
    valid: pa.Table | None
    #: rejected rows with their upload cells and reasons
    quarantine: pa.Table | None


def validate_file(path: Path, filename: str, schemas: list[TableSchema], *,
                  sha256: str = "", size: int | None = None,
                  today: dt.date | None = None, error_limit: int | None = None,
                  max_bytes: int | None = None) -> BatchResult:
    """Read and validate one uploaded file. Never raises for bad content: it reports.

    A file over `max_bytes` is reported and not read: the upload is held in memory.
    """
    started = time.perf_counter()
    report = Report(place=filename, sha256=sha256,
                    bytes=path.stat().st_size if size is None else size)
    if error_limit is not None:
        report.error_limit = error_limit
    if max_bytes is not None and report.bytes > max_bytes:
        report.add(ReportError("source-error", note=(
            f"El archivo pesa {report.bytes / 2**20:,.0f} MB y el máximo admitido es "
            f"{max_bytes / 2**20:,.0f} MB. Divídalo en partes (por ejemplo, un archivo por mes) "
            "y súbalas por separado.")))
        report.seconds = time.perf_counter() - started
        return BatchResult(report, None, None)
    try:
        upload = read_upload(path, filename, known_labels(schemas))
    except UnreadableUpload as exc:
        report.add(ReportError(exc.error_type, note=str(exc)))
        report.seconds = time.perf_counter() - started
        return BatchResult(report, None, None)
    result = validate_upload(upload, schemas, report, today=today or dt.date.today())
    report.seconds = time.perf_counter() - started
    return result


def validate_upload(upload: UploadTable, schemas: list[TableSchema], report: Report, *,
                    today: dt.date) -> BatchResult:
    """Check, normalise and split one read upload. Consumes `upload.table`."""
    schema = choose_schema(upload.labels, schemas)
    report.schema = schema.name
    report.rows = upload.table.num_rows + len(upload.problems)
    labels = check_labels(upload.labels, schema)
    for kind, field_name, number, label in labels.errors:
        if kind == "missing-label-optional":
            continue  # an optional column may be left out: its cells are empty
        report.add(ReportError(kind, fieldName=field_name, fieldNumber=number, cell=label,
                               note=f"columnas esperadas: {', '.join(schema.field_names)}"))
    if labels.blocking:
        report.rejected_rows = report.rows
        return BatchResult(report, None, None)

    con = duckdb.connect()
    try:
        install_macros(con)
        con.register("upload_raw", upload.table)
        columns = ", ".join(
            (f'"{labels.mapping[f]}" AS "{f}"' if f in labels.mapping else f'NULL::VARCHAR AS "{f}"')
            for f in schema.field_names
        )
        visitor = VISITOR_FIELD[schema.name]
        # a table, not a view: the checks and the normalisation read it many times
        visitor_cell = f'"{labels.mapping[visitor]}"' if visitor in labels.mapping else "NULL"
        con.execute(f'CREATE TEMP TABLE upload AS SELECT "{ROW_NUMBER}", {columns} FROM upload_raw '
                    f"WHERE NOT is_placeholder({visitor_cell})")
        con.unregister("upload_raw")
        report.placeholder_rows = upload.table.num_rows - con.execute(
            "SELECT count(*) FROM upload").fetchone()[0]
        # DuckDB holds the rows from here on: release Arrow's copy (a quarter of the peak
        # memory of a large upload); the caller reads the results from the BatchResult
        upload.table = upload.table.schema.empty_table()

        identity = {f: f for f in schema.field_names}
        cell_errors = check_cells(con, "upload", schema, identity)
        con.execute(f"CREATE TEMP TABLE normalised AS {normalised_select(schema.name, 'upload')}")
        con.register("cell_errors", cell_errors)
        rule_errors = check_rules(con, schema.name, today)
        con.register("rule_errors_all", rule_errors)
        rule_errors = con.sql(
            "SELECT r.* FROM rule_errors_all r ANTI JOIN cell_errors c "
            "ON r.rowNumber = c.rowNumber AND r.fieldName = c.fieldName"
        ).to_arrow_table()
        field_numbers = {name: i for i, name in enumerate(schema.field_names, 1)}
        problems = pa.table({
            "rowNumber": pa.array([p.row_number for p in upload.problems], pa.int64()),
            "type": pa.array([p.error_type for p in upload.problems], pa.string()),
            "fieldName": pa.nulls(len(upload.problems), pa.string()),
            "fieldNumber": pa.nulls(len(upload.problems), pa.int32()),
            "cell": pa.array([p.text for p in upload.problems], pa.string()),
            "note": pa.array([""] * len(upload.problems), pa.string()),
        })
        con.register("rule_errors", rule_errors)
        con.register("problems", problems)
        numbering = " ".join(f"WHEN '{n}' THEN {i}" for n, i in field_numbers.items())
        all_errors = con.sql(f"""
            SELECT rowNumber, type, fieldName, fieldNumber, cell, note FROM cell_errors
            UNION ALL
            SELECT rowNumber, type, fieldName, CASE fieldName {numbering} END, cell, note
            FROM rule_errors
            UNION ALL SELECT * FROM problems
            ORDER BY rowNumber, fieldNumber NULLS FIRST, type
        """).to_arrow_table()
        con.register("all_errors_t", all_errors)
        # Examples up to the limit; counts over every error, taken in SQL.
        examples = all_errors.slice(0, report.error_limit).to_pylist()
        counts = con.sql(
            "SELECT type, fieldName, count(*) FROM all_errors_t GROUP BY ALL").fetchall()
        report.record([ReportError(**row) for row in examples], counts)

        valid = con.sql(
            "SELECT * FROM normalised WHERE _fila NOT IN (SELECT rowNumber FROM all_errors_t) ORDER BY _fila"
        ).to_arrow_table()
        quarantine = con.sql("""
            SELECT u.*, e.errores FROM upload u JOIN (
                SELECT rowNumber, string_agg(type || ': ' || coalesce(fieldName, '') , '; ' ORDER BY type) AS errores
                FROM all_errors_t GROUP BY rowNumber) e ON u._fila = e.rowNumber
            ORDER BY u._fila
        """).to_arrow_table()
        if problems.num_rows:
            extra = con.sql("SELECT rowNumber AS _fila, cell AS texto, type AS errores FROM problems").to_arrow_table()
            quarantine = pa.concat_tables([quarantine, extra], promote_options="permissive")
        report.valid_rows = valid.num_rows
        report.rejected_rows = quarantine.num_rows
        return BatchResult(report, valid, quarantine)
    finally:
        con.close()

