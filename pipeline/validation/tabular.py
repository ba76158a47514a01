"""Validate any table file against any Table Schema, as frictionless-py 5 would.

This is `visitas validate FILE --schema SCHEMA.json`: the schema's checks only, no domain
rules, on the same reader and driver as uploads. As in frictionless, the first row is the
header, fields meet columns by position, and labels must equal the field names exactly.
"""

from __future__ import annotations

import concurrent.futures
import time
from pathlib import Path

from pipeline.sources.readers import EncodingMismatch, UnreadableUpload, open_table
from pipeline.storage.base import sha256_file
from pipeline.validation import driver
from pipeline.validation.labels import positional
from pipeline.validation.report import Report, ReportError
from pipeline.validation.schema import TableSchema
from pipeline.validation.upload import finish


def validate_table(path: Path, schema: TableSchema, *, error_limit: int | None = None,
                   place: str | None = None) -> Report:
    """Validate a CSV (or XLSX) against a Table Schema; the report matches frictionless's."""
    started = time.perf_counter()
    hashing = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    digest = hashing.submit(sha256_file, path)
    encoding: str | None = None
    while True:
        report = Report(place=place or str(path), bytes=path.stat().st_size, schema=schema.name,
                        upload=False)
        if error_limit is not None:
            report.error_limit = error_limit
        try:
            # the format is told by the content: any name is read, as frictionless reads a
            # file it is given
            stream = open_table(path, path.name, schema.field_names, header_search=False,
                                encoding=encoding)
            report.warnings.extend(stream.notes)
            header = positional(stream.labels, schema)
            report.labels = list(stream.labels)
            report.field_columns = {name: int(column[1:])
                                    for name, column in header.target.mapping.items()}
            for error in header.errors:
                report.add(error)
            driver.run(stream, header.target, report)
        except EncodingMismatch as exc:
            encoding = exc.fallback
            continue
        except UnreadableUpload as exc:
            report.add(ReportError(exc.error_type, note=str(exc)))
        break
    report.sha256 = digest.result()
    hashing.shutdown()
    finish(report)
    report.seconds = time.perf_counter() - started
    return report
