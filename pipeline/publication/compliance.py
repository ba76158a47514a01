"""The compliance dataset, `cumplimiento`: one row per entity and month of visit, published in
every release beside `visitas` (definitions and sources: docs/cumplimiento.md).

Computed when a release is cut, in the publisher's DuckDB connection, from:

* the staged batches (`batch.json`, `valid.parquet`, `quarantine.parquet`): rows received and
  rejected, and when each batch arrived;
* the consolidated `visitas` table: the visits published, their exit times, motives and dates;
* `visitas_historial`: when the batch that brought each visit arrived (its first publication).

The table is small (entities × months), so it is written whole in each release. Its
fingerprint goes in the manifest, and a release is cut when it changes even if no visit did (a
file rejected outright changes compliance, not the visits). The fingerprint leaves out what
depends only on when batches arrived (`ultima_carga`, `demora_mediana_dias`): re-ingesting
the same uploads into an empty warehouse (a new machine) gives them new arrival times, and
must publish nothing new, as it does for the visits.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import pyarrow as pa

from pipeline.ingestion.staged import QUARANTINE, batch_file, batch_records
from pipeline.normalization.macros import install_macros
from pipeline.publication import tables
from pipeline.publication.dataset import DatasetMeta, load_dataset
from pipeline.settings import Settings
from pipeline.sources.readers.header import fold
from pipeline.sql import identifier, literal, path_literal

TABLE = "cumplimiento"
LIMA = ZoneInfo("America/Lima")
#: the visit-date column of each upload layout, as its label folds (`upload-oficial`,
#: `upload-normalizado`): quarantined rows keep the upload's own labels and text
VISIT_DATE_LABELS = (fold("Fecha de Visita"), fold("fecha_visita"))
#: the motive category the register offers when none of the others applies
OTHER_MOTIVES = "Otros Motivos"
#: what depends only on when batches arrived, left out of the fingerprint
ARRIVAL_COLUMNS = ("demora_mediana_dias", "ultima_carga")
COLUMNS = ("entidad_ruc", "entidad_nombre", "mes", "visitas_publicadas", "filas_recibidas",
           "filas_rechazadas", "pct_sin_hora_salida", "pct_otros_motivos",
           "demora_mediana_dias", "dias_con_visitas", "ultima_carga")


@dataclass(frozen=True)
class ComplianceMeta:
    """The dataset's metadata (`datasets/cumplimiento.yaml`) and its silence threshold."""

    meta: DatasetMeta
    silence_days: int


def load(settings: Settings) -> ComplianceMeta | None:
    """`datasets/cumplimiento.yaml`, or None when the project does not publish compliance."""
    if not (settings.datasets_dir / f"{TABLE}.yaml").is_file():
        return None
    meta = load_dataset(settings.datasets_dir, TABLE)
    days = meta.extra.get("silencio_dias", 30)
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise ValueError(f"silencio_dias de datasets/{TABLE}.yaml debe ser un número entero de "
                         f"días mayor que 0; se encontró {days!r}.")
    return ComplianceMeta(meta, days)


@dataclass(frozen=True)
class Activity:
    """When an entity last uploaded visits, as of a release."""

    ruc: str
    name: str
    last_upload: dt.datetime | None  # None: never uploaded
    days: int | None  # whole days from the last upload to the release, Lima dates

    def silent(self, threshold: int) -> bool:
        return self.days is None or self.days > threshold


