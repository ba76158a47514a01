"""The entity registry: every shipped entity file is valid; broken ones are named precisely."""

from __future__ import annotations

import pytest
import yaml

from pipeline.flow import included_entities
from pipeline.registry import Entity, RegistryError, entities_for, load_entity, load_registry
from tests.conftest import REPO_ROOT

ENTITY_FILES = sorted((REPO_ROOT / "datasets" / "entities").glob("*.yaml"))


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
    ({"stage": "produccion"}, "stage 'produccion' no es válido"),
    ({"source": {"kind": "ftp"}}, "source.kind"),
    ({"administrator": {"name": "A"}}, "falta el correo del administrador"),
    ({"name": "  "}, r"el nombre de la entidad \(clave name\) está vacío"),
])
def test_invalid_entity_files_say_what_to_fix(tmp_path, change, message):
    data = {**VALID, **change}
    path = tmp_path / f"{VALID['ruc']}.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(RegistryError, match=message):
        load_entity(path)


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


def test_production_includes_only_production_entities():
    entities = load_registry(REPO_ROOT / "datasets" / "entities")
    assert [e.ruc for e in entities_for("production", entities)] == ["20999100016", "20999200029"]
    assert [e.ruc for e in entities_for("demo", entities)] == [
        "20999100016", "20999200029", "20999300031"]
