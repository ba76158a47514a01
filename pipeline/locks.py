"""One writer at a time: a lock with an owner and an age, in a local folder or on S3.

Each thing that has one writer has one lock (see docs/concurrencia.md):

    <var>/locks/lotes-<RUC>/          an entity's staged batches and its seen-cache (ingestion)
    <var>/locks/almacen/              the warehouse: consolidated Parquet and visitas.duckdb
                                      (consolidation writes it, publication reads it)
    <publish>/.locks/publicacion/     the published tree: releases/ and latest/

A process takes them in one fixed order, entity before warehouse before published tree
(`RANK`), and never the other way round, so two processes can never wait for each other.

How a lock is held, on any storage with a create-only write (a local file is linked into
place with link(2), which fails if the name exists; on S3 a PUT carries `If-None-Match: *`):

* The lock is a series of numbered records `<n>.json` (owner: host, pid, command, since when,
  last heartbeat). The highest number is its state: held by that owner, or free when the
  record says it was released or the owner is gone.
* To take it, a process writes record n+1 create-only, where n is the highest it saw: of two
  processes racing for the same number only one can create it. It then lists again and backs
  off (removing its record) if a higher number appeared meanwhile.
* The highest record is never deleted (older ones are, by the next holder), so no number is
  created twice while a process may still act on having seen it: no two owners at once.
* The owner rewrites its record every `HEARTBEAT_SECONDS` from a background thread and marks
  it released when done (also on an exception, and on SIGTERM in `visitas`).
* A record is stale, and the lock can be taken over, when its owner process is gone (same
  host: `pipeline.workdir.process_gone`, which also tells a reused pid) or its heartbeat is
  older than `STALE_AFTER_SECONDS` (an owner on another host that stopped without releasing).
  A live owner's lock is never taken over.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import os
import re
import secrets
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pipeline.faults import EXIT_BUSY, OperationalError
from pipeline.settings import Settings
from pipeline.spanish import plural
from pipeline.storage import Storage, StorageError, StorageExists, open_storage
from pipeline.workdir import process_gone

log = logging.getLogger(__name__)

#: the owner rewrites its record this often
HEARTBEAT_SECONDS = 15.0
#: a record whose heartbeat is older than this is stale: its owner stopped without releasing
#: it (on another host, where its pid cannot be checked). Many heartbeats, so a busy machine
#: or a slow S3 request never makes a live owner look gone.
STALE_AFTER_SECONDS = 300.0
#: how often a waiting process looks again
POLL_SECONDS = 0.5

#: the fixed order locks are taken in: a lock of lower rank is never taken while one of
#: higher rank is held
RANK = {"entity": 1, "warehouse": 2, "published": 3}

_RECORD = re.compile(r"(\d{12})\.json")
#: what the owner is doing, for the record; `visitas` names its command line, Dagster its run
_command: contextvars.ContextVar[str | None] = contextvars.ContextVar("lock_command",
                                                                     default=None)
#: locks this process holds, by location and thread: taking one again is a no-op
_held: dict[tuple[str, int], Lock] = {}
_held_guard = threading.Lock()
#: the records (by their `testigo`) this process holds a lock with right now: a record naming
#: this very process that is not among them was left by a release that failed, and is stale
_live: set[str] = set()


class LockBusy(OperationalError):
    """Another live process holds the lock and did not release it within the wait."""

    def __init__(self, lock: Lock, owner: dict[str, Any], waited: float) -> None:
        since = _parse_time(owner.get("desde"))
        when = (f", desde {since:%Y-%m-%d %H:%M:%S} UTC (hace {_age(since)})"
                if since else "")
        who = (f"{owner.get('comando') or 'un proceso'} (PID {owner.get('pid', '?')} en el "
               f"equipo {owner.get('equipo', '?')})")
        waited_text = (f"; se esperó {plural(round(waited), 'segundo', 'segundos')}"
                       if waited >= 1 else "")
        super().__init__(
            f"Otro proceso está escribiendo {lock.thing}: {who}{when}{waited_text}.",
            "Espere a que termine y vuelva a ejecutar, o espere más con --esperar "
            "SEGUNDOS (o VISITAS_LOCK_WAIT). Si ese proceso ya no existe, su bloqueo "
            f"({lock.location}) se libera solo: en el mismo equipo apenas termina, desde otro "
            f"equipo tras {plural(round(STALE_AFTER_SECONDS / 60), 'minuto', 'minutos')} "
            "sin señal de vida.",
            EXIT_BUSY)
        self.owner = owner


class Lock:
    """A lock over one thing, its records under `prefix` in `storage`."""

    def __init__(self, storage: Storage, prefix: str, thing: str, rank: int, *,
                 stale_after: float = STALE_AFTER_SECONDS,
                 heartbeat: float = HEARTBEAT_SECONDS) -> None:
        self.storage, self.prefix, self.thing, self.rank = storage, prefix.strip("/"), thing, rank
        self.stale_after, self.heartbeat = stale_after, heartbeat
        self.number: int | None = None  #: the record this process holds the lock with
        self.record: dict[str, Any] = {}
        #: set when the heartbeat found the lock taken over (this owner looked gone)
        self.lost = False
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None

    @property
    def location(self) -> str:
        return self.storage.locate(self.prefix + "/")

    def _key(self, number: int) -> str:
        return f"{self.prefix}/{number:012d}.json"

    def numbers(self) -> list[int]:
        """The record numbers present, lowest first."""
        found = (_RECORD.fullmatch(o.key[len(self.prefix) + 1:])
                 for o in self.storage.list(self.prefix + "/"))
        return sorted(int(m[1]) for m in found if m)

    def current(self) -> tuple[int, dict[str, Any]] | None:
        """(number, record) of the lock's state; None if it was never taken."""
        for attempt in range(5):
            numbers = self.numbers()
            if not numbers:
                return None
            try:
                data = self.storage.read_bytes(self._key(numbers[-1]))
            except StorageError:
                # only a record that lost a race is removed while highest: look again
                if attempt == 4:
                    raise
                continue
            try:
                record = json.loads(data)
            except ValueError:
                record = {}
            return numbers[-1], record if isinstance(record, dict) else {}
        return None  # pragma: no cover (the loop returns or raises)

    def stale(self, record: dict[str, Any], now: float | None = None) -> str | None:
        """Why the lock `record` describes is free to take (Spanish), or None if it is held."""
        now = time.time() if now is None else now
        if record.get("liberado"):
            return "liberado"
        beat = record.get("latido_unix")
        if not isinstance(beat, int | float):
            return "registro ilegible"  # never written by this module: not a live owner
        same_host = record.get("procesos") == _process_table()
        pid = record.get("pid")
        if same_host and pid == os.getpid() and record.get("testigo") not in _live:
            return "este mismo proceso ya no lo tiene"  # its release failed (a storage error)
        if same_host and isinstance(pid, int) and process_gone(
                pid, float(record.get("desde_unix", beat))):
            return "su proceso terminó"
        if now - beat > self.stale_after:
            return "sin señal de vida"
        return None

    def acquire(self, wait: float) -> None:
        """Take the lock, waiting up to `wait` seconds for a live owner to release it.

        Raises LockBusy when it is still held after that.
        """
        deadline = time.monotonic() + max(0.0, wait)
        started = time.monotonic()
        while True:
            state = self.current()
            owner = state[1] if state is not None and self.stale(state[1]) is None else None
            if owner is None:
                if state is not None:
                    log.info("%s: se toma el bloqueo de %s (%s)", self.location,
                             state[1].get("pid"), self.stale(state[1]))
                if self._create((state[0] if state else 0) + 1):
                    return
                continue  # another process moved first: look again
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise LockBusy(self, owner, time.monotonic() - started)
            time.sleep(min(POLL_SECONDS, remaining))

    def _create(self, number: int) -> bool:
        now = time.time()
        record = {
            "bloqueo": self.thing,
            "equipo": socket.gethostname(),
            "procesos": _process_table(),
            "pid": os.getpid(),
            "comando": _command.get() or _command_line(),
            "desde": _iso(now),
            "desde_unix": now,
            "latido": _iso(now),
            "latido_unix": now,
            "liberado": None,
            "testigo": secrets.token_hex(8),
        }
        # live before it is written: another thread of this process must never see it as
        # a record this process let go of
        _live.add(record["testigo"])
        try:
            self.storage.write_bytes(self._key(number), _dump(record), if_absent=True)
            numbers = self.numbers()
            if numbers and numbers[-1] != number:
                # someone took a higher number meanwhile: theirs is the lock's state
                self.storage.delete(self._key(number))
                _live.discard(record["testigo"])
                return False
        except StorageExists:
            _live.discard(record["testigo"])
            return False
        except BaseException:
            _live.discard(record["testigo"])
            raise
        self.number, self.record, self.lost = number, record, False
        try:
            for older in numbers:
                if older < number:
                    self.storage.delete(self._key(older))
            # a record a killed process was writing (local disk; S3 writes leave none)
            self.storage.clear_abandoned_scratch(self.prefix + "/")
        except Exception as exc:  # housekeeping only: the next owner tries again
            log.warning("%s: no se pudieron borrar registros anteriores: %s", self.location, exc)
        self._stop.clear()
        self._beat = threading.Thread(target=self._heartbeat, daemon=True,
                                      name=f"latido {self.prefix}")
        self._beat.start()
        return True

    def _still_mine(self) -> bool:
        numbers = self.numbers()
        return bool(numbers) and numbers[-1] == self.number

    def _heartbeat(self) -> None:
        while not self._stop.wait(self.heartbeat):
            try:
                if not self._still_mine():
                    self.lost = True
                    log.error("%s: el bloqueo fue tomado por otro proceso", self.location)
                    return
                now = time.time()
                self.record.update(latido=_iso(now), latido_unix=now)
                self.storage.write_bytes(self._key(self.number or 0), _dump(self.record))
            except Exception as exc:  # a storage hiccup: the next beat tries again
                log.warning("%s: no se pudo renovar el bloqueo: %s", self.location, exc)

    def release(self) -> None:
        """Mark the lock released (only if it is still this process's)."""
        self._stop.set()
        if self._beat is not None:
            self._beat.join()
            self._beat = None
        if self.number is None:
            return
        try:
            if self._still_mine():
                self.record["liberado"] = _iso(time.time())
                self.storage.write_bytes(self._key(self.number), _dump(self.record))
        except Exception as exc:
            # Left to go stale (its heartbeat has stopped), rather than hide the error the
            # step may be ending with: releasing runs in a `finally`.
            log.warning("%s: no se pudo liberar el bloqueo: %s", self.location, exc)
        finally:
            _live.discard(self.record.get("testigo", ""))
            self.number = None


