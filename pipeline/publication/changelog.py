"""What changed between two releases: rows added, changed and withdrawn per entity and month.

Computed in DuckDB by joining the consolidated table with the previous release's Parquet on
the dataset key and comparing a hash of each row. Only the months whose partition hash moved
are compared: an unchanged month has, by construction, no changes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

from pipeline.publication.dataset import DatasetMeta
from pipeline.publication.months import ReleaseSpec, columns, row_hash_sql
from pipeline.sql import identifier, literal, path_list


def compute(con: duckdb.DuckDBPyConnection, meta: DatasetMeta, spec: ReleaseSpec,
            months: list[str], previous_parquet: list[Path]) -> list[dict[str, Any]]:
    """Counts per (entity, month) over `months`, comparing `pub` with the previous files.

    Each entity is named as the rows name it (`release.entity_name_field`): by the current
    rows, or by the previous release's for an entity whose rows were all withdrawn.
    """
    if not months:
        return []
    cols = columns(meta)
    row = row_hash_sql(cols)
    key, entity = identifier(spec.key), identifier(spec.entity_field)
    name_field = spec.entity_name_field if spec.entity_name_field in cols else None
    name = identifier(name_field) if name_field else "NULL::VARCHAR"
    date = identifier(spec.date_field)
    month_list = ", ".join(literal(m) for m in months)
    # Date ranges rather than strftime(): both sides are sorted by date, so DuckDB reads only
    # the row groups of the changed months.
    ranges = " OR ".join(f"({date} >= DATE {literal(m + '-01')} "
                         f"AND {date} < DATE {literal(_next_month(m) + '-01')})" for m in months)
    if previous_parquet:
        source = (f"read_parquet({path_list(previous_parquet)}, union_by_name = true, "
                  "hive_partitioning = false)")
        present = {r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()}
        # A column the previous release did not have reads as NULL, so its rows count as
        # changed rather than failing the release.
        prev_cols = ", ".join(identifier(c) if c in present else f"NULL AS {identifier(c)}"
                              for c in cols)
        previous = f"""SELECT {key} AS k, {entity} AS e, {name} AS n,
                              strftime({date}, '%Y-%m') AS m, {row} AS h
                       FROM (SELECT {prev_cols} FROM {source} WHERE {ranges})"""
    else:
        previous = ("SELECT NULL::VARCHAR AS k, NULL::VARCHAR AS e, NULL::VARCHAR AS n, "
                    "NULL::VARCHAR AS m, NULL::UBIGINT AS h WHERE false")
    result = con.execute(f"""
        WITH cur AS (SELECT {key} AS k, {entity} AS e, {name} AS n, _mes AS m, {row} AS h
                     FROM pub WHERE ({ranges}) AND _mes IN ({month_list})),
             prev AS ({previous})
        SELECT coalesce(cur.e, prev.e) AS entidad, coalesce(cur.m, prev.m) AS mes,
               max(coalesce(cur.n, prev.n)) AS nombre,
               count(*) FILTER (WHERE prev.k IS NULL) AS agregadas,
               count(*) FILTER (WHERE cur.k IS NOT NULL AND prev.k IS NOT NULL AND cur.h <> prev.h) AS modificadas,
               count(*) FILTER (WHERE cur.k IS NULL) AS retiradas
        FROM cur FULL OUTER JOIN prev ON cur.k = prev.k
        GROUP BY entidad, mes HAVING agregadas + modificadas + retiradas > 0
        ORDER BY entidad, mes""").fetchall()
    return [{"entidad": e, "entidad_nombre": n, "mes": m, "agregadas": a, "modificadas": c,
             "retiradas": r} for e, m, n, a, c, r in result]


def _next_month(month: str) -> str:
    year, mon = int(month[:4]), int(month[5:7])
    return f"{year + 1}-01" if mon == 12 else f"{year}-{mon + 1:02d}"


def document(release_id: str, previous: str | None, previous_url: str | None,
             rows: list[dict[str, Any]],
             tables: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """changes.json. `tables`: the other datasets of the release (published whole), each with
    its title and rows added, changed and removed (`pipeline.publication.tables.changes`)."""
    totals = {k: sum(r[k] for r in rows) for k in ("agregadas", "modificadas", "retiradas")}
    return {"version": release_id, "version_anterior": previous,
            "url_version_anterior": previous_url, "totales": totals, "por_entidad_y_mes": rows,
            **({"otros_conjuntos": tables} if tables else {})}


def markdown(title: str, doc: dict[str, Any]) -> str:
    """CAMBIOS.md: what a reader needs to know before downloading the new version again.

    A first version has nothing to compare with: it says how many rows it brings, and lists
    them per entity and month, rather than speaking of changes.
    """
    t = doc["totales"]
    lines = [f"# Cambios de la versión {doc['version']}", "", title, ""]
    if doc["version_anterior"]:
        link = doc["url_version_anterior"] or doc["version_anterior"]
        lines += [f"Versión anterior: [{doc['version_anterior']}]({link})", "",
                  f"- Filas agregadas: {t['agregadas']}", f"- Filas modificadas: {t['modificadas']}",
                  f"- Filas retiradas: {t['retiradas']}", ""]
    elif t["agregadas"] == 0:
        return "\n".join([*lines, "Primera versión publicada: todavía no tiene filas."]) + "\n"
    elif t["agregadas"] == 1:
        lines += ["Primera versión publicada: su única fila es nueva.", ""]
    else:
        lines += [f"Primera versión publicada: sus {t['agregadas']} filas son nuevas.", ""]
    if doc["por_entidad_y_mes"]:
        lines += ["| Entidad | RUC | Mes | Agregadas | Modificadas | Retiradas |",
                  "|---|---|---|---:|---:|---:|"]
        lines += [f"| {_cell(r.get('entidad_nombre'))} | {r['entidad']} | {r['mes']} "
                  f"| {r['agregadas']} | {r['modificadas']} | {r['retiradas']} |"
                  for r in doc["por_entidad_y_mes"]]
    # the other datasets that changed (an empty one that stays empty says nothing)
    others = {name: t for name, t in (doc.get("otros_conjuntos") or {}).items()
              if t["agregadas"] or t["modificadas"] or t["retiradas"]}
    if not doc["por_entidad_y_mes"]:
        lines.append("Sin cambios en las visitas." if others else "Sin cambios en los datos.")
    if others:
        lines += ["", "## Otros conjuntos de esta versión", "",
                  "| Conjunto | Agregadas | Modificadas | Retiradas |", "|---|---:|---:|---:|"]
        lines += [f"| {_cell(t.get('titulo') or name)} | {t['agregadas']} | {t['modificadas']} "
                  f"| {t['retiradas']} |" for name, t in others.items()]
    return "\n".join(lines) + "\n"


def _cell(text: str | None) -> str:
    """A table cell of Markdown: a name's own `|` would split it; no name, a dash."""
    return (text or "—").replace("|", "\\|").replace("\n", " ")
