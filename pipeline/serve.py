"""`visitas serve`: the Dagster webserver and daemon, with the shipped instance settings, and
nothing left running when it stops.

`dagster dev` stops its webserver and daemon on an interrupt (Ctrl-C) but not on SIGTERM,
which a service manager or `kill` sends: the process dies and its children, and the runs they
launched, go on without it. So `dagster dev` runs in a session of its own; a SIGTERM or
SIGINT to `visitas serve` becomes an interrupt for it, and whatever of its session is still
alive after it returns (a run worker, a code server) is terminated, then killed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

from pipeline.dagster_instance import prepare_instance
from pipeline.settings import PROJECT_ROOT, Settings

WORKSPACE_FILE = PROJECT_ROOT / "workspace.yaml"
#: how long `dagster dev` and then its leftovers get to stop before they are killed
GRACE_SECONDS = 20.0


def serve(settings: Settings, port: int) -> int:
    """Run `dagster dev` until it ends or this process is told to stop; its exit code."""
    home = prepare_instance(settings)
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    dagster = Path(sys.executable).with_name("dagster")
    cmd = [str(dagster), "dev", "-w", str(WORKSPACE_FILE), "-p", str(port)]
    started: list[subprocess.Popen[bytes]] = []

    def interrupt(signum: int, frame: FrameType | None) -> None:
        for child in started:
            if child.poll() is None:
                child.send_signal(signal.SIGINT)

    # Handlers before the child exists: it then starts with SIGINT at its default, which
    # Python turns into the KeyboardInterrupt `dagster dev` stops on. Had this process
    # inherited SIGINT ignored (as a job started in the background does), the child would
    # inherit that too and never stop on an interrupt.
    previous = {s: signal.signal(s, interrupt) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        # cwd is the instance folder: `dagster dev` reads a dagster.yaml only from
        # DAGSTER_HOME and warns about one in the folder it starts in
        child = subprocess.Popen(cmd, env=env, cwd=home, start_new_session=True)
        started.append(child)
        return child.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for child in started:
            stop_session(child.pid)


def stop_session(sid: int) -> None:
    """Terminate, then kill, every process left in session `sid`."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if not session_members(sid):
            return
        try:
            os.killpg(sid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + GRACE_SECONDS
        while session_members(sid) and time.monotonic() < deadline:
            time.sleep(0.2)


def session_members(sid: int) -> list[int]:
    """Live processes of session `sid` (zombies, already dead, are not counted)."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # fields after the command name (which may hold spaces) start at its closing paren
        fields = stat.rsplit(")", 1)[1].split()
        state, session = fields[0], int(fields[3])
        if session == sid and state != "Z":
            members.append(int(entry.name))
    return members
