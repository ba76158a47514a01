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
from dataclasses import dataclass
from typing import Any

from pipeline.settings import Settings, SettingsError

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
    """The HMAC key, from the environment only; never logged."""
    key = settings.pseudonym_key or (os.environ if environ is None else environ).get(KEY_VARIABLE, "")
    if key:
        return key.encode("utf-8")
    if settings.environment == "local":
        log.warning("%s no está definida: se usa la clave de desarrollo; los visitante_id de "
                    "esta publicación no protegen a nadie. Defínala antes de publicar datos reales.",
                    KEY_VARIABLE)
        return DEVELOPMENT_KEY.encode("utf-8")
    raise SettingsError(f"{KEY_VARIABLE} no está definida: es obligatoria en el entorno "
                        f"{settings.environment} para calcular visitante_id.")


def hmac_sha256_sql(key: bytes, message_sql: str) -> str:
    """HMAC-SHA256 (RFC 2104) as a DuckDB expression, so it runs vectorised over the table.

    The padded keys are derived here; only their XORed forms reach the query text.
    """
    block = 64
    if len(key) > block:
        key = hashlib.sha256(key).digest()
    key = key.ljust(block, b"\0")
    inner = bytes(b ^ 0x36 for b in key).hex()
    outer = bytes(b ^ 0x5C for b in key).hex()
    return (f"sha256(unhex('{outer}') || unhex(sha256(unhex('{inner}') || encode({message_sql}))))")


def hmac_sha256_hex(key: bytes, message: str) -> str:
    """The same pseudonym computed in Python (tests and one-off checks)."""
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).hexdigest()


def pseudonym_message_sql() -> str:
    return f"visitante_tipo_documento || ':' || {NUMBER}"


def column_sql(policy: Policy, key: bytes) -> dict[str, str]:
    """Published expression of each column the policy changes (others are published as stored)."""
    n = NUMBER
    masked = (f"CASE WHEN length({n}) <= {VISIBLE + 2} THEN repeat('*', length({n})) "
              f"ELSE repeat('*', length({n}) - {VISIBLE}) || right({n}, {VISIBLE}) END")
    return {
        NUMBER: {"masked": masked, "full": n, "omitted": n}[policy.document_number],
        PSEUDONYM: f"CASE WHEN {n} IS NOT NULL THEN {hmac_sha256_sql(key, pseudonym_message_sql())} END",
    }


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
