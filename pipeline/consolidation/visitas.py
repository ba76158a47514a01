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
* A visit named in an entity's withdrawal file (`retiros*.csv` or `.xlsx`, see
  `pipeline.ingestion.withdrawals`) is
  removed, whatever the order of the withdrawal and the uploads.

Every change is kept in `visitas_historial` (which batch created, changed or withdrew which
field, from what, to what, and when that batch was received).

Incremental, per entity. A visit's natural key includes its entity, so every entity's visits
and history are a function of that entity's staged batches alone. Each entity's result is kept
as Parquet in the warehouse, beside the fingerprint of the batches it was computed from:

    var/warehouse/consolidated/entidad_ruc=<RUC>/visitas.parquet
                                                 visitas_historial.parquet
                                                 huella.json   fingerprint + counts

A run recomputes only the entities whose fingerprint changed (all of them in ONE DuckDB query
pass, split per entity by `COPY … PARTITION_BY`), swaps each entity's folder in atomically and
drops the folders of entities no longer included. An entity whose source could not be read
this run is held: its folder stays as it is, neither recomputed nor dropped, even if some of
its staged batches are missing (see `consolidate`). The `visitas` and `visitas_historial` tables
of `visitas.duckdb` (what publication reads) are then brought in step by deleting and
re-inserting only the rows of entities whose Parquet changed, inside one transaction; so one
entity's new upload costs time proportional to that entity, not to the national dataset.
`orden` in the history is the position of the copy in its entity's canonical order.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa

from pipeline import locks
from pipeline.atomic import clear_scratch, scratch_path, staged_dir
from pipeline.duckdb_limits import limit_resources
from pipeline.ingestion.staged import batch_records, staged_files
from pipeline.normalization import install_macros
from pipeline.normalization.project import NORMALISED_COLUMNS, sql_type
from pipeline.registry import Entity
from pipeline.settings import Settings
from pipeline.sql import identifier, literal, path_list, path_literal

DATABASE = "visitas.duckdb"
CONSOLIDATED = "consolidated"
#: bump when the consolidation rules change: every entity is then recomputed once
FORMAT_VERSION = "1"
#: entities written per COPY … PARTITION_BY (each open partition has its own buffers)
ENTITIES_PER_WRITE = 250

#: the visit's own fields, as normalisation produces them (in published order)
VISIT_FIELDS = NORMALISED_COLUMNS
#: fields a later copy fills but never blanks out
STICKY_FIELDS = frozenset({"hora_salida"})

ID_SQL = ("visit_id(_entidad_ruc, visitante_tipo_documento, visitante_numero_documento, "
          "fecha_visita, hora_ingreso)")
BATCH_ORDER = "_orden_nombre_base, _orden_nombre, _lote"
#: the kinds of batch (`tipo`) whose rows the visits are computed from
VISIT_BATCHES = ("visitas", "retiros")
HISTORY_COLUMNS = ("id_visita, entidad_ruc, lote, archivo, fila, lote_recibido_en, accion, campo, "
                   "valor_anterior, valor_nuevo, orden")


@dataclass
class ConsolidationOutcome:
    database: Path
    rows: int
    staged_rows: int
    entities: int
    withdrawn: int = 0
    changes: int = 0
    #: entities whose staged batches changed since the last run, recomputed this run
    recomputed_entities: list[str] = field(default_factory=list)
    #: entities whose consolidated rows were dropped (no longer included, or no batches left)
    removed_entities: list[str] = field(default_factory=list)
    #: entities kept exactly as the warehouse had them because their source failed this run
    held_entities: list[str] = field(default_factory=list)


def database_path(settings: Settings) -> Path:
    return settings.warehouse_dir / DATABASE


def consolidated_dir(settings: Settings) -> Path:
    return settings.warehouse_dir / CONSOLIDATED


def entity_dir(settings: Settings, ruc: str) -> Path:
    return consolidated_dir(settings) / f"entidad_ruc={ruc}"


