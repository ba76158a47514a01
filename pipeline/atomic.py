"""Write local files and folders so that a reader (or a crash) never sees half of one.

Every writer stages into a scratch name beside the target and renames it into place: a rename
within one file system is atomic, so the target is either the old version or the new one.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pipeline import workdir

#: scratch names carry this marker, so a later run can recognise and clear leftovers
SCRATCH_MARKER = ".staging-"
#: what follows the marker: the owner's pid (`old-<pid>` for a folder moved aside), and a
#: random part where one process writes several at once (`<pid>-<random>`)
_OWNER = re.compile(r"^(?:old-)?(\d+)(?:-|$)")


def scratch_path(target: Path) -> Path:
    """The scratch name beside `target` that this process stages into."""
    return target.with_name(f".{target.name}{SCRATCH_MARKER}{os.getpid()}")


def is_scratch(name: str) -> bool:
    return name.startswith(".") and SCRATCH_MARKER in name


def scratch_owner(name: str) -> int | None:
    """The pid that made a scratch name; None if the name does not say (older names)."""
    found = _OWNER.match(name.rsplit(SCRATCH_MARKER, 1)[-1]) if is_scratch(name) else None
    return int(found[1]) if found else None


def scratch_abandoned(path: Path) -> bool:
    """Whether a scratch file or folder was left by a process that is gone (or long ago)."""
    return workdir.abandoned(path, scratch_owner(path.name))


def write_text(target: Path, text: str) -> None:
    """Replace `target` with `text` (UTF-8) in one rename."""
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = scratch_path(target)
    scratch.write_text(text, encoding="utf-8")
    scratch.replace(target)


@contextmanager
def staged_dir(target: Path) -> Iterator[Path]:
    """Yield an empty scratch folder; on success it replaces `target` whole.

    On an exception the scratch folder is removed and `target` is left as it was.
    """
    scratch = scratch_path(target)
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    try:
        yield scratch
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    old = target.with_name(f".{target.name}{SCRATCH_MARKER}old-{os.getpid()}")
    if target.exists():
        target.rename(old)
    scratch.rename(target)
    shutil.rmtree(old, ignore_errors=True)


def clear_scratch(folder: Path) -> None:
    """Remove scratch files and folders an interrupted run left directly in `folder`.

    Only those of processes that are gone: a run still in progress keeps its own.
    """
    for leftover in folder.glob(f".*{SCRATCH_MARKER}*") if folder.is_dir() else ():
        if scratch_abandoned(leftover):
            workdir.remove(leftover)