def compute(con: duckdb.DuckDBPyConnection, settings: Settings,
            previous: Path | None = None) -> int:
    """Create the temporary table `cumplimiento` (COLUMNS, in publication order) on `con`, a
    connection to the consolidated database; return its number of rows.

    `previous`: the previous release's `cumplimiento.parquet`. An entity with published
    visits but no staged batch left (its source down and its batches gone, its consolidated
    rows held) keeps the rows received and rejected that release counted: a run that cannot
    see an entity's uploads does not change what is published about them."""
    install_macros(con)
    entities = published_entities(con)
    records = [r for r in batch_records(settings, set(entities)) if r.get("tipo") == "visitas"]
    con.register("_c_entidades", pa.table({"entidad_ruc": list(entities),
                                           "entidad_nombre": list(entities.values())}))
    con.register("_c_lotes", pa.table({
        "entidad_ruc": pa.array([r["entidad_ruc"] for r in records], pa.string()),
        "ingestado_en": pa.array([dt.datetime.fromisoformat(r["ingestado_en"]) for r in records],
                                 pa.timestamp("us", tz="UTC"))}))
    con.execute(f"CREATE OR REPLACE TEMP TABLE _c_recibidas AS {_valid_sql(settings, records)}")
    con.execute("CREATE OR REPLACE TEMP TABLE _c_rechazadas (entidad_ruc VARCHAR, mes VARCHAR, "
                "filas BIGINT, ultima TIMESTAMPTZ)")
    for record in records:
        _add_rejected(con, settings, record)
    if previous is not None:
        _carry(con, previous, set(entities) - {r["entidad_ruc"] for r in records})
    con.execute(f"CREATE OR REPLACE TEMP TABLE _c_publicadas AS {_published_sql(con)}")
    con.execute(f"CREATE OR REPLACE TEMP TABLE {TABLE} AS {_table_sql()}")
    for name in ("_c_entidades", "_c_lotes"):
        con.unregister(name)
    return int(con.execute(f"SELECT count(*) FROM {TABLE}").fetchone()[0])


def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() "
                                      "WHERE database_name = current_database()").fetchall()}


def published_entities(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """RUC → name of the entities consolidation was given (the run's environment), plus any
    whose visits are in the table under another name (a database built by hand)."""
    found: dict[str, str] = {}
    if "entidades" in _tables(con):
        found.update(con.execute("SELECT entidad_ruc, entidad_nombre FROM entidades").fetchall())
    for ruc, name in con.execute("SELECT entidad_ruc, mode(entidad_nombre) FROM visitas "
                                 "GROUP BY ALL").fetchall():
        found.setdefault(ruc, name)
    return dict(sorted(found.items()))


def _month(expr: str) -> str:
    return f"strftime({expr}, '%Y-%m')"


def _lima_month(ts: str) -> str:
    return _month(f"({ts} AT TIME ZONE 'America/Lima')")


def _valid_sql(settings: Settings, records: list[dict[str, Any]]) -> str:
    """Valid rows received per entity and month of visit, and when the latest arrived."""
    files = [p for r in records if (p := batch_file(settings, r, "valid.parquet")) is not None]
    if not files:
        return ("SELECT NULL::VARCHAR AS entidad_ruc, NULL::VARCHAR AS mes, 0::BIGINT AS filas, "
                "NULL::TIMESTAMPTZ AS ultima LIMIT 0")
    listed = ", ".join(path_literal(p) for p in files)
    return (f"SELECT _entidad_ruc AS entidad_ruc, {_month('fecha_visita')} AS mes, "
            f"count(*) AS filas, max(_ingestado_en) AS ultima "
            f"FROM read_parquet([{listed}], union_by_name = true) GROUP BY ALL")


def _add_rejected(con: duckdb.DuckDBPyConnection, settings: Settings,
                  record: dict[str, Any]) -> None:
    """The batch's rejected rows per month of their visit date as typed (read as uploads are).

    A row whose visit date cannot be read (`31/02/2024`), or that the quarantine does not
    hold, counts in the batch's own month: the month most of its readable visit dates fall in
    (valid and rejected rows; the earliest on a tie), or, with none, the month it arrived
    (Lima time). So a typo in a date does not open a month of its own."""
    total = int(record.get("filas_rechazadas") or 0)
    if not total:
        return
    ruc, ingested = record["entidad_ruc"], literal(record["ingestado_en"])
    months: dict[str | None, int] = {}
    path = batch_file(settings, record, QUARANTINE)
    if path is not None and path.is_file():
        source = f"read_parquet({path_literal(path)})"
        labels = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()]
        date = next((identifier(c) for c in labels if fold(c) in VISIT_DATE_LABELS), "NULL")
        months.update(con.execute(f"SELECT {_month(f'parse_date({date}::VARCHAR)')}, count(*) "
                                  f"FROM {source} GROUP BY ALL").fetchall())
    unread = total - sum(n for m, n in months.items() if m is not None)
    months.pop(None, None)
    if unread > 0:
        seen = dict(months)
        valid = batch_file(settings, record, "valid.parquet")
        if valid is not None and valid.is_file():
            for month, n in con.execute(f"SELECT {_month('fecha_visita')}, count(*) FROM "
                                        f"read_parquet({path_literal(valid)}) GROUP BY ALL"
                                        ).fetchall():
                seen[month] = seen.get(month, 0) + n
        own = (min(seen, key=lambda m: (-seen[m], m)) if seen else
               con.execute(f"SELECT {_lima_month(f'{ingested}::TIMESTAMPTZ')}").fetchone()[0])
        months[own] = months.get(own, 0) + unread
    for month, n in months.items():
        con.execute(f"INSERT INTO _c_rechazadas VALUES ({literal(ruc)}, {literal(month)}, {n}, "
                    f"{ingested}::TIMESTAMPTZ)")