def _batches(settings: Settings, rucs: set[str]) -> pa.Table:
    """One row per staged batch of visits or withdrawals with its canonical ordering key
    (metadata only, not rows)."""
    rows: dict[str, list[str]] = {"_entidad_ruc": [], "_lote": [], "_orden_nombre": [],
                                  "_orden_nombre_base": [], "_tipo": []}
    for meta in batch_records(settings, rucs):
        if meta.get("tipo", "visitas") not in VISIT_BATCHES:
            # a decision-makers register changes no visit: its upload recomputes nothing
            continue
        name = min(meta.get("nombres", [meta["archivo"]]))
        rows["_entidad_ruc"].append(meta["entidad_ruc"])
        rows["_lote"].append(meta["sha256"])
        rows["_orden_nombre"].append(name)
        rows["_orden_nombre_base"].append(name.rsplit(".", 1)[0])
        rows["_tipo"].append(meta.get("tipo", "visitas"))
    return pa.table({k: pa.array(v, pa.string()) for k, v in rows.items()})


def _fingerprints(batches: pa.Table) -> dict[str, str]:
    """Per entity, a digest of what its result depends on: which batches, in which order.

    The smallest name is part of it because a re-upload under a smaller name moves the batch
    in the canonical order; a batch's rows and reception time are fixed by its sha256.
    """
    lines: dict[str, list[str]] = {}
    for ruc, lote, name, kind in zip(*(batches.column(c).to_pylist() for c in
                                       ("_entidad_ruc", "_lote", "_orden_nombre", "_tipo")),
                                     strict=True):
        lines.setdefault(ruc, []).append(f"{kind}|{lote}|{name}")
    return {ruc: hashlib.sha256("\n".join([FORMAT_VERSION, *sorted(found)]).encode()).hexdigest()
            for ruc, found in lines.items()}


def _stored(settings: Settings) -> dict[str, dict]:
    """huella.json of every entity folder currently in the warehouse."""
    out = {}
    for path in consolidated_dir(settings).glob("entidad_ruc=*/huella.json"):
        out[path.parent.name.split("=", 1)[1]] = json.loads(path.read_text(encoding="utf-8"))
    return out


def _connect(settings: Settings, database: str) -> duckdb.DuckDBPyConnection:
    """A connection whose memory is bounded: beyond the limit DuckDB spills to disk."""
    # Row order inside each output is not part of the result; letting DuckDB drop it keeps
    # large sorts and partitioned writes streaming.
    con = duckdb.connect(database, config={"preserve_insertion_order": False})
    limit_resources(con, settings)
    return con


def consolidate(settings: Settings, entities: list[Entity], *,
                hold: Collection[str] = ()) -> ConsolidationOutcome:
    """Bring `visitas` and `visitas_historial` in step with the given entities' staged batches,
    recomputing only the entities whose batches changed.

    `hold`: entities whose source could not be read this run. Those the warehouse already has
    keep their consolidated result as it is: no upload of theirs can have arrived, so a
    difference in their batches means batches went missing (a cleaned-up folder), and their
    last result is a better account of their visits than what is left. Published visits leave
    only by an explicit withdrawal.

    Holds the warehouse lock (`pipeline.locks`): one consolidation at a time, and no
    publication reading the database while it changes. Raises `LockBusy` if another process
    keeps it past the wait.
    """
    with locks.hold(locks.warehouse(settings), settings.lock_wait_seconds):
        return _consolidate(settings, entities, hold)


def _consolidate(settings: Settings, entities: list[Entity],
                 hold: Collection[str]) -> ConsolidationOutcome:
    db = database_path(settings)
    db.parent.mkdir(parents=True, exist_ok=True)
    rucs = {e.ruc for e in entities}
    batches = _batches(settings, rucs)
    wanted = _fingerprints(batches)
    stored = _stored(settings)
    held = sorted(set(hold) & rucs & set(stored))
    changed = sorted(r for r, fp in wanted.items()
                     if r not in held and stored.get(r, {}).get("huella") != fp)
    removed = sorted(set(stored) - set(wanted) - set(held))
    if changed:
        _recompute(settings, batches, changed, wanted)
    for ruc in removed:
        shutil.rmtree(entity_dir(settings, ruc))
    registry = pa.table({
        "entidad_ruc": pa.array([e.ruc for e in entities], pa.string()),
        "entidad_nombre": pa.array([e.name for e in entities], pa.string()),
    })
    totals = _sync_database(settings, db, registry)
    return ConsolidationOutcome(db, *totals, recomputed_entities=changed, removed_entities=removed,
                                held_entities=held)


