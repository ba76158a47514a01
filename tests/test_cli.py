"""The `visitas` command line: every subcommand has help with an example; `validate` exits 0 on
a valid file and 1 on an invalid one (2, unreadable, is in test_onboarding_and_bad_input)."""

from __future__ import annotations

import re

import click
import pytest
import yaml
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


def _command(path: list[str]) -> click.Command:
    command: click.Command = main
    for name in path:
        command = command.commands[name]  # type: ignore[attr-defined]
    return command


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_help_with_an_example(command):
    result = CliRunner().invoke(main, [*command, "--help"])
    assert result.exit_code == 0
    assert "Ejemplo:" in result.output or "Ejemplos:" in result.output
    assert f"visitas {' '.join(command)}" in result.output
    # each example line is shown as written (not rewrapped into the paragraph around it)
    doc = _command(command).help or ""
    examples = [line.strip() for line in doc.splitlines()
                if line.strip().startswith(("visitas ", "VISITAS_", "--"))]
    assert examples
    shown = [line.strip() for line in result.output.splitlines()]
    assert [line for line in examples if line not in shown] == []
    # click's own words in Spanish too
    words = set(re.findall(r"[A-Za-z]+", result.output))
    for english in ("Usage", "Options", "Show", "required", "default", "OPTIONS", "TEXT",
                    "INTEGER", "COMMAND", "FILE", "PATH"):
        assert english not in words, english


def test_usage_errors_are_in_spanish(project):
    runner = CliRunner()
    result = runner.invoke(main, ["valdate"], prog_name="visitas")
    assert result.exit_code == 2
    assert result.output == ("Uso: visitas [OPCIONES] COMANDO [ARGUMENTOS]...\n"
                             "Vea 'visitas --help' para la ayuda.\n\n"
                             "Error: No existe el comando 'valdate'. ¿Quiso decir 'validate'?\n")
    result = runner.invoke(main, ["validate", "/no/existe.csv"])
    assert result.exit_code == 2
    assert result.output == "Error: El archivo /no/existe.csv no existe. Revise la ruta y el nombre.\n"
    result = runner.invoke(main, ["releases", "prune", "--unfinished-hours", "-1"])
    assert result.exit_code == 2
    assert result.output.endswith("Error: Valor no válido para '--unfinished-hours': -1 está fuera "
                                  "del rango x>=0.\n")
    result = runner.invoke(main, ["entity", "add", "--ruc", "20131370645"])
    assert result.exit_code == 2
    assert result.output.endswith("Error: Falta la opción '--name'.\n")
    result = runner.invoke(main, ["validate", "x.csv", "--limit-errors", "muchos"])
    assert "Error: Valor no válido para '--limit-errors': 'muchos' no es un número válido." \
        in result.output


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


ADD = ["entity", "add", "--ruc", "20131370645", "--name", "Ministerio de Economía y Finanzas",
       "--admin-name", "Ana Pérez"]


def test_entity_add_registers_in_demo_and_creates_the_landing_folder(project):
    result = CliRunner().invoke(main, [*ADD, "--admin-email", "apérez@mef.gob.pe"])
    assert result.exit_code == 0, result.output
    landing = project.var_dir / "landing" / "20131370645"
    assert result.output == (
        f"Entidad 20131370645 registrada en {project.entities_dir / '20131370645.yaml'} "
        f"(etapa demo). Sus cargas van en {landing}/.\n")
    assert landing.is_dir()
    assert yaml.safe_load((project.entities_dir / "20131370645.yaml").read_text("utf-8")) == {
        "ruc": "20131370645", "name": "Ministerio de Economía y Finanzas", "stage": "demo",
        "source": {"kind": "files"},
        "administrator": {"name": "Ana Pérez", "email": "apérez@mef.gob.pe"}}
    # every entity starts in demo: there is no way to register one straight into production
    refused = CliRunner().invoke(main, [*ADD[:2], "--ruc", "20100000006", *ADD[4:],
                                        "--admin-email", "a@x.pe", "--stage", "production"])
    assert refused.exit_code == 2
    assert "No existe la opción '--stage'." in refused.output


def test_entity_add_refuses_an_address_that_is_not_one(project):
    result = CliRunner().invoke(main, [*ADD, "--admin-email", "notanemail"])
    assert result.exit_code == 1
    assert result.output == (
        "Error: entidad: el correo del administrador 'notanemail' no es válido (clave "
        "administrator.email): le falta la arroba (@) y el dominio, p. ej. aperez@mef.gob.pe.\n")
    assert not (project.entities_dir / "20131370645.yaml").exists()
    assert not (project.var_dir / "landing" / "20131370645").exists()