def _carry(con: duckdb.DuckDBPyConnection, previous: Path, rucs: set[str]) -> None:
    """Rows received and rejected of `rucs` (entities without staged batches) as `previous`
    published them, for those of them with visits still published."""
    held = sorted(r for (r,) in con.execute("SELECT DISTINCT entidad_ruc FROM visitas").fetchall()
                  if r in rucs)
    if not held:
        return
    source = (f"(SELECT * FROM read_parquet({path_literal(previous)}) "
              f"WHERE entidad_ruc IN ({', '.join(literal(r) for r in held)}))")
    con.execute(f"""INSERT INTO _c_recibidas SELECT entidad_ruc, mes::VARCHAR,
        filas_recibidas - filas_rechazadas, ultima_carga FROM {source}
        WHERE filas_recibidas > filas_rechazadas""")
    con.execute(f"""INSERT INTO _c_rechazadas SELECT entidad_ruc, mes::VARCHAR, filas_rechazadas,
        ultima_carga FROM {source} WHERE filas_rechazadas > 0""")


def _published_sql(con: duckdb.DuckDBPyConnection) -> str:
    """Published visits per entity and month, their exit times, motives, days and delay."""
    if "visitas_historial" in _tables(con):
        # The earliest arrival among the batches that created the visit or changed one of its
        # fields: batches are applied in file-name order, so the one that created it is not
        # always the first to arrive.
        first = """LEFT JOIN (SELECT id_visita, min(lote_recibido_en) AS primera
                              FROM visitas_historial WHERE accion IN ('alta', 'cambio')
                              GROUP BY id_visita) h USING (id_visita)"""
        delay = ("quantile_cont(date_diff('day', v.fecha_visita, "
                 "(h.primera AT TIME ZONE 'America/Lima')::DATE), 0.5)")
    else:
        first, delay = "", "NULL::DOUBLE"
    return f"""
        SELECT v.entidad_ruc, {_month('v.fecha_visita')} AS mes, count(*) AS visitas,
               count(*) FILTER (WHERE v.hora_salida IS NULL) AS sin_salida,
               count(*) FILTER (WHERE v.motivo = {literal(OTHER_MOTIVES)}) AS otros,
               count(DISTINCT v.fecha_visita) AS dias, {delay} AS demora
        FROM visitas v {first}
        GROUP BY ALL"""


