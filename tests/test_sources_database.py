"""`kind: postgres` and `kind: mysql` on the machine's real PostgreSQL and MariaDB servers: an
entity's visitor-control table is read incrementally by its cursor, through the entity's
mapping, into batches that publish like any upload; a late exit time is published as a
change; a database that goes away mid-run fails only its own entity, loses nothing, and the
next run catches up; rows sharing a cursor value are read once each.

"Down" is simulated without touching the real servers: a TCP proxy in the test that is cut
mid-stream (`CuttingProxy`), a port nobody listens on, or credentials the server refuses.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator

import pyarrow.parquet as pq
import pytest

from pipeline.flow import included_entities, run_full_pass, seed_sample_uploads
from pipeline.ingestion.batches import batch_folders, ingest_entity
from pipeline.sources.cursor import cursor_path, read_state
from tests.conftest import REPO_ROOT
from tests.databases import Database, throwaway, visit
from tests.published import csv_rows, release_dir

RUC = "20999400001"
ENV = "VISITAS_BD_20999400001"
NOW = dt.datetime(2024, 11, 1, 12, 0, tzinfo=dt.UTC)
TODAY = NOW.date()
KINDS = ["postgres", "mysql"]


def registration(kind: str, *, batch_rows: int = 3, extra: str = "") -> str:
    return f"""
ruc: "{RUC}"
name: "Municipalidad de Ejemplo con Base de Datos"
stage: production
administrator: {{email: "sistemas@muniejemplobd.gob.pe"}}
source:
  kind: {kind}
  url_env: {ENV}
  table: control_visitas
  cursor: actualizado
  batch_rows: {batch_rows}{extra}
  mapping:
    fecha_visita: fecha
    hora_ingreso: {{column: ingreso, time_format: "%H:%M:%S"}}
    hora_salida: {{column: salida, time_format: "%H:%M:%S"}}
    visitante_nombre: visitante
    visitante_tipo_documento: {{value: DNI}}
    visitante_numero_documento: dni
    funcionario_nombre: funcionario
    motivo: motivo
"""


@pytest.fixture(params=KINDS)
def database(request) -> Iterator[Database]:
    with throwaway(request.param) as db:
        yield db


@pytest.fixture
def registered(project, database, monkeypatch):
    """The test project with one entity reading `database`, beside the sample entities."""
    (project.entities_dir / f"{RUC}.yaml").write_text(registration(database.kind), "utf-8")
    monkeypatch.setenv(ENV, database.url)
    seed_sample_uploads(project, included_entities(project))
    return project, database


def full_pass(settings, lines: list[str] | None = None):
    sink = lines.append if lines is not None else (lambda _: None)
    return run_full_pass(settings, echo=sink, today=TODAY, now=NOW)


def entity_rows(settings) -> list[dict[str, str]]:
    return [r for r in csv_rows(settings.var_dir / "publish") if r["entidad_ruc"] == RUC]


def staged_rows(settings) -> list[dict]:
    """Every valid staged row of the entity, with its batch's record."""
    rows = []
    for folder in batch_folders(settings, RUC):
        meta = json.loads((folder / "batch.json").read_text("utf-8"))
        if (folder / "valid.parquet").exists():
            rows += [{**r, "_lote": meta} for r in pq.read_table(folder / "valid.parquet")
                     .to_pylist()]
    return rows


def changes(settings) -> dict:
    return json.loads((release_dir(settings.var_dir / "publish") / "changes.json")
                      .read_text("utf-8"))


def entity_changes(settings) -> dict[str, int]:
    totals = {"agregadas": 0, "modificadas": 0, "retiradas": 0}
    for row in changes(settings)["por_entidad_y_mes"]:
        if row["entidad"] == RUC:
            for k in totals:
                totals[k] += row[k]
    return totals