def _recompute(settings: Settings, batches: pa.Table, changed: list[str],
               fingerprints: dict[str, str]) -> None:
    """One DuckDB pass over the changed entities' batches, written per entity."""
    staged = [p for r in changed for p in staged_files(settings, r, "valid")]
    withdrawals = [p for r in changed for p in staged_files(settings, r, "withdrawals")]
    root = consolidated_dir(settings)
    # Leftovers of an interrupted run (scratch folders, an entity's old folder moved aside):
    # never read, since only entidad_ruc=* folders are; just space.
    clear_scratch(root)
    for stale in root.glob(".tmp-*"):  # the scratch name used before pipeline.atomic
        shutil.rmtree(stale, ignore_errors=True)
    scratch = scratch_path(root / "partes")
    scratch.mkdir(parents=True)
    try:
        staged_rows, withdrawn = _compute(settings, batches, changed, staged, withdrawals, scratch)
        for ruc in changed:
            _swap_in(entity_dir(settings, ruc), scratch, {
                "huella": fingerprints[ruc], "filas_en_lotes": staged_rows.get(ruc, 0),
                "retiradas": withdrawn.get(ruc, 0)})
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _compute(settings: Settings, batches: pa.Table, changed: list[str], staged: list[Path],
             withdrawals: list[Path], scratch: Path) -> tuple[dict[str, int], dict[str, int]]:
    """Write the changed entities' visits and history under `scratch/<table>/entidad_ruc=*/`;
    return the staged rows and the withdrawn visits of each entity."""
    with _connect(settings, ":memory:") as con:
        install_macros(con)
        con.register("changed_batches", batches)
        con.execute("""CREATE TEMP TABLE batches AS SELECT * FROM changed_batches
                       WHERE _entidad_ruc IN (SELECT unnest(?))""", [changed])
        con.execute(_read_sql("staged", staged, _empty_staged_sql()))
        con.execute(_read_sql("withdrawn_raw", withdrawals, _empty_withdrawals_sql()))
        con.execute(f"""CREATE OR REPLACE TEMP TABLE keyed AS
            SELECT s.*, {ID_SQL} AS id_visita,
                   row_number() OVER (PARTITION BY _entidad_ruc ORDER BY {BATCH_ORDER}, _fila)
                       AS _orden
            FROM staged s JOIN batches b USING (_entidad_ruc, _lote)""")
        # The value of each field after each copy, along the canonical order.
        effective = ",\n".join(
            f"last_value({identifier(c)} IGNORE NULLS) OVER w AS {identifier(c)}"
            if c in STICKY_FIELDS else identifier(c) for c in VISIT_FIELDS)
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
        fields = ", ".join(f"v.{identifier(c)}" for c in VISIT_FIELDS)
        con.execute(f"""CREATE TEMP TABLE out_visitas AS
            SELECT v.id_visita, v.entidad_ruc, {fields}
            FROM versions v
            WHERE v._version = v._versiones
              AND v.id_visita NOT IN (SELECT id_visita FROM withdrawn)""")
        con.execute(f"CREATE TEMP TABLE out_visitas_historial AS {_history_sql()}")
        # Split per entity with PARTITION_BY, a bounded number of entities per COPY: every open
        # partition holds its own write buffers, so thousands at once would not fit the memory
        # limit. WRITE_PARTITION_COLUMNS keeps entidad_ruc inside each file.
        for i in range(0, len(changed), ENTITIES_PER_WRITE):
            chunk = changed[i:i + ENTITIES_PER_WRITE]
            for table in ("visitas", "visitas_historial"):
                con.execute(f"""COPY (SELECT * FROM out_{table}
                                      WHERE entidad_ruc IN (SELECT unnest(?)))
                    TO {path_literal(scratch / table)}
                    (FORMAT parquet, PARTITION_BY (entidad_ruc), WRITE_PARTITION_COLUMNS true,
                     OVERWRITE_OR_IGNORE true)""", [chunk])
        staged_rows = dict(con.execute(
            "SELECT _entidad_ruc, count(*) FROM keyed GROUP BY ALL").fetchall())
        withdrawn = dict(con.execute(
            "SELECT entidad_ruc, count(*) FROM withdrawn GROUP BY ALL").fetchall())
    return staged_rows, withdrawn


