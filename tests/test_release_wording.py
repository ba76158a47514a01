"""What a release says about itself agrees with what happened: the changelog of a first
release (with and without rows), entities named in CAMBIOS.md, and the counts of files
written and reused that `visitas run` prints."""

from __future__ import annotations

import csv
import datetime as dt
import doctest
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

import pipeline.spanish
from pipeline.cli import main
from pipeline.consolidation.visitas import database_path
from pipeline.flow import included_entities, run_full_pass, seed_sample_uploads
from pipeline.publication.publisher import publish
from pipeline.settings import Settings
from pipeline.storage.local import LocalStorage
from tests.dom import parse
from tests.publication_helpers import RUCS, change_table, settings_for, write_table

T1 = dt.datetime(2024, 2, 1, 12, 0, tzinfo=dt.UTC)
T2 = dt.datetime(2024, 3, 1, 12, 0, tzinfo=dt.UTC)
NOW = dt.datetime(2024, 11, 1, 12, 0, tzinfo=dt.UTC)
LATER = dt.datetime(2024, 11, 2, 12, 0, tzinfo=dt.UTC)
TITLE = "Registro de Visitas en Línea: visitas a funcionarios y servidores públicos"


def test_spanish_formatting_examples() -> None:
    assert doctest.testmod(pipeline.spanish).failed == 0


