"""Per-entity S3 credentials: the derivation from the master key, the `visitas access`
commands' output and refusals, and the AWS policy's exact shape. The same rules on a real
SeaweedFS server are in test_access_seaweedfs.py.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from pipeline.access.keys import entity_keys
from pipeline.cli import main

MASTER = "clave-maestra-de-prueba-con-32-caracteres-o-mas"
A, B, DEMO = "20999100016", "20999200029", "20999300031"  # the shipped sample entities


def visitas(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


@pytest.fixture
def s3_settings(project, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("VISITAS_ACCESS_MASTER_KEY", MASTER)
    monkeypatch.setenv("VISITAS_LANDING_URL", "s3://visitas/carga")
    monkeypatch.setenv("VISITAS_REPORTS_URL", "s3://reportes-visitas/")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "PIPELINEKEY")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "pipeline-secret")
    return project


def test_derived_keys_are_stable_and_in_formats_s3_accepts() -> None:
    # Pinned: a change here would silently invalidate every credential handed out.
    keys = entity_keys(MASTER, A)
    assert keys.access_key_id == "RV20999100016ANITW75"
    assert keys.secret_access_key == "3T5EblmXvC54nTYauMbg6FeYHi4Apj52LZAKz0ia"
    assert entity_keys(MASTER, A) == keys
    assert re.fullmatch(r"[A-Z0-9]{20}", keys.access_key_id)
    assert re.fullmatch(r"[A-Za-z0-9]{40}", keys.secret_access_key)
    assert keys.secret_access_key not in repr(keys)


def test_derived_keys_differ_per_entity_and_per_master_key() -> None:
    a, b = entity_keys(MASTER, A), entity_keys(MASTER, B)
    other = entity_keys(MASTER + "-otra", A)
    assert b.access_key_id == "RV20999200029NTOJ4GX"
    assert len({a.access_key_id, b.access_key_id, other.access_key_id}) == 3
    assert len({a.secret_access_key, b.secret_access_key, other.secret_access_key}) == 3
    assert other.access_key_id.startswith(f"RV{A}")


def test_credentials_json_has_exactly_the_two_keys(s3_settings) -> None:
    done = visitas("access", "credentials", A, "--json")
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout) == {"access_key_id": "RV20999100016ANITW75",
                                       "secret_access_key": "3T5EblmXvC54nTYauMbg6FeYHi4Apj52LZAKz0ia"}


def test_credentials_text_says_where_they_write_and_read(s3_settings) -> None:
    done = visitas("access", "credentials", A)
    assert done.exit_code == 0, done.output
    assert done.stdout.splitlines() == [
        f"Credenciales S3 de {A} Municipalidad Distrital de Ejemplo Norte:",
        "  AWS_ACCESS_KEY_ID=RV20999100016ANITW75",
        "  AWS_SECRET_ACCESS_KEY=3T5EblmXvC54nTYauMbg6FeYHi4Apj52LZAKz0ia",
        f"Con ellas sube sus cargas a s3://visitas/carga/{A}/ y lee sus reportes en "
        f"s3://reportes-visitas/{A}/.",
    ]


@pytest.mark.parametrize("value, what", [
    (None, "✘ Configuración: VISITAS_ACCESS_MASTER_KEY no está definida: sin ella no se pueden "
           "derivar las credenciales de las entidades."),
    ("corta", "✘ Configuración: VISITAS_ACCESS_MASTER_KEY es demasiado corta (5 de 32 "
              "caracteres como mínimo)."),
])
def test_a_missing_or_short_master_key_is_a_configuration_fault(
        s3_settings, monkeypatch: pytest.MonkeyPatch, value: str | None, what: str) -> None:
    if value is None:
        monkeypatch.delenv("VISITAS_ACCESS_MASTER_KEY")
    else:
        monkeypatch.setenv("VISITAS_ACCESS_MASTER_KEY", value)
    for args in (["credentials", A], ["seaweedfs-config", "--out", "s3.json"]):
        done = visitas("access", *args)
        assert done.exit_code == 78
        assert done.stdout == ""
        lines = done.stderr.splitlines()
        assert lines[0] == what
        assert lines[1].startswith("  Defina VISITAS_ACCESS_MASTER_KEY con un secreto de al "
                                   "menos 32 caracteres")
        assert lines[2] == "  (Detalle técnico: visitas --debug access …; código de salida 78.)"
        assert "Traceback" not in done.output


def test_an_unregistered_entity_is_refused(s3_settings) -> None:
    for command in ("credentials", "aws-policy"):
        done = visitas("access", command, "20131370645")
        assert done.exit_code == 64
        assert done.stderr == ("Error: La entidad 20131370645 no está registrada. Revise el RUC "
                               "con 'visitas entity list'.\n")


def test_locations_that_are_not_on_s3_are_refused(project, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("VISITAS_ACCESS_MASTER_KEY", MASTER)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "PIPELINEKEY")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "pipeline-secret")
    out = tmp_path / "s3.json"
    done = visitas("access", "seaweedfs-config", "--out", str(out))
    assert done.exit_code == 78
    assert done.stderr.splitlines()[:2] == [
        f"✘ Configuración: VISITAS_LANDING_URL es {project.landing_url}, no una ubicación S3: "
        "los permisos por entidad solo se aplican en un almacenamiento de objetos.",
        "  Apunte VISITAS_LANDING_URL a una URL s3://bucket/prefijo (la misma que usa la "
        "pasada) y vuelva a ejecutar.",
    ]
    assert not out.exists()
    monkeypatch.setenv("VISITAS_LANDING_URL", "s3://visitas/carga")
    done = visitas("access", "aws-policy", A)
    assert done.exit_code == 78
    assert done.stderr.startswith(f"✘ Configuración: VISITAS_REPORTS_URL es "
                                  f"{project.reports_url}, no una ubicación S3")
    # the credentials themselves do not depend on where the areas are
    done = visitas("access", "credentials", A)
    assert done.exit_code == 0
    assert done.stdout.splitlines()[-1].startswith("La zona de aterrizaje o los reportes no "
                                                   "están en S3 en este entorno")


def test_seaweedfs_config_needs_the_pipeline_keys(s3_settings, monkeypatch, tmp_path) -> None:
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    done = visitas("access", "seaweedfs-config", "--out", str(tmp_path / "s3.json"))
    assert done.exit_code == 78
    assert done.stderr.splitlines()[0] == (
        "✘ Configuración: Falta AWS_SECRET_ACCESS_KEY: el archivo de identidades debe incluir "
        "las credenciales de la propia pasada, o esta perdería el acceso al almacenamiento.")


def _identities(path: Path) -> dict[str, dict]:
    assert path.stat().st_mode & 0o777 == 0o600  # it holds every entity's secret
    return {i["name"]: i for i in json.loads(path.read_text("utf-8"))["identities"]}


def test_seaweedfs_config_scopes_each_entity(s3_settings, monkeypatch, tmp_path) -> None:
    out = tmp_path / "s3.json"
    done = visitas("access", "seaweedfs-config", "--out", str(out))
    assert done.exit_code == 0, done.output
    found = _identities(out)
    assert list(found) == ["visitas-pipeline", f"entidad-{A}", f"entidad-{B}",
                           f"entidad-{DEMO}"]
    assert found["visitas-pipeline"] == {
        "name": "visitas-pipeline",
        "credentials": [{"accessKey": "PIPELINEKEY", "secretKey": "pipeline-secret"}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"]}
    keys = entity_keys(MASTER, A)
    assert found[f"entidad-{A}"] == {
        "name": f"entidad-{A}",
        "credentials": [{"accessKey": keys.access_key_id, "secretKey": keys.secret_access_key}],
        "actions": [f"Write:visitas/carga/{A}/*", f"List:visitas/carga/{A}/*",
                    f"Read:reportes-visitas/{A}/*", f"List:reportes-visitas/{A}/*"]}
    # production gives access to production-stage entities only
    monkeypatch.setenv("VISITAS_ENV", "production")
    done = visitas("access", "seaweedfs-config", "--out", str(out))
    assert done.stdout == f"Identidades de SeaweedFS escritas en {out}: la pasada y 2 entidades.\n"
    assert list(_identities(out)) == ["visitas-pipeline", f"entidad-{A}", f"entidad-{B}"]


def _policy(ruc: str = A) -> dict:
    done = visitas("access", "aws-policy", ruc)
    assert done.exit_code == 0, done.output
    return json.loads(done.stdout)


def _check_iam_shape(policy: dict) -> None:
    """What IAM itself requires and what this policy must never grant."""
    assert set(policy) == {"Version", "Statement"} and policy["Version"] == "2012-10-17"
    for statement in policy["Statement"]:
        assert set(statement) <= {"Sid", "Effect", "Action", "Resource", "Condition"}
        assert re.fullmatch(r"[A-Za-z0-9]+", statement["Sid"])
        assert statement["Effect"] == "Allow"
        assert set(statement["Action"]) <= {"s3:PutObject", "s3:GetObject", "s3:ListBucket"}
        for resource in statement["Resource"]:
            assert resource.startswith("arn:aws:s3:::") and resource != "arn:aws:s3:::*"
    sids = [s["Sid"] for s in policy["Statement"]]
    assert len(set(sids)) == len(sids)


def test_aws_policy_in_two_buckets(s3_settings) -> None:
    policy = _policy()
    _check_iam_shape(policy)
    assert policy["Statement"] == [
        {"Sid": "EscribirCargasPropias", "Effect": "Allow", "Action": ["s3:PutObject"],
         "Resource": [f"arn:aws:s3:::visitas/carga/{A}/*"]},
        {"Sid": "LeerReportesPropios", "Effect": "Allow", "Action": ["s3:GetObject"],
         "Resource": [f"arn:aws:s3:::reportes-visitas/{A}/*"]},
        {"Sid": "ListarCarpetasPropias1", "Effect": "Allow", "Action": ["s3:ListBucket"],
         "Resource": ["arn:aws:s3:::visitas"],
         "Condition": {"StringLike": {"s3:prefix": [f"carga/{A}/*"]}}},
        {"Sid": "ListarCarpetasPropias2", "Effect": "Allow", "Action": ["s3:ListBucket"],
         "Resource": ["arn:aws:s3:::reportes-visitas"],
         "Condition": {"StringLike": {"s3:prefix": [f"{A}/*"]}}},
    ]


def test_aws_policy_in_one_bucket(s3_settings, monkeypatch) -> None:
    monkeypatch.setenv("VISITAS_REPORTS_URL", "s3://visitas/reportes")
    policy = _policy(B)
    _check_iam_shape(policy)
    assert [s["Resource"] for s in policy["Statement"]] == [
        [f"arn:aws:s3:::visitas/carga/{B}/*"], [f"arn:aws:s3:::visitas/reportes/{B}/*"],
        ["arn:aws:s3:::visitas"]]
    assert policy["Statement"][2]["Condition"] == {
        "StringLike": {"s3:prefix": [f"carga/{B}/*", f"reportes/{B}/*"]}}
