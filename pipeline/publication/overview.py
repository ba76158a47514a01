"""What a release covers, for its landing page: the period (first and last visit date) and
the visits per entity, each entity by the name its rows carry (the registry's name, which
consolidation writes into every row). Visits per month are in the manifest already.

Computed once, when the release is cut, from the published rows, and kept in its manifest:
`latest/` is re-rendered later (a repair after a crash) without the warehouse at hand.
"""

from __future__ import annotations

from typing import Any

import duckdb

from pipeline.publication.dataset import DatasetMeta
from pipeline.publication.months import ReleaseSpec, columns
from pipeline.sql import identifier


def compute(con: duckdb.DuckDBPyConnection, meta: DatasetMeta,
            spec: ReleaseSpec) -> dict[str, Any]:
    """{'desde', 'hasta', 'entidades': [{ruc, nombre, visitas, desde, hasta}]} of the view
    `pub`; dates as ISO text, entities by visits, most first."""
    date, entity = identifier(spec.date_field), identifier(spec.entity_field)
    name_field = spec.entity_name_field if spec.entity_name_field in columns(meta) else None
    # One name per entity: the most frequent, should a name change be half consolidated.
    name = f"mode({identifier(name_field)})" if name_field else "NULL::VARCHAR"
    # Only plain columns are read, so the view's computed columns (the keyed pseudonym)
    # are never evaluated here.
    entities = con.execute(f"""
        SELECT {entity}, {name}, count(*) AS n, min({date})::VARCHAR, max({date})::VARCHAR
        FROM pub GROUP BY {entity} ORDER BY n DESC, {entity}""").fetchall()
    first = min((e[3] for e in entities), default=None)
    last = max((e[4] for e in entities), default=None)
    return {
        "desde": first,
        "hasta": last,
        "entidades": [{"ruc": ruc, "nombre": nombre, "visitas": int(n), "desde": d, "hasta": h}
                      for ruc, nombre, n, d, h in entities],
    }
