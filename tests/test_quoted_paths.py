"""Folders whose names hold a single quote (`o'brien`) work end to end: every path that enters
SQL text goes through `pipeline.sql`, never through a hand-written `'...'`."""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from pathlib import Path

import duckdb
import pytest

from pipeline.flow import included_entities, run_full_pass, seed_sample_uploads
from pipeline.settings import Settings
from pipeline.sql import literal, path_list, path_literal
from tests.published import csv_rows

NOW = dt.datetime(2024, 11, 1, 12, 0, tzinfo=dt.UTC)


def test_quoting_helpers() -> None:
    assert literal("O'Brien") == "'O''Brien'"
    assert path_literal(Path("/srv/o'brien/a.parquet")) == "'/srv/o''brien/a.parquet'"
    assert path_list(["a'b.parquet", "c.parquet"]) == "['a''b.parquet', 'c.parquet']"
    con = duckdb.connect()
    assert con.execute(f"SELECT {literal(chr(39) * 3 + 'x')}").fetchone()[0] == "'''x"


def test_full_pass_in_folders_named_with_a_quote(project: Settings, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 manifest: dict) -> None:
    var = tmp_path / "o'brien" / "var"
    publish_dir = tmp_path / "d'arcy" / "publish"
    monkeypatch.setenv("VISITAS_VAR_DIR", str(var))
    monkeypatch.setenv("VISITAS_PUBLISH_URL", str(publish_dir))
    # the publisher's scratch files live in the system temporary folder
    scratch = tmp_path / "t'mp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    settings = Settings.from_env()
    seed_sample_uploads(settings, included_entities(settings))
    # One upload held back, so the second pass publishes a release over a previous one
    # (changelog against the previous Parquet, unchanged months copied).
    held = sorted(Path(settings.landing_url).rglob("*-b.csv"))[0]
    aside = tmp_path / held.name
    held.rename(aside)
    first = run_full_pass(settings, echo=lambda _: None, today=NOW.date(), now=NOW)
    aside.rename(held)
    second = run_full_pass(settings, echo=lambda _: None, today=NOW.date(),
                           now=NOW + dt.timedelta(hours=1))

    assert first.publication.new_release and second.publication.new_release
    assert second.publication.reused and second.publication.previous == first.publication.version
    assert second.publication.rows == len(csv_rows(publish_dir)) == 115
    release = publish_dir / "releases" / second.publication.version
    changes = json.loads((release / "changes.json").read_text(encoding="utf-8"))
    assert changes["version_anterior"] == first.publication.version
    with duckdb.connect(str(release / "visitas.duckdb"), read_only=True) as con:
        con.execute(f"SET file_search_path = {path_literal(release)}")
        assert con.execute("SELECT count(*) FROM visitas").fetchone()[0] == 115
