"""The entity registry: every shipped entity file is valid; broken ones are named precisely."""

from __future__ import annotations

import pytest
import yaml

from pipeline.flow import included_entities
from pipeline.registry import Entity, RegistryError, entities_for, load_entity, load_registry
from tests.conftest import REPO_ROOT
from tests.projects import SAMPLE_RUCS

# the shipped sample entities (an entity an administrator registers in the checkout is not
# the suite's business)
ENTITY_FILES = [REPO_ROOT / "datasets" / "entities" / f"{ruc}.yaml" for ruc in SAMPLE_RUCS]


@pytest.mark.parametrize("path", ENTITY_FILES, ids=lambda p: p.stem)
def test_every_registered_entity_is_complete(path):
    entity = load_entity(path)
    assert path.stem == entity.ruc
    # loaded as written: nothing dropped, renamed or defaulted
    assert entity == Entity(**yaml.safe_load(path.read_text(encoding="utf-8")))
    assert (REPO_ROOT / "datasets" / "samples" / entity.ruc).is_dir(), "sample entity without uploads"


VALID = {"ruc": "20131370645", "name": "Ministerio", "stage": "demo",
         "source": {"kind": "files"}, "administrator": {"name": "A", "email": "a@x.gob.pe"}}


@pytest.mark.parametrize(("change", "message"), [
    ({"ruc": "20131370640"}, "dígito verificador"),
    ({"ruc": "30131370645"}, "no es válido"),
    ({"stage": "produccion"}, r"la etapa 'produccion' \(clave stage\) no es válida"),
    ({"source": {"kind": "ftp"}}, r"el tipo de fuente \(clave source.kind\)"),
    ({"administrator": {"name": "A"}},
     r"falta el correo del administrador \(clave administrator.email\)"),
    ({"administrator": {"name": "A", "email": "notanemail"}},
     r"el correo del administrador 'notanemail' no es válido \(clave administrator.email\): "
     r"le falta la arroba"),
    ({"administrator": {"name": "A", "email": "ana@@mef"}}, r"'ana@@mef' no es válido"),
    ({"name": "  "}, r"falta el nombre oficial de la entidad \(clave name\)"),
    ({"history": {"event": "promoted"}}, r"el historial \(clave history\) debe ser una lista"),
    ({"history": [{"event": "demoted", "at": "2024-11-04T15:20:07Z"}]},
     r"con las claves event \(promoted\) y at"),
])
def test_invalid_entity_files_say_what_to_fix(tmp_path, change, message):
    data = {**VALID, **change}
    path = tmp_path / f"{VALID['ruc']}.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(RegistryError, match=message):
        load_entity(path)


def test_history_is_kept_as_written(tmp_path):
    """A promotion's record (see pipeline.promotion) survives loading and writing back."""
    from pipeline.registry import entity_file_text

    event = {"event": "promoted", "at": "2024-11-04T15:20:07Z",
             "demo_batch": {"file": "visitas-2024-10.csv", "sha256": "ab" * 32,
                            "ingested_at": "2024-11-04T15:02:41Z"}}
    path = tmp_path / f"{VALID['ruc']}.yaml"
    path.write_text(yaml.safe_dump({**VALID, "history": [event]}), encoding="utf-8")
    entity = load_entity(path)
    assert entity.history == (event,)
    path.write_text(entity_file_text(entity), encoding="utf-8")
    assert load_entity(path).history == (event,)


def test_file_name_must_be_the_ruc(tmp_path):
    path = tmp_path / "ministerio.yaml"
    path.write_text(yaml.safe_dump(VALID), encoding="utf-8")
    with pytest.raises(RegistryError, match=r"debe llamarse 20131370645\.yaml"):
        load_entity(path)


def test_a_broken_entity_file_does_not_stop_the_others(project):
    (project.entities_dir / "20100000000.yaml").write_text("ruc: [", encoding="utf-8")
    problems: list[str] = []
    entities = included_entities(project, problems)
    assert [e.ruc for e in entities] == ["20999100016", "20999200029", "20999300031"]
    [problem] = problems
    assert problem.startswith("20100000000.yaml: YAML no válido: ")
    with pytest.raises(RegistryError, match=r"^20100000000\.yaml: YAML no válido: "):
        load_registry(project.entities_dir)


def test_production_includes_only_production_entities(project):
    entities = load_registry(project.entities_dir)
    assert [e.ruc for e in entities_for("production", entities)] == ["20999100016", "20999200029"]
    assert [e.ruc for e in entities_for("demo", entities)] == [
        "20999100016", "20999200029", "20999300031"]
