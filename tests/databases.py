"""The machine's real PostgreSQL and MariaDB servers, for the database-source tests.

Addresses come from `VISITAS_TEST_PG_URL` and `VISITAS_TEST_MYSQL_URL`, with the development
and CI machines' defaults (PostgreSQL 127.0.0.1:5432 with trust authentication, MariaDB
127.0.0.1:3306 as root without a password). A server that does not answer FAILS the test that
needs it, never skips it: CI starts both (`.ci/run`).

Each test gets a throw-away database of its own on the server, dropped afterwards; the tables
are those of a visitor-control system (synthetic people only).
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest

PG_URL = os.environ.get("VISITAS_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432")
MYSQL_URL = os.environ.get("VISITAS_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306")

#: a visitor-control system's table: one row per visit, `actualizado` set on every write
TABLE = {
    "postgres": """CREATE TABLE control_visitas (
        id integer PRIMARY KEY, fecha date NOT NULL, ingreso time NOT NULL, salida time,
        visitante varchar(200), dni varchar(12), funcionario varchar(200),
        motivo varchar(200), actualizado timestamp(6) NOT NULL)""",
    "mysql": """CREATE TABLE control_visitas (
        id integer PRIMARY KEY, fecha date NOT NULL, ingreso time NOT NULL, salida time NULL,
        visitante varchar(200), dni varchar(12), funcionario varchar(200),
        motivo varchar(200), actualizado datetime(6) NOT NULL,
        KEY (actualizado)) CHARACTER SET utf8mb4""",
}
COLUMNS = ("id", "fecha", "ingreso", "salida", "visitante", "dni", "funcionario", "motivo",
           "actualizado")


@dataclass
class Database:
    """One throw-away database: `url` is what the entity's variable holds."""

    kind: str  # 'postgres' | 'mysql'
    url: str
    connection: Any

    def execute(self, sql: str, params: Iterable[Any] | None = None) -> None:
        with self.connection.cursor() as cur:
            cur.execute(sql.replace("?", "%s"), tuple(params or ()))
        self.connection.commit()

    def insert(self, rows: Iterable[tuple[Any, ...]], table: str = "control_visitas",
               columns: tuple[str, ...] = COLUMNS) -> None:
        marks = ", ".join(["%s"] * len(columns))
        with self.connection.cursor() as cur:
            cur.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",
                            list(rows))
        self.connection.commit()

    def scalar(self, sql: str) -> Any:
        with self.connection.cursor() as cur:
            cur.execute(sql)
            return cur.fetchone()[0]


def _server_url(kind: str) -> str:
    return PG_URL if kind == "postgres" else MYSQL_URL


def _connect(kind: str, database: str | None) -> Any:
    url = urlsplit(_server_url(kind))
    try:
        if kind == "postgres":
            import psycopg2

            con = psycopg2.connect(host=url.hostname, port=url.port or 5432,
                                   user=url.username or "postgres", password=url.password or "",
                                   dbname=database or "postgres", connect_timeout=5)
            con.autocommit = database is None
            return con
        import pymysql

        return pymysql.connect(host=url.hostname, port=url.port or 3306,
                               user=url.username or "root", password=url.password or "",
                               database=database, connect_timeout=5, charset="utf8mb4",
                               autocommit=database is None)
    except Exception as exc:
        name = "PostgreSQL" if kind == "postgres" else "MariaDB"
        pytest.fail(f"{name} does not answer at {url.hostname}:{url.port} ({exc}); start it "
                    "(CI does, in .ci/run) or point VISITAS_TEST_"
                    f"{'PG' if kind == 'postgres' else 'MYSQL'}_URL at one", pytrace=False)


@contextmanager
def throwaway(kind: str) -> Iterator[Database]:
    """A new database on the real server, with the visitor-control table; dropped after."""
    name = f"visitas_fuente_{secrets.token_hex(5)}"
    admin = _connect(kind, None)
    try:
        with admin.cursor() as cur:
            cur.execute(f"CREATE DATABASE {name}")
        con = _connect(kind, name)
        try:
            db = Database(kind, _pipeline_url(kind, name), con)
            db.execute(TABLE[kind])
            yield db
        finally:
            con.close()
    finally:
        with admin.cursor() as cur:
            if kind == "postgres":
                cur.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            else:
                cur.execute(f"DROP DATABASE IF EXISTS {name}")
        admin.close()


def _pipeline_url(kind: str, database: str) -> str:
    url = urlsplit(_server_url(kind))
    user = url.username or ("postgres" if kind == "postgres" else "root")
    auth = f"{user}:{url.password}@" if url.password else f"{user}@"
    scheme = "postgresql" if kind == "postgres" else "mysql"
    return f"{scheme}://{auth}{url.hostname}:{url.port}/{database}"


def visit(n: int, *, day: dt.date = dt.date(2024, 8, 5), exit_time: dt.time | None = None,
          updated: dt.datetime | None = None) -> tuple[Any, ...]:
    """Visit number `n`: a synthetic visitor (DNI 4xxxxxxx) at 08:00 + n minutes."""
    entry = (dt.datetime.combine(day, dt.time(8, 0)) + dt.timedelta(minutes=n % 600)).time()
    return (n, day, entry, exit_time, f"VISITANTE PRUEBA {n}", f"4{n:07d}",
            "GARCIA LOPEZ ANA", "Reunión de trabajo",
            updated or dt.datetime(2024, 8, 5, 8, 0) + dt.timedelta(seconds=n))


__all__ = ["COLUMNS", "Database", "throwaway", "visit"]
