"""Temporary files of the pipeline: where they live, and clearing what a killed run left.

Every temporary directory lives under the working folder, never in the system's temp dir:

    <VISITAS_VAR_DIR>/tmp/<kind>-<pid>-<token>/

Uploads copied there hold full document numbers, so they must not outlive the run somewhere
nobody looks. A directory is removed when its owner is done with it (a context manager, or
DuckDB itself when its connection closes); one left by a killed process is removed by the next
run, and only then: the owner's pid is in the name, and a leftover is cleared only when that
process is gone (or the pid now belongs to a process started after the leftover was last
touched, or nobody touched it for `MAX_AGE`). Another run still in progress keeps its files.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

#: a leftover untouched this long is cleared even when its pid looks alive: a host without
#: /proc cannot tell a reused pid, and no step of a run works on one folder for a week
MAX_AGE_SECONDS = 7 * 24 * 3600
#: a leftover holding this file records work that must be undone elsewhere first (the release
#: a killed publisher was writing): the generic sweep leaves it to the code that can undo it
NOTE = "pendiente.json"
#: process start times are known to the clock tick, boot time to the second
CLOCK_SLACK_SECONDS = 2.0

_NAME = re.compile(r"^(?P<kind>[a-z][a-z0-9_]*)-(?P<pid>\d+)-(?P<token>[0-9a-f]+)$")
#: the one fixed spill folder of earlier versions; no pid, so cleared by age only
_LEGACY = ("duckdb",)


def new_path(root: Path, kind: str) -> Path:
    """A fresh path `<root>/<kind>-<pid>-<token>` (not created), `root` made if missing.

    For DuckDB's temp_directory: DuckDB creates the folder on its first spill and removes it
    when the connection closes.
    """
    root.mkdir(parents=True, exist_ok=True)
    return root / f"{kind}-{os.getpid()}-{secrets.token_hex(4)}"


@contextmanager
def temporary_dir(root: Path, kind: str) -> Iterator[Path]:
    """A new empty folder under `root`, removed on exit (also on an exception).

    Leftovers of killed runs are cleared first, so a kill costs disk only until the next run.
    """
    clear_leftovers(root)
    path = new_path(root, kind)
    path.mkdir()
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def owner(name: str) -> tuple[str, int] | None:
    """(kind, pid) of a temporary folder's name; None for a name this module did not make."""
    found = _NAME.match(name)
    return (found["kind"], int(found["pid"])) if found else None


def abandoned(path: Path, pid: int | None, *, now: float | None = None) -> bool:
    """Whether the leftover at `path`, made by process `pid` (None: unknown), may be removed."""
    touched = last_touched(path)
    if touched is None:
        return False  # gone already
    if pid is not None and process_gone(pid, touched):
        return True
    return (time.time() if now is None else now) - touched > MAX_AGE_SECONDS


def last_touched(path: Path) -> float | None:
    """Newest modification time of `path` and everything under it; None if it vanished."""
    try:
        newest = path.lstat().st_mtime
    except OSError:
        return None
    if path.is_dir() and not path.is_symlink():
        for dirpath, dirs, files in os.walk(path):
            for name in (*dirs, *files):
                try:
                    newest = max(newest, os.lstat(os.path.join(dirpath, name)).st_mtime)
                except OSError:
                    continue
    return newest


def process_gone(pid: int, touched: float) -> bool:
    """Whether the process that made something last modified at `touched` has ended.

    A live pid can be a reuse: on Linux the process's start time tells, since the owner
    started before it wrote anything. That holds for our own pid too: a container restarted
    after a kill hands the new run the same pids as the killed one. A zombie counts as ended.
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # alive, owned by another user
    except (OverflowError, ValueError):
        return True  # not a pid this host can have
    stat = _proc_stat(pid)
    if stat is None:
        return False  # no /proc: alive as far as we can tell
    state, started = stat
    return state == "Z" or started > touched + CLOCK_SLACK_SECONDS


def _proc_stat(pid: int) -> tuple[str, float] | None:
    """(state, start time as a Unix time) of a process, from /proc; None where unknown."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
        boot = next(float(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                    if line.startswith("btime "))
        # the command name is in parentheses and may hold spaces or parentheses itself
        fields = text[text.rindex(")") + 2:].split()
        return fields[0], boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def leftovers(root: Path, kind: str | None = None) -> list[Path]:
    """Abandoned temporary folders under `root` (of one kind, if given), oldest name first."""
    found = []
    for entry in sorted(root.iterdir()) if root.is_dir() else ():
        named = owner(entry.name)
        if named is None:
            # not ours (an operator's file) unless it is the older fixed spill folder
            ours = kind is None and entry.name in _LEGACY
            pid = None
        else:
            ours = kind in (None, named[0])
            pid = named[1]
        if ours and abandoned(entry, pid):
            found.append(entry)
    return found


def clear_leftovers(root: Path) -> list[Path]:
    """Remove what killed processes left under `root`; return what was removed.

    Folders holding a `NOTE` are left to the code that reads it (see
    `pipeline.publication.leftovers`), unless untouched for `MAX_AGE_SECONDS`.
    """
    removed = []
    for entry in leftovers(root):
        if (entry / NOTE).exists() and not abandoned(entry, None):
            continue
        remove(entry)
        removed.append(entry)
    return removed