@contextmanager
def hold(lock: Lock, wait: float) -> Iterator[Lock]:
    """Hold `lock` for the block (waiting up to `wait` seconds for it), released on exit,
    also on an exception. Taking a lock this thread already holds is a no-op."""
    me = (lock.location, threading.get_ident())
    with _held_guard:
        again = _held.get(me)
        above = [h for (_, thread), h in _held.items()
                 if thread == me[1] and h.rank > lock.rank]
    if again is not None:
        yield again
        return
    if above:
        raise RuntimeError(f"orden de bloqueos: {lock.location} después de {above[0].location}")
    lock.acquire(wait)
    with _held_guard:
        _held[me] = lock
    try:
        yield lock
    finally:
        with _held_guard:
            _held.pop(me, None)
        lock.release()


@contextmanager
def acting_as(command: str) -> Iterator[None]:
    """Name what this process is doing in the locks it takes within the block (e.g. the
    Dagster run and asset), instead of its command line."""
    token = _command.set(command)
    try:
        yield
    finally:
        _command.reset(token)


# -- the locks of the pipeline ---------------------------------------------------------------


def _local(settings: Settings) -> Storage:
    return open_storage(settings.var_dir / "locks")


def entity_batches(settings: Settings, ruc: str) -> Lock:
    """An entity's staged batches and seen-cache: written by its ingestion only."""
    return Lock(_local(settings), f"lotes-{ruc}", f"los lotes de la entidad {ruc}",
                RANK["entity"])


