"""Where things live in each environment: demo and production never share a default folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.settings import Settings


@pytest.mark.parametrize(("environment", "var"), [
    ("local", "var"), ("demo", "var/demo"), ("production", "var/production")])
def test_each_environment_has_its_own_folders(tmp_path: Path, environment: str, var: str) -> None:
    s = Settings.from_env(environ={"VISITAS_HOME": str(tmp_path), "VISITAS_ENV": environment})
    base = tmp_path / var
    assert (s.var_dir, s.landing_url, s.raw_url, s.publish_url, s.reports_url) == (
        base, str(base / "landing"), str(base / "raw"), str(base / "publish"),
        str(base / "reports"))
    assert (s.warehouse_dir, s.temp_dir, s.dagster_home) == (
        base / "warehouse", base / "tmp", base / "dagster")


def test_explicit_settings_win(tmp_path: Path) -> None:
    s = Settings.from_env(environ={
        "VISITAS_HOME": str(tmp_path), "VISITAS_ENV": "demo",
        "VISITAS_VAR_DIR": str(tmp_path / "trabajo"),
        "VISITAS_PUBLISH_URL": "s3://datos/visitas-demo",
        "VISITAS_REPORTS_URL": "s3://entidades/reportes"})
    assert s.var_dir == tmp_path / "trabajo"
    assert s.landing_url == str(tmp_path / "trabajo" / "landing")
    assert (s.publish_url, s.reports_url) == ("s3://datos/visitas-demo", "s3://entidades/reportes")
    # the two environments' defaults never meet
    demo, production = (Settings.from_env(environ={"VISITAS_HOME": str(tmp_path),
                                                   "VISITAS_ENV": e})
                        for e in ("demo", "production"))
    assert not {demo.landing_url, demo.raw_url, demo.publish_url, demo.reports_url,
                str(demo.warehouse_dir)} & {production.landing_url, production.raw_url,
                                            production.publish_url, production.reports_url,
                                            str(production.warehouse_dir)}