def test_first_release_without_rows_says_it_has_none(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    write_table(database_path(settings), n=0)
    store = LocalStorage(tmp_path / "publish")
    release = publish(settings, now=T1, storage=store)
    cambios = store.read_bytes(f"releases/{release.version}/CAMBIOS.md").decode()
    assert cambios == (f"# Cambios de la versión {release.version}\n\n{TITLE}\n\n"
                       "Primera versión publicada: todavía no tiene filas.\n")
    page = parse(store.read_bytes(f"releases/{release.version}/index.html").decode())
    text = page.one("body").text(skip=frozenset({"script", "style"}))
    assert "Esta versión todavía no tiene visitas." in text
    assert "Primera versión publicada." in text and "Cambios respecto" not in text
    assert "0 visitas publicadas" in text and page.iter("svg") == []


def test_first_release_counts_its_rows_as_new(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    write_table(database_path(settings), n=8)  # 2023-12-01 and 2023-12-02, 3 entities
    store = LocalStorage(tmp_path / "publish")
    release = publish(settings, now=T1, storage=store)
    cambios = store.read_bytes(f"releases/{release.version}/CAMBIOS.md").decode()
    assert cambios == (
        f"# Cambios de la versión {release.version}\n\n{TITLE}\n\n"
        "Primera versión publicada: sus 8 filas son nuevas.\n\n"
        "| Entidad | RUC | Mes | Agregadas | Modificadas | Retiradas |\n"
        "|---|---|---|---:|---:|---:|\n"
        f"| Entidad 0 | {RUCS[0]} | 2023-12 | 3 | 0 | 0 |\n"
        f"| Entidad 1 | {RUCS[1]} | 2023-12 | 3 | 0 | 0 |\n"
        f"| Entidad 2 | {RUCS[2]} | 2023-12 | 2 | 0 | 0 |\n")


def test_changelog_names_each_entity_with_its_ruc(tmp_path: Path) -> None:
    """Later releases: the previous version, totals, and each entity by name and RUC — also
    one whose rows were withdrawn (its name read from the previous release)."""
    settings = settings_for(tmp_path)
    db = database_path(settings)
    write_table(db)
    store = LocalStorage(tmp_path / "publish")
    first = publish(settings, now=T1, storage=store)
    change_table(db)
    second = publish(settings, now=T2, storage=store)
    cambios = store.read_bytes(f"releases/{second.version}/CAMBIOS.md").decode()
    assert cambios == (
        f"# Cambios de la versión {second.version}\n\n{TITLE}\n\n"
        f"Versión anterior: [{first.version}](../{first.version}/)\n\n"
        "- Filas agregadas: 4\n- Filas modificadas: 5\n- Filas retiradas: 3\n\n"
        "| Entidad | RUC | Mes | Agregadas | Modificadas | Retiradas |\n"
        "|---|---|---|---:|---:|---:|\n"
        f"| Entidad 0 | {RUCS[0]} | 2024-01 | 0 | 5 | 0 |\n"
        f"| Entidad 1 | {RUCS[1]} | 2024-01 | 0 | 0 | 3 |\n"
        f"| Entidad 2 | {RUCS[2]} | 2024-01 | 4 | 0 | 0 |\n")


def published_lines(settings: Settings, now: dt.datetime) -> list[str]:
    """What `visitas run` prints under "Publicación"."""
    lines: list[str] = []
    run_full_pass(settings, echo=lines.append, today=now.date(), now=now)
    start = lines.index("Publicación")
    return [line for line in lines[start + 1:]
            if not line.startswith(("VISITAS_PSEUDONYM_KEY", "  aviso: VISITAS_PUBLIC_BASE_URL"))]


def test_run_counts_every_file_it_lists(project: Settings) -> None:
    """The count of files written and reused covers every file listed, and a file copied
    unchanged from the previous release is marked as such, never as written."""
    seed_sample_uploads(project, included_entities(project))
    first = published_lines(project, NOW)
    listed = [line for line in first if re.match(r"    [+=] ", line)]
    assert len(listed) == 28 and all(line.startswith("    + ") for line in listed)
    assert re.fullmatch(r"  versión \S+ \(primera\): 115 visitas publicadas en .+/latest/", first[0])
    assert first[1] == "  28 archivos escritos (+)"
    # Withdraw one visit of October: only that month's files, and the changelog, change.
    rows = list(csv.DictReader((project.var_dir / "publish" / "latest" / "visitas" / "csv" /
                                "visitas-2024-10.csv").open(encoding="utf-8")))
    retiros = project.var_dir / "landing" / "20999300031" / "retiros-2024-11-02.csv"
    retiros.write_text(f"id_visita,motivo\n{rows[0]['id_visita']},Registro duplicado\n",
                       encoding="utf-8")
    second = published_lines(project, LATER)
    listed = [line for line in second if re.match(r"    [+=] ", line)]
    written = sorted(line.split()[1] for line in listed if line.startswith("    + "))
    reused = sorted(line.split()[1] for line in listed if line.startswith("    = "))
    # compliance: one visit fewer published in October (its page names the new release);
    # the visit withdrawn was a lobbying act: one act fewer
    assert written == ["CAMBIOS.md", "actos_gestion_intereses.csv",
                       "actos_gestion_intereses.parquet", "changes.json", "cumplimiento.csv",
                       "cumplimiento.html", "cumplimiento.parquet",
                       "indicadores_gestion_intereses.csv",
                       "indicadores_gestion_intereses.parquet", "visitas-completo.csv.gz",
                       "visitas-completo.parquet", "visitas.duckdb",
                       "visitas/csv/visitas-2024-10.csv",
                       "visitas/json/visitas-2024-10.json",
                       "visitas/parquet/anio=2024/visitas-2024-10.parquet"]
    assert reused == sorted([*(f"visitas/{f}/visitas-2024-{m}.{f}" for f in ("csv", "json")
                               for m in ("08", "09")),
                             *(f"visitas/parquet/anio=2024/visitas-2024-{m}.parquet"
                               for m in ("08", "09")),
                             "cumplimiento.schema.json", "visitas.schema.json",
                             "actos_gestion_intereses.schema.json", "decisores.csv",
                             "decisores.parquet", "decisores.schema.json",
                             "indicadores_gestion_intereses.schema.json"])
    previous = re.search(r"versión (\S+) \(primera\)", first[0]).group(1)  # type: ignore[union-attr]
    assert re.fullmatch(rf"  versión \S+: 114 visitas publicadas en .+/latest/ \(anterior: "
                        rf"{previous}; 0 agregadas, 0 modificadas, 1 retirada\)", second[0])
    assert second[1] == (f"  15 archivos escritos (+), 13 copiados sin cambios de la versión "
                         f"{previous} (=)")


def test_releases_list_says_one_row(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_for(tmp_path)
    write_table(database_path(settings), n=1)
    publish_dir = tmp_path / "publish"
    release = publish(settings, now=T1, storage=LocalStorage(publish_dir))
    monkeypatch.setenv("VISITAS_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("VISITAS_PUBLISH_URL", str(publish_dir))
    listed = CliRunner().invoke(main, ["releases", "list"])
    assert re.fullmatch(rf"\* {release.version} +1 fila +\d+ archivos  anterior: -\n",
                        listed.output), listed.output
    cambios = (publish_dir / "releases" / release.version / "CAMBIOS.md").read_text("utf-8")
    assert "Primera versión publicada: su única fila es nueva." in cambios
    package = json.loads((publish_dir / "latest" / "datapackage.json").read_text("utf-8"))
    described = [r["description"] for r in package["resources"] if "1 fila" in
                 r.get("description", "")]
    assert len(described) >= 3 and all("1 filas" not in d for d in described), described
