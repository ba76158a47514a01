"""The release guard: published rows leave the dataset only by an explicit withdrawal.

A run that could not see an entity's data (its source down, the working folder empty on a new
machine, its registration file removed by mistake) would otherwise publish a release without
that entity's rows, and `latest/` would silently withdraw them from every harvester. So before
anything is written, the new release is compared with the previous one, entity by entity:

    before     rows of the entity in the previous release
    after      rows of the entity in the new release
    lost       rows of the previous release missing from the new one whose key was never
               withdrawn explicitly (no `retiro` in the history table)

An entity whose `lost / before` exceeds `release.max_withdrawn_share` (datasets/<table>.yaml)
refuses the whole release: nothing is written and `latest/` keeps serving what it served.
Smaller losses are published and reported (a change of the normalisation rules can move a few
keys). Explicit withdrawals are never limited.

Only the months whose content hash moved can lose rows, so only those are compared, against
the previous release's Parquet the changelog reads anyway; an unchanged month holds the same
rows on both sides and counts for both `before` and `after`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import duckdb

from pipeline.publication.dataset import DatasetMeta
from pipeline.publication.months import ReleaseSpec
from pipeline.spanish import percent, plural
from pipeline.sql import identifier, literal, path_list

#: what an operator can do about a refused release, one case a line
ADVICE = (
    "Qué hacer:",
    "  • para retirar visitas publicadas, use un archivo retiros*.csv o 'visitas withdraw';",
    "  • si faltan los archivos de trabajo (VISITAS_VAR_DIR vacío u otra máquina), restaure su"
    " carpeta warehouse o deje que las fuentes entreguen de nuevo todas las cargas;",
    "  • si una fuente no respondió, vuelva a ejecutar cuando responda;",
    "  • si se quitó una entidad del registro, restaure su archivo en datasets/entities/;",
    "  • el máximo tolerado está en release.max_withdrawn_share de datasets/{table}.yaml.",
)


@dataclass(frozen=True)
class EntityLoss:
    """Rows of one entity's published data that a new release would drop without withdrawal."""

    entity: str
    before: int
    after: int
    lost: int
    #: rows the new release drops because they were withdrawn explicitly (allowed, any number)
    withdrawn: int
    #: release.max_withdrawn_share in force
    threshold: float

    @property
    def share(self) -> float:
        return self.lost / self.before if self.before else 0.0

    @property
    def refused(self) -> bool:
        return self.share > self.threshold

    def describe(self, names: Mapping[str, str] | None = None) -> str:
        """'20999300031 Gobierno Regional …: 38 visitas publicadas, 5 en la nueva versión;
        sin retiro explícito: 33 (86,8 %; máximo 20 %)'."""
        name = (names or {}).get(self.entity)
        who = f"{self.entity} {name}" if name else self.entity
        return (f"{who}: {plural(self.before, 'visita publicada', 'visitas publicadas')}, "
                f"{self.after} en la nueva versión; sin retiro explícito: {self.lost} "
                f"({percent(self.share)}; máximo {percent(self.threshold)})")


class ReleaseRefused(Exception):
    """The new release would drop published rows without withdrawal: nothing was published."""

    def __init__(self, losses: list[EntityLoss], *, table: str, location: str,
                 served: str | None, served_rows: int | None) -> None:
        self.losses = losses
        self.table = table
        #: the published tree's latest/ (as the storage names it)
        self.location = location
        #: the release latest/ keeps serving, and its rows
        self.served = served
        self.served_rows = served_rows
        super().__init__(self.message())

    def lines(self, names: Mapping[str, str] | None = None) -> list[str]:
        """The report for the operator, in Spanish: why, which entities, what now."""
        out = ["Publicación rechazada: la nueva versión quitaría visitas publicadas sin un "
               "retiro explícito."]
        out += [f"  {loss.describe(names)}" for loss in self.losses]
        if self.served is not None:
            rows = plural(self.served_rows or 0, "visita", "visitas")
            out.append(f"{self.location}/ sigue sirviendo la versión {self.served} ({rows}).")
        else:
            out.append(f"No se publicó nada en {self.location}/.")
        out += [line.format(table=self.table) for line in ADVICE]
        return out

    def message(self, names: Mapping[str, str] | None = None) -> str:
        return "\n".join(self.lines(names))


