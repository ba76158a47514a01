"""One row per real visit: re-uploads, overlaps, late exit times, corrections, withdrawals."""

from __future__ import annotations

import datetime as dt
import hashlib
import tempfile
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.consolidation.visitas import database_path
from tests.published import data_files
from tests.stages import (
    NOW,
    SAMPLES,
    consolidate_and_publish,
    drop,
    ingest,
    published_rows,
    settings_for,
)

SUR = "20999300031"
HEADER = ("Fecha de Registro,Fecha de Visita,Entidad visitada,Visitante,Documento del visitante,"
          "Entidad del visitante,Funcionario visitado,Hora Ingreso,Hora Salida,Motivo,"
          "Lugar específico,Observación\n")
# The first visit of visitas-2024-10.csv (exit blank there, 09:30 in visitas-2024-10-b.csv).
YUPANQUI = ("01/10/2024,01/10/2024,Gobierno Regional de Ejemplo Sur,YUPANQUI VILLANUEVA WILFREDO,"
            "DNI 53066378,Entidad privada - INGENIERÍA & PROYECTOS EJEMPLO S.A.C.,"
            "CONDORI APAZA FÉLIX ROBERTO - GOBERNACIÓN REGIONAL - GOBERNADOR REGIONAL,08:40,{salida},"
            "{motivo},{lugar},\n")
ORIGINAL = "Gestión de intereses - Solicitud de modificación de ordenanza"


def yupanqui(salida: str = "", motivo: str = ORIGINAL, lugar: str = "Sala de reuniones") -> bytes:
    return (HEADER + YUPANQUI.format(salida=salida, motivo=motivo, lugar=lugar)).encode("utf-8")


def sample(name: str) -> bytes:
    return (SAMPLES / SUR / name).read_bytes()


# Uploads of one entity: the month, its late-exit follow-up, a correction, and two different
# files both called visitas-2024-11.csv that disagree (only the sha256 can order them).
UPLOADS: list[tuple[str, bytes]] = [
    ("visitas-2024-10.csv", sample("visitas-2024-10.csv")),
    ("visitas-2024-10-b.csv", sample("visitas-2024-10-b.csv")),
    ("visitas-2024-10-correccion.csv", yupanqui(motivo="Reunión de trabajo - Corrección")),
    ("visitas-2024-11.csv", yupanqui(lugar="Auditorio")),
    ("visitas-2024-11.csv", yupanqui(lugar="Oficina 112", salida="09:10")),
]


def run(var_dir: Path, uploads: list[tuple[str, bytes]]) -> dict[str, bytes]:
    """Ingest uploads one at a time, each at a different wall-clock time; publish once."""
    s = settings_for(var_dir)
    for i, (name, data) in enumerate(uploads):
        drop(s, SUR, name, data)
        ingest(s, SUR, now=NOW + dt.timedelta(minutes=i * 7 % 11))
    latest = consolidate_and_publish(s)
    return data_files(latest.parent)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    return run(tmp_path_factory.mktemp("reference"), UPLOADS)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(order=st.permutations(range(len(UPLOADS))),
       repeats=st.lists(st.integers(0, len(UPLOADS) - 1), max_size=3),
       renamed=st.sampled_from([None, 0, 1]))
def test_any_order_duplication_or_reupload_publishes_identical_files(
        reference: dict[str, bytes], order: list[int], repeats: list[int], renamed: int | None) -> None:
    uploads = [UPLOADS[i] for i in order] + [UPLOADS[i] for i in repeats]
    if renamed is not None:  # the same bytes again, under a name of the entity's choosing
        uploads.append((f"copia-{renamed}.csv", UPLOADS[renamed][1]))
    with tempfile.TemporaryDirectory() as tmp:
        assert run(Path(tmp), uploads) == reference


def test_canonical_order_resolves_conflicts(tmp_path: Path) -> None:
    rows = [r for r in published_rows(_publish(tmp_path, UPLOADS))
            if r["visitante_nombre"] == "YUPANQUI VILLANUEVA WILFREDO"]
    # Order: visitas-2024-10 < visitas-2024-10-b < visitas-2024-10-correccion < the two
    # visitas-2024-11.csv, between which the larger sha256 comes last.
    auditorio, oficina = UPLOADS[3][1], UPLOADS[4][1]
    last = max((hashlib.sha256(auditorio).hexdigest(), "Auditorio"),
               (hashlib.sha256(oficina).hexdigest(), "Oficina 112"))[1]
    assert len(rows) == 1
    assert rows[0]["motivo"] == "Gestión de intereses"  # the 2024-11 copies undo the correction
    assert rows[0]["lugar"] == last
    assert rows[0]["hora_salida"] == "09:10:00"  # once filled, never blanked by a later copy

    with duckdb.connect(str(database_path(settings_for(tmp_path))), read_only=True) as con:
        motivo = con.execute("""SELECT archivo, valor_anterior, valor_nuevo FROM visitas_historial
            WHERE id_visita = ? AND campo = 'motivo' ORDER BY orden""", [rows[0]["id_visita"]]).fetchall()
    assert motivo == [("visitas-2024-10-correccion.csv", "Gestión de intereses", "Reunión de trabajo"),
                      ("visitas-2024-11.csv", "Reunión de trabajo", "Gestión de intereses")]