def _swap_in(final: Path, scratch: Path, fingerprint: dict[str, object]) -> None:
    """Replace one entity's folder with its parts under `scratch` and its `huella.json`.

    The folder is built complete beside the old one and renamed in, so a crash leaves either
    the old result or none (recomputed next run), never half of one.
    """
    with staged_dir(final) as ready:
        for table in ("visitas", "visitas_historial"):
            parts = sorted((scratch / table / final.name).glob("*.parquet"))
            for i, part in enumerate(parts):
                part.rename(ready / (f"{table}.parquet" if i == 0 else f"{table}-{i}.parquet"))
        (ready / "huella.json").write_text(json.dumps(fingerprint, indent=2), encoding="utf-8")


def _sync_database(settings: Settings, db: Path,
                   registry: pa.Table) -> tuple[int, int, int, int, int]:
    """Make the DuckDB tables match the per-entity Parquet, touching only entities that moved.

    `consolidado` records which fingerprint each entity's rows in the tables come from; it is
    updated in the same transaction as the rows, so the tables never disagree with it.
    """
    stored = _stored(settings)
    current = pa.table({
        "entidad_ruc": pa.array(list(stored), pa.string()),
        "huella": pa.array([m["huella"] for m in stored.values()], pa.string()),
        "filas_en_lotes": pa.array([m["filas_en_lotes"] for m in stored.values()], pa.int64()),
        "retiradas": pa.array([m["retiradas"] for m in stored.values()], pa.int64()),
    })
    with _connect(settings, str(db)) as con:
        con.register("current_state", current)
        con.register("registry", registry)
        tables = {r[0] for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main'").fetchall()}
        con.execute("BEGIN")
        if "consolidado" not in tables:
            # a warehouse from before incremental consolidation: start the tables afresh
            con.execute("DROP TABLE IF EXISTS visitas")
            con.execute("DROP TABLE IF EXISTS visitas_historial")
            con.execute(_empty_tables_sql())
        con.execute("""CREATE OR REPLACE TEMP TABLE stale AS
            SELECT entidad_ruc FROM consolidado c
            WHERE NOT EXISTS (SELECT 1 FROM current_state s
                              WHERE s.entidad_ruc = c.entidad_ruc AND s.huella = c.huella)""")
        reload = [r[0] for r in con.execute("""SELECT entidad_ruc FROM current_state s
            WHERE NOT EXISTS (SELECT 1 FROM consolidado c
                              WHERE s.entidad_ruc = c.entidad_ruc AND s.huella = c.huella)
            ORDER BY 1""").fetchall()]
        for table in ("visitas", "visitas_historial"):
            con.execute(f"DELETE FROM {table} WHERE entidad_ruc IN (SELECT entidad_ruc FROM stale)")
        _insert(con, settings, reload)
        con.execute("DELETE FROM consolidado WHERE entidad_ruc IN (SELECT entidad_ruc FROM stale)")
        con.execute("""INSERT INTO consolidado SELECT * FROM current_state
                       WHERE entidad_ruc IN (SELECT unnest(?))""", [reload])
        # A renamed entity keeps its rows; only its name changes (few rows, never recomputed).
        con.execute("""UPDATE visitas v SET entidad_nombre = r.entidad_nombre FROM registry r
                       WHERE v.entidad_ruc = r.entidad_ruc
                         AND v.entidad_nombre IS DISTINCT FROM r.entidad_nombre""")
        con.execute("CREATE OR REPLACE TABLE entidades AS SELECT * FROM registry")
        con.execute("COMMIT")
        rows, n_entities = con.execute(
            "SELECT count(*), count(DISTINCT entidad_ruc) FROM visitas").fetchone()
        staged_rows, withdrawn = con.execute(
            "SELECT coalesce(sum(filas_en_lotes), 0), coalesce(sum(retiradas), 0) FROM consolidado"
        ).fetchone()
        changes = con.execute(
            "SELECT count(*) FROM visitas_historial WHERE accion = 'cambio'").fetchone()[0]
    return rows, int(staged_rows), n_entities, int(withdrawn), changes


def _insert(con: duckdb.DuckDBPyConnection, settings: Settings, rucs: list[str]) -> None:
    """Append the given entities' Parquet rows to the tables, visits in published order so
    date filters keep skipping row groups."""
    for table in ("visitas", "visitas_historial"):
        files = [p for r in rucs for p in sorted(entity_dir(settings, r).glob(f"{table}*.parquet"))
                 if p.name.startswith(f"{table}.") or p.name.startswith(f"{table}-")]
        if not files:
            continue
        source = f"read_parquet({path_list(files)}, union_by_name = true)"
        if table == "visitas":
            fields = ", ".join(f"v.{identifier(c)}" for c in VISIT_FIELDS)
            con.execute(f"""INSERT INTO visitas
                SELECT v.id_visita, v.entidad_ruc, r.entidad_nombre, {fields}
                FROM {source} v JOIN registry r USING (entidad_ruc)
                ORDER BY fecha_visita, entidad_ruc, hora_ingreso, id_visita""")
        else:
            con.execute(f"INSERT INTO visitas_historial SELECT {HISTORY_COLUMNS} FROM {source}")


def _empty_tables_sql() -> str:
    columns = ", ".join(f"{identifier(c)} {sql_type(c)}" for c in VISIT_FIELDS)
    return f"""
        CREATE TABLE visitas (id_visita VARCHAR, entidad_ruc VARCHAR, entidad_nombre VARCHAR,
                              {columns});
        CREATE TABLE visitas_historial (id_visita VARCHAR, entidad_ruc VARCHAR, lote VARCHAR,
            archivo VARCHAR, fila BIGINT, lote_recibido_en TIMESTAMPTZ, accion VARCHAR,
            campo VARCHAR, valor_anterior VARCHAR, valor_nuevo VARCHAR, orden BIGINT);
        CREATE TABLE consolidado (entidad_ruc VARCHAR PRIMARY KEY, huella VARCHAR,
                                  filas_en_lotes BIGINT, retiradas BIGINT);
    """


def _history_sql() -> str:
    """`visitas_historial`: one row per creation, per changed field, per withdrawal.

    Only visits carried by more than one batch can have changes, so the previous values are
    computed over those alone (a few percent of the rows), all fields in one window pass.
    """
    def before(c: str) -> str:
        return identifier(f"_antes_{c}")

    previous = ",\n".join(f"lag({identifier(c)}) OVER w AS {before(c)}" for c in VISIT_FIELDS)
    changed = "\nUNION ALL\n".join(
        f"""SELECT id_visita, entidad_ruc, _lote, _archivo, _fila, _ingestado_en, _orden,
                   'cambio' AS accion, {literal(c)} AS campo,
                   {before(c)}::VARCHAR AS valor_anterior, {identifier(c)}::VARCHAR AS valor_nuevo
            FROM previous WHERE _version > 1 AND {before(c)} IS DISTINCT FROM {identifier(c)}"""
        for c in VISIT_FIELDS)
    return f"""
        WITH previous AS MATERIALIZED (
            SELECT *, {previous}
            FROM versions WHERE _versiones > 1
            WINDOW w AS (PARTITION BY id_visita ORDER BY _orden)
        ), changes AS ({changed})
        SELECT id_visita, entidad_ruc, _lote AS lote, _archivo AS archivo, _fila AS fila,
               _ingestado_en AS lote_recibido_en, accion, campo, valor_anterior, valor_nuevo,
               _orden AS orden
        FROM (
            SELECT * FROM changes
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
    """


def _read_sql(view: str, files: list[Path], empty: str) -> str:
    if not files:
        return empty
    return (f"CREATE OR REPLACE TEMP VIEW {view} AS "
            f"SELECT * FROM read_parquet({path_list(files)}, union_by_name = true)")


def _empty_staged_sql() -> str:
    columns = ", ".join(f"NULL::{sql_type(c)} AS {identifier(c)}" for c in VISIT_FIELDS)
    return (f"CREATE OR REPLACE TEMP VIEW staged AS SELECT {columns}, NULL::VARCHAR AS _entidad_ruc, "
            "NULL::VARCHAR AS _lote, NULL::VARCHAR AS _archivo, NULL::BIGINT AS _fila, "
            "NULL::TIMESTAMPTZ AS _ingestado_en WHERE false")


def _empty_withdrawals_sql() -> str:
    return ("CREATE OR REPLACE TEMP VIEW withdrawn_raw AS SELECT NULL::VARCHAR AS _entidad_ruc, "
            "NULL::VARCHAR AS _lote, NULL::VARCHAR AS _archivo, NULL::BIGINT AS _fila, "
            "NULL::VARCHAR AS id_visita, NULL::VARCHAR AS motivo, "
            "NULL::TIMESTAMPTZ AS _ingestado_en WHERE false")
