"""Throw-away copies of the project for tests, with the shipped registry only.

Tests never read the checkout's own `datasets/entities/`: an administrator who follows the
README and registers an entity there must not change what the suite expects. Each copy holds
the shipped `datasets/` (the dataset definitions, the samples) and `schemas/`, and a registry
of exactly the shipped sample entities: those with uploads under `datasets/samples/`.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
SAMPLES = REPO_ROOT / "datasets" / "samples"
#: the entities the repository ships, one per folder of sample uploads
SAMPLE_RUCS = sorted(p.name for p in SAMPLES.iterdir() if p.is_dir())


def copy_project(root: Path) -> Path:
    """Copy `datasets/` and `schemas/` to `root`, keeping only the sample entities' files."""
    shutil.copytree(REPO_ROOT / "schemas", root / "schemas")
    shutil.copytree(REPO_ROOT / "datasets", root / "datasets",
                    ignore=_only_sample_entities)
    return root


def _only_sample_entities(folder: str, names: list[str]) -> set[str]:
    if Path(folder).name != "entities":
        return set()
    return {n for n in names if Path(n).stem not in SAMPLE_RUCS}


@functools.cache
def pristine_root() -> Path:
    """One copy per test process, for tests that need a project root but change nothing in
    its datasets/ (each writes its own var/ elsewhere); removed when the process ends."""
    top = Path(tempfile.mkdtemp(prefix="visitas-proyecto-"))
    atexit.register(shutil.rmtree, top, ignore_errors=True)
    return copy_project(top / "project")
