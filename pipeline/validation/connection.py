"""One in-memory DuckDB database per process for validation, set up once.

Opening a database and creating the normalisation macros costs tens of milliseconds: paid per
upload, that would be most of the time of a small file. Every validation takes its own cursor
(its own temporary tables) on the shared database instead; cursors are safe to use from
several threads at once.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
import threading

import duckdb

from pipeline.normalization import install_macros

#: DuckDB's memory for validation state (errors, keys, query results); beyond it, it spills
MEMORY_LIMIT = "1GB"

_lock = threading.Lock()
_database: duckdb.DuckDBPyConnection | None = None


def validation_cursor() -> duckdb.DuckDBPyConnection:
    """A new cursor on the process's validation database (created on first use)."""
    global _database
    with _lock:
        if _database is None:
            spill = tempfile.mkdtemp(prefix="visitas-validacion-")
            atexit.register(shutil.rmtree, spill, ignore_errors=True)
            database = duckdb.connect(config={
                "memory_limit": MEMORY_LIMIT,
                "temp_directory": spill,
                # results that need an order say so (ORDER BY); the rest may come in any order,
                # which lets DuckDB insert and aggregate without serialising its threads
                "preserve_insertion_order": False,
            })
            install_macros(database, temporary=False)
            _database = database
        return _database.cursor()
