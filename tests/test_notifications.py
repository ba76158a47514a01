"""Notifications by e-mail, received by a real SMTP server (aiosmtpd) on a local port."""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Iterator

import dagster as dg
import pytest
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.settings import Settings, SettingsError
from tests.smtpserver import Mailbox, free_port, smtp_server

warnings.filterwarnings("ignore", category=dg.BetaWarning)
# the test server takes an account without TLS on purpose, on the loopback only
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

SENDER = "registro-visitas@integridad.gob.pe"
NORTE = "Carmen Rosa Vílchez Ejemplo <rvl@muniejemplonorte.gob.pe>"
SUR = "Elsa Noemí Ticona Ejemplo <visitas@regionejemplosur.gob.pe>"
#: the sample batches with rejected rows (datasets/samples/MANIFEST.json); the others are clean
PARTIAL_NORTE = "Registro de Visitas en Línea (entorno local): 2 filas rechazadas en «visitas-2024-08.csv»"
PARTIAL_SUR = "Registro de Visitas en Línea (entorno local): 2 filas rechazadas en «visitas-2024-10.csv»"
EMPTY_NORTE = "Registro de Visitas en Línea (entorno local): el archivo «vacio.csv» fue rechazado"


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def mail_env(project: Settings, port: int, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("VISITAS_SMTP_URL", f"smtp://127.0.0.1:{port}")
    monkeypatch.setenv("VISITAS_MAIL_FROM", SENDER)
    monkeypatch.setenv("VISITAS_OPERATORS_EMAIL", "guardia@integridad.gob.pe, datos@integridad.gob.pe")
    for name in ("VISITAS_SMTP_USER", "VISITAS_SMTP_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    return Settings.from_env()


@pytest.fixture
def mailbox(port: int) -> Iterator[Mailbox]:
    box = Mailbox()
    with smtp_server(box, port):
        yield box


def run() -> tuple[int, str]:
    result = CliRunner().invoke(main, ["run"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output


def add_empty_upload(settings: Settings) -> None:
    folder = settings.var_dir / "landing" / "20999100016"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vacio.csv").write_bytes(b"")


def test_one_mail_per_rejected_batch_to_its_administrator_and_none_on_a_rerun(mail_env, mailbox):
    add_empty_upload(mail_env)
    code, output = run()
    assert code == 0, output
    got = {(m.message["To"], m.message["Subject"]): m for m in mailbox.messages}
    assert len(mailbox.messages) == 3  # not the clean batches of 20999200029 and 20999300031
    assert sorted(got) == sorted([(NORTE, PARTIAL_NORTE), (NORTE, EMPTY_NORTE),
                                  (SUR, PARTIAL_SUR)])
    partial = got[NORTE, PARTIAL_NORTE]
    assert partial.mail_from == SENDER
    assert partial.rcpt_tos == ["rvl@muniejemplonorte.gob.pe"]
    assert partial.message["From"] == f"Registro de Visitas en Línea <{SENDER}>"
    body = partial.body
    assert body.startswith("Estimado(a) Carmen Rosa Vílchez Ejemplo:\n")
    assert ("El archivo «visitas-2024-08.csv» de Municipalidad Distrital de Ejemplo Norte "
            "(RUC 20999100016), recibido el ") in body
    assert ("  Filas leídas: 40\n  Filas válidas: 37 (se publican)\n"
            "  Filas rechazadas: 2 (no se publican)\n") in body
    assert ("Errores:\n"
            "  - Fila 35: la hora de salida 11:05 es anterior a la hora de ingreso 15:40.\n"
            "  - Fila 40, «Visitante»: la celda está vacía y la columna es obligatoria.\n") in body
    assert "«visitas-2024-08-correccion.csv»" in body
    kind, html = partial.attachments()["reporte.html"]
    assert kind == "text/html"
    reports = {p.read_bytes() for p in
               (mail_env.warehouse_dir / "batches" / "20999100016").glob("*/reporte.html")}
    assert html in reports  # the batch's own report, byte for byte
    assert "Fila 35: la hora de salida" in html.decode("utf-8")

    empty = got[NORTE, EMPTY_NORTE].body
    assert "No se pudo leer como tabla: ninguna de sus filas se publica." in empty
    assert "Corrija el archivo y vuelva a subirlo." in empty
    assert "reporte.html" in got[NORTE, EMPTY_NORTE].attachments()

    assert f"  correo enviado a {NORTE}: {PARTIAL_NORTE}" in output.splitlines()
    assert output.count("correo enviado a") == 3

    code, output = run()
    assert code == 0, output
    assert len(mailbox.messages) == 3
    assert "correo" not in output and "Notificaciones" not in output


def test_mail_server_down_never_fails_a_run_and_the_next_run_sends_once(mail_env, port):
    code, output = run()  # nobody listens on the port
    assert code == 0, output
    assert (f"  aviso: no se pudo enviar correo por smtp://127.0.0.1:{port} (conexión "
            "rechazada: el servidor no está escuchando): 2 correos quedan pendientes y se "
            "reintentan en la próxima pasada") in output.splitlines()
    assert "publicado en" in output.splitlines()[-1]

    box = Mailbox()
    with smtp_server(box, port):
        code, output = run()  # nothing new: only the pending mail goes
        assert code == 0, output
        assert sorted(m.message["Subject"] for m in box.messages) == [PARTIAL_NORTE, PARTIAL_SUR]
        assert "no se pudo enviar" not in output
        assert output.count("correo enviado a") == 2
        code, output = run()
        assert len(box.messages) == 2
        assert "correo" not in output
    pending = mail_env.notifications_dir / "pendientes"
    assert not list(pending.glob("*.eml"))
    assert len(list((mail_env.notifications_dir / "enviados").glob("lote-*.eml"))) == 2


def test_without_a_mail_server_nothing_is_sent_and_the_run_says_so_once(project, monkeypatch):
    for name in ("VISITAS_SMTP_URL", "VISITAS_MAIL_FROM"):
        monkeypatch.delenv(name, raising=False)
    code, output = run()
    assert code == 0, output
    assert output.splitlines().count(
        "Notificaciones: no se envían correos (VISITAS_SMTP_URL no está definida).") == 1
    assert not project.notifications_dir.exists()


def test_promotion_mail_through_an_account(mail_env, port, monkeypatch):
    from pipeline.notifications.administrators import notify_promotion
    from pipeline.registry import load_registry

    monkeypatch.setenv("VISITAS_SMTP_USER", "pipeline")
    monkeypatch.setenv("VISITAS_SMTP_PASSWORD", "s3creto")
    settings = Settings.from_env()
    entity = next(e for e in load_registry(settings.entities_dir) if e.ruc == "20999300031")
    record = {"archivo": "visitas-2024-10-b.csv", "ingestado_en": "2024-11-01T12:00:00+00:00",
              "filas_validas": 5, "sha256": "ab" * 32}
    lines: list[str] = []
    box = Mailbox()
    with smtp_server(box, port, account=("pipeline", "s3creto")):
        notify_promotion(settings, entity, record, echo=lines.append,
                         when=dt.datetime(2024, 11, 2, 15, 30, tzinfo=dt.UTC))
    assert box.logins == ["pipeline"]
    [mail] = box.messages
    assert mail.message["To"] == SUR
    subject = "Registro de Visitas en Línea: Gobierno Regional de Ejemplo Sur pasó a producción"
    assert mail.message["Subject"] == subject
    assert ("Gobierno Regional de Ejemplo Sur (RUC 20999300031) pasó del entorno de "
            "demostración a producción el 2 de noviembre de 2024 a las 10:30 (hora de Lima).") \
        in mail.body
    assert ("«visitas-2024-10-b.csv», recibida el 1 de noviembre de 2024 a las 07:00 (hora de "
            "Lima), con 5 filas válidas y ningún error.") in mail.body
    assert lines == ["Notificaciones", f"  correo enviado a {SUR}: {subject}"]


def test_wrong_password_leaves_the_mail_pending(mail_env, port, monkeypatch):
    from pipeline.notifications.administrators import notify_promotion
    from pipeline.registry import load_registry

    monkeypatch.setenv("VISITAS_SMTP_USER", "pipeline")
    monkeypatch.setenv("VISITAS_SMTP_PASSWORD", "otra")
    settings = Settings.from_env()
    entity = load_registry(settings.entities_dir)[0]
    lines: list[str] = []
    box = Mailbox()
    with smtp_server(box, port, account=("pipeline", "s3creto")):
        notify_promotion(settings, entity, None, echo=lines.append)
    assert box.messages == []
    assert lines[1].startswith(f"  aviso: no se pudo enviar correo por smtp://127.0.0.1:{port} "
                               "(535 ")
    assert lines[1].endswith("1 correo queda pendiente y se reintenta en la próxima pasada")
    assert len(list((settings.notifications_dir / "pendientes").glob("promocion-*.eml"))) == 1


def test_an_address_refused_for_good_is_not_retried(mail_env, port):
    from pipeline.notifications.administrators import notify_promotion
    from pipeline.registry import load_registry

    entity = load_registry(mail_env.entities_dir)[0]
    box = Mailbox(unknown={entity.administrator["email"]})
    lines: list[str] = []
    with smtp_server(box, port):
        notify_promotion(mail_env, entity, None, echo=lines.append)
        notify_promotion(mail_env, load_registry(mail_env.entities_dir)[1], None,
                         echo=lines.append)
    assert lines[1] == (f"  aviso: el servidor de correo rechazó el correo a {NORTE} (Registro "
                        "de Visitas en Línea: Municipalidad Distrital de Ejemplo Norte pasó a "
                        "producción): 550 5.1.1 Usuario desconocido; no se reintenta")
    assert [m.rcpt_tos for m in box.messages] == [["registro.visitas@minejemplo.gob.pe"]]
    assert len(list((mail_env.notifications_dir / "rechazados").glob("*.eml"))) == 1


def test_starttls_checks_the_server_certificate(mail_env, port, monkeypatch, tmp_path):
    """The account goes over STARTTLS with a certificate from the deployment's own authority
    (trusted through SSL_CERT_FILE); a server whose certificate is not trusted gets nothing."""
    import ssl

    import trustme

    from pipeline.notifications.administrators import notify_promotion
    from pipeline.registry import load_registry

    authority = trustme.CA()
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(server_tls)
    monkeypatch.setenv("VISITAS_SMTP_URL", f"smtp+starttls://127.0.0.1:{port}")
    monkeypatch.setenv("VISITAS_SMTP_USER", "pipeline")
    monkeypatch.setenv("VISITAS_SMTP_PASSWORD", "s3creto")
    settings = Settings.from_env()
    entity = load_registry(settings.entities_dir)[0]
    lines: list[str] = []
    box = Mailbox()
    with smtp_server(box, port, account=("pipeline", "s3creto"), tls=server_tls):
        notify_promotion(settings, entity, None, echo=lines.append)  # not trusted yet
        assert box.messages == []
        assert "CERTIFICATE_VERIFY_FAILED" in lines[1]
        authority.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
        monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "ca.pem"))
        notify_promotion(settings, entity, None, echo=lines.append,
                         when=dt.datetime(2024, 11, 3, tzinfo=dt.UTC))
    assert box.logins == ["pipeline"]
    assert len(box.messages) == 2  # the pending one, then the new one
    assert {m.rcpt_tos[0] for m in box.messages} == {entity.administrator["email"]}


def failing_job() -> dg.JobDefinition:
    @dg.op
    def leer_fuente() -> None:
        raise RuntimeError("No se pudo leer la fuente de 20999100016: el servidor no responde")

    @dg.job(name="ingest_entity")
    def job() -> None:
        leer_fuente()

    return job


def test_a_failed_dagster_run_mails_the_operators_once(mail_env, mailbox):
    from pipeline.definitions import defs

    sensor = defs.resolve_sensor_def("run_failure_mail")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    with dg.instance_for_test() as instance:
        result = failing_job().execute_in_process(instance=instance, raise_on_error=False)
        assert not result.success
        for _ in range(2):  # evaluated again (a daemon restart): still one mail
            context = dg.build_run_status_sensor_context(
                sensor_name="run_failure_mail", dagster_instance=instance,
                dagster_run=result.dagster_run, dagster_event=result.get_run_failure_event(),
            ).for_run_failure()
            sensor(context)
    [mail] = mailbox.messages
    run_id = result.run_id
    assert mail.rcpt_tos == ["guardia@integridad.gob.pe", "datos@integridad.gob.pe"]
    assert mail.message["To"] == "guardia@integridad.gob.pe, datos@integridad.gob.pe"
    assert mail.message["Subject"] == (f"Registro de Visitas en Línea (entorno local): falló la "
                                       f"ejecución {run_id[:8]} de ingest_entity")
    body = mail.body
    assert "  Trabajo: ingest_entity\n" in body
    assert f"  Ejecución: {run_id}\n" in body
    assert "  Paso: leer_fuente\n" in body
    assert ("leer_fuente: RuntimeError: No se pudo leer la fuente de 20999100016: el servidor no "
            "responde") in body


@pytest.mark.parametrize(("env", "message"), [
    ({"VISITAS_SMTP_URL": "http://correo:25", "VISITAS_MAIL_FROM": SENDER},
     "VISITAS_SMTP_URL='http://correo:25' no es válido: use smtp://, smtp+starttls:// o "
     "smtps:// y el servidor, p. ej. smtp+starttls://correo.example.gob.pe:587."),
    ({"VISITAS_SMTP_URL": "smtp://yo:clave@correo:25", "VISITAS_MAIL_FROM": SENDER},
     "VISITAS_SMTP_URL no debe llevar usuario ni contraseña: defínalos en VISITAS_SMTP_USER y "
     "VISITAS_SMTP_PASSWORD."),
    ({"VISITAS_SMTP_URL": "smtp://correo:25"},
     "VISITAS_MAIL_FROM no está definida: con VISITAS_SMTP_URL hace falta el remitente de los "
     "avisos, p. ej. registro-visitas@example.gob.pe."),
    ({"VISITAS_SMTP_URL": "smtp://correo", "VISITAS_MAIL_FROM": SENDER,
      "VISITAS_OPERATORS_EMAIL": "guardia"},
     "VISITAS_OPERATORS_EMAIL: 'guardia' no es una dirección de correo: le falta la arroba (@) "
     "y el dominio, p. ej. aperez@mef.gob.pe."),
])
def test_mail_settings_that_could_never_send_are_refused(env, message):
    with pytest.raises(SettingsError) as refused:
        Settings.from_env(env)
    assert str(refused.value) == message


def test_smtp_url_schemes():
    from pipeline.notifications.smtp import parse_smtp_url

    assert str(parse_smtp_url("smtp://correo.gob.pe")) == "smtp://correo.gob.pe:25"
    starttls = parse_smtp_url("smtp+starttls://correo.gob.pe")
    assert (starttls.port, starttls.starttls, starttls.tls) == (587, True, False)
    tls = parse_smtp_url("smtps://correo.gob.pe:2465")
    assert (tls.port, tls.starttls, tls.tls) == (2465, False, True)


def test_dagster_ingestion_mails_the_administrator_once(mail_env, mailbox):
    import shutil

    from pipeline.assets.ingestion import visit_batches
    from pipeline.assets.resources import PipelineSettings

    landing = mail_env.var_dir / "landing" / "20999100016"
    landing.mkdir(parents=True)
    shutil.copy(mail_env.samples_dir / "20999100016" / "visitas-2024-08.csv", landing)
    with dg.instance_for_test() as instance:
        for _ in range(2):
            result = dg.materialize([visit_batches], partition_key="20999100016",
                                    instance=instance, resources={"settings": PipelineSettings()})
            assert result.success
    assert [(m.message["To"], m.message["Subject"]) for m in mailbox.messages] == [
        (NORTE, PARTIAL_NORTE)]


def test_a_long_error_list_is_cut_to_the_first_ten(mail_env, tmp_path):
    from pipeline.notifications.messages import batch_message
    from pipeline.registry import load_registry

    entity = load_registry(mail_env.entities_dir)[0]
    errors = [{"message": f"Fila {n}: la celda está vacía."} for n in range(2, 14)]
    report = {"stats": {"errors": 30}, "errors": [], "tasks": [{"errors": errors}]}
    record = {"archivo": "grande.csv", "estado": "partial", "rows": 100, "filas_validas": 70,
              "filas_rechazadas": 30}
    body = batch_message(mail_env, entity, record, report, tmp_path).get_content()
    assert "Primeros errores:\n  - Fila 2: la celda está vacía.\n" in body
    assert "  - Fila 11: la celda está vacía.\n  … y 20 errores más en el reporte adjunto.\n" in body
    assert "Fila 12" not in body


def test_visitas_entity_promote_mails_the_administrator_once(mail_env, mailbox, monkeypatch):
    """The promotion gate and the notification together: a clean demo upload, then
    `visitas entity promote`, then exactly one e-mail to the entity's administrator."""
    import shutil

    from tests.projects import SAMPLES

    ruc = "20999300031"
    landing = mail_env.root / "var" / "demo" / "landing" / ruc
    landing.mkdir(parents=True)
    shutil.copy(SAMPLES / ruc / "visitas-2024-10-b.csv", landing / "visitas-2024-10-b.csv")
    with monkeypatch.context() as env:
        env.setenv("VISITAS_ENV", "demo")
        env.setenv("VISITAS_PSEUDONYM_KEY", "k" * 40)
        env.setenv("VISITAS_PUBLIC_BASE_URL", "https://datos.example.gob.pe/visitas")
        done = CliRunner().invoke(main, ["run", "--no-samples"])
    assert done.exit_code == 0, done.output
    assert mailbox.messages == []  # a clean upload tells nobody
    promoted = CliRunner().invoke(main, ["entity", "promote", ruc])
    assert promoted.exit_code == 0, promoted.output
    [mail] = mailbox.messages
    assert mail.message["To"] == SUR
    assert mail.message["Subject"] == ("Registro de Visitas en Línea: Gobierno Regional de "
                                       "Ejemplo Sur pasó a producción")
    assert "«visitas-2024-10-b.csv», recibida el " in mail.body
    assert "con 5 filas válidas y ningún error." in mail.body
    again = CliRunner().invoke(main, ["entity", "promote", ruc])
    assert again.exit_code == 0 and len(mailbox.messages) == 1  # already in production
