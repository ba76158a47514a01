"""The consolidated `visitas` table in DuckDB: one row per real visit across all entities.

Grain: one row per (entity, visitor document type and number, visit date, entry time), the
natural key of a visit after normalisation. `id_visita` is a stable fingerprint of that key,
so it never changes between runs or releases. When several batches carry the same visit, the
latest batch wins field by field, and an exit time missing from it is taken from the latest
batch that has one (exit times are often filled in by a later upload).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from pipeline.registry import Entity
from pipeline.settings import Settings

DATABASE = "visitas.duckdb"

#: published column order (the `visitas` schema's order)
VISIT_FIELDS = (
    "fecha_registro", "fecha_visita", "hora_ingreso", "hora_salida",
    "visitante_nombre", "visitante_tipo_documento", "visitante_numero_documento",
    "visitante_tipo_entidad", "visitante_entidad",
    "funcionario_nombre", "funcionario_area", "funcionario_cargo",
    "motivo", "motivo_detalle", "lugar", "observacion",
)

ID_SQL = """substr(sha256(concat_ws('|', _entidad_ruc, visitante_tipo_documento,
    coalesce(visitante_numero_documento, ''), fecha_visita::VARCHAR, hora_ingreso::VARCHAR)), 1, 16)"""


@dataclass
class ConsolidationOutcome:
    database: Path
    rows: int
    staged_rows: int
    entities: int


def database_path(settings: Settings) -> Path:
    return settings.warehouse_dir / DATABASE


def consolidate(settings: Settings, entities: list[Entity]) -> ConsolidationOutcome:
    """Rebuild the `visitas` table from every staged batch of the given entities."""
    db = database_path(settings)
    db.parent.mkdir(parents=True, exist_ok=True)
    staged = sorted((settings.warehouse_dir / "batches").glob("*/*/valid.parquet"))
    registry = pa.table({
        "entidad_ruc": pa.array([e.ruc for e in entities], pa.string()),
        "entidad_nombre": pa.array([e.name for e in entities], pa.string()),
    })
    with duckdb.connect(str(db)) as con:
        con.register("registry", registry)
        if staged:
            files = ", ".join(f"'{p.as_posix()}'" for p in staged)
            con.execute(f"""CREATE OR REPLACE TEMP VIEW staged AS
                SELECT * FROM read_parquet([{files}], union_by_name = true)
                WHERE _entidad_ruc IN (SELECT entidad_ruc FROM registry)""")
        else:
            con.execute(_empty_staged_sql())
        picks = ",\n".join(
            f"arg_max({c}, _orden) FILTER (WHERE {c} IS NOT NULL) AS {c}" if c == "hora_salida"
            else f"arg_max({c}, _orden) AS {c}"
            for c in VISIT_FIELDS
        )
        con.execute(f"""
            CREATE OR REPLACE TABLE visitas AS
            WITH keyed AS (
                SELECT *, {ID_SQL} AS id_visita,
                       -- later batches win; within a batch, the later row
                       (epoch(_ingestado_en)::BIGINT * 1000000000 + _fila) AS _orden
                FROM staged
            ), latest AS (
                SELECT id_visita, any_value(_entidad_ruc) AS entidad_ruc, {picks}
                FROM keyed GROUP BY id_visita
            )
            SELECT l.id_visita, l.entidad_ruc, r.entidad_nombre, {", ".join("l." + c for c in VISIT_FIELDS)}
            FROM latest l JOIN registry r USING (entidad_ruc)
            ORDER BY fecha_visita, entidad_ruc, hora_ingreso, id_visita
        """)
        rows = con.execute("SELECT count(*) FROM visitas").fetchone()[0]
        staged_rows = con.execute("SELECT count(*) FROM staged").fetchone()[0]
        n_entities = con.execute("SELECT count(DISTINCT entidad_ruc) FROM visitas").fetchone()[0]
    return ConsolidationOutcome(db, rows, staged_rows, n_entities)


def _empty_staged_sql() -> str:
    columns = ", ".join(
        f"NULL::{'DATE' if c.startswith('fecha') else 'TIME' if c.startswith('hora') else 'VARCHAR'} AS {c}"
        for c in VISIT_FIELDS
    )
    return (f"CREATE OR REPLACE TEMP VIEW staged AS SELECT {columns}, NULL::VARCHAR AS _entidad_ruc, "
            "NULL::VARCHAR AS _lote, NULL::VARCHAR AS _archivo, NULL::BIGINT AS _fila, "
            "NULL::TIMESTAMPTZ AS _ingestado_en WHERE false")
