"""Real processes for tests: pids of ended and running processes, and `visitas run` started as
a subprocess on a throw-away copy of the project, with uploads generated to size."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from tests.projects import copy_project

VISITAS = Path(sys.executable).with_name("visitas")
RUC = "20999100016"
ENTITY = "Municipalidad Distrital de Ejemplo Norte"


def dead_pid() -> int:
    """The pid of a process that has ended (and been reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@contextmanager
def live_pid() -> Iterator[int]:
    """The pid of a process running for the duration of the block."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        yield proc.pid
    finally:
        proc.kill()
        proc.wait()


def write_upload(path: Path, rows: int, *, first: int = 0) -> None:
    """`rows` valid visits of `ENTITY` in the official layout, each its own visit (own
    document), numbered from `first`: uploads with disjoint ranges share no visit."""
    path.parent.mkdir(parents=True, exist_ok=True)
    duckdb.sql(f"""COPY (
        SELECT strftime(d, '%d/%m/%Y') AS "Fecha de Registro",
               strftime(d, '%d/%m/%Y') AS "Fecha de Visita",
               '{ENTITY}' AS "Entidad visitada",
               'VISITANTE ' || ['QUISPE', 'FLORES', 'ROJAS', 'MAMANI'][1 + i % 4] || ' ' || i
                   AS "Visitante",
               'DNI ' || (10000000 + i)::VARCHAR AS "Documento del visitante",
               'Persona natural - a titulo personal' AS "Entidad del visitante",
               'PAREDES LUNA GLADYS - GERENCIA MUNICIPAL - GERENTE MUNICIPAL'
                   AS "Funcionario visitado",
               printf('%02d:%02d', 8 + i % 8, i % 60) AS "Hora Ingreso",
               printf('%02d:%02d', 17, i % 60) AS "Hora Salida",
               'Otros Motivos - Entrega de documentos' AS "Motivo",
               'Sala de reuniones' AS "Lugar específico",
               '' AS "Observación"
        FROM (SELECT range AS i, DATE '2024-01-01' + (range % 59)::INTEGER AS d
              FROM range({first}, {first + rows}))
    ) TO '{path}' (FORMAT csv, DELIMITER ';', HEADER true)""")


def make_project(tmp_path: Path, **env: str) -> tuple[Path, dict[str, str]]:
    """A copy of the project with its own var/ and its own system temp dir; the env to run in."""
    root = tmp_path / "project"
    copy_project(root)
    system_tmp = tmp_path / "systmp"
    system_tmp.mkdir()
    base = {k: v for k, v in os.environ.items() if not k.startswith(("VISITAS_", "AWS_"))}
    return root, {**base, "VISITAS_HOME": str(root), "VISITAS_ENV": "local",
                  "VISITAS_PSEUDONYM_KEY": "clave-de-prueba", "TMPDIR": str(system_tmp), **env}


def start_run(env: dict[str, str], log: Path, *args: str,
              stderr: Path | None = None) -> subprocess.Popen[bytes]:
    """`visitas run --no-samples ARGS…` in the background; its output appended to `log`
    (stderr to `stderr` when given, else to `log` too)."""
    with open(log, "ab") as out, open(stderr or log, "ab") as err:
        return subprocess.Popen([str(VISITAS), "run", "--no-samples", *args], env=env,
                                stdout=out, stderr=err, stdin=subprocess.DEVNULL)


def published_rows(parquet: str) -> tuple[int, int]:
    """(rows, distinct id_visita) of the Parquet files matching `parquet`."""
    with duckdb.connect() as con:
        return con.execute(f"SELECT count(*), count(DISTINCT id_visita) FROM "
                           f"read_parquet('{parquet}', hive_partitioning = true)").fetchone()


_HOLD = """
import sys, time
from pipeline import locks
from pipeline.settings import Settings

with locks.acting_as("visitas run (prueba)"):
    lock = getattr(locks, sys.argv[1])(Settings.from_env(), *sys.argv[2:])
    lock.acquire(0)
print("tomado", flush=True)
time.sleep(300)
"""


@contextmanager
def lock_holder(env: dict[str, str], which: str, *args: str) -> Iterator[subprocess.Popen[bytes]]:
    """A process that takes the lock `pipeline.locks.<which>(settings, *args)` of the project
    `env` points at and keeps it (its heartbeat running) until killed."""
    proc = subprocess.Popen([sys.executable, "-c", _HOLD, which, *args], env=env,
                            stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == b"tomado\n"
        yield proc
    finally:
        proc.kill()
        proc.wait()
