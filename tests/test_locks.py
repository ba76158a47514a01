"""The lock of `pipeline.locks`, on a local folder and on S3 (a real SeaweedFS): one owner at
a time, an owner and an age on record, a killed owner's lock taken over by the next process,
a live owner's never; and `visitas run` waiting, then refusing with exit 75 and a Spanish
message naming who holds what since when."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline import locks
from pipeline.faults import EXIT_BUSY, OperationalError
from pipeline.storage import Storage, StorageError
from pipeline.storage.local import LocalStorage
from tests.processes import (
    RUC,
    dead_pid,
    lock_holder,
    make_project,
    start_run,
    write_upload,
)
from tests.s3server import S3Server


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.s3)])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Storage]:
    if request.param == "local":
        yield LocalStorage(tmp_path / "locks")
        return
    request.getfixturevalue("s3_env")
    from pipeline.storage.s3 import S3Storage

    yield S3Storage(request.getfixturevalue("s3_bucket"), "publish")


def new_lock(storage: Storage, **kwargs: float) -> locks.Lock:
    return locks.Lock(storage, ".locks/publicacion", "el árbol publicado (prueba)",
                      locks.RANK["published"], **kwargs)


def record(storage: Storage, number: int) -> dict:
    return json.loads(storage.read_bytes(f".locks/publicacion/{number:012d}.json"))


def test_a_lock_names_its_owner_and_is_released_on_exit(storage: Storage) -> None:
    lock = new_lock(storage)
    with locks.acting_as("visitas run --esperar 0"), locks.hold(lock, 0):
        held = record(storage, 1)
        assert (held["equipo"], held["pid"], held["comando"]) == (
            socket.gethostname(), os.getpid(), "visitas run --esperar 0")
        assert held["bloqueo"] == "el árbol publicado (prueba)"
        assert held["liberado"] is None and held["desde"] == held["latido"]
    assert record(storage, 1)["liberado"] is not None
    # released: the next owner takes the next number and the old record goes
    with locks.hold(new_lock(storage), 0):
        assert new_lock(storage).numbers() == [2]


def test_a_live_lock_is_not_taken(storage: Storage) -> None:
    with locks.acting_as("visitas run"), locks.hold(new_lock(storage), 0):
        other = new_lock(storage)
        started = time.monotonic()
        with pytest.raises(locks.LockBusy) as busy:
            other.acquire(1.2)
        assert time.monotonic() - started >= 1.2
    assert isinstance(busy.value, OperationalError) and busy.value.code == EXIT_BUSY == 75
    assert re.fullmatch(
        r"Otro proceso está escribiendo el árbol publicado \(prueba\): visitas run "
        rf"\(PID {os.getpid()} en el equipo {re.escape(socket.gethostname())}\), desde "
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(hace \d segundos?\); se esperó 1 segundo\.",
        busy.value.what), busy.value.what
    assert busy.value.todo.startswith("Espere a que termine y vuelva a ejecutar, o espere más "
                                      "con --esperar SEGUNDOS (o VISITAS_LOCK_WAIT).")
    assert storage.locate(".locks/publicacion/") in busy.value.todo
    assert "tras 5 minutos sin señal de vida" in busy.value.todo


def test_released_on_an_exception(storage: Storage) -> None:
    with pytest.raises(ZeroDivisionError), locks.hold(new_lock(storage), 0):
        1 / 0  # noqa: B018
    assert record(storage, 1)["liberado"] is not None
    new_lock(storage).acquire(0)


class RefusingWrites(LocalStorage):
    """A local folder that refuses overwrites (a storage error while releasing)."""

    def write_bytes(self, key: str, data: bytes, **kw: object) -> None:
        if not kw.get("if_absent"):
            raise StorageError(f"No se pudo escribir {self.locate(key)}: disco lleno")
        super().write_bytes(key, data, **kw)


def test_a_release_that_fails_does_not_block_this_process(tmp_path: Path) -> None:
    """A long-lived process (Dagster's) whose release failed takes the lock again at once:
    the record names it, but it knows it no longer holds it."""
    storage = RefusingWrites(tmp_path / "locks")
    with locks.hold(new_lock(storage), 0):
        pass  # the release cannot mark the record: it stays as if held by this live process
    assert record(storage, 1)["liberado"] is None
    with pytest.raises(locks.LockBusy):  # for any other process it is held until it ends
        lock = new_lock(storage)
        lock.stale = lambda record, now=None: None  # type: ignore[method-assign]
        lock.acquire(0)
    with locks.hold(new_lock(storage), 0):
        assert new_lock(storage).numbers() == [2]


def test_a_dead_owners_lock_is_taken_over(storage: Storage) -> None:
    dead = new_lock(storage)
    dead.acquire(0)
    dead.release()  # stands for the kill: only the record stays, with a dead pid, unreleased
    gone = {**record(storage, 1), "pid": dead_pid(), "liberado": None}
    storage.write_bytes(".locks/publicacion/000000000001.json", json.dumps(gone).encode())
    with locks.hold(new_lock(storage), 0):
        assert record(storage, 2)["pid"] == os.getpid()
        assert new_lock(storage).numbers() == [2]


def test_another_hosts_lock_goes_stale_without_heartbeat(storage: Storage) -> None:
    now = time.time()
    foreign = {"equipo": "otro-servidor", "procesos": "otro-servidor|x", "pid": 1,
               "comando": "visitas run", "desde": "2024-01-01T00:00:00+00:00",
               "desde_unix": now - 900, "latido_unix": now - 10, "liberado": None}
    storage.write_bytes(".locks/publicacion/000000000007.json", json.dumps(foreign).encode())
    with pytest.raises(locks.LockBusy, match="PID 1 en el equipo otro-servidor"):
        new_lock(storage).acquire(0)  # pid 1 is alive here, but it is not this host's
    storage.write_bytes(".locks/publicacion/000000000007.json",
                        json.dumps({**foreign, "latido_unix": now - 301}).encode())
    lock = new_lock(storage)
    lock.acquire(0)
    assert lock.number == 8
    lock.release()


def test_the_owner_keeps_its_heartbeat(storage: Storage) -> None:
    lock = new_lock(storage, heartbeat=0.2, stale_after=1.0)
    with locks.hold(lock, 0):
        first = record(storage, 1)["latido_unix"]
        time.sleep(1.5)  # longer than the stale age: only the heartbeat keeps it held
        assert record(storage, 1)["latido_unix"] > first
        with pytest.raises(locks.LockBusy):
            new_lock(storage, stale_after=1.0).acquire(0)


def test_one_owner_at_a_time_under_contention(storage: Storage,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Threads racing for the lock, each adding one to a counter kept in the storage: a
    second owner at any moment would lose an increment."""
    monkeypatch.setattr(locks, "POLL_SECONDS", 0.01)
    storage.write_bytes("contador", b"0")
    rounds, threads = (8, 4) if isinstance(storage, LocalStorage) else (3, 4)
    failures: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(rounds):
                lock = new_lock(storage)
                lock.acquire(60)
                try:
                    value = int(storage.read_bytes("contador"))
                    time.sleep(0.005)
                    storage.write_bytes("contador", str(value + 1).encode())
                finally:
                    lock.release()
        except BaseException as exc:
            failures.append(exc)

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert failures == []
    assert int(storage.read_bytes("contador")) == rounds * threads
    assert len(new_lock(storage).numbers()) == 1  # only the last record is kept


def test_locks_are_taken_in_one_order(tmp_path: Path) -> None:
    from pipeline.settings import Settings

    settings = Settings(var_dir=tmp_path / "var")
    with locks.hold(locks.published_tree(settings), 0), \
            pytest.raises(RuntimeError, match="orden de bloqueos"), \
            locks.hold(locks.warehouse(settings), 0):
        pass
    # the same lock again in the same thread is already held
    with locks.hold(locks.warehouse(settings), 0), locks.hold(locks.warehouse(settings), 0):
        pass


# -- visitas run against a lock another process holds ------------------------------------


def test_run_waits_then_refuses_a_live_lock(tmp_path: Path) -> None:
    root, env = make_project(tmp_path)
    write_upload(root / "var" / "landing" / RUC / "visitas-2024-01.csv", 100)
    log, err = tmp_path / "run.out", tmp_path / "run.err"
    with lock_holder(env, "entity_batches", RUC) as holder:
        started = time.monotonic()
        code = start_run(env, log, "--esperar", "2", stderr=err).wait(timeout=60)
        assert time.monotonic() - started >= 2
        assert holder.poll() is None
        lock_file = root / "var" / "locks" / f"lotes-{RUC}" / "000000000001.json"
        assert json.loads(lock_file.read_text("utf-8"))["pid"] == holder.pid
    assert code == 75, log.read_text() + err.read_text()
    lines = err.read_text("utf-8").splitlines()
    assert re.fullmatch(
        rf"✘ Ingesta y validación: Otro proceso está escribiendo los lotes de la entidad {RUC}: "
        rf"visitas run \(prueba\) \(PID {holder.pid} en el equipo "
        rf"{re.escape(socket.gethostname())}\), desde \d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d UTC "
        r"\(hace \d+ segundos?\); se esperó \d segundos\.", lines[0]), lines[0]
    assert lines[1].startswith("  Espere a que termine y vuelva a ejecutar, o espere más con "
                               "--esperar SEGUNDOS (o VISITAS_LOCK_WAIT).")
    assert lines[2] == "  (Detalle técnico: visitas --debug run; código de salida 75.)"
    assert len(lines) == 3
    assert not (root / "var" / "publish" / "latest").exists()


def test_run_takes_over_the_lock_of_a_killed_run(tmp_path: Path) -> None:
    root, env = make_project(tmp_path)
    write_upload(root / "var" / "landing" / RUC / "visitas-2024-01.csv", 100)
    with lock_holder(env, "warehouse") as holder:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    log = tmp_path / "run.out"
    assert start_run(env, log, "--esperar", "0").wait(timeout=60) == 0, log.read_text()
    assert "100 visitas publicadas" in log.read_text()
    record_path = root / "var" / "locks" / "almacen"
    assert [p.name for p in record_path.iterdir()] == ["000000000003.json"]
    assert json.loads((record_path / "000000000003.json").read_text())["liberado"]


@pytest.mark.s3
def test_run_on_s3_refuses_a_live_publisher_and_takes_over_a_killed_ones(
        tmp_path: Path, s3_server: S3Server, s3_bucket: str) -> None:
    root, env = make_project(tmp_path, **s3_server.env(),
                             VISITAS_PUBLISH_URL=f"s3://{s3_bucket}/publish")
    write_upload(root / "var" / "landing" / RUC / "visitas-2024-01.csv", 100)
    log, err = tmp_path / "run.out", tmp_path / "run.err"
    with lock_holder(env, "published_tree") as holder:
        code = start_run(env, log, "--esperar", "0", stderr=err).wait(timeout=60)
        assert code == 75, log.read_text() + err.read_text()
        assert err.read_text("utf-8").startswith(
            f"✘ Publicación: Otro proceso está escribiendo el árbol publicado (s3://{s3_bucket}"
            f"/publish): visitas run (prueba) (PID {holder.pid} en el equipo ")
        assert f"s3://{s3_bucket}/publish/.locks/publicacion/" in err.read_text("utf-8")
        holder.send_signal(signal.SIGKILL)
    assert start_run(env, log, "--esperar", "0").wait(timeout=60) == 0, log.read_text()
    client = s3_server.client()
    served = json.loads(client.get_object(Bucket=s3_bucket, Key="publish/latest/release.json")
                        ["Body"].read())
    assert sum(f["rows"] for f in served["files"] if f["path"].startswith("visitas/parquet/")) == 100
    listed = client.list_objects_v2(Bucket=s3_bucket, Prefix="publish/.locks/")["Contents"]
    assert [o["Key"] for o in listed] == ["publish/.locks/publicacion/000000000002.json"]

