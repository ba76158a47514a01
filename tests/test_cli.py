"""The `visitas` command line: every subcommand has help with an example; `validate` exits 0 on
a valid file and 1 on an invalid one (2, unreadable, is in test_onboarding_and_bad_input)."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from pipeline.cli import main
from tests.conftest import REPO_ROOT

SAMPLES = REPO_ROOT / "datasets" / "samples"


def leaf_commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[list[str]]:
    """Every runnable subcommand, e.g. ['entity', 'add']."""
    found: list[list[str]] = []
    for name, command in sorted(group.commands.items()):
        path = (*prefix, name)
        found.extend(leaf_commands(command, path) if isinstance(command, click.Group) else [list(path)])
    return found


COMMANDS = leaf_commands(main)


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_help_with_an_example(command):
    result = CliRunner().invoke(main, [*command, "--help"])
    assert result.exit_code == 0
    assert "Ejemplo:" in result.output or "Ejemplos:" in result.output
    assert f"visitas {' '.join(command)}" in result.output


def test_validate_valid_file_exits_0(project):
    result = CliRunner().invoke(main, ["validate", str(SAMPLES / "20999200029" / "visitas-2024-09.xlsx"),
                                       "--today", "2024-11-01"])
    assert result.exit_code == 0, result.output
    assert result.output == "✔ visitas-2024-09.xlsx: válido. 40 visitas listas para publicar.\n"


def test_validate_invalid_file_exits_1_with_json_report(project):
    import json

    path = SAMPLES / "20999100016" / "visitas-2024-08.csv"
    result = CliRunner().invoke(main, ["validate", str(path), "--json", "--entity", "20999100016",
                                       "--today", "2024-11-01"])
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert report["valid"] is False
    task = report["tasks"][0]
    assert [(e["rowNumber"], e["fieldName"], e["type"]) for e in task["errors"]] == [
        (35, "Hora Salida", "exit-before-entry"), (40, "Visitante", "constraint-error")]
    assert task["stats"]["rows"] == 40


def test_validate_unknown_entity_is_refused(project):
    path = SAMPLES / "20999100016" / "visitas-2024-08.csv"
    result = CliRunner().invoke(main, ["validate", str(path), "--entity", "20100000006"])
    assert result.exit_code == 64  # a usage mistake, not an invalid (1) or unreadable (2) file
    assert result.output == ("Error: La entidad 20100000006 no está registrada. "
                             "Regístrela con 'visitas entity add' o revise el RUC con "
                             "'visitas entity list'.\n")


def test_entity_add_rejects_bad_ruc(project):
    result = CliRunner().invoke(main, ["entity", "add", "--ruc", "20131370640", "--name", "X",
                                       "--admin-name", "A", "--admin-email", "a@x.gob.pe"])
    assert result.exit_code == 1
    assert result.output == ("Error: entidad: el RUC '20131370640' no es válido (11 dígitos, "
                             "prefijo 10/15/17/20 y dígito verificador correcto).\n")
    assert sorted(p.name for p in project.entities_dir.iterdir()) == [
        "20999100016.yaml", "20999200029.yaml", "20999300031.yaml"]


def test_entity_list_and_promote(project):
    runner = CliRunner()
    listed = runner.invoke(main, ["entity", "list"]).output.splitlines()
    assert [line.split()[:2] for line in listed] == [
        ["20999100016", "production"], ["20999200029", "production"], ["20999300031", "demo"]]
    assert runner.invoke(main, ["entity", "promote", "20999300031"]).exit_code == 0
    assert "20999300031  production" in runner.invoke(main, ["entity", "list"]).output


def test_readme_documents_every_command():
    """The README stays true: every subcommand of `visitas` appears in it."""
    readme = (REPO_ROOT / "README.md").read_text("utf-8")
    missing = [c for c in COMMANDS if f"visitas {' '.join(c)}" not in readme]
    assert missing == []
