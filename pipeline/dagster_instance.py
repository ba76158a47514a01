"""The environment's Dagster instance: its folder (DAGSTER_HOME) and its `dagster.yaml`.

Every environment keeps its instance under its own working folder (`Settings.dagster_home`:
`var/dagster/`, `var/demo/dagster/`, `var/production/dagster/`), written from the
repository's `dagster.yaml` each time `visitas serve` starts or `visitas run` records a pass.

Where runs, events and schedules are kept:

* `local`: SQLite files in that folder (Dagster's default), nothing to set up;
* `demo` and `production` with `VISITAS_DAGSTER_PG_URL` set: PostgreSQL, through
  `dagster-postgres`. The generated file names the variable, not its value
  (`postgres_url: {env: VISITAS_DAGSTER_PG_URL}`), so the password never lands on disk;
  Dagster reads it from the environment of whichever process opens the instance;
* `demo` and `production` without it: SQLite, as `local` (one machine, one daemon).

A `storage:` block already in the repository's `dagster.yaml` is the operator's own choice
and is kept as it is.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from pipeline.settings import PROJECT_ROOT, Settings

#: the instance settings every environment starts from (automation on, telemetry off, run
#: queue, retention)
INSTANCE_FILE = PROJECT_ROOT / "dagster.yaml"
PG_URL_VARIABLE = "VISITAS_DAGSTER_PG_URL"

POSTGRES_STORAGE = f"""
# Added by `visitas` for this environment ({{environment}}): runs, events and schedules in
# PostgreSQL. The URL is read from {PG_URL_VARIABLE} when the instance opens.
storage:
  postgres:
    postgres_url:
      env: {PG_URL_VARIABLE}
"""


def instance_yaml(settings: Settings, shipped: str | None = None) -> str:
    """The text of the environment's `dagster.yaml`: the repository's, plus the PostgreSQL
    storage when the environment keeps its instance there."""
    text = INSTANCE_FILE.read_text(encoding="utf-8") if shipped is None else shipped
    if not settings.dagster_in_postgres or "storage" in (yaml.safe_load(text) or {}):
        return text
    return text.rstrip("\n") + "\n" + POSTGRES_STORAGE.format(environment=settings.environment)


def prepare_instance(settings: Settings) -> Path:
    """The environment's instance folder, under its working folder (run history persists
    between starts), with its `dagster.yaml` written afresh."""
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    target = home / "dagster.yaml"
    text = instance_yaml(settings)
    if not target.is_file() or target.read_text(encoding="utf-8") != text:
        target.write_text(text, encoding="utf-8")
    return home
