"""The machine's real PostgreSQL and MariaDB servers, for the database-source tests
(`benchmarks/_databases.py` makes the throw-away databases; the benchmark uses them too).

A server that does not answer FAILS the test that needs it, never skips it: CI starts both
(`.ci/run`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from benchmarks import _databases
from benchmarks._databases import COLUMNS, Database, ServerUnavailable


@contextmanager
def throwaway(kind: str) -> Iterator[Database]:
    """A new database with the visitor-control table on the real server; dropped after."""
    try:
        _databases.connect(kind, None).close()
    except ServerUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)
    with _databases.throwaway(kind) as db:
        yield db


def visit(n: int, *, day: dt.date = dt.date(2024, 8, 5), exit_time: dt.time | None = None,
          updated: dt.datetime | None = None) -> tuple[Any, ...]:
    """Visit number `n`: a synthetic visitor (DNI 4xxxxxxx) at 08:00 + n minutes."""
    entry = (dt.datetime.combine(day, dt.time(8, 0)) + dt.timedelta(minutes=n % 600)).time()
    return (n, day, entry, exit_time, f"VISITANTE PRUEBA {n}", f"4{n:07d}",
            "GARCIA LOPEZ ANA", "Reunión de trabajo",
            updated or dt.datetime(2024, 8, 5, 8, 0) + dt.timedelta(seconds=n))


__all__ = ["COLUMNS", "Database", "throwaway", "visit"]
