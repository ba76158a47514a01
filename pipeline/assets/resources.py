"""The one resource every asset shares: where things live in this environment."""

from pathlib import Path

import dagster as dg

from pipeline.settings import Settings


class PipelineSettings(dg.ConfigurableResource):
    """Locations and environment, read from VISITAS_* variables (safe default: `local`).

    `var_dir` overrides VISITAS_VAR_DIR, e.g. to point a test run at a scratch folder.
    """

    var_dir: str | None = None

    def get(self) -> Settings:
        """The settings, checked (`pipeline.preflight`) before the asset does any work."""
        from pipeline import preflight

        overrides = {"var_dir": Path(self.var_dir)} if self.var_dir else {}
        settings = Settings.from_env(**overrides)
        preflight.check(settings)
        return settings
