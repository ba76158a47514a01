"""Operational faults end `visitas` with a few Spanish lines (the step, what happened, what to
do) and a documented exit code, never a traceback; `visitas --debug …` shows the traceback.

The commands run as real subprocesses, as an operator runs them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from pipeline import faults
from pipeline.cli import main
from pipeline.settings import Settings
from tests.conftest import REPO_ROOT
from tests.projects import copy_project
from tests.s3server import S3Server

VISITAS = Path(sys.executable).with_name("visitas")


def project(tmp_path: Path, **env: str) -> dict[str, str]:
    """A copy of the project (samples included) and the environment to run `visitas` in it."""
    root = tmp_path / "project"
    copy_project(root)
    base = {k: v for k, v in os.environ.items() if not k.startswith(("VISITAS_", "AWS_"))}
    return {**base, "VISITAS_HOME": str(root), "VISITAS_ENV": "local",
            "VISITAS_PSEUDONYM_KEY": "clave-de-prueba", **env}


def visitas(env: dict[str, str], *args: str,
            prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*prefix, str(VISITAS), *args], env=env, capture_output=True,
                          text=True, timeout=300, stdin=subprocess.DEVNULL)


def assert_fault(done: subprocess.CompletedProcess[str], code: int, step: str,
                 *expected: str) -> list[str]:
    """The run ended with `code` and a short Spanish message on stderr naming `step`."""
    assert done.returncode == code, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    message = [line for line in lines if not line.startswith("VISITAS_PSEUDONYM_KEY")]
    assert len(message) == 3, done.stderr
    assert message[0].startswith(f"✘ {step}: "), done.stderr
    assert message[2] == (f"  (Detalle técnico: visitas --debug run; código de salida {code}.)")
    for text in expected:
        assert text in done.stderr, done.stderr
    return message


@pytest.mark.s3
def test_s3_refusing_the_credentials_at_publication(tmp_path: Path, s3_server: S3Server,
                                                    s3_bucket: str) -> None:
    wrong = "no-es-la-clave-" + "x" * 20
    env = project(tmp_path, **{**s3_server.env(), "AWS_SECRET_ACCESS_KEY": wrong},
                  VISITAS_PUBLISH_URL=f"s3://{s3_bucket}/publish")
    done = visitas(env, "run")
    message = assert_fault(done, faults.EXIT_ACCESS, "Publicación",
                           "S3 rechazó las credenciales (SignatureDoesNotMatch)",
                           f"s3://{s3_bucket}/publish/",
                           "AWS_ACCESS_KEY_ID y AWS_SECRET_ACCESS_KEY")
    assert wrong not in done.stdout + done.stderr
    assert message[1].startswith("  Revise ")
    # ingestion and consolidation went through; their report is on stdout as usual
    assert "Consolidación" in done.stdout

    debug = visitas(env, "--debug", "run")
    assert debug.returncode == faults.EXIT_ACCESS
    assert "Traceback (most recent call last)" in debug.stderr
    assert "✘ Publicación: S3 rechazó las credenciales" in debug.stderr
    assert wrong not in debug.stdout + debug.stderr


def test_an_invalid_environment(tmp_path: Path) -> None:
    done = visitas(project(tmp_path, VISITAS_ENV="prod"), "run")
    assert_fault(done, faults.EXIT_CONFIG, "Configuración", "VISITAS_ENV='prod' no es válido",
                 "local, demo, production", "variable de entorno")
    assert done.stdout == ""
    debug = visitas(project(tmp_path / "debug", VISITAS_ENV="prod"), "--debug", "run")
    assert debug.returncode == faults.EXIT_CONFIG
    assert "Traceback (most recent call last)" in debug.stderr
    assert "SettingsError" in debug.stderr


BASE = "https://datos.example.gob.pe/visitas"


def _nothing_done(env: dict[str, str]) -> None:
    """No upload was copied, ingested or published: the run stopped before any work."""
    var = Settings.from_env(environ=env).var_dir
    assert not (var / "warehouse").exists()
    assert not (var / "publish").exists()
    assert not (var / "landing").exists()


def test_an_invalid_memory_limit_and_a_missing_key_stop_before_any_work(tmp_path: Path) -> None:
    env = project(tmp_path, VISITAS_DUCKDB_MEMORY="abc")
    done = visitas(env, "run")
    assert_fault(done, faults.EXIT_CONFIG, "Configuración", "VISITAS_DUCKDB_MEMORY='abc'")
    _nothing_done(env)

    for environment in ("demo", "production"):
        env = project(tmp_path / environment, VISITAS_ENV=environment, VISITAS_PUBLIC_BASE_URL=BASE)
        del env["VISITAS_PSEUDONYM_KEY"]
        done = visitas(env, "run", "--samples")
        assert_fault(done, faults.EXIT_CONFIG, "Configuración",
                     "VISITAS_PSEUDONYM_KEY no está definida", f"entorno {environment}")
        _nothing_done(env)


def test_a_short_pseudonym_key_is_refused_outside_local(tmp_path: Path) -> None:
    env = project(tmp_path / "demo", VISITAS_ENV="demo", VISITAS_PSEUDONYM_KEY="x" * 31,
                  VISITAS_PUBLIC_BASE_URL=BASE)
    done = visitas(env, "run", "--samples")
    assert_fault(done, faults.EXIT_CONFIG, "Configuración",
                 "VISITAS_PSEUDONYM_KEY es demasiado corta (31 bytes)", "al menos 32 bytes")
    assert "x" * 31 not in done.stdout + done.stderr  # the key itself is never shown
    _nothing_done(env)
    # 32 bytes pass the check (and the run goes on to publish the samples)
    env = project(tmp_path / "ok", VISITAS_ENV="demo", VISITAS_PSEUDONYM_KEY="y" * 32,
                  VISITAS_PUBLIC_BASE_URL=BASE)
    done = visitas(env, "run", "--samples")
    assert done.returncode == 0, done.stdout + done.stderr


def _without_root_override() -> tuple[str, ...]:
    """A command prefix under which file permissions apply, even to root."""
    if os.geteuid() != 0:
        return ()
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("root ignores file permissions, and setpriv is not here to drop that")
    return (setpriv, "--bounding-set=-dac_override,-dac_read_search", "--")


def test_an_unreadable_working_folder(tmp_path: Path) -> None:
    var = tmp_path / "var"
    var.mkdir()
    var.chmod(0)
    try:
        done = visitas(project(tmp_path, VISITAS_VAR_DIR=str(var)), "run",
                       prefix=_without_root_override())
    finally:
        var.chmod(0o755)
    message = assert_fault(done, faults.EXIT_ACCESS, "Preparación", str(var),
                           "permiso denegado", "VISITAS_VAR_DIR")
    assert message[1].startswith("  Dé permiso de lectura y escritura")


def test_a_working_folder_that_is_a_file(tmp_path: Path) -> None:
    var = tmp_path / "var"
    var.write_text("no es una carpeta")
    done = visitas(project(tmp_path, VISITAS_VAR_DIR=str(var)), "run")
    assert_fault(done, faults.EXIT_IO, "Preparación", str(var),
                 "una parte de la ruta no es una carpeta", "VISITAS_VAR_DIR")


def test_a_database_held_by_another_process(tmp_path: Path) -> None:
    env = project(tmp_path)
    first = visitas(env, "run")
    assert first.returncode == 0, first.stderr
    database = Path(env["VISITAS_HOME"]) / "var" / "warehouse" / "visitas.duckdb"
    # a new upload, so that consolidation has to write
    sample = REPO_ROOT / "datasets" / "samples" / "20999100016" / "visitas-2024-08.csv"
    landing = Path(env["VISITAS_HOME"]) / "var" / "landing" / "20999100016"
    (landing / "visitas-2024-08-b.csv").write_bytes(sample.read_bytes().replace(b"10:33", b"10:34"))
    with duckdb.connect(str(database)):  # another writer holds the database
        done = visitas(env, "run")
    assert_fault(done, faults.EXIT_BUSY, "Consolidación", str(database),
                 "está en uso por otro proceso (PID", "vuelva a ejecutar")


def test_a_bug_keeps_its_traceback(project, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only operational faults are told briefly: an error in the code is raised as is."""
    import pipeline.flow

    def broken(*args: object, **kwargs: object) -> None:
        raise KeyError("campo")

    monkeypatch.setattr(pipeline.flow, "run_full_pass", broken)
    result = CliRunner().invoke(main, ["run", "--no-samples"])
    assert isinstance(result.exception, KeyError)


