"""The personal-data policy of a published dataset (DESIGN §8), declared in `datasets/<name>.yaml`:

    personal_data:
      document_number: masked   # masked (default) | full | omitted

The visitor's document number is personal data. `masked` keeps only its last two characters
(the rest become `*`), which cannot be turned back into the number; `omitted` drops the column;
`full` publishes it as registered. Whatever the policy, `visitante_id` is published: a keyed
HMAC-SHA256 of (document type, number), so analysts can count repeat visitors but nobody
without the key can test a guessed number against it (a plain hash of an 8-digit DNI could be
reversed by trying all 10⁸ of them).
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pyarrow as pa

from pipeline.settings import Settings

log = logging.getLogger(__name__)

POLICIES = ("masked", "full", "omitted")
DEFAULT_POLICY = "masked"
KEY_VARIABLE = "VISITAS_PSEUDONYM_KEY"
#: only for the `local` environment, so the embedded default runs with no configuration;
#: identifiers made with it are not protected and must never be published for real
DEVELOPMENT_KEY = "visitas-clave-de-desarrollo-no-usar-en-produccion"
NUMBER = "visitante_numero_documento"
PSEUDONYM = "visitante_id"
VISIBLE = 2  # trailing characters a masked number keeps
#: the DuckDB function that computes `visitante_id` (see `register_pseudonym`)
PSEUDONYM_FUNCTION = "visitas_seudonimo"
KEY_ID_LABEL = b"visitas/visitante_id/huella-de-clave"

DESCRIPTIONS = {
    "masked": ("Número de documento enmascarado: solo se publican sus dos últimos caracteres; "
               "el resto se reemplaza por «*»."),
    "full": "Número del documento de identidad, tal como lo registró la entidad (texto).",
    "omitted": "",
}
SENTENCES = {
    "masked": ("Datos personales: el número de documento del visitante se publica enmascarado "
               "(solo sus dos últimos caracteres) y «visitante_id» es un seudónimo con clave "
               "(HMAC-SHA256) que permite contar visitas repetidas sin revelar el documento."),
    "full": ("Datos personales: el número de documento del visitante se publica completo y "
             "«visitante_id» es un seudónimo con clave (HMAC-SHA256) del documento."),
    "omitted": ("Datos personales: el número de documento del visitante no se publica; "
                "«visitante_id» es un seudónimo con clave (HMAC-SHA256) que permite contar "
                "visitas repetidas sin revelar el documento."),
}


class PersonalDataError(ValueError):
    """Raised by `load_policy` when the dataset definition names an unknown policy."""


@dataclass(frozen=True)
class Policy:
    document_number: str = DEFAULT_POLICY

    def metadata(self) -> dict[str, Any]:
        """The policy as stated in `datapackage.json` (custom property `x-datos-personales`)."""
        return {
            "numero_documento": {"masked": "enmascarado", "full": "completo",
                                 "omitted": "omitido"}[self.document_number],
            "visitante_id": "HMAC-SHA256 con clave secreta de (tipo de documento, número); "
                            "no reversible sin la clave",
            "descripcion": SENTENCES[self.document_number],
        }


def load_policy(extra: dict[str, Any]) -> Policy:
    declared = (extra.get("personal_data") or {}).get("document_number", DEFAULT_POLICY)
    if declared not in POLICIES:
        raise PersonalDataError(
            f"personal_data.document_number={declared!r} no es válido: use uno de {', '.join(POLICIES)}.")
    return Policy(declared)


def pseudonym_key(settings: Settings, environ: dict[str, str] | None = None) -> bytes:
    """The HMAC key, from the environment only; never logged. Outside `local` it must be set
    and at least 32 bytes long (`pipeline.preflight`)."""
    from pipeline import preflight

    preflight.check(settings, environ)
    key = settings.pseudonym_key or (os.environ if environ is None else environ).get(KEY_VARIABLE, "")
    if key:
        return key.encode("utf-8")
    log.warning("%s no está definida: se usa la clave de desarrollo; los visitante_id de "
                "esta publicación no protegen a nadie. Defínala antes de publicar datos reales.",
                KEY_VARIABLE)
    return DEVELOPMENT_KEY.encode("utf-8")


def pseudonym_function(key: bytes) -> Callable[[pa.Array], pa.Array]:
    """HMAC-SHA256 (RFC 2104) of each message, hex; for DuckDB as a vectorised (Arrow) function.

    The key stays in this closure: it never becomes SQL text or a value bound to a query, so
    it cannot surface in a query log, an EXPLAIN plan or an error message (DuckDB folds bound
    constants into its plans). The padded keys are derived once, then copied per value.

    The price of keeping the key out of DuckDB: about 3 s of CPU per million rows on one
    thread (Python holds the GIL), roughly a third more than the SQL expression it replaced,
    which also ran on every core; paid only for the months a release rewrites.
    """
    template = hmac.new(key, digestmod=hashlib.sha256)

    def pseudonyms(messages: pa.Array | pa.ChunkedArray) -> pa.Array:
        out: list[str | None] = []
        for message in messages.to_pylist():
            if message is None:
                out.append(None)
                continue
            mac = template.copy()
            mac.update(message.encode("utf-8"))
            out.append(mac.hexdigest())
        return pa.array(out, pa.string())

    return pseudonyms


def register_pseudonym(con: duckdb.DuckDBPyConnection, key: bytes) -> None:
    """Make `PSEUDONYM_FUNCTION(message)` available to `con`'s queries, keyed with `key`."""
    con.create_function(PSEUDONYM_FUNCTION, pseudonym_function(key), ["VARCHAR"], "VARCHAR",
                        type="arrow")