def _publish(var_dir: Path, uploads: list[tuple[str, bytes]]) -> Path:
    run(var_dir, uploads)
    return var_dir / "publish" / "latest"


def test_late_exit_time_updates_the_visit_end_to_end(tmp_path: Path) -> None:
    s = settings_for(tmp_path)
    drop(s, SUR, "visitas-2024-10.csv", sample("visitas-2024-10.csv"))
    ingest(s, SUR)
    before = published_rows(consolidate_and_publish(s))
    drop(s, SUR, "visitas-2024-10-b.csv", sample("visitas-2024-10-b.csv"))
    ingest(s, SUR, now=NOW + dt.timedelta(days=1))
    after = published_rows(consolidate_and_publish(s))

    visit = "f6bdf2d0f21f3900"
    expected = {
        "id_visita": visit, "entidad_ruc": SUR, "entidad_nombre": "Gobierno Regional de Ejemplo Sur",
        "fecha_registro": "2024-10-01", "fecha_visita": "2024-10-01", "hora_ingreso": "08:40:00",
        "hora_salida": "", "visitante_nombre": "YUPANQUI VILLANUEVA WILFREDO",
        "visitante_tipo_documento": "DNI", "visitante_numero_documento": "******78",
        "visitante_tipo_entidad": "Entidad privada",
        "visitante_entidad": "INGENIERÍA & PROYECTOS EJEMPLO S.A.C.",
        "funcionario_nombre": "CONDORI APAZA FÉLIX ROBERTO", "funcionario_area": "GOBERNACIÓN REGIONAL",
        "funcionario_cargo": "GOBERNADOR REGIONAL", "motivo": "Gestión de intereses",
        "motivo_detalle": "Solicitud de modificación de ordenanza", "lugar": "Sala de reuniones",
        "observacion": "",
    }
    [old] = [r for r in before if r["id_visita"] == visit]
    [new] = [r for r in after if r["id_visita"] == visit]
    assert {k: v for k, v in old.items() if k != "visitante_id"} == expected
    assert {k: v for k, v in new.items() if k != "visitante_id"} == {**expected, "hora_salida": "09:30:00"}
    assert len(after) == len(before)  # overlapping uploads: updated, not duplicated
    assert sorted(r["id_visita"] for r in after) == sorted(r["id_visita"] for r in before)

    with duckdb.connect(str(database_path(s)), read_only=True) as con:
        changes = con.execute("""
            SELECT archivo, campo, valor_anterior, valor_nuevo, lote_recibido_en
            FROM visitas_historial WHERE id_visita = ? AND accion = 'cambio'""", [visit]).fetchall()
    assert changes == [("visitas-2024-10-b.csv", "hora_salida", None, "09:30:00",
                        NOW + dt.timedelta(days=1))]