def warehouse(settings: Settings) -> Lock:
    """The warehouse: consolidation writes it, publication reads it whole."""
    return Lock(_local(settings), "almacen",
                "el almacén (consolidado y visitas.duckdb)", RANK["warehouse"])


def published_tree(settings: Settings, storage: Storage | None = None) -> Lock:
    """The published tree (releases/ and latest/), where it lives: local or S3."""
    # public as the tree itself: the lock may be the first to create the tree's folder
    storage = storage or open_storage(settings.publish_url, base_dir=settings.root, public=True)
    return Lock(storage, ".locks/publicacion", f"el árbol publicado ({storage.url})",
                RANK["published"])


# -- helpers ---------------------------------------------------------------------------------


def _dump(record: dict[str, Any]) -> bytes:
    return json.dumps(record, ensure_ascii=False, indent=2).encode("utf-8")


def _iso(moment: float) -> str:
    return dt.datetime.fromtimestamp(moment, dt.UTC).isoformat(timespec="seconds")


def _parse_time(text: object) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(str(text)).astimezone(dt.UTC)
    except ValueError:
        return None


def _age(since: dt.datetime) -> str:
    seconds = max(0, round((dt.datetime.now(dt.UTC) - since).total_seconds()))
    if seconds < 120:
        return plural(seconds, "segundo", "segundos")
    if seconds < 7200:
        return plural(seconds // 60, "minuto", "minutos")
    return plural(seconds // 3600, "hora", "horas")


def _command_line() -> str:
    """This process's command line, short: `visitas run --esperar 0`."""
    words = [Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python", *sys.argv[1:]]
    text = " ".join(words)
    return text if len(text) <= 120 else text[:119] + "…"


def _process_table() -> str:
    """Which process table this process's pids belong to: the host's boot and the pid
    namespace (two containers on one host, or two hosts with one name, do not share it)."""
    parts = [socket.gethostname()]
    for path in ("/proc/sys/kernel/random/boot_id", "/proc/self/ns/pid"):
        try:
            parts.append(os.readlink(path) if path.endswith("/pid") else
                         Path(path).read_text().strip())
        except OSError:
            continue
    return "|".join(parts)