def month_ranges(date: str, months: list[str]) -> str:
    """A SQL condition: `date` (an identifier) falls in one of `months` ('YYYY-MM').

    Date ranges rather than strftime(): data sorted by date lets DuckDB skip row groups."""
    def bounds(month: str) -> tuple[str, str]:
        year, mon = int(month[:4]), int(month[5:7])
        nxt = f"{year + 1}-01" if mon == 12 else f"{year}-{mon + 1:02d}"
        return f"{month}-01", f"{nxt}-01"

    return " OR ".join(f"({date} >= DATE {literal(start)} AND {date} < DATE {literal(end)})"
                       for start, end in map(bounds, months)) or "false"


def losses(con: duckdb.DuckDBPyConnection, meta: DatasetMeta, spec: ReleaseSpec,
           changed_months: list[str], previous_parquet: list[Path]) -> list[EntityLoss]:
    """Every entity that loses rows without withdrawal, comparing `pub_inputs` (the new
    release's rows, see `months.create_published_view`) with the previous release's Parquet
    of the changed months."""
    if not changed_months or not previous_parquet:
        return []
    key, entity = identifier(spec.key), identifier(spec.entity_field)
    ranges = month_ranges(identifier(spec.date_field), changed_months)
    previous = (f"read_parquet({path_list(previous_parquet)}, union_by_name = true, "
                "hive_partitioning = false)")
    retired = _withdrawn_keys_sql(con, meta, spec)
    found = con.execute(f"""
        WITH prev AS (SELECT {key} AS k, {entity} AS e FROM {previous} WHERE {ranges}),
             cur AS (SELECT {key} AS k FROM pub_inputs WHERE {ranges}),
             gone AS (SELECT prev.* FROM prev ANTI JOIN cur ON prev.k = cur.k),
             retired AS ({retired})
        SELECT e, count(*) FILTER (WHERE k NOT IN (SELECT k FROM retired)) AS lost,
               count(*) FILTER (WHERE k IN (SELECT k FROM retired)) AS withdrawn
        FROM gone GROUP BY e HAVING lost > 0 ORDER BY e""").fetchall()
    if not found:
        return []
    rucs = [row[0] for row in found]
    # An unchanged month holds the same rows in both releases, so the previous release's count
    # is its changed months' rows (read back) plus the new data's rows of the other months.
    counts = dict((e, (int(b), int(a))) for e, b, a in con.execute(f"""
        SELECT e, sum(b), sum(a) FROM (
            SELECT {entity} AS e, count(*) AS b, 0 AS a FROM {previous}
            WHERE ({ranges}) AND {entity} IN (SELECT unnest(?)) GROUP BY ALL
            UNION ALL
            SELECT {entity}, count(*) FILTER (WHERE NOT ({ranges})), count(*) FROM pub_inputs
            WHERE {entity} IN (SELECT unnest(?)) GROUP BY ALL
        ) GROUP BY e""", [rucs, rucs]).fetchall())
    return [EntityLoss(e, *counts[e], lost=int(lost), withdrawn=int(withdrawn),
                       threshold=spec.max_withdrawn_share) for e, lost, withdrawn in found]


def _withdrawn_keys_sql(con: duckdb.DuckDBPyConnection, meta: DatasetMeta,
                        spec: ReleaseSpec) -> str:
    """The keys withdrawn explicitly: `retiro` entries of the `<table>_historial` table that
    consolidation keeps beside the table (none when it has no history)."""
    history = f"{meta.table}_historial"
    present = con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = ?",
                          [history]).fetchone()[0]
    if not present:
        return "SELECT NULL::VARCHAR AS k WHERE false"
    key = identifier(spec.key)
    # NOT NULL: one NULL in a NOT IN list would make every comparison unknown, and no loss count
    return (f"SELECT DISTINCT {key} AS k FROM {identifier(history)} "
            f"WHERE accion = 'retiro' AND {key} IS NOT NULL")
