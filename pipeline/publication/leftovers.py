"""What a killed publisher leaves behind, and clearing it.

A publisher writes the release's new files under its own temporary folder
(`<var>/tmp/publicacion-<pid>-<token>/`, see `pipeline.workdir`) and, before its first upload,
notes there which release it is writing and where (`pendiente.json`). Killed, it leaves that
folder, a release folder without `release.json` and, on a local disk, scratch files of the
write in progress. The next publication (and `visitas releases prune`) finds the folder of a
publisher that is gone, removes the release it names unless that release got its manifest,
then the folder; and removes the scratch files of writers that are gone. A publisher still
running keeps everything: its pid is alive.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from pipeline import workdir
from pipeline.atomic import write_text
from pipeline.publication import layout
from pipeline.settings import Settings
from pipeline.storage import Storage

KIND = "publicacion"


@dataclass
class Cleared:
    #: unfinished releases of publishers that are gone
    releases: list[str] = field(default_factory=list)
    #: scratch files of writers that are gone (local storage only)
    scratch: list[str] = field(default_factory=list)


def note_release(folder: Path, storage: Storage, release_id: str) -> None:
    """Record, in the publisher's temporary folder, the release it is about to write."""
    write_text(folder / workdir.NOTE,
               json.dumps({"almacenamiento": storage.url, "version": release_id}))


def _noted(folder: Path) -> dict[str, str] | None:
    try:
        note = json.loads((folder / workdir.NOTE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return note if isinstance(note, dict) else None


def clear(settings: Settings, storage: Storage, *, dry_run: bool = False) -> Cleared:
    """Remove what killed publishers left in `storage` and in the working folder."""
    cleared = Cleared()
    for folder in workdir.leftovers(settings.temp_dir, KIND):
        note = _noted(folder)
        if note is not None and note.get("almacenamiento") != storage.url:
            continue  # a release elsewhere: left to a publication there (or to MAX_AGE)
        release = (note or {}).get("version")
        if release and not storage.exists(f"{layout.release_dir(release)}/{layout.MANIFEST}"):
            cleared.releases.append(release)
            if not dry_run:
                storage.delete_tree(layout.release_dir(release) + "/")
        if not dry_run:
            workdir.remove(folder)
    if not dry_run:
        cleared.scratch = storage.clear_abandoned_scratch()
    return cleared
