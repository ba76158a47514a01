"""Memory and spill settings for the DuckDB connections that process the whole dataset.

DuckDB's default memory limit is 80% of the machine's RAM: on a large table a sort or join
grows to that before it spills, so peak RSS follows data size. With an explicit limit and a
temporary directory under the var dir, it spills early and RSS stays near the limit.
"""

from __future__ import annotations

import duckdb

from pipeline.settings import Settings, SettingsError
from pipeline.sql import literal, path_literal


def limit_resources(con: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    """Cap `con`'s memory at `settings.duckdb_memory` and let it spill to the var dir."""
    temp = settings.duckdb_temp_dir
    temp.mkdir(parents=True, exist_ok=True)
    try:
        # SET takes no bound parameters: the value is quoted as a literal instead
        con.execute(f"SET memory_limit = {literal(settings.duckdb_memory)}")
    except duckdb.Error as exc:
        raise SettingsError(f"VISITAS_DUCKDB_MEMORY={settings.duckdb_memory!r} no es un tamaño "
                         f"válido para DuckDB (p. ej. '2GB', '512MB').") from exc
    con.execute(f"SET temp_directory = {path_literal(temp)}")
