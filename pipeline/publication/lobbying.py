"""The lobbying datasets, published whole in every release beside `visitas` (rules:
docs/decisores.md):

* `decisores`: every accepted version of every entity's decision-makers register, as
  uploaded (`pipeline.ingestion.decision_makers`), the version in force marked `vigente`;
* `actos_gestion_intereses`: one row per visit to a decision-maker whose motive category is
  "Gestión de intereses";
* `indicadores_gestion_intereses`: per entity with a register and month, visits to
  decision-makers, declared lobbying acts, visits to decision-makers by private organisations
  under another motive, and visits left for review.

Computed when a release is cut, in the publisher's DuckDB connection, from the published view
`pub` (so `visitante_id` is the same pseudonym as in `visitas`) and each entity's register in
force: every visit is matched (`pipeline.consolidation.decision_makers`) on its official's
name, post and area, within each decision-maker's period in office. An uncertain match is never
published as an act: it goes to the entity's review file in the reports area
(`<RUC>/decisores-revision.csv`), which the administrator resolves by fixing the register.

Matching runs once per distinct (official, post, area, date) of an entity, not per visit: an
official receives many visits a day.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from pipeline.consolidation.decision_makers import Matcher, Official, VisitRef
from pipeline.ingestion.decision_makers import (
    DecisionMaker,
    RegisterVersion,
    entities_with_register,
    register_versions,
)
from pipeline.publication import compliance, tables
from pipeline.publication.dataset import DatasetMeta, load_dataset
from pipeline.settings import Settings
from pipeline.sql import path_literal
from pipeline.storage import Storage

DECISION_MAKERS = "decisores"
ACTS = "actos_gestion_intereses"
INDICATORS = "indicadores_gestion_intereses"
#: the motive category of a declared lobbying act, folded (lower case, no accents)
LOBBYING_MOTIVE = "gestion de intereses"
PRIVATE = "Entidad privada"
NATURAL_PERSON = "Persona natural"
ON_OWN_BEHALF = "a título personal"
NOT_DECLARED = "no declarado"
#: the administrator's review file, per entity, in the reports area
REVIEW_FILE = "decisores-revision.csv"
REVIEW_COLUMNS = ("id_visita", "fecha_visita", "hora_ingreso", "visitante_nombre",
                  "funcionario_nombre", "funcionario_cargo", "funcionario_area", "motivo",
                  "candidatos", "razon")

DECISION_MAKER_COLUMNS = ("entidad_ruc", "entidad_nombre", "version_registro", "recibido",
                          "nombre", "cargo", "area", "desde", "hasta", "vigente")
ACT_COLUMNS = ("id_visita", "entidad_ruc", "entidad_nombre", "fecha_visita", "hora_ingreso",
               "hora_salida", "decisor_nombre", "decisor_cargo", "decisor_area",
               "visitante_nombre", "visitante_id", "representa", "motivo_detalle")
INDICATOR_COLUMNS = ("entidad_ruc", "entidad_nombre", "mes", "visitas_a_decisores",
                     "actos_gestion_intereses", "visitas_decisores_privados_otro_motivo",
                     "visitas_por_revisar")


@dataclass(frozen=True)
class LobbyingMeta:
    """The three datasets' metadata (`datasets/<table>.yaml`)."""

    decision_makers: DatasetMeta
    acts: DatasetMeta
    indicators: DatasetMeta

    @property
    def metas(self) -> tuple[DatasetMeta, ...]:
        return (self.decision_makers, self.acts, self.indicators)

    def specs(self) -> list[tables.WholeTable]:
        return [
            tables.WholeTable(self.decision_makers, DECISION_MAKER_COLUMNS,
                              order_by=("entidad_ruc", "version_registro", "nombre", "cargo",
                                        "area", "desde"),
                              # a post is a cargo in an area: two homonyms may each be DIRECTOR
                              key=("entidad_ruc", "version_registro", "nombre", "cargo", "area",
                                   "desde"),
                              # a re-ingest on a new machine receives the same register later
                              arrival=("recibido",)),
            tables.WholeTable(self.acts, ACT_COLUMNS,
                              order_by=("fecha_visita", "entidad_ruc", "hora_ingreso",
                                        "id_visita"),
                              key=("id_visita",)),
            tables.WholeTable(self.indicators, INDICATOR_COLUMNS,
                              order_by=("entidad_ruc", "mes"), key=("entidad_ruc", "mes")),
        ]


def load(settings: Settings) -> LobbyingMeta | None:
    """The datasets' metadata, or None when the project does not publish them (no
    `datasets/decisores.yaml`)."""
    names = (DECISION_MAKERS, ACTS, INDICATORS)
    present = [(settings.datasets_dir / f"{n}.yaml").is_file() for n in names]
    if not any(present):
        return None
    if not all(present):
        missing = ", ".join(f"datasets/{n}.yaml" for n, ok in zip(names, present, strict=True)
                            if not ok)
        raise ValueError(f"Los conjuntos de gestión de intereses se publican juntos: falta {missing}.")
    return LobbyingMeta(*(load_dataset(settings.datasets_dir, n) for n in names))


