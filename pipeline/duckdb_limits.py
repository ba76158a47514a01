"""Memory and spill settings for the DuckDB connections that process the whole dataset.

DuckDB's default memory limit is 80% of the machine's RAM: on a large table a sort or join
grows to that before it spills, so peak RSS follows data size. With an explicit limit and a
temporary directory under the var dir, it spills early and RSS stays near the limit.
"""

from __future__ import annotations

import duckdb

from pipeline import workdir
from pipeline.settings import Settings, SettingsError
from pipeline.sql import literal, path_literal


def limit_resources(con: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    """Cap `con`'s memory at `settings.duckdb_memory` and let it spill to the var dir."""
    _set_memory_limit(con, settings)
    # A folder of its own: DuckDB names its spill files the same in every database, so two
    # connections sharing one folder would write over each other. DuckDB creates it on the
    # first spill and removes it when the connection closes; a killed process's is cleared
    # by the next run (pipeline.workdir).
    workdir.clear_leftovers(settings.temp_dir)
    temp = workdir.new_path(settings.temp_dir, "duckdb")
    con.execute(f"SET temp_directory = {path_literal(temp)}")


def check_memory(settings: Settings) -> None:
    """Refuse a VISITAS_DUCKDB_MEMORY that DuckDB would refuse, before any work."""
    with duckdb.connect() as con:
        _set_memory_limit(con, settings)


def _set_memory_limit(con: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    try:
        # SET takes no bound parameters: the value is quoted as a literal instead
        con.execute(f"SET memory_limit = {literal(settings.duckdb_memory)}")
    except duckdb.Error as exc:
        raise SettingsError(f"VISITAS_DUCKDB_MEMORY={settings.duckdb_memory!r} no es un tamaño "
                            f"válido para DuckDB (p. ej. '2GB', '512MB').") from exc
