"""Domain rules of the register, as named error types over the normalised batch.

Each rule is one SQL query that returns the offending rows; they run after the schema's cell
checks and never repeat an error already reported on the same cell.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import pyarrow as pa

from pipeline.identifiers import RUC_WEIGHTS
from pipeline.normalization.project import SOURCE_FIELD


def ruc_ok(x: str) -> str:
    """SQL: x is 11 digits, a known prefix, and the check digit (11 - Σ w·d mod 11) mod 10.

    The same rule as `pipeline.identifiers.is_valid_ruc`, vectorised.
    """
    total = " + ".join(f"{w} * (ascii(substr({x}, {i}, 1)) - 48)" for i, w in enumerate(RUC_WEIGHTS, 1))
    return (f"coalesce(regexp_full_match({x}, '(10|15|17|20)[0-9]{{9}}') AND "
            f"(11 - ({total}) % 11) % 10 = ascii(substr({x}, 11, 1)) - 48, false)")


def rule_queries(layout: str, today: dt.date) -> list[str]:
    src = SOURCE_FIELD[layout]
    t = today.isoformat()

    def q(kind: str, field: str, cell: str, note: str, where: str) -> str:
        return (f"SELECT n._fila AS rowNumber, '{kind}' AS type, '{src.get(field, field)}' AS fieldName, "
                f"{cell} AS cell, {note} AS note FROM normalised n JOIN upload u USING (_fila) WHERE {where}")

    fecha_v, fecha_r = src["fecha_visita"], src["fecha_registro"]
    h_in, h_out = src["hora_ingreso"], src["hora_salida"]
    doc = src["visitante_numero_documento"]
    return [
        q("invalid-date", "fecha_visita", f'u."{fecha_v}"', "''",
          f'n.fecha_visita IS NULL AND clean_text(u."{fecha_v}") IS NOT NULL'),
        q("invalid-date", "fecha_registro", f'u."{fecha_r}"', "''",
          f'n.fecha_registro IS NULL AND clean_text(u."{fecha_r}") IS NOT NULL'),
        q("invalid-time", "hora_ingreso", f'u."{h_in}"', "''",
          f'n.hora_ingreso IS NULL AND clean_text(u."{h_in}") IS NOT NULL'),
        q("invalid-time", "hora_salida", f'u."{h_out}"', "''",
          f'n.hora_salida IS NULL AND clean_text(u."{h_out}") IS NOT NULL'),
        q("exit-before-entry", "hora_salida", f'u."{h_out}"',
          f'u."{h_in}"', "n.hora_salida < n.hora_ingreso"),
        q("future-date", "fecha_visita", "n.fecha_visita::VARCHAR", f"'{t}'",
          f"n.fecha_visita > DATE '{t}'"),
        q("visit-after-registration", "fecha_visita", "n.fecha_visita::VARCHAR",
          "n.fecha_registro::VARCHAR", "n.fecha_visita > n.fecha_registro"),
        q("unknown-document-type", "visitante_tipo_documento", f'u."{doc}"', "''",
          f'n.visitante_tipo_documento IS NULL AND clean_text(u."{doc}") IS NOT NULL'),
        q("invalid-document-number", "visitante_numero_documento", "n.visitante_numero_documento",
          "'DNI'", "n.visitante_tipo_documento = 'DNI' AND NOT dni_valid(n.visitante_numero_documento)"),
        q("invalid-document-number", "visitante_numero_documento", "n.visitante_numero_documento",
          "'CE'", "n.visitante_tipo_documento = 'CE' AND NOT regexp_full_match("
          "n.visitante_numero_documento, '[0-9A-Z]{6,12}')"),
        # A visitor identified by RUC (a company or a person with business) must carry a real one.
        q("invalid-ruc", "visitante_numero_documento", "n.visitante_numero_documento", "''",
          f"n.visitante_tipo_documento = 'RUC' AND NOT {ruc_ok('n.visitante_numero_documento')}"),
        # The law requires the official visited and the reason: a cell holding only the area or
        # only a detail (' - AREA - CARGO', ' - detalle') has no official or no reason at all.
        q("missing-official", "funcionario_nombre", f'u."{src["funcionario_nombre"]}"', "''",
          # the normaliser leaves a leading '-' when the name part is empty
          r"NOT coalesce(regexp_matches(n.funcionario_nombre, '^\pL'), false)"),
        q("missing-reason", "motivo", f'u."{src["motivo"]}"', "''",
          r"NOT coalesce(regexp_matches(n.motivo, '^\pL'), false)"),
    ]


def check_rules(con: duckdb.DuckDBPyConnection, layout: str, today: dt.date) -> pa.Table:
    """Rule errors as Arrow: rowNumber, type, fieldName, cell, note."""
    sql = "\nUNION ALL\n".join(rule_queries(layout, today))
    return con.sql(sql).to_arrow_table()