def hmac_sha256_hex(key: bytes, message: str) -> str:
    """The same pseudonym computed in Python (tests and one-off checks)."""
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).hexdigest()


def key_id(key: bytes) -> str:
    """Names the key in change detection (a new key must rewrite every month) without
    revealing it: a keyed digest of a fixed label, one-way like the pseudonyms themselves."""
    return hmac.new(key, KEY_ID_LABEL, hashlib.sha256).hexdigest()


def pseudonym_message_sql() -> str:
    return f"visitante_tipo_documento || ':' || {NUMBER}"


@dataclass(frozen=True)
class ComputedColumns:
    """The published columns a policy computes: their SQL (which holds no secret) and the key
    the pseudonym function closes over once registered on a connection."""

    expressions: dict[str, str] = field(default_factory=dict)
    key: bytes = field(default=b"", repr=False)

    def register(self, con: duckdb.DuckDBPyConnection) -> None:
        if self.key:
            register_pseudonym(con, self.key)

    @property
    def key_id(self) -> str:
        return key_id(self.key) if self.key else ""


def column_sql(policy: Policy) -> dict[str, str]:
    """Published expression of each column the policy changes (others are published as stored).

    `visitante_id` calls `PSEUDONYM_FUNCTION`: register it on the connection first
    (`register_pseudonym`)."""
    n = NUMBER
    masked = (f"CASE WHEN length({n}) <= {VISIBLE + 2} THEN repeat('*', length({n})) "
              f"ELSE repeat('*', length({n}) - {VISIBLE}) || right({n}, {VISIBLE}) END")
    return {
        NUMBER: {"masked": masked, "full": n, "omitted": n}[policy.document_number],
        PSEUDONYM: (f"CASE WHEN {n} IS NOT NULL "
                    f"THEN {PSEUDONYM_FUNCTION}({pseudonym_message_sql()}) END"),
    }


def computed_columns(policy: Policy, key: bytes) -> ComputedColumns:
    return ComputedColumns(column_sql(policy), key)


def published_schema(schema: dict[str, Any], policy: Policy) -> dict[str, Any]:
    """The table schema as published under the policy (the number's field described or dropped)."""
    schema = copy.deepcopy(schema)
    if policy.document_number == "omitted":
        schema["fields"] = [f for f in schema["fields"] if f["name"] != NUMBER]
    else:
        for f in schema["fields"]:
            if f["name"] == NUMBER:
                f["description"] = DESCRIPTIONS[policy.document_number]
    return schema