@dataclass(frozen=True)
class Review:
    """What an entity's administrator must look at: the visits left uncertain."""

    entity_ruc: str
    rows: list[dict[str, Any]]

    def csv(self) -> bytes:
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=REVIEW_COLUMNS, lineterminator="\r\n")
        writer.writeheader()
        writer.writerows(self.rows)
        # with a BOM, Excel opens the accents right (as rechazadas.csv)
        return ("\ufeff" + out.getvalue()).encode("utf-8")


def compute(con: duckdb.DuckDBPyConnection, settings: Settings,
            previous: Path | None = None) -> list[Review]:
    """Create the temporary tables `decisores`, `actos_gestion_intereses` and
    `indicadores_gestion_intereses` on `con` (which has the published view `pub`); return the
    review of every entity with a register in force.

    `previous`: the previous release's `decisores.parquet`. A published register never
    disappears: an entity none of whose register batches is staged any more (the warehouse
    was cleaned, a new machine) keeps the versions that release published."""
    names = compliance.published_entities(con)
    versions = {ruc: register_versions(settings, ruc) for ruc in entities_with_register(settings)}
    versions = {ruc: found for ruc, found in versions.items() if found}
    if previous is not None:
        for ruc, found in published_versions(con, previous).items():
            versions.setdefault(ruc, found)
    _decision_makers(con, versions, names)
    _match(con, {ruc: found[-1] for ruc, found in versions.items()})
    con.execute(f"CREATE OR REPLACE TEMP TABLE {ACTS} AS {_acts_sql()}")
    con.execute(f"CREATE OR REPLACE TEMP TABLE {INDICATORS} AS {_indicators_sql()}")
    return [Review(ruc, _review_rows(con, ruc)) for ruc in sorted(versions)]


def published_versions(con: duckdb.DuckDBPyConnection,
                       path: Path) -> dict[str, list[RegisterVersion]]:
    """The register versions a release published (its `decisores.parquet`), by entity, oldest
    first: what an entity keeps when its register batches are gone."""
    found: dict[str, dict[int, RegisterVersion]] = {}
    rows = con.execute(f"""SELECT entidad_ruc, version_registro, recibido, nombre, cargo,
                                  coalesce(area, ''), desde, hasta
                           FROM read_parquet({path_literal(path)})
                           ORDER BY entidad_ruc, version_registro, nombre, cargo, desde""")
    for ruc, number, received, name, post, area, start, end in rows.fetchall():
        versions = found.setdefault(ruc, {})
        version = versions.get(number) or RegisterVersion(
            ruc, "", f"{DECISION_MAKERS}.parquet", received, ())
        member = DecisionMaker(name, post, area, start, end, len(version.members) + 1)
        versions[number] = replace(version, members=(*version.members, member))
    return {ruc: [v for _, v in sorted(versions.items())] for ruc, versions in found.items()}


def _decision_makers(con: duckdb.DuckDBPyConnection, versions: dict[str, list[RegisterVersion]],
                     names: dict[str, str]) -> None:
    rows: dict[str, list[Any]] = {c: [] for c in DECISION_MAKER_COLUMNS}
    for ruc, found in sorted(versions.items()):
        for number, version in enumerate(found, start=1):
            for member in version.members:
                for column, value in zip(DECISION_MAKER_COLUMNS, (
                        ruc, names.get(ruc, ruc), number, version.received, member.nombre,
                        member.cargo, member.area or None, member.desde, member.hasta,
                        number == len(found)), strict=True):
                    rows[column].append(value)
    con.register("_g_decisores", pa.table({
        "entidad_ruc": pa.array(rows["entidad_ruc"], pa.string()),
        "entidad_nombre": pa.array(rows["entidad_nombre"], pa.string()),
        "version_registro": pa.array(rows["version_registro"], pa.int32()),
        "recibido": pa.array(rows["recibido"], pa.timestamp("us", tz="UTC")),
        "nombre": pa.array(rows["nombre"], pa.string()),
        "cargo": pa.array(rows["cargo"], pa.string()),
        "area": pa.array(rows["area"], pa.string()),
        "desde": pa.array(rows["desde"], pa.date32()),
        "hasta": pa.array(rows["hasta"], pa.date32()),
        "vigente": pa.array(rows["vigente"], pa.bool_()),
    }))
    con.execute(f"CREATE OR REPLACE TEMP TABLE {DECISION_MAKERS} AS SELECT * FROM _g_decisores")
    con.unregister("_g_decisores")


#: one row per distinct (entity, official as written, date) that matched or was uncertain
MATCH_COLUMNS = ("entidad_ruc", "funcionario_nombre", "funcionario_cargo", "funcionario_area",
                 "fecha_visita", "resultado", "decisor_nombre", "decisor_cargo", "decisor_area",
                 "candidatos", "razon")