@pytest.mark.parametrize(("error", "code", "words"), [
    (BlockingIOError(11, "Resource temporarily unavailable"), faults.EXIT_BUSY, "bloqueo"),
    (faults.OperationalError("Otra pasada está en curso (PID 12)", "Espere a que termine",
                             faults.EXIT_BUSY), faults.EXIT_BUSY, "Otra pasada está en curso"),
    (OSError(28, "No space left on device", "/var/visitas/tmp/x"), faults.EXIT_IO,
     "no queda espacio en el disco"),
])
def test_other_faults_in_process(project, monkeypatch: pytest.MonkeyPatch, error: Exception,
                                 code: int, words: str) -> None:
    import pipeline.flow

    def failing(*args: object, **kwargs: object) -> None:
        raise error

    monkeypatch.setattr(pipeline.flow, "run_full_pass", failing)
    result = CliRunner().invoke(main, ["run", "--no-samples"])
    assert result.exit_code == code
    assert result.stderr.startswith("✘ Preparación: ")
    assert words in result.stderr
    assert "Traceback" not in result.output


def test_an_unreachable_endpoint_and_missing_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3

    from pipeline.storage import StorageError
    from pipeline.storage.s3 import S3Storage, client_config

    monkeypatch.setenv("VISITAS_S3_ENDPOINT_URL", "http://127.0.0.1:9")
    client = boto3.session.Session(aws_access_key_id="AK", aws_secret_access_key="SK",
                                   region_name="us-east-1").client(
        "s3", endpoint_url="http://127.0.0.1:9",
        config=client_config().merge(type(client_config())(retries={"max_attempts": 1})))
    with pytest.raises(StorageError) as down:
        S3Storage("datos", "publish", client=client).list("releases/")
    fault = faults.describe(down.value)
    assert fault == faults.Fault(
        "No se pudo conectar con S3 (http://127.0.0.1:9) al listar s3://datos/publish/releases/.",
        "Compruebe VISITAS_S3_ENDPOINT_URL y la red, y vuelva a ejecutar cuando el servicio "
        "responda.", faults.EXIT_UNAVAILABLE)

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    with pytest.raises(StorageError) as anonymous:
        S3Storage("datos", "publish").write_bytes("x.txt", b"x")
    fault = faults.describe(anonymous.value)
    assert fault is not None and fault.code == faults.EXIT_CONFIG
    assert fault.what == "No hay credenciales de S3 al escribir en s3://datos/publish/x.txt."
    assert "AWS_ACCESS_KEY_ID" in fault.todo
