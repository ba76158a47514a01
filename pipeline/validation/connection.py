"""One in-memory DuckDB database per process for validation, set up once.

Opening a database and creating the normalisation macros costs tens of milliseconds: paid per
upload, that would be most of the time of a small file. Every validation takes its own cursor
(its own temporary tables) on the shared database instead; cursors are safe to use from
several threads at once.
"""

from __future__ import annotations

import atexit
import shutil
import threading
from pathlib import Path

import duckdb

from pipeline import workdir
from pipeline.normalization import install_macros

#: DuckDB's memory for validation state (errors, keys, query results); beyond it, it spills
MEMORY_LIMIT = "1GB"

_lock = threading.Lock()
_database: duckdb.DuckDBPyConnection | None = None
_temp_root: Path | None = None


def use_temp_dir(root: Path) -> None:
    """Spill under `root` (the run's `Settings.temp_dir`) if the database is not open yet.

    The spill folder is fixed when the database opens, once per process; callers that know
    the working folder say so before validating.
    """
    global _temp_root
    with _lock:
        if _database is None:
            _temp_root = root


def _default_temp_root() -> Path:
    from pipeline.settings import Settings, SettingsError

    try:
        return Settings.from_env().temp_dir
    except SettingsError:
        # `visitas validate --schema` needs no configuration: a broken one does not stop it
        return Settings().temp_dir


def validation_cursor() -> duckdb.DuckDBPyConnection:
    """A new cursor on the process's validation database (created on first use)."""
    global _database
    with _lock:
        if _database is None:
            root = _temp_root or _default_temp_root()
            # Created by DuckDB on its first spill, which few validations need; a killed
            # process's is cleared by the next run (pipeline.workdir).
            workdir.clear_leftovers(root)
            spill = workdir.new_path(root, "validacion")
            atexit.register(shutil.rmtree, spill, ignore_errors=True)
            database = duckdb.connect(config={
                "memory_limit": MEMORY_LIMIT,
                "temp_directory": str(spill),
                # results that need an order say so (ORDER BY); the rest may come in any order,
                # which lets DuckDB insert and aggregate without serialising its threads
                "preserve_insertion_order": False,
            })
            install_macros(database, temporary=False)
            _database = database
        return _database.cursor()
