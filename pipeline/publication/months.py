"""Partitions of a published table and the content hash of each.

The table is cut by month of the dataset's date field (CSV, JSON and Parquet; the Parquet sits
in a hive directory per year). A partition's hash is order-independent (count, sum and xor of
per-row hashes of the stored columns, plus how computed columns are derived), so it is
computed in one streaming pass in DuckDB, and it changes when any row or column of that month
changes.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import duckdb

from pipeline.publication.dataset import DatasetMeta
from pipeline.sql import identifier

#: Bump when the bytes written for the same rows change (format options, column rendering):
#: every partition is then rewritten once.
FORMAT_VERSION = "2"


@dataclass(frozen=True)
class ReleaseSpec:
    """How a dataset is cut into releases (the `release:` block of its YAML)."""

    key: str
    date_field: str
    entity_field: str
    order_by: list[str]
    keep_last: int = 10
    #: the largest share of an entity's published rows a release may drop without an explicit
    #: withdrawal (see `pipeline.publication.guard`); beyond it the release is refused
    max_withdrawn_share: float = 0.2
    #: the column naming the entity (its registry name, as consolidation writes it), so the
    #: changelog and the release page name entities, not only their RUC; optional
    entity_name_field: str | None = None

    @classmethod
    def of(cls, meta: DatasetMeta) -> ReleaseSpec:
        block = meta.extra.get("release", {})
        missing = [k for k in ("key", "date_field", "entity_field", "order_by") if k not in block]
        if missing:
            raise ValueError(f"El dataset {meta.name} no define release.{', release.'.join(missing)} "
                             f"en datasets/{meta.table}.yaml (vea datasets/visitas.yaml).")
        return cls(key=block["key"], date_field=block["date_field"],
                   entity_field=block["entity_field"], order_by=list(block["order_by"]),
                   keep_last=int(block.get("keep_last", 10)),
                   max_withdrawn_share=_share(block.get("max_withdrawn_share", 0.2), meta),
                   entity_name_field=block.get("entity_name_field"))


def _share(value: Any, meta: DatasetMeta) -> float:
    # bool is an int to Python, but `true` in the YAML is a mistake, not 1.
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 1:
        return float(value)
    raise ValueError(f"release.max_withdrawn_share de datasets/{meta.table}.yaml debe ser un "
                     f"número entre 0 y 1 (0.2 = 20 %); se encontró {value!r}.")


def columns(meta: DatasetMeta) -> list[str]:
    # Generic over the schema: a column added to the schema is published without code changes.
    return [f["name"] for f in meta.schema["fields"]]


def row_hash_sql(cols: list[str]) -> str:
    """A 64-bit hash of one row, computed vectorised by DuckDB (15x faster than md5 of JSON).

    DuckDB's hash() is not promised stable across DuckDB versions, so the version is part of
    every partition hash: upgrading DuckDB rewrites each partition once, never skips one.
    """
    return "hash(" + ", ".join(identifier(c) for c in cols) + ")"


def schema_hash(meta: DatasetMeta) -> str:
    text = json.dumps(meta.schema, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(f"{FORMAT_VERSION}\n{text}".encode()).hexdigest()


def create_published_view(con: duckdb.DuckDBPyConnection, meta: DatasetMeta, spec: ReleaseSpec,
                          source: str, expressions: dict[str, str] | None = None) -> None:
    """`pub`: the published columns plus `_mes` (YYYY-MM) and `_anio` of the date field.

    `expressions` computes some published columns instead of copying them (the personal-data
    policy masks the document number and derives `visitante_id` this way).

    Also `pub_inputs`: every stored column of `source` plus `_mes`, what the published rows
    are computed from (see `month_hashes`).
    """
    expressions = expressions or {}
    cols = ", ".join(f"{expressions[c]} AS {identifier(c)}" if c in expressions else identifier(c)
                     for c in columns(meta))
    date = identifier(spec.date_field)
    con.execute(f"""CREATE OR REPLACE TEMP VIEW pub AS
        SELECT {cols}, strftime({date}, '%Y-%m') AS _mes, year({date})::INTEGER AS _anio
        FROM {source}""")
    con.execute(f"""CREATE OR REPLACE TEMP VIEW pub_inputs AS
        SELECT *, strftime({date}, '%Y-%m') AS _mes FROM {source}""")


def derivation(expressions: dict[str, str] | None, key_id: str = "") -> str:
    """A fingerprint of how computed columns are derived: their SQL and, when they are keyed,
    `key_id` (a one-way name of the key, never the key), so a new key rewrites every month."""
    text = json.dumps(expressions or {}, sort_keys=True)
    if key_id:
        text = json.dumps({"expressions": expressions or {}, "key": key_id}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def month_hashes(con: duckdb.DuckDBPyConnection, meta: DatasetMeta,
                 expressions: dict[str, str] | None = None,
                 key_id: str = "") -> dict[str, dict[str, Any]]:
    """{'YYYY-MM': {'rows': n, 'hash': hex}} for every month present in `pub_inputs`.

    The hash covers the stored columns (`pub_inputs`) and the fingerprint of the expressions,
    not the published values: the published rows are a function of both, and computing them
    (an HMAC-SHA256 per row for the pseudonym) would make this pass over every month cost
    20x more, on every run, even when nothing changed.
    """
    stored = [r[0] for r in con.execute("DESCRIBE SELECT * FROM pub_inputs").fetchall()
              if r[0] != "_mes"]
    row = row_hash_sql(stored)
    result = con.execute(f"""
        SELECT _mes, count(*), sum(h::HUGEINT)::VARCHAR, bit_xor(h)::VARCHAR
        FROM (SELECT _mes, {row} AS h FROM pub_inputs) GROUP BY _mes ORDER BY _mes""").fetchall()
    fingerprint = derivation(expressions, key_id)
    out: dict[str, dict[str, Any]] = {}
    for month, rows, total, xor in result:
        digest = hashlib.sha256(
            f"{FORMAT_VERSION}|{duckdb.__version__}|{fingerprint}|{rows}|{total}|{xor}".encode()
        ).hexdigest()
        out[month] = {"rows": int(rows), "hash": digest}
    return out


def year_hashes(months: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    years: dict[str, dict[str, Any]] = {}
    for month in sorted(months):
        entry = years.setdefault(month[:4], {"rows": 0, "parts": []})
        entry["rows"] += months[month]["rows"]
        entry["parts"].append(f"{month}:{months[month]['hash']}")
    return {y: {"rows": e["rows"], "hash": hashlib.sha256("\n".join(e["parts"]).encode()).hexdigest()}
            for y, e in years.items()}


def changed(current: dict[str, dict[str, Any]], previous: dict[str, dict[str, Any]]) -> list[str]:
    """Partitions added, removed or whose hash differs."""
    return sorted(p for p in set(current) | set(previous)
                  if current.get(p, {}).get("hash") != previous.get(p, {}).get("hash"))