def _table_sql() -> str:
    """Every month from each entity's first with data to the last month of any entity: a
    month without uploads is a row of zeros, which is what compliance is about."""
    def pct(part: str) -> str:
        return f"CASE WHEN p.visitas > 0 THEN round(100.0 * p.{part} / p.visitas, 1) END"

    return f"""
        WITH months AS (
            SELECT entidad_ruc, mes FROM _c_recibidas
            UNION SELECT entidad_ruc, mes FROM _c_rechazadas
            UNION SELECT entidad_ruc, mes FROM _c_publicadas
        ), span AS (
            SELECT entidad_ruc, min(mes) AS desde, (SELECT max(mes) FROM months) AS hasta
            FROM months GROUP BY entidad_ruc
        ), grid AS (
            SELECT s.entidad_ruc, {_month('m')} AS mes
            FROM span s, LATERAL generate_series(strptime(s.desde, '%Y-%m'),
                                                 strptime(s.hasta, '%Y-%m'), INTERVAL 1 MONTH) t(m)
        ), rejected AS (
            SELECT entidad_ruc, mes, sum(filas) AS filas, max(ultima) AS ultima
            FROM _c_rechazadas GROUP BY ALL
        )
        SELECT g.entidad_ruc, coalesce(e.entidad_nombre, g.entidad_ruc) AS entidad_nombre, g.mes,
               coalesce(p.visitas, 0)::BIGINT AS visitas_publicadas,
               (coalesce(r.filas, 0) + coalesce(x.filas, 0))::BIGINT AS filas_recibidas,
               coalesce(x.filas, 0)::BIGINT AS filas_rechazadas,
               {pct('sin_salida')}::DOUBLE AS pct_sin_hora_salida,
               {pct('otros')}::DOUBLE AS pct_otros_motivos,
               round(p.demora, 1)::DOUBLE AS demora_mediana_dias,
               coalesce(p.dias, 0)::BIGINT AS dias_con_visitas,
               greatest(r.ultima, x.ultima) AS ultima_carga
        FROM grid g
        LEFT JOIN _c_entidades e USING (entidad_ruc)
        LEFT JOIN _c_recibidas r USING (entidad_ruc, mes)
        LEFT JOIN rejected x USING (entidad_ruc, mes)
        LEFT JOIN _c_publicadas p USING (entidad_ruc, mes)
        ORDER BY g.entidad_ruc, g.mes"""


def spec(meta: DatasetMeta) -> tables.WholeTable:
    """How the table is published (written by `pipeline.publication.tables`)."""
    return tables.WholeTable(meta, COLUMNS, order_by=("entidad_ruc", "mes"),
                             key=("entidad_ruc", "mes"), arrival=ARRIVAL_COLUMNS)


def parquet_query() -> str:
    return f"SELECT {', '.join(identifier(c) for c in COLUMNS)} FROM {TABLE} ORDER BY entidad_ruc, mes"


def records(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """The table's rows as dicts, in publication order (for the page)."""
    cur = con.execute(parquet_query())
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def activity(con: duckdb.DuckDBPyConnection, settings: Settings,
             now: dt.datetime) -> list[Activity]:
    """Each entity's latest upload of visits (any file, even one rejected whole: the entity
    did upload) and the days from it to `now` (Lima dates); longest silence first, entities
    that never uploaded at the top."""
    entities = published_entities(con)
    # from the table first: an entity whose batches are gone keeps what the previous
    # release counted (see `compute`)
    last: dict[str, dt.datetime] = dict(con.execute(
        f"SELECT entidad_ruc, max(ultima_carga) FROM {TABLE} GROUP BY ALL "
        "HAVING max(ultima_carga) IS NOT NULL").fetchall())
    for r in batch_records(settings, set(entities)):
        if r.get("tipo") == "visitas":
            at = dt.datetime.fromisoformat(r["ingestado_en"])
            last[r["entidad_ruc"]] = max(at, last.get(r["entidad_ruc"], at))
    today = now.astimezone(LIMA).date()
    found = [Activity(ruc, name, last.get(ruc),
                      None if ruc not in last else (today - last[ruc].astimezone(LIMA).date()).days)
             for ruc, name in entities.items()]
    return sorted(found, key=lambda a: (a.days is not None, -(a.days or 0), a.name))


def stage(con: duckdb.DuckDBPyConnection, settings: Settings, meta: DatasetMeta,
          out: Path, previous: Path | None = None) -> tables.StagedTable:
    """Compute the table on `con` and write its CSV, Parquet and schema under `out`;
    `previous`: the previous release's Parquet of it (see `compute`)."""
    compute(con, settings, previous)
    return tables.write(con, spec(meta), out, previous)
