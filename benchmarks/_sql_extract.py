"""One extraction of an entity's visitor-control table through `DatabaseSource.fetch`, in a
process of its own, measured: rows, seconds and the process's peak resident memory over its
peak before the extraction (interpreter, DuckDB and the extension loaded, connected once).

    python -m benchmarks._sql_extract KIND URL [BATCH_ROWS [STATE]]  → one JSON line on stdout

With STATE (a cursor.json), the extraction starts from the cursor kept there, if any, and
keeps where it ended there, as ingestion would once its batches are staged.

Used by the bounded-memory test (tests/test_sources_database.py) and `benchmarks/sql.py`.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

import yaml

from benchmarks._host import peak_rss_mib
from pipeline.registry import parse_entity
from pipeline.settings import Settings
from pipeline.sources.cursor import write_state
from pipeline.sources.database import BATCH_ROWS, DatabaseSource

ROOT = Path(__file__).resolve().parents[1]
ENV = "VISITAS_BD_MEDICION"
REGISTRATION = """
ruc: "20999400001"
name: "Municipalidad de Ejemplo con Base de Datos"
stage: production
administrator: {{email: "sistemas@muniejemplobd.gob.pe"}}
source:
  kind: {kind}
  url_env: VISITAS_BD_MEDICION
  {what}
  cursor: actualizado
  batch_rows: {batch_rows}
"""


def measure(kind: str, url: str, batch_rows: int = BATCH_ROWS,
            state: Path | None = None) -> dict[str, float]:
    os.environ[ENV] = url

    def entity(what: str):
        return parse_entity(yaml.safe_load(REGISTRATION.format(
            kind=kind, what=what, batch_rows=batch_rows)), "medicion.yaml")

    with tempfile.TemporaryDirectory(prefix="bench-sql-") as tmp:
        base = Path(tmp)
        settings = Settings.from_env(environ={"VISITAS_HOME": str(ROOT),
                                              "VISITAS_VAR_DIR": str(base / "var")})
        # the same path with no rows: what the extraction's memory is measured against
        empty = entity("query: SELECT * FROM control_visitas WHERE id < 0")
        DatabaseSource(base / "vacio.json", settings).fetch(empty, base)
        baseline = peak_rss_mib()
        started = time.perf_counter()
        fetched = DatabaseSource(state or base / "cursor.json", settings).fetch(
            entity("table: control_visitas"), base)
        seconds = time.perf_counter() - started
        peak = peak_rss_mib()
        if state is not None and fetched.uploads:
            write_state(state, fetched.checkpoints[fetched.uploads[-1].sha256])
        rows = sum(u.provenance["filas_extraidas"] for u in fetched.uploads)
        size = sum(u.size for u in fetched.uploads)
    return {"rows": rows, "batches": len(fetched.uploads), "seconds": seconds,
            "json_mib": size / 2**20, "baseline_mib": baseline, "peak_mib": peak,
            "growth_mib": peak - baseline}


if __name__ == "__main__":
    args = sys.argv[1:]
    print(json.dumps(measure(args[0], args[1], int(args[2]) if len(args) > 2 else BATCH_ROWS,
                             Path(args[3]) if len(args) > 3 else None)))