def test_withdrawal_removes_the_visit_end_to_end(tmp_path: Path) -> None:
    s = settings_for(tmp_path)
    drop(s, SUR, "visitas-2024-10.csv", sample("visitas-2024-10.csv"))
    ingest(s, SUR)
    before = published_rows(consolidate_and_publish(s))
    by_name = {r["visitante_nombre"]: r for r in before}
    by_id = by_name["OCAÑA SANCHEZ ELMER"]["id_visita"]
    # one withdrawal by published id, one by natural key (as the entity's own records have it)
    drop(s, SUR, "retiros-2024-10.csv", (
        "id_visita,documento,fecha_visita,hora_ingreso,motivo\n"
        f"{by_id},,,,Registro duplicado por error del operador\n"
        ",DNI 53066378,01/10/2024,08:40,El visitante no asistió\n"
        ",,,,sin identificar\n").encode())
    ingest(s, SUR, now=NOW + dt.timedelta(hours=1))
    after = published_rows(consolidate_and_publish(s))

    withdrawn = {by_id, by_name["YUPANQUI VILLANUEVA WILFREDO"]["id_visita"]}
    assert [r for r in after] == [r for r in before if r["id_visita"] not in withdrawn]
    # re-uploading the month does not bring the withdrawn visits back
    drop(s, SUR, "visitas-2024-10-b.csv", sample("visitas-2024-10-b.csv"))
    ingest(s, SUR, now=NOW + dt.timedelta(hours=2))
    again = published_rows(consolidate_and_publish(s))
    assert withdrawn.isdisjoint(r["id_visita"] for r in again)

    with duckdb.connect(str(database_path(s)), read_only=True) as con:
        audit = con.execute("""SELECT id_visita, archivo, fila, valor_nuevo FROM visitas_historial
                               WHERE accion = 'retiro' ORDER BY fila""").fetchall()
    assert audit == [(by_id, "retiros-2024-10.csv", 2, "Registro duplicado por error del operador"),
                     (by_name["YUPANQUI VILLANUEVA WILFREDO"]["id_visita"], "retiros-2024-10.csv", 3,
                      "El visitante no asistió")]
    report = next((s.warehouse_dir / "batches" / SUR).glob("*/withdrawals.parquet")).parent
    assert (report / "informe.txt").read_text(encoding="utf-8") == (
        "✘ retiros-2024-10.csv: 2 visitas retiradas; 1 fila con errores:\n"
        "  Fila 4: no identifica la visita (escriba su id_visita, o bien documento, fecha_visita "
        "y hora_ingreso).\n")


def test_withdraw_command_writes_an_audited_withdrawal_file(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from pipeline.cli import main

    monkeypatch.setenv("VISITAS_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("VISITAS_PSEUDONYM_KEY", "clave-de-prueba")
    s = settings_for(tmp_path)
    drop(s, SUR, "visitas-2024-10.csv", sample("visitas-2024-10.csv"))
    ingest(s, SUR)
    before = published_rows(consolidate_and_publish(s))
    visit = before[0]["id_visita"]
    result = CliRunner().invoke(main, ["withdraw", SUR, visit, "--motivo", "Duplicado, por error"])
    assert result.exit_code == 0, result.output
    assert "Retiro de 1 visita registrado en" in result.output
    [written] = (Path(s.landing_url) / SUR).glob("retiros-*.csv")
    assert written.read_text(encoding="utf-8") == f'id_visita,motivo\n{visit},"Duplicado, por error"\n'
    ingest(s, SUR)
    after = published_rows(consolidate_and_publish(s))
    assert after == before[1:]
    bad = CliRunner().invoke(main, ["withdraw", SUR, "no-es-un-id", "--motivo", "x"])
    assert bad.exit_code == 1
    assert bad.output == ("Error: Identificador no válido: no-es-un-id. Use el id_visita publicado "
                          "(16 caracteres hexadecimales).\n")


def test_withdraw_command_twice_writes_one_file(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from pipeline.cli import main

    monkeypatch.setenv("VISITAS_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("VISITAS_PSEUDONYM_KEY", "clave-de-prueba")
    s = settings_for(tmp_path)
    drop(s, SUR, "visitas-2024-10.csv", sample("visitas-2024-10.csv"))
    ingest(s, SUR)
    visit = published_rows(consolidate_and_publish(s))[0]["id_visita"]
    withdraw = ["withdraw", SUR, visit, "--motivo", "Duplicado"]
    first = CliRunner().invoke(main, withdraw)
    assert first.exit_code == 0, first.output
    # pending in the landing area, then withdrawn: the same id is never written again
    for step in ("pendiente", "aplicado"):
        again = CliRunner().invoke(main, withdraw)
        assert (again.exit_code, again.output) == (0, (
            "Ya retirada (o con un retiro pendiente en la zona de aterrizaje), no se vuelve a "
            f"registrar: {visit}.\nNo se escribió ningún archivo de retiro.\n")), step
        assert len(list((Path(s.landing_url) / SUR).glob("retiros-*.csv"))) == 1
        ingest(s, SUR)
    unknown = CliRunner().invoke(main, ["withdraw", SUR, "0123456789abcdef", "--motivo", "x"])
    assert (unknown.exit_code, unknown.output) == (1, (
        f"Ninguna visita de la entidad {SUR} tiene el identificador 0123456789abcdef; no se "
        "registra.\nNo se escribió ningún archivo de retiro.\n"))
    assert len(list((Path(s.landing_url) / SUR).glob("retiros-*.csv"))) == 1
