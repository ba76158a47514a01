"""Where things live, per environment.

One environment helper with a safe default: with nothing configured the pipeline runs on
the embedded default (`local`): the sample entities in `datasets/`, working files under
`var/`, the published tree in `var/publish/`. `demo` and `production` default to folders of
their own laid out the same way (`var/demo/…`, `var/production/…`), so a demo run can never
write the production tree. Every location can be pointed at S3 with an `s3://bucket/prefix`
URL (explicit settings always win); credentials come from the environment only.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

ENVIRONMENTS = ("local", "demo", "production")
PROJECT_ROOT = Path(__file__).resolve().parents[1]


class SettingsError(ValueError):
    """Raised when an environment variable holds a value the pipeline cannot use."""


@dataclass(frozen=True)
class Settings:
    environment: str = "local"
    root: Path = PROJECT_ROOT
    var_dir: Path = field(default=PROJECT_ROOT / "var")
    #: where entities drop their uploads: `<location>/<RUC>/<file>`
    landing_url: str = ""
    #: where each raw upload is archived as received, by checksum
    raw_url: str = ""
    #: the published tree harvesters and analysts read
    publish_url: str = ""
    #: where each entity's administrator reads the validation reports of its batches:
    #: `<location>/<RUC>/<batch>/…` and `<location>/<RUC>/ultimo.json`
    reports_url: str = ""
    #: base URL under which the published tree is served (for download links)
    public_base_url: str = ""
    #: secret of the `visitante_id` pseudonym (VISITAS_PSEUDONYM_KEY); never shown in repr or logs
    pseudonym_key: str = field(default="", repr=False)
    #: DuckDB's memory cap for the heavy passes (VISITAS_DUCKDB_MEMORY); beyond it DuckDB
    #: spills to a folder under `temp_dir` instead of growing, so peak RSS does not follow
    #: data size
    duckdb_memory: str = "2GB"
    #: uploads larger than this are archived and rejected unread (VISITAS_MAX_UPLOAD_MB): a
    #: policy, since validation streams an upload and memory does not grow with it
    max_upload_mb: int = 4096
    #: how long a step waits for another process to release what it must write (an entity's
    #: batches, the warehouse, the published tree) before giving up (VISITAS_LOCK_WAIT; `visitas
    #: run --esperar`); see `pipeline.locks`
    lock_wait_seconds: int = 600
    #: the PostgreSQL database of the Dagster instance in demo and production
    #: (VISITAS_DAGSTER_PG_URL, `postgresql://user:password@host:5432/db`); empty keeps the
    #: instance in SQLite under `dagster_home`. Holds a password: never shown in repr or logs
    dagster_pg_url: str = field(default="", repr=False)
    #: the mail server notifications go through (VISITAS_SMTP_URL): `smtp://host[:port]`,
    #: `smtp+starttls://host[:port]` or `smtps://host[:port]`; empty: no mail is sent
    smtp_url: str = ""
    #: the account on it (VISITAS_SMTP_USER, VISITAS_SMTP_PASSWORD): from the environment
    #: only, never in the URL; the password is never shown in repr or logs
    smtp_user: str = ""
    smtp_password: str = field(default="", repr=False)
    #: the sender of every notification (VISITAS_MAIL_FROM), required with `smtp_url`
    mail_from: str = ""
    #: who is told when a Dagster run fails (VISITAS_OPERATORS_EMAIL, comma-separated)
    operators_email: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.environment not in ENVIRONMENTS:
            raise SettingsError(
                f"VISITAS_ENV={self.environment!r} no es válido: use uno de {', '.join(ENVIRONMENTS)}."
            )
        if not isinstance(self.max_upload_mb, int) or self.max_upload_mb <= 0:
            raise SettingsError(f"VISITAS_MAX_UPLOAD_MB={self.max_upload_mb!r} no es válido: "
                                "indique un número entero de megabytes, p. ej. 512.")
        if self.dagster_pg_url and not self.dagster_pg_url.startswith(
                ("postgresql://", "postgres://", "postgresql+psycopg2://")):
            raise SettingsError("VISITAS_DAGSTER_PG_URL no es válido: indique una URL de "
                                "PostgreSQL, p. ej. postgresql://dagster:clave@127.0.0.1:5432/dagster.")
        if self.smtp_url:
            # checked here, so a mistyped mail setting stops a run in its first second rather
            # than leaving every notification pending
            from pipeline.notifications.smtp import check_mail_settings

            check_mail_settings(self)
        defaults = {"landing_url": "landing", "raw_url": "raw", "publish_url": "publish",
                    "reports_url": "reports"}
        for name, sub in defaults.items():
            if not getattr(self, name):
                object.__setattr__(self, name, str(self.var_dir / sub))

    @property
    def dagster_home(self) -> Path:
        """The Dagster instance's folder (DAGSTER_HOME) of this environment."""
        return self.var_dir / "dagster"

    @property
    def dagster_in_postgres(self) -> bool:
        """Whether the Dagster instance keeps its runs and events in PostgreSQL: demo and
        production with VISITAS_DAGSTER_PG_URL set; local always uses SQLite."""
        return self.environment != "local" and bool(self.dagster_pg_url)

    @property
    def notifications_dir(self) -> Path:
        """The notifications' outbox and the record of what was sent (`pipeline.notifications`)."""
        return self.var_dir / "notificaciones"

    @property
    def entities_dir(self) -> Path:
        return self.root / "datasets" / "entities"

    @property
    def datasets_dir(self) -> Path:
        return self.root / "datasets"

    @property
    def samples_dir(self) -> Path:
        return self.root / "datasets" / "samples"

    @property
    def schemas_dir(self) -> Path:
        return self.root / "schemas"

    @property
    def temp_dir(self) -> Path:
        """Every temporary folder of a run, e.g. where DuckDB spills what exceeds
        `duckdb_memory` (see `pipeline.workdir`)."""
        return self.var_dir / "tmp"

    @property
    def warehouse_dir(self) -> Path:
        """Working files of the pipeline: staged batches, reports, the DuckDB database."""
        return self.var_dir / "warehouse"

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 2**20

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: object) -> Settings:
        env = os.environ if environ is None else environ
        root = Path(env.get("VISITAS_HOME", PROJECT_ROOT)).resolve()
        environment = env.get("VISITAS_ENV", "local")
        # Each environment has its own working folder unless one is given: local keeps var/
        # as it always was; demo and production never share a default location.
        default_var = root / "var" if environment == "local" else root / "var" / environment
        var_dir = Path(env.get("VISITAS_VAR_DIR") or default_var)
        if not var_dir.is_absolute():
            var_dir = root / var_dir
        values: dict[str, object] = {
            "environment": environment,
            "root": root,
            "var_dir": var_dir,
            "landing_url": env.get("VISITAS_LANDING_URL", ""),
            "raw_url": env.get("VISITAS_RAW_URL", ""),
            "publish_url": env.get("VISITAS_PUBLISH_URL", ""),
            "reports_url": env.get("VISITAS_REPORTS_URL", ""),
            "public_base_url": env.get("VISITAS_PUBLIC_BASE_URL", ""),
            "pseudonym_key": env.get("VISITAS_PSEUDONYM_KEY", ""),
            "duckdb_memory": env.get("VISITAS_DUCKDB_MEMORY", "") or "2GB",
            "max_upload_mb": _positive_int(env.get("VISITAS_MAX_UPLOAD_MB", ""), 4096,
                                           "VISITAS_MAX_UPLOAD_MB"),
            "lock_wait_seconds": _seconds(env.get("VISITAS_LOCK_WAIT", ""), 600,
                                          "VISITAS_LOCK_WAIT"),
            "dagster_pg_url": env.get("VISITAS_DAGSTER_PG_URL", "").strip(),
            "smtp_url": env.get("VISITAS_SMTP_URL", "").strip(),
            "smtp_user": env.get("VISITAS_SMTP_USER", ""),
            "smtp_password": env.get("VISITAS_SMTP_PASSWORD", ""),
            "mail_from": env.get("VISITAS_MAIL_FROM", "").strip(),
            "operators_email": tuple(a.strip() for a in
                                     env.get("VISITAS_OPERATORS_EMAIL", "").split(",")
                                     if a.strip()),
        }
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]


def _positive_int(text: str, default: int, name: str) -> int:
    if not text.strip():
        return default
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise SettingsError(f"{name}={text!r} no es válido: indique un número entero positivo.")
    return value


def _seconds(text: str, default: int, name: str) -> int:
    """A number of seconds, 0 included (do not wait)."""
    if not text.strip():
        return default
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise SettingsError(f"{name}={text!r} no es válido: indique un número entero de "
                            "segundos (0 para no esperar).")
    return value


def in_environment(settings: Settings, environment: str,
                   environ: dict[str, str] | None = None) -> Settings:
    """The settings of another environment of the same project (e.g. the demo warehouse an
    entity's promotion rests on), read from the same environment variables with only
    VISITAS_ENV changed: its default folders are its own (`var/demo/…`), and any location set
    explicitly (VISITAS_VAR_DIR, VISITAS_*_URL) is shared, as it is for every command."""
    if settings.environment == environment:
        return settings
    env = dict(os.environ if environ is None else environ)
    env.update(VISITAS_ENV=environment, VISITAS_HOME=str(settings.root))
    return Settings.from_env(env)