def test_initial_incremental_and_late_exit_time(registered):
    settings, db = registered
    db.insert(visit(n) for n in range(1, 8))  # 7 rows: batches of 3, 3 and 1
    outcome = full_pass(settings)
    assert outcome.exit_code == 0, outcome.problems()
    rows = entity_rows(settings)
    assert len(rows) == 7
    staged = staged_rows(settings)
    assert sorted(r["_fila"] for r in staged) == [1, 1, 1, 2, 2, 3, 3]
    records = {r["_lote"]["archivo"]: r["_lote"] for r in staged}
    assert len(records) == 3
    first = records[min(records)]
    # provenance: the kind of source, where (without credentials), the query, the cursor range
    assert first["fuente"] == db.kind
    assert first["origen"].endswith(" control_visitas") and "@" not in first["origen"]
    assert "actualizado" in first["consulta"] and first["cursor"] == "actualizado"
    assert (first["cursor_desde"], first["cursor_hasta"]) == ("2024-08-05T08:00:01",
                                                             "2024-08-05T08:00:03")
    assert first["filas_extraidas"] == 3
    state = read_state(cursor_path(settings, RUC))
    assert state["valor"] == {"tipo": "fecha_hora", "valor": "2024-08-05T08:00:07"}
    assert state["lotes"] == 3

    # nothing new: nothing read again, nothing staged
    again = full_pass(settings)
    assert again.exit_code == 0
    ours = next(e for e in again.entities if e.entity.ruc == RUC)
    assert ours.batches == []

    # two new visits, and visit 2's exit time set later by the system
    db.insert(visit(n) for n in (8, 9))
    db.execute("UPDATE control_visitas SET salida = ?, actualizado = ? WHERE id = 2",
               (dt.time(9, 30), dt.datetime(2024, 8, 5, 9, 30)))
    lines: list[str] = []
    third = full_pass(settings, lines)
    assert third.exit_code == 0, lines
    ours = next(e for e in third.entities if e.entity.ruc == RUC)
    assert len(ours.new_batches) == 1 and ours.count("valid_rows") == 3
    rows = entity_rows(settings)
    assert len(rows) == 9
    late = [r for r in rows if r["visitante_nombre"] == "VISITANTE PRUEBA 2"]
    assert len(late) == 1 and late[0]["hora_salida"].startswith("09:30"), late
    assert entity_changes(settings) == {"agregadas": 2, "modificadas": 1, "retiradas": 0}


def test_rows_sharing_a_cursor_value_are_read_once_each(project, database, monkeypatch):
    (project.entities_dir / f"{RUC}.yaml").write_text(registration(database.kind), "utf-8")
    monkeypatch.setenv(ENV, database.url)
    entity = next(e for e in included_entities(project) if e.ruc == RUC)
    same = dt.datetime(2024, 8, 5, 10, 0)  # one second's timestamp on many rows
    database.insert(visit(n, updated=same) for n in range(1, 6))
    first = ingest_entity(project, entity, today=TODAY, now=NOW)
    assert first.error is None, first.error
    assert sum(b.rows for b in first.batches) == 5
    # more rows written within the same second, after the extraction
    database.insert(visit(n, updated=same) for n in range(6, 8))
    second = ingest_entity(project, entity, today=TODAY, now=NOW)
    assert second.error is None, second.error
    assert sum(b.rows for b in second.new_batches) == 2
    assert ingest_entity(project, entity, today=TODAY, now=NOW).batches == []
    names = sorted(r["visitante_nombre"] for r in staged_rows(project))
    assert names == sorted(f"VISITANTE PRUEBA {n}" for n in range(1, 8))