def test_entity_list(project):
    """Each entity's stage, last upload, last publication and rejected rows, one line each
    (the facts themselves, and promotion, are in test_promotion)."""
    listed = CliRunner().invoke(main, ["entity", "list"])
    assert listed.exit_code == 0, listed.output
    assert listed.output.splitlines() == [
        "RUC          etapa       última carga      última publicación  rechazadas  nombre",
        "20999100016  producción  -                 -                            -  "
        "Municipalidad Distrital de Ejemplo Norte",
        "20999200029  producción  -                 -                            -  "
        "Ministerio de Ejemplo",
        "20999300031  demo        -                 -                            -  "
        "Gobierno Regional de Ejemplo Sur",
        "Horas de Lima; rechazadas: filas rechazadas de la última carga.",
    ]


def test_readme_documents_every_command():
    """The README stays true: every subcommand of `visitas` appears in it."""
    readme = (REPO_ROOT / "README.md").read_text("utf-8")
    missing = [c for c in COMMANDS if f"visitas {' '.join(c)}" not in readme]
    assert missing == []


def test_run_one_entity_then_list_its_batches_and_quarantine(project, tmp_path):
    """`visitas run --entity`, `visitas batches` and `visitas quarantine`: what an engineer
    reaches for instead of reading Parquet files under var/warehouse/."""
    import csv
    import json

    runner = CliRunner()
    done = runner.invoke(main, ["run", "--entity", "20999100016"])
    assert done.exit_code == 0, done.output
    assert "Ingesta y validación (1 entidad, entorno local)" in done.output
    # only that entity's uploads were copied and ingested
    assert sorted(p.name for p in (project.var_dir / "landing").iterdir()) == ["20999100016"]
    assert runner.invoke(main, ["batches", "20999200029"]).output.startswith(
        "20999200029 Ministerio de Ejemplo: 0 lotes\n  Aún no hay lotes: ")

    listed = runner.invoke(main, ["batches", "20999100016"])
    assert listed.exit_code == 0, listed.output
    lines = listed.output.splitlines()
    # the visits and the entity's decision-makers register (a sample ships one)
    assert lines[0] == "20999100016 Municipalidad Distrital de Ejemplo Norte: 2 lotes"
    assert lines[1].split() == ["ingestado", "(Lima)", "archivo", "sha256", "estado", "filas",
                                "válidas", "rechazadas"]
    fields = lines[2].split()
    assert fields[2:] == ["visitas-2024-08.csv", fields[3], "parcial", "40", "37", "2"]
    assert lines[3].split()[2:] == ["decisores.csv", lines[3].split()[3], "vigente", "4", "4",
                                    "0"]
    assert lines[4] == "Registro de decisores vigente: decisores.csv (4 decisores)."
    sha = fields[3]
    record, register = json.loads(runner.invoke(main, ["batches", "20999100016", "--json"]).output)
    assert (register["tipo"], register["archivo"]) == ("decisores", "decisores.csv")
    assert record["sha256"].startswith(sha) and len(sha) == 12
    assert (record["filas_validas"], record["filas_rechazadas"]) == (37, 2)

    out = tmp_path / "rechazadas.csv"
    for ref in ("visitas-2024-08.csv", sha[:8]):
        shown = runner.invoke(main, ["quarantine", "20999100016", ref, "--csv", str(out)])
        assert shown.exit_code == 0, shown.output
        assert shown.output == (
            f"visitas-2024-08.csv ({sha}, parcial): 2 filas rechazadas\n"
            "  Fila 35: la hora de salida 11:05 es anterior a la hora de ingreso 15:40.\n"
            "  Fila 40, «Visitante»: la celda está vacía y la columna es obligatoria.\n"
            f"Filas rechazadas escritas en {out}.\n")
    with out.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["fila"], r["Visitante"], r["Hora Ingreso"], r["Hora Salida"]) for r in rows] == [
        ("35", "GUTIÉRREZ DE LA CRUZ YESENIA", "15:40", "11:05"), ("40", "", "12:35", "12:50")]
    assert rows[1]["motivos"] == ("Fila 40, «Visitante»: la celda está vacía y la columna es "
                                  "obligatoria.")

    missing = runner.invoke(main, ["quarantine", "20999100016", "ffffff"])
    assert missing.exit_code == 1
    assert missing.output == ("Error: La entidad 20999100016 no tiene un lote 'ffffff'. Vea sus "
                              "lotes con 'visitas batches 20999100016'.\n")
    unknown = runner.invoke(main, ["run", "--entity", "20100000006"])
    assert unknown.exit_code == 2
    assert unknown.output.endswith("Error: 20100000006 no está registrada. Vea 'visitas entity "
                                   "list'.\n")
