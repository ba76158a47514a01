"""Configuration checked before any work: a run that cannot publish does not start.

A setting that only publication reads (the pseudonym key) used to be found missing after
ingestion and consolidation had run; every entry point that starts a pass (`visitas run`, the
Dagster assets) calls `check` first, so the operator learns it in the first second.
"""

from __future__ import annotations

import os

from pipeline import duckdb_limits
from pipeline.publication.personal_data import KEY_VARIABLE
from pipeline.settings import Settings, SettingsError

#: HMAC-SHA256 keys shorter than the hash output weaken it (RFC 2104 §3)
MIN_KEY_BYTES = 32


def check(settings: Settings, environ: dict[str, str] | None = None) -> None:
    """Raise `SettingsError` (a Spanish message naming the variable) for any setting the pass
    would trip on later."""
    duckdb_limits.check_memory(settings)
    env = os.environ if environ is None else environ
    key = settings.pseudonym_key or env.get(KEY_VARIABLE, "")
    if settings.environment == "local":
        return  # local publishes under a development key, and says so
    if not key:
        raise SettingsError(
            f"{KEY_VARIABLE} no está definida: es obligatoria en el entorno "
            f"{settings.environment} para calcular visitante_id. Genere una con "
            "'python -c \"import secrets; print(secrets.token_hex(32))\"' y guárdela como secreto.")
    if len(key.encode("utf-8")) < MIN_KEY_BYTES:
        raise SettingsError(
            f"{KEY_VARIABLE} es demasiado corta ({len(key.encode('utf-8'))} bytes): en el entorno "
            f"{settings.environment} debe tener al menos {MIN_KEY_BYTES} bytes. Genere una con "
            "'python -c \"import secrets; print(secrets.token_hex(32))\"'.")

