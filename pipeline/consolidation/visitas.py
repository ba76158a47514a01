"""The consolidated `visitas` table in DuckDB: one row per real visit across all entities.

Grain: one row per (entity, visitor document type and number, visit date, entry time), the
natural key of a visit after normalisation. `id_visita` is a stable fingerprint of that key
(the `visit_id` macro), so it never changes between runs or releases.

Consolidation is a pure function of the SET of staged batches, never of the wall-clock order
they arrived in, so any reordering, duplication or re-upload gives the same table:

* Batches are put in one canonical order: per entity, by the name of the uploaded file without
  its extension, then the full name, then the batch's sha256 (when the same bytes arrived under
  several names, the smallest name counts). An entity's naming (`visitas-2024-10.csv`, then
  `visitas-2024-10-b.csv` or `visitas-2024-10-correccion.csv`) therefore says which upload
  comes later; within a batch, the later row comes later.
* Along that order, every field takes the value of the latest copy of the visit, except the
  exit time, which keeps the latest non-empty value (it is often filled by a later upload and
  never erased by a copy that lacks it).
* A visit named in an entity's withdrawal file (`retiros*.csv`, see `pipeline.withdrawals`) is
  removed, whatever the order of the withdrawal and the uploads.

Every change is kept in `visitas_historial` (which batch created, changed or withdrew which
field, from what, to what, and when that batch was received). The table is rebuilt from the
immutable staged batches on each run, so the history is always reproducible from them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from pipeline.duckdb_resources import limit_resources
from pipeline.normalization import install_macros
from pipeline.normalization.project import NORMALISED_COLUMNS
from pipeline.registry import Entity
from pipeline.settings import Settings

DATABASE = "visitas.duckdb"

#: the visit's own fields, as normalisation produces them (in published order)
VISIT_FIELDS = NORMALISED_COLUMNS
#: fields a later copy fills but never blanks out
STICKY_FIELDS = frozenset({"hora_salida"})

ID_SQL = ("visit_id(_entidad_ruc, visitante_tipo_documento, visitante_numero_documento, "
          "fecha_visita, hora_ingreso)")
BATCH_ORDER = "_entidad_ruc, _orden_nombre_base, _orden_nombre, _lote"


@dataclass
class ConsolidationOutcome:
    database: Path
    rows: int
    staged_rows: int
    entities: int
    withdrawn: int = 0
    changes: int = 0


def database_path(settings: Settings) -> Path:
    return settings.warehouse_dir / DATABASE


def _batches(settings: Settings, rucs: set[str]) -> pa.Table:
    """One row per staged batch with its canonical ordering key (metadata only, not rows)."""
    rows: dict[str, list[str]] = {"_entidad_ruc": [], "_lote": [], "_orden_nombre": [],
                                  "_orden_nombre_base": []}
    for meta_path in sorted((settings.warehouse_dir / "batches").glob("*/*/batch.json")):
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if meta["entidad_ruc"] not in rucs:
            continue
        name = min(meta.get("nombres", [meta["archivo"]]))
        rows["_entidad_ruc"].append(meta["entidad_ruc"])
        rows["_lote"].append(meta["sha256"])
        rows["_orden_nombre"].append(name)
        rows["_orden_nombre_base"].append(name.rsplit(".", 1)[0])
    return pa.table({k: pa.array(v, pa.string()) for k, v in rows.items()})


def consolidate(settings: Settings, entities: list[Entity]) -> ConsolidationOutcome:
    """Rebuild `visitas` and `visitas_historial` from every staged batch of the given entities."""
    db = database_path(settings)
    db.parent.mkdir(parents=True, exist_ok=True)
    base = settings.warehouse_dir / "batches"
    staged = sorted(base.glob("*/*/valid.parquet"))
    withdrawals = sorted(base.glob("*/*/withdrawals.parquet"))
    registry = pa.table({
        "entidad_ruc": pa.array([e.ruc for e in entities], pa.string()),
        "entidad_nombre": pa.array([e.name for e in entities], pa.string()),
    })
    with duckdb.connect(str(db)) as con:
        # Window functions over every staged row: capped and spilling, not sized by the data.
        limit_resources(con, settings)
        install_macros(con)
        con.register("registry", registry)
        con.register("batches", _batches(settings, {e.ruc for e in entities}))
        con.execute(_read_sql("staged", staged, _empty_staged_sql()))
        con.execute(_read_sql("withdrawn_raw", withdrawals, _empty_withdrawals_sql()))
        con.execute(f"""CREATE OR REPLACE TEMP TABLE keyed AS
            SELECT s.*, {ID_SQL} AS id_visita,
                   row_number() OVER (ORDER BY {BATCH_ORDER}, _fila) AS _orden
            FROM staged s JOIN batches b USING (_entidad_ruc, _lote)""")
        # The value of each field after each copy, along the canonical order.
        effective = ",\n".join(
            f"last_value({c} IGNORE NULLS) OVER w AS {c}" if c in STICKY_FIELDS else c
            for c in VISIT_FIELDS)
        con.execute(f"""CREATE OR REPLACE TEMP TABLE versions AS
            SELECT id_visita, _entidad_ruc AS entidad_ruc, _lote, _archivo, _fila, _ingestado_en,
                   _orden, row_number() OVER w AS _version,
                   count(*) OVER (PARTITION BY id_visita) AS _versiones, {effective}
            FROM keyed
            WINDOW w AS (PARTITION BY id_visita ORDER BY _orden ROWS UNBOUNDED PRECEDING)""")
        con.execute("""CREATE OR REPLACE TEMP TABLE withdrawn AS
            SELECT w.id_visita, w._entidad_ruc AS entidad_ruc,
                   arg_min(w.motivo, b._orden_nombre_base || '|' || b._orden_nombre || '|' || w._lote
                           || '|' || lpad(w._fila::VARCHAR, 12, '0')) AS motivo
            FROM withdrawn_raw w JOIN batches b USING (_entidad_ruc, _lote)
            WHERE w.id_visita IN (SELECT id_visita FROM keyed)
            GROUP BY ALL""")
        fields = ", ".join(f"v.{c}" for c in VISIT_FIELDS)
        con.execute(f"""
            CREATE OR REPLACE TABLE visitas AS
            SELECT v.id_visita, v.entidad_ruc, r.entidad_nombre, {fields}
            FROM versions v JOIN registry r USING (entidad_ruc)
            WHERE v._version = v._versiones
              AND v.id_visita NOT IN (SELECT id_visita FROM withdrawn)
            ORDER BY fecha_visita, entidad_ruc, hora_ingreso, id_visita
        """)
        con.execute(_history_sql())
        rows = con.execute("SELECT count(*) FROM visitas").fetchone()[0]
        staged_rows = con.execute("SELECT count(*) FROM keyed").fetchone()[0]
        n_entities = con.execute("SELECT count(DISTINCT entidad_ruc) FROM visitas").fetchone()[0]
        n_withdrawn = con.execute("SELECT count(*) FROM withdrawn").fetchone()[0]
        changes = con.execute(
            "SELECT count(*) FROM visitas_historial WHERE accion = 'cambio'").fetchone()[0]
    return ConsolidationOutcome(db, rows, staged_rows, n_entities, n_withdrawn, changes)


def _history_sql() -> str:
    """`visitas_historial`: one row per creation, per changed field, per withdrawal."""
    i = "(PARTITION BY id_visita ORDER BY _orden)"
    changed = "\nUNION ALL\n".join(
        f"""SELECT id_visita, entidad_ruc, _lote, _archivo, _fila, _ingestado_en, _orden,
                   'cambio' AS accion, '{c}' AS campo,
                   (lag({c}) OVER {i})::VARCHAR AS valor_anterior, {c}::VARCHAR AS valor_nuevo,
                   _version, lag({c}) OVER {i} IS DISTINCT FROM {c} AS _distinto
            FROM versions"""
        for c in VISIT_FIELDS)
    return f"""
        CREATE OR REPLACE TABLE visitas_historial AS
        WITH changes AS ({changed})
        SELECT id_visita, entidad_ruc, _lote AS lote, _archivo AS archivo, _fila AS fila,
               _ingestado_en AS lote_recibido_en, accion, campo, valor_anterior, valor_nuevo,
               _orden AS orden
        FROM (
            SELECT * EXCLUDE (_version, _distinto) FROM changes WHERE _version > 1 AND _distinto
            UNION ALL
            SELECT id_visita, entidad_ruc, _lote, _archivo, _fila, _ingestado_en, _orden,
                   'alta', NULL, NULL, NULL
            FROM versions WHERE _version = 1
            UNION ALL
            SELECT w.id_visita, w._entidad_ruc, w._lote, w._archivo, w._fila, w._ingestado_en,
                   NULL, 'retiro', NULL, NULL, w.motivo
            FROM withdrawn_raw w JOIN withdrawn d
                ON d.id_visita = w.id_visita AND d.entidad_ruc = w._entidad_ruc
        )
        ORDER BY id_visita, orden NULLS LAST, lote, fila, campo
    """


def _read_sql(view: str, files: list[Path], empty: str) -> str:
    if not files:
        return empty
    listed = ", ".join(f"'{p.as_posix()}'" for p in files)
    return (f"CREATE OR REPLACE TEMP VIEW {view} AS "
            f"SELECT * FROM read_parquet([{listed}], union_by_name = true)")


def _empty_staged_sql() -> str:
    columns = ", ".join(
        f"NULL::{'DATE' if c.startswith('fecha') else 'TIME' if c.startswith('hora') else 'VARCHAR'} AS {c}"
        for c in VISIT_FIELDS
    )
    return (f"CREATE OR REPLACE TEMP VIEW staged AS SELECT {columns}, NULL::VARCHAR AS _entidad_ruc, "
            "NULL::VARCHAR AS _lote, NULL::VARCHAR AS _archivo, NULL::BIGINT AS _fila, "
            "NULL::TIMESTAMPTZ AS _ingestado_en WHERE false")


def _empty_withdrawals_sql() -> str:
    return ("CREATE OR REPLACE TEMP VIEW withdrawn_raw AS SELECT NULL::VARCHAR AS _entidad_ruc, "
            "NULL::VARCHAR AS _lote, NULL::VARCHAR AS _archivo, NULL::BIGINT AS _fila, "
            "NULL::VARCHAR AS id_visita, NULL::VARCHAR AS motivo, "
            "NULL::TIMESTAMPTZ AS _ingestado_en WHERE false")
