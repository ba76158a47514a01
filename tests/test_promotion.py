"""The promotion gate, as an operator lives it: `visitas entity promote` refuses an entity with
no demo upload and one whose latest demo upload has errors (exit 1, the file byte for byte
as it was, a Spanish message saying what blocks it), and promotes after a clean later upload,
recording which demo batch it rested on. `visitas entity list` tells each entity's stage,
last upload, last publication and rejected rows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.promotion import AlreadyInProduction, promote
from pipeline.spanish import lima_time
from tests.conftest import REPO_ROOT

RUC = "20999300031"  # the shipped sample entity in demo
NAME = "Gobierno Regional de Ejemplo Sur"
SAMPLES = REPO_ROOT / "datasets" / "samples" / RUC
DEMO_ENV = {"VISITAS_ENV": "demo", "VISITAS_PSEUDONYM_KEY": "k" * 40,
            "VISITAS_PUBLIC_BASE_URL": "https://datos.example.gob.pe/visitas"}


def _invoke(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(main, list(args), env=env)


def _upload_to_demo_and_run(root: Path, name: str, content: bytes) -> dict:
    """Drop `content` in the entity's demo landing folder and run the demo environment;
    the batch record of that upload."""
    landing = root / "var" / "demo" / "landing" / RUC
    landing.mkdir(parents=True, exist_ok=True)
    (landing / name).write_bytes(content)
    done = _invoke("run", "--entity", RUC, env=DEMO_ENV)
    assert done.exit_code == 0, done.output
    batches = json.loads(_invoke("batches", RUC, "--json", env=DEMO_ENV).output)
    return next(b for b in batches if b["archivo"] == name)


def _batch_folder(root: Path, sha256: str) -> Path:
    return root / "var" / "demo" / "warehouse" / "batches" / RUC / sha256


def _utc(iso: str) -> str:
    return iso.replace("+00:00", "Z")


def _dirty_upload() -> bytes:
    """The sample upload (an impossible date on row 25, no official on row 36) with a second
    impossible date, on row 3: three rejected rows, two errors of one type."""
    sample = (SAMPLES / "visitas-2024-10.csv").read_bytes()
    dirty = sample.replace(b"01/10/24,01/10/24,", b"01/10/24,30/02/24,", 1)
    assert dirty != sample
    return dirty


def test_promotion_refused_without_demo_upload_then_on_errors_then_accepted(project):
    root = project.root
    registry_file = project.entities_dir / f"{RUC}.yaml"
    original = registry_file.read_bytes()
    landing = f"{root}/var/demo/landing/{RUC}/"

    # 1. Nothing uploaded to demo yet.
    refused = _invoke("entity", "promote", RUC)
    assert refused.exit_code == 1
    assert refused.output == (
        f"La entidad {RUC} ({NAME}) sigue en demo y no pasa a producción: aún no tiene "
        "ninguna carga en el entorno demo.\n"
        f"  Su administrador sube el registro de visitas a {landing}, se procesa con "
        "'VISITAS_ENV=demo visitas run' y se vuelve a intentar.\n")
    assert registry_file.read_bytes() == original
    as_json = _invoke("entity", "promote", RUC, "--json")
    assert as_json.exit_code == 1
    assert json.loads(as_json.output) == {
        "ruc": RUC, "nombre": NAME, "etapa": "demo", "promovida": False,
        "motivo": "sin_carga_demo", "promovida_en": None, "lote_demo": None}

    # 2. A demo upload with errors.
    dirty = _upload_to_demo_and_run(root, "visitas-2024-10.csv", _dirty_upload())
    assert (dirty["estado"], dirty["filas_rechazadas"]) == ("partial", 3)
    report = _batch_folder(root, dirty["sha256"]) / "reporte.html"
    assert report.is_file()
    refused = _invoke("entity", "promote", RUC)
    assert refused.exit_code == 1
    assert refused.output == (
        f"La entidad {RUC} ({NAME}) sigue en demo y no pasa a producción: su última carga en "
        "el entorno demo tiene errores.\n"
        f"  Archivo: visitas-2024-10.csv, ingestado el {lima_time(dirty['ingestado_en'])}; "
        "3 filas rechazadas de 40.\n"
        "  Errores por tipo:\n"
        "    Fecha inexistente: 2 errores\n"
        "    Valor no permitido: 1 error\n"
        f"  Reporte: {report}\n"
        f"  Corrija el archivo, súbalo de nuevo a {landing}, procéselo con "
        "'VISITAS_ENV=demo visitas run' y vuelva a intentarlo.\n")
    assert registry_file.read_bytes() == original
    as_json = _invoke("entity", "promote", RUC, "--json")
    assert as_json.exit_code == 1
    dirty_batch = {
        "archivo": "visitas-2024-10.csv", "sha256": dirty["sha256"],
        "ingestado_en": _utc(dirty["ingestado_en"]), "estado": "partial", "filas": 40,
        "filas_rechazadas": 3, "errores_por_tipo": {"constraint-error": 1, "invalid-date": 2},
        "reporte": str(report)}
    assert json.loads(as_json.output) == {
        "ruc": RUC, "nombre": NAME, "etapa": "demo", "promovida": False,
        "motivo": "carga_demo_con_errores", "promovida_en": None, "lote_demo": dirty_batch}
    assert registry_file.read_bytes() == original

    # what the operator sees meanwhile: the entity in demo, its upload, its demo publication
    first_release = json.loads((root / "var/demo/publish/latest/release.json").read_text())
    listed = _invoke("entity", "list", "--json")
    assert listed.exit_code == 0, listed.output
    assert json.loads(listed.output) == [
        {"ruc": "20999100016", "nombre": "Municipalidad Distrital de Ejemplo Norte",
         "etapa": "production", "ultima_carga": None, "ultima_publicacion": None,
         "filas_rechazadas": None},
        {"ruc": "20999200029", "nombre": "Ministerio de Ejemplo", "etapa": "production",
         "ultima_carga": None, "ultima_publicacion": None, "filas_rechazadas": None},
        {"ruc": RUC, "nombre": NAME, "etapa": "demo",
         "ultima_carga": _utc(dirty["ingestado_en"]),
         "ultima_publicacion": first_release["created"], "filas_rechazadas": 3},
    ]

    # 3. A clean upload, later: the entity is promoted on it.
    clean = _upload_to_demo_and_run(root, "visitas-2024-10-b.csv",
                                    (SAMPLES / "visitas-2024-10-b.csv").read_bytes())
    assert (clean["estado"], clean["filas_rechazadas"]) == ("published", 0)
    second_release = json.loads((root / "var/demo/publish/latest/release.json").read_text())
    assert second_release["id"] != first_release["id"]
    assert json.loads(_invoke("entity", "list", "--json").output)[2] == {
        "ruc": RUC, "nombre": NAME, "etapa": "demo", "ultima_carga": _utc(clean["ingestado_en"]),
        "ultima_publicacion": second_release["created"], "filas_rechazadas": 0}

    promoted = _invoke("entity", "promote", RUC, "--json")
    assert promoted.exit_code == 0, promoted.output
    facts = json.loads(promoted.output)
    at = facts["promovida_en"]
    assert at.endswith("Z") and at >= _utc(clean["ingestado_en"])
    clean_batch = {
        "archivo": "visitas-2024-10-b.csv", "sha256": clean["sha256"],
        "ingestado_en": _utc(clean["ingestado_en"]), "estado": "published", "filas": 5,
        "filas_rechazadas": 0, "errores_por_tipo": {},
        "reporte": str(_batch_folder(root, clean["sha256"]) / "reporte.html")}
    assert facts == {"ruc": RUC, "nombre": NAME, "etapa": "production", "promovida": True,
                     "motivo": None, "promovida_en": at, "lote_demo": clean_batch}

    # the registry file: stage production and the promotion in its history; every other
    # line (the comment, the quoting) as it was
    event = {"event": "promoted", "at": at,
             "demo_batch": {"file": "visitas-2024-10-b.csv", "sha256": clean["sha256"],
                            "ingested_at": _utc(clean["ingestado_en"])}}
    text = registry_file.read_text("utf-8")
    assert yaml.safe_load(text) == {**yaml.safe_load(original), "stage": "production",
                                    "history": [event]}
    assert text.startswith(original.decode().replace("stage: demo", "stage: production"))
    history = _invoke("entity", "history", RUC, "--json")
    assert json.loads(history.output) == [
        {"evento": "promoted", "en": at,
         "lote_demo": {"archivo": "visitas-2024-10-b.csv", "sha256": clean["sha256"],
                       "ingestado_en": _utc(clean["ingestado_en"])}}]
    shown = _invoke("entity", "history", RUC)
    assert shown.output == (
        f"{RUC} {NAME}: 1 evento en {registry_file}\n"
        f"  {lima_time(at)}: promovida a producción, sobre la carga de demo "
        f"visitas-2024-10-b.csv, ingestada el {lima_time(clean['ingestado_en'])}; sha256 "
        f"{clean['sha256'][:12]}\n")

    # now looked at in production, where it has uploaded nothing yet
    assert json.loads(_invoke("entity", "list", "--json").output)[2] == {
        "ruc": RUC, "nombre": NAME, "etapa": "production", "ultima_carga": None,
        "ultima_publicacion": None, "filas_rechazadas": None}

    # 4. Promoting again changes nothing; the function says so too.
    after = registry_file.read_bytes()
    again = _invoke("entity", "promote", RUC)
    assert (again.exit_code, again.output) == (0, f"La entidad {RUC} ya está en producción.\n")
    assert isinstance(promote(project, RUC), AlreadyInProduction)
    assert registry_file.read_bytes() == after


@pytest.mark.parametrize("command", [["entity", "promote"], ["entity", "history"]])
def test_an_unregistered_entity_is_a_usage_mistake(project, command):
    done = _invoke(*command, "20100000006")
    assert done.exit_code == 64
    assert done.output == ("Error: La entidad 20100000006 no está registrada. Revise el RUC "
                           "con 'visitas entity list'.\n")


def test_a_clean_file_taken_with_a_dirty_one_does_not_promote(project):
    """One demo pass takes the sample's October file (2 rows rejected) and its clean
    correction `-b`, which sorts after it: the correction is the latest batch (ultimo.json),
    but the October file's errors are still there, so the gate names it and refuses."""
    root = project.root
    landing = root / "var" / "demo" / "landing" / RUC
    landing.mkdir(parents=True)
    for name in ("visitas-2024-10.csv", "visitas-2024-10-b.csv"):
        (landing / name).write_bytes((SAMPLES / name).read_bytes())
    assert _invoke("run", "--entity", RUC, env=DEMO_ENV).exit_code == 0
    ultimo = json.loads((root / "var" / "demo" / "reports" / RUC / "ultimo.json").read_text())
    assert (ultimo["archivo"], ultimo["filas_rechazadas"]) == ("visitas-2024-10-b.csv", 0)
    before = (project.entities_dir / f"{RUC}.yaml").read_bytes()
    refused = _invoke("entity", "promote", RUC, "--json")
    assert refused.exit_code == 1, refused.output
    facts = json.loads(refused.output)
    assert (facts["motivo"], facts["lote_demo"]["archivo"],
            facts["lote_demo"]["filas_rechazadas"]) == ("carga_demo_con_errores",
                                                        "visitas-2024-10.csv", 2)
    assert (project.entities_dir / f"{RUC}.yaml").read_bytes() == before
    # `visitas batches` lists them in the same order: the latest last
    listed = _invoke("batches", RUC, env=DEMO_ENV).output.splitlines()
    assert [line.split()[2] for line in listed[2:4]] == ["visitas-2024-10.csv",
                                                         "visitas-2024-10-b.csv"]