class CuttingProxy:
    """A TCP proxy to the database server that can cut every connection after the server has
    sent `cut_after` bytes, as a server stopped or a network dropped mid-query would."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.cut_after: int | None = None
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            limit = self.cut_after
            threading.Thread(target=self._pipe, args=(client, server, None), daemon=True).start()
            threading.Thread(target=self._pipe, args=(server, client, limit), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket, limit: int | None) -> None:
        sent = 0
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if limit is not None and sent + len(data) > limit:
                    dst.sendall(data[:max(0, limit - sent)])
                    break
                dst.sendall(data)
                sent += len(data)
        except OSError:
            pass
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def close(self) -> None:
        self.closed = True
        self.listener.close()


def _via(url: str, port: int) -> str:
    head, tail = url.split("@", 1)
    _host_port, rest = tail.split("/", 1)
    return f"{head}@127.0.0.1:{port}/{rest}"


def test_a_database_lost_mid_run_fails_only_its_entity_and_the_next_run_catches_up(
        registered, monkeypatch):
    settings, db = registered
    db.insert(visit(n) for n in range(1, 3001))
    host, port = db.url.split("@", 1)[1].split("/", 1)[0].split(":")
    proxy = CuttingProxy(host, int(port))
    try:
        monkeypatch.setenv(ENV, _via(db.url, proxy.port))
        (settings.entities_dir / f"{RUC}.yaml").write_text(
            registration(db.kind, batch_rows=500), "utf-8")
        # the connection is cut once part of the table has been sent (MariaDB's protocol is
        # compressed here: the 3000 rows take about 50 kB on the wire, PostgreSQL's 300 kB)
        proxy.cut_after = 20_000
        lines: list[str] = []
        down = full_pass(settings, lines)
        assert down.exit_code == 4, [line for line in lines if RUC in line or "✘" in line]
        ours = next(e for e in down.entities if e.entity.ruc == RUC)
        assert ours.error is not None and ours.batches == []
        assert "No se pudo leer la fuente de 20999400001: " in ours.error
        assert "mientras se leía" in ours.error or "no se pudo conectar" in ours.error, ours.error
        assert "No se perdió nada: el cursor no avanzó" in ours.error
        assert any(line.startswith(f"  ✘ {RUC} ") for line in lines)
        # the other entities published
        assert down.publication is not None and down.publication.rows > 0
        assert not cursor_path(settings, RUC).exists()
        assert list(batch_folders(settings, RUC)) == []

        proxy.cut_after = None  # the database is back
        up = full_pass(settings)
        assert up.exit_code == 0, up.problems()
        rows = entity_rows(settings)
        assert len(rows) == 3000
        assert len({r["visitante_nombre"] for r in rows}) == 3000
    finally:
        proxy.close()


@pytest.mark.parametrize("fault", ["port", "credentials", "variable"])
def test_a_database_that_refuses_fails_its_entity_with_a_spanish_message(
        registered, monkeypatch, fault):
    settings, db = registered
    db.insert(visit(n) for n in range(1, 4))
    assert full_pass(settings).exit_code == 0
    before = read_state(cursor_path(settings, RUC))
    head, tail = db.url.split("://", 1)
    if fault == "port":
        with socket.socket() as s:  # a port nobody listens on
            s.bind(("127.0.0.1", 0))
            free = s.getsockname()[1]
        monkeypatch.setenv(ENV, _via(db.url, free))
    elif fault == "credentials":
        # PostgreSQL here trusts any password: a role that does not exist is refused; MariaDB
        # refuses root with a password
        user = "nadie" if db.kind == "postgres" else "root"
        monkeypatch.setenv(ENV, f"{head}://{user}:clave-equivocada@{tail.split('@', 1)[1]}")
    else:
        monkeypatch.delenv(ENV)
    db.insert(visit(n) for n in range(4, 6))
    lines: list[str] = []
    outcome = full_pass(settings, lines)
    assert outcome.exit_code == 4, lines
    error = next(e for e in outcome.entities if e.entity.ruc == RUC).error
    assert error is not None
    assert "clave-equivocada" not in error and "clave-equivocada" not in "\n".join(lines)
    expected = {"port": "no se pudo conectar con la base de datos",
                "credentials": "rechazó el usuario o la clave de la URL en VISITAS_BD_20999400001",
                "variable": "la variable de entorno VISITAS_BD_20999400001 no está definida"}
    assert expected[fault] in error, error
    # its published visits are kept, the cursor did not move
    assert len(entity_rows(settings)) == 3
    assert read_state(cursor_path(settings, RUC)) == before
    monkeypatch.setenv(ENV, db.url)
    assert full_pass(settings).exit_code == 0
    assert len(entity_rows(settings)) == 5


def test_an_interrupted_run_reads_again_from_the_old_cursor_and_stages_nothing_twice(
        project, database, monkeypatch):
    # ties broken by the declared key this time (by every column elsewhere)
    (project.entities_dir / f"{RUC}.yaml").write_text(
        registration(database.kind, extra="\n  key: [id]"), "utf-8")
    monkeypatch.setenv(ENV, database.url)
    entity = next(e for e in included_entities(project) if e.ruc == RUC)
    database.insert(visit(n) for n in range(1, 8))
    first = ingest_entity(project, entity, today=TODAY, now=NOW)
    assert first.error is None, first.error
    meta = json.loads((next(batch_folders(project, RUC)) / "batch.json").read_text("utf-8"))
    assert meta["consulta"].endswith(("ORDER BY \"actualizado\", \"id\"",
                                      "ORDER BY `actualizado`, `id`"))
    staged = sorted(f.name for f in batch_folders(project, RUC))
    # as if the run had died after staging its batches, before the cursor moved
    cursor_path(project, RUC).unlink()
    again = ingest_entity(project, entity, today=TODAY, now=NOW)
    assert again.error is None
    assert [b.status for b in again.batches] == ["unchanged"] * 3
    assert sorted(f.name for f in batch_folders(project, RUC)) == staged
    assert read_state(cursor_path(project, RUC))["lotes"] == 3


def test_query_instead_of_table(project, database, monkeypatch):
    extra = "\n  query: SELECT * FROM control_visitas WHERE motivo <> 'interno'"
    text = registration(database.kind, extra=extra).replace("  table: control_visitas\n", "")
    (project.entities_dir / f"{RUC}.yaml").write_text(text, "utf-8")
    monkeypatch.setenv(ENV, database.url)
    database.insert([visit(1), (*visit(2)[:7], "interno", *visit(2)[8:])])
    entity = next(e for e in included_entities(project) if e.ruc == RUC)
    outcome = ingest_entity(project, entity, today=TODAY, now=NOW)
    assert outcome.error is None, outcome.error
    assert [b.rows for b in outcome.batches] == [1]
    meta = json.loads((next(batch_folders(project, RUC)) / "batch.json").read_text("utf-8"))
    assert meta["origen"].endswith("(consulta)")
    assert "motivo <> 'interno'" in meta["consulta"]


#: rows of the large table; the extraction's memory must not follow them
LARGE = 250_000
#: what the extraction may add to the process's peak resident memory, in MiB, with batches
#: of 50,000 records (measured about 75; the table's records as Python objects would take
#: several hundred, its JSON alone is 53)
GROWTH_BOUND_MIB = 150


@pytest.mark.slow
def test_a_large_table_is_extracted_within_bounded_memory(database):
    database.fill(1, LARGE)
    done = subprocess.run([sys.executable, "-m", "benchmarks._sql_extract", database.kind,
                           database.url], capture_output=True, text=True, cwd=REPO_ROOT,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    measured = json.loads(done.stdout)
    assert measured["rows"] == LARGE and measured["batches"] == LARGE // 50_000
    assert measured["growth_mib"] < GROWTH_BOUND_MIB, measured
    assert measured["growth_mib"] < measured["json_mib"] * 2, measured


def test_a_row_changed_within_the_same_cursor_value_is_read_again(project, database,
                                                                  monkeypatch):
    """A system whose timestamp has whole seconds may write a row twice in one second: the
    second version is not the one staged, so it is read again."""
    (project.entities_dir / f"{RUC}.yaml").write_text(registration(database.kind), "utf-8")
    monkeypatch.setenv(ENV, database.url)
    entity = next(e for e in included_entities(project) if e.ruc == RUC)
    same = dt.datetime(2024, 8, 5, 10, 0)
    database.insert(visit(n, updated=same) for n in range(1, 3))
    assert ingest_entity(project, entity, today=TODAY, now=NOW).error is None
    database.execute("UPDATE control_visitas SET salida = ? WHERE id = 2", (dt.time(11, 15),))
    again = ingest_entity(project, entity, today=TODAY, now=NOW)
    assert [b.rows for b in again.new_batches] == [1]


#: a cursor of another type than a timestamp without time zone, per server
CURSORS = {
    "postgres": ("timestamptz", "TIMESTAMPTZ '2024-08-05 08:00:00-05' + id * interval '1 minute'",
                 {"tipo": "fecha_hora", "valor": "2024-08-05T08:06:00-05:00"}),
    "mysql": ("bigint", "id * 1000", {"tipo": "entero", "valor": 6000}),
}


def test_cursors_of_other_types(project, database, monkeypatch):
    kind, expression, kept = CURSORS[database.kind]
    database.execute(f"ALTER TABLE control_visitas ADD COLUMN version {kind} NULL")
    (project.entities_dir / f"{RUC}.yaml").write_text(
        registration(database.kind).replace("cursor: actualizado", "cursor: version"), "utf-8")
    monkeypatch.setenv(ENV, database.url)
    entity = next(e for e in included_entities(project) if e.ruc == RUC)
    database.insert(visit(n) for n in range(1, 5))
    database.execute(f"UPDATE control_visitas SET version = {expression}")
    assert sum(b.rows for b in ingest_entity(project, entity, today=TODAY, now=NOW).batches) == 4
    database.insert(visit(n) for n in range(5, 7))
    database.execute(f"UPDATE control_visitas SET version = {expression} WHERE id >= 5")
    second = ingest_entity(project, entity, today=TODAY, now=NOW)
    assert second.error is None, second.error
    assert [b.rows for b in second.new_batches] == [2]
    assert read_state(cursor_path(project, RUC))["valor"] == kept
    assert ingest_entity(project, entity, today=TODAY, now=NOW).batches == []


def test_an_unreachable_test_server_fails_the_test_rather_than_skipping_it(monkeypatch):
    from benchmarks import _databases

    monkeypatch.setattr(_databases, "PG_URL", "postgresql://postgres@127.0.0.1:1")
    with pytest.raises(pytest.fail.Exception, match="PostgreSQL does not answer"), \
            throwaway("postgres"):
        pass
