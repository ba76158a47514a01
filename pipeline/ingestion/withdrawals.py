"""Explicit withdrawal of published visits by the entity that registered them.

An entity withdraws visits declaratively, with a file in its own landing area whose name
starts with `retiros` (e.g. `retiros-2024-10.csv`, written by hand or by
`visitas withdraw`). Each row names one visit, either by its published `id_visita` or by its
natural key, and says why:

    id_visita,motivo
    3f9a0c1e2b4d5a6f,Registro duplicado por error del operador

    documento,fecha_visita,hora_ingreso,motivo
    DNI 12345678,05/08/2024,10:30,Visita anulada: el visitante no asistió

The file is archived and staged like any batch (by its sha256), so every withdrawal is kept
and audited; consolidation removes the visit from the dataset and records the withdrawal in
the history. A withdrawal only reaches the entity's own visits: the landing folder is the
entity's, and the identifier includes its RUC.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from pipeline.normalization import install_macros

WITHDRAWAL_FILE = re.compile(r"^retiros.*\.csv$", re.IGNORECASE)
KEY_COLUMNS = ("documento", "fecha_visita", "hora_ingreso")


def is_withdrawal_file(name: str) -> bool:
    return bool(WITHDRAWAL_FILE.match(name))


def stage_withdrawals(path: Path, *, ruc: str, name: str, sha256: str, origin: str, archived: str,
                      size: int, ingested: dt.datetime, target: Path) -> tuple[str, int, int, str]:
    """Stage one withdrawal file into `target`; returns (status, rows, accepted, summary)."""
    scratch = target.with_name(target.name + ".tmp")
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    con = duckdb.connect()
    try:
        install_macros(con)
        try:
            con.execute("CREATE TEMP TABLE raw AS SELECT row_number() OVER () + 1 AS _fila, * "
                        "FROM read_csv(?, all_varchar = true, header = true)", [str(path)])
        except duckdb.Error as exc:
            con.execute("CREATE TEMP TABLE raw AS SELECT NULL::BIGINT AS _fila WHERE false")
            problem = f"No se pudo leer el archivo de retiros: {exc}"
        else:
            problem = ""
        columns = {c.lower(): c for c in con.sql("SELECT * FROM raw LIMIT 0").columns}
        has_id = "id_visita" in columns
        has_key = all(c in columns for c in KEY_COLUMNS)
        if not problem and ("motivo" not in columns or not (has_id or has_key)):
            problem = ("El archivo de retiros debe tener la columna «motivo» y, para identificar la "
                       "visita, «id_visita» o bien «documento», «fecha_visita» y «hora_ingreso».")
        if problem:
            con.execute("CREATE TEMP TABLE resolved AS SELECT NULL::BIGINT AS _fila, "
                        "NULL::VARCHAR AS id_visita, NULL::VARCHAR AS motivo WHERE false")
        else:
            by_id = f'nullif(lower(clean_text("{columns["id_visita"]}")), \'\')' if has_id else "NULL"
            doc, day, hour = (f'"{columns[c]}"' for c in KEY_COLUMNS) if has_key else ("NULL",) * 3
            # a natural key only counts when every part of it is there and parses
            by_key = (f"CASE WHEN doc_type({doc}) IS NOT NULL AND parse_date({day}) IS NOT NULL "
                      f"AND parse_time({hour}) IS NOT NULL THEN visit_id('{ruc}', doc_type({doc}), "
                      f"doc_number({doc}), parse_date({day}), parse_time({hour})) END"
                      ) if has_key else "NULL"
            con.execute(f"""CREATE TEMP TABLE resolved AS
                SELECT _fila, coalesce({by_id}, {by_key}) AS id_visita,
                       clean_text("{columns['motivo']}") AS motivo FROM raw""")
        accepted = con.execute("""
            SELECT ? AS _entidad_ruc, ? AS _lote, ? AS _archivo, _fila, id_visita, motivo,
                   ?::TIMESTAMPTZ AS _ingestado_en
            FROM resolved WHERE regexp_full_match(id_visita, '[0-9a-f]{16}') AND motivo IS NOT NULL
            ORDER BY _fila""", [ruc, sha256, name, ingested]).to_arrow_table()
        rows = con.execute("SELECT count(*) FROM resolved").fetchone()[0]
    finally:
        con.close()
    pq.write_table(accepted, scratch / "withdrawals.parquet")
    rejected = rows - accepted.num_rows
    if problem:
        status, summary = "rejected", f"✘ {name}: {problem}"
    elif rejected:
        status = "partial" if accepted.num_rows else "rejected"
        summary = (f"✘ {name}: {accepted.num_rows} retiros aceptados; {rejected} filas sin "
                   "identificador de visita válido o sin motivo no se aplican.")
    else:
        status, summary = "published", f"✔ {name}: {accepted.num_rows} retiros aceptados."
    (scratch / "informe.txt").write_text(summary + "\n", encoding="utf-8")
    meta = {
        "tipo": "retiros", "entidad_ruc": ruc, "archivo": name, "nombres": [name],
        "origen": origin, "archivo_crudo": archived, "sha256": sha256, "bytes": size,
        "ingestado_en": ingested.isoformat(), "estado": status, "rows": rows,
        "filas_validas": accepted.num_rows, "filas_rechazadas": rejected, "filas_sin_visitas": 0,
    }
    (scratch / "batch.json").write_text(json.dumps(meta, ensure_ascii=False, indent=2), encoding="utf-8")
    shutil.rmtree(target, ignore_errors=True)
    scratch.rename(target)
    return status, rows, accepted.num_rows, summary