def _match(con: duckdb.DuckDBPyConnection, in_force: dict[str, RegisterVersion]) -> None:
    rows: dict[str, list[Any]] = {c: [] for c in MATCH_COLUMNS}
    for ruc, version in sorted(in_force.items()):
        matcher = Matcher([Official(m.nombre, m.cargo, m.area, m.desde, m.hasta)
                           for m in version.members])
        seen = con.execute("SELECT DISTINCT funcionario_nombre, funcionario_cargo, "
                           "funcionario_area, fecha_visita FROM pub WHERE entidad_ruc = ?",
                           [ruc]).fetchall()
        for name, post, area, day in seen:
            found = matcher.match(VisitRef("", day, name, post, area))
            if found.outcome == "none":
                continue
            official = found.official
            for column, value in zip(MATCH_COLUMNS, (
                    ruc, name, post, area, day, found.outcome,
                    official.nombre if official else None, official.cargo if official else None,
                    (official.area or None) if official else None,
                    "; ".join(_candidate(c) for c in found.candidates) or None,
                    found.reason or None), strict=True):
                rows[column].append(value)
    con.register("_g_cruce_arrow", pa.table({
        c: pa.array(rows[c], pa.date32() if c == "fecha_visita" else pa.string())
        for c in MATCH_COLUMNS}))
    con.execute("CREATE OR REPLACE TEMP TABLE _g_cruce AS SELECT * FROM _g_cruce_arrow")
    con.unregister("_g_cruce_arrow")
    # every visit of an entity with a register, with its outcome (NULL: no decision-maker)
    rucs = ", ".join(f"'{r}'" for r in sorted(in_force)) or "NULL"
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _g_visitas AS
        SELECT p.*, c.resultado, c.decisor_nombre, c.decisor_cargo, c.decisor_area,
               c.candidatos, c.razon
        FROM pub p LEFT JOIN _g_cruce c
          ON p.entidad_ruc = c.entidad_ruc AND p.fecha_visita = c.fecha_visita
         AND p.funcionario_nombre IS NOT DISTINCT FROM c.funcionario_nombre
         AND p.funcionario_cargo IS NOT DISTINCT FROM c.funcionario_cargo
         AND p.funcionario_area IS NOT DISTINCT FROM c.funcionario_area
        WHERE p.entidad_ruc IN ({rucs})""")


def _candidate(official: Official) -> str:
    until = official.hasta.isoformat() if official.hasta else "en el cargo"
    area = f", {official.area}" if official.area else ""
    return f"{official.nombre} ({official.cargo}{area}; {official.desde.isoformat()} a {until})"


def _is_lobbying(column: str = "motivo") -> str:
    return f"coalesce(lower(strip_accents(trim({column}))) = '{LOBBYING_MOTIVE}', false)"


def _acts_sql() -> str:
    return f"""
        SELECT id_visita, entidad_ruc, entidad_nombre, fecha_visita, hora_ingreso, hora_salida,
               decisor_nombre, decisor_cargo, decisor_area, visitante_nombre, visitante_id,
               CASE WHEN visitante_tipo_entidad = '{NATURAL_PERSON}' THEN '{ON_OWN_BEHALF}'
                    ELSE coalesce(visitante_entidad, '{NOT_DECLARED}') END AS representa,
               motivo_detalle
        FROM _g_visitas WHERE resultado = 'match' AND {_is_lobbying()}"""


def _indicators_sql() -> str:
    to_official = "resultado = 'match'"
    return f"""
        SELECT entidad_ruc, max(entidad_nombre) AS entidad_nombre, _mes AS mes,
               count(*) FILTER (WHERE {to_official}) AS visitas_a_decisores,
               count(*) FILTER (WHERE {to_official} AND {_is_lobbying()})
                   AS actos_gestion_intereses,
               count(*) FILTER (WHERE {to_official} AND NOT {_is_lobbying()}
                                AND visitante_tipo_entidad = '{PRIVATE}')
                   AS visitas_decisores_privados_otro_motivo,
               count(*) FILTER (WHERE resultado = 'uncertain') AS visitas_por_revisar
        FROM _g_visitas GROUP BY entidad_ruc, _mes"""


def _review_rows(con: duckdb.DuckDBPyConnection, ruc: str) -> list[dict[str, Any]]:
    cur = con.execute(f"""
        SELECT {', '.join(REVIEW_COLUMNS)} FROM _g_visitas
        WHERE entidad_ruc = ? AND resultado = 'uncertain'
        ORDER BY fecha_visita, hora_ingreso, id_visita""", [ruc])
    names = [d[0] for d in cur.description]
    return [{k: _text(v) for k, v in zip(names, row, strict=True)} for row in cur.fetchall()]


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.time):
        return value.strftime("%H:%M")
    return value.isoformat() if isinstance(value, dt.date) else str(value)


def write_reviews(storage: Storage, reviews: list[Review]) -> list[str]:
    """Put each entity's review file in the reports area when it changed; return the keys
    written."""
    written = []
    for review in reviews:
        key = f"{review.entity_ruc}/{REVIEW_FILE}"
        body = review.csv()
        if storage.exists(key) and storage.read_bytes(key) == body:
            continue
        storage.write_bytes(key, body, content_type="text/csv; charset=utf-8")
        written.append(key)
    return written
