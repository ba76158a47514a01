"""The shipped samples through the product: `visitas run` publishes exactly the visits that
datasets/samples/MANIFEST.json promises, with every quirk the samples carry normalised; the
committed samples are what scripts/generate_samples.py writes, and hold no real person."""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import os
import subprocess
import sys
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import duckdb
import openpyxl
import pytest
from click.testing import CliRunner

from pipeline.cli import main
from tests.projects import copy_project
from tests.published import parquet_glob

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "generate_samples.py"
ENTITIES_DIR = ROOT / "datasets" / "entities"
SAMPLES_DIR = ROOT / "datasets" / "samples"
REAL_SAMPLES_DIR = ROOT.parent / "shared" / "real-samples"

MANIFEST: dict[str, Any] = json.loads((SAMPLES_DIR / "MANIFEST.json").read_text("utf-8"))
FILES: list[dict[str, Any]] = MANIFEST["files"]
KEY = "clave-de-las-muestras"
NORTE, CENTRO, SUR = "20999100016", "20999200029", "20999300031"
NAMES = {NORTE: "Municipalidad Distrital de Ejemplo Norte", CENTRO: "Ministerio de Ejemplo",
         SUR: "Gobierno Regional de Ejemplo Sur"}


# ------------------------------------------------------------------------------------------
# The committed samples are the generator's output
# ------------------------------------------------------------------------------------------


def files_under(root: Path) -> list[Path]:
    return sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file())


def xlsx_snapshot(path: Path) -> list[tuple[str, list[tuple[str, object, str]], list[str]]]:
    """Cells, number formats and merged ranges: what a reader sees, not the zip bytes."""
    workbook = openpyxl.load_workbook(path)
    return [
        (
            sheet.title,
            [
                (cell.coordinate, cell.value, cell.number_format)
                for row in sheet.iter_rows()
                for cell in row
                if cell.value is not None
            ],
            sorted(str(merged) for merged in sheet.merged_cells.ranges),
        )
        for sheet in workbook.worksheets
    ]


def test_committed_samples_match_the_generator(tmp_path: Path) -> None:
    subprocess.run([sys.executable, str(SCRIPT), "--out", str(tmp_path)], check=True,
                   capture_output=True, text=True)
    generated = files_under(tmp_path)
    samples = Path("datasets/samples")
    # No committed sample is missing from the generator's output, nor left over from an older one.
    assert [p for p in generated if samples in p.parents] == [
        samples / p for p in files_under(ROOT / samples)]
    for relative in generated:
        fresh, committed = tmp_path / relative, ROOT / relative
        assert committed.is_file(), f"{relative} no está en el repositorio"
        if relative.suffix == ".xlsx":
            assert xlsx_snapshot(fresh) == xlsx_snapshot(committed), relative
        else:
            assert fresh.read_bytes() == committed.read_bytes(), (
                f"{relative} difiere: ejecute python scripts/generate_samples.py"
            )


# ------------------------------------------------------------------------------------------
# `visitas run` on the samples
# ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def run_on_samples(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """`visitas run` in a fresh copy of the project, as `make run` does: (output, publish dir)."""

    root = tmp_path_factory.mktemp("muestras") / "project"
    copy_project(root)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("VISITAS_HOME", str(root))
        env.setenv("VISITAS_ENV", "local")
        env.setenv("VISITAS_PSEUDONYM_KEY", KEY)
        for name in ("VISITAS_VAR_DIR", "VISITAS_LANDING_URL", "VISITAS_RAW_URL",
                     "VISITAS_PUBLISH_URL"):
            env.delenv(name, raising=False)
        result = CliRunner().invoke(main, ["run"])
    assert result.exit_code == 0, result.output
    return result.output, root / "var" / "publish"


def published(publish_dir: Path) -> list[dict[str, Any]]:
    con = duckdb.connect()
    cursor = con.execute(f"SELECT * EXCLUDE (anio) FROM '{parquet_glob(publish_dir)}'")
    columns = [d[0] for d in cursor.description]
    return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def read_table(entry: dict[str, Any]) -> dict[int, list[Any]]:
    """Every data row of a sample file by its physical row number, read as the manifest says."""
    path = SAMPLES_DIR / entry["path"]
    if entry["format"] == "xlsx":
        sheet = openpyxl.load_workbook(path).active
        assert sheet is not None
        rows = [list(values) for values in sheet.iter_rows(values_only=True)]
    else:
        text = path.read_bytes().decode(entry["encoding"])
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=entry["delimiter"]))
    assert rows[entry["header_row"] - 1] == MANIFEST["columns"]
    first = entry["header_row"] + 1
    return {first + i: values for i, values in enumerate(rows[entry["header_row"]:])}


def as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    for fmt in ("%d/%m/%Y", "%Y-%m-%d", "%d/%m/%y"):
        try:
            return datetime.strptime(value, fmt).date()
        except ValueError:
            pass
    raise AssertionError(f"fecha no reconocida: {value!r}")


def as_time(value: Any) -> time | None:
    if isinstance(value, time) or value is None:
        return value
    if value == "":
        return None
    return datetime.strptime(value, "%H:%M:%S" if value.count(":") == 2 else "%H:%M").time()


def as_name(value: str) -> str:
    """DESIGN §2: NBSP, doubled and trailing spaces, and 'APELLIDOS, NOMBRES' are one name."""
    return " ".join(value.replace("\u00a0", " ").replace(",", " ").split()).upper()


def promised_visits() -> list[tuple[Any, ...]]:
    """The visits the manifest promises: every valid row (not invalid, not a placeholder) of
    every file, a re-uploaded visit once, with the exit time of its later copy."""
    later_exit: dict[tuple[str, int], Any] = {}
    for entry in FILES:
        rows = read_table(entry)
        for link in entry["reuploads"]:
            same = link["same_visit_as"]
            later_exit[(same["file"], same["row"])] = rows[link["row"]][8]
    visits = []
    for entry in FILES:
        if entry["reuploads"]:
            continue
        skip = set(entry["placeholder_rows"]) | {bad["row"] for bad in entry["invalid_rows"]}
        for number, values in read_table(entry).items():
            if number in skip:
                continue
            exit_time = later_exit.get((entry["file"], number), values[8])
            visits.append((entry["ruc"], as_date(values[0]), as_date(values[1]),
                           as_time(values[7]), as_time(exit_time), as_name(values[3])))
    return sorted(visits)


def test_run_publishes_exactly_the_visits_the_manifest_promises(run_on_samples) -> None:
    output, publish_dir = run_on_samples
    rows = published(publish_dir)
    got = sorted((r["entidad_ruc"], r["fecha_registro"], r["fecha_visita"], r["hora_ingreso"],
                  r["hora_salida"], r["visitante_nombre"]) for r in rows)
    assert got == promised_visits()
    assert len(rows) == 115
    assert {r["entidad_ruc"]: r["entidad_nombre"] for r in rows} == NAMES
    # The day the Municipalidad reported without visits publishes nothing.
    [placeholder] = [e for e in FILES if e["placeholder_rows"]]
    day = as_date(read_table(placeholder)[placeholder["placeholder_rows"][0]][1])
    assert day == date(2024, 8, 21)
    assert not [r for r in rows if r["fecha_visita"] == day]
    # What the operator reads: per entity, valid and rejected rows as the manifest counts them.
    # Each entity's batches are its visit uploads and its decision-makers register
    # (decisores.csv, 4 decision-makers each), which adds no visit rows.
    lines = output.splitlines()
    for ruc, name, batches, valid, rejected in [
            (NORTE, NAMES[NORTE], "2 lotes nuevos", 37, 2),
            (CENTRO, NAMES[CENTRO], "2 lotes nuevos", 40, 0),
            (SUR, NAMES[SUR], "3 lotes nuevos", 43, 2)]:
        assert (f"  {ruc} {name}: {batches} (0 sin cambios), {valid} filas válidas,"
                f" {rejected} rechazadas") in lines
    assert [line for line in lines if "decisores.csv:" in line] == [
        "    ✔ decisores.csv: registro de decisores aceptado: 4 decisores."] * 3
    assert ("  115 visitas de 3 entidades (120 filas en lotes, 5 cambios en el historial,"
            " 0 visitas retiradas)") in lines
    assert lines[-1].startswith("Resumen: 3 entidades, 0 con fuente caída, 0 lotes rechazados;")


def pseudonym(document: str) -> str:
    """visitante_id as documented: HMAC-SHA256 of 'TYPE:NUMBER' under the secret key."""
    return hmac.new(KEY.encode(), document.encode(), hashlib.sha256).hexdigest()


# One visit per quirk of DESIGN §2 the samples carry: where it is (entity, visit date, entry
# time, the document it must normalise to) and the published values it must come out as.
QUIRKS: dict[str, tuple[str, date, time, str, dict[str, Any]]] = {
    "dni-leading-zero": (NORTE, date(2024, 8, 13), time(9, 21), "DNI:01736310", {
        "visitante_tipo_documento": "DNI", "visitante_numero_documento": "******10"}),
    "bare-dni-and-doubled-space": (NORTE, date(2024, 8, 19), time(13, 46), "DNI:71466818", {
        "visitante_nombre": "ESPINOZA CUBA SONIA", "visitante_tipo_documento": "DNI",
        "visitante_numero_documento": "******18"}),
    "bare-dni-leading-zero-and-reason-without-detail": (
        NORTE, date(2024, 8, 23), time(12, 54), "DNI:04785387", {
            "visitante_nombre": "CASTRO LEON ANA MARIA", "visitante_tipo_documento": "DNI",
            "visitante_numero_documento": "******87", "motivo": "Otros Motivos",
            "motivo_detalle": None}),
    "cex": (NORTE, date(2024, 8, 8), time(11, 58), "CE:001728901", {
        "visitante_tipo_documento": "CE", "visitante_numero_documento": "*******01",
        "visitante_tipo_entidad": "Entidad pública",
        "visitante_entidad": "MUNICIPALIDAD PROVINCIAL DE EJEMPLO"}),
    "psp-and-surnames-comma-names": (NORTE, date(2024, 8, 27), time(16, 4), "PASAPORTE:XZ3847722", {
        "visitante_nombre": "BROWN MARTÍNEZ DANIELA", "visitante_tipo_documento": "PASAPORTE",
        "visitante_numero_documento": "*******22", "visitante_tipo_entidad": "Entidad privada",
        "visitante_entidad": "FERRETERÍA EL EJEMPLO E.I.R.L."}),
    "dni-le": (NORTE, date(2024, 8, 9), time(11, 9), "DNI:40283852", {
        "visitante_nombre": "YUPANQUI CASTRO JESUS", "visitante_tipo_documento": "DNI",
        "visitante_numero_documento": "******52"}),
    "pasaporte-and-trailing-space": (NORTE, date(2024, 8, 14), time(12, 53), "PASAPORTE:YV795411", {
        "visitante_nombre": "SILVA MARTÍNEZ LUCAS", "visitante_tipo_documento": "PASAPORTE",
        "visitante_numero_documento": "******11", "visitante_tipo_entidad": "Persona natural",
        "visitante_entidad": None}),
    "times-with-seconds": (NORTE, date(2024, 8, 15), time(12, 52, 56), "CE:009267325", {
        "hora_salida": time(13, 38, 15), "visitante_tipo_documento": "CE",
        "visitante_numero_documento": "*******25"}),
    "area-with-dashes-and-registered-next-day": (
        NORTE, date(2024, 8, 2), time(11, 45, 24), "DNI:62652736", {
            "fecha_registro": date(2024, 8, 3), "funcionario_nombre": "ARCE VIDAL WALTER IVÁN",
            "funcionario_area": "GERENCIA DE DESARROLLO URBANO - SUBGERENCIA DE CATASTRO - "
                                "ÁREA DE HABILITACIONES",
            "funcionario_cargo": "ASISTENTE TÉCNICO", "motivo": "Otros Motivos",
            "motivo_detalle": "Seguimiento de trámite"}),
    "formula-looking-cell": (NORTE, date(2024, 8, 20), time(9, 8), "DNI:35727351", {
        "visitante_nombre": "AQUINO DE LA CRUZ FRANKLIN",
        "observacion": '=HYPERLINK("http://x")'}),
    "xlsx-native-date-and-time": (CENTRO, date(2024, 9, 3), time(13, 3), "PASAPORTE:AX361911", {
        "fecha_registro": date(2024, 9, 3), "hora_salida": time(13, 52),
        "visitante_nombre": "MARTÍNEZ PÉREZ ANNA",
        "funcionario_nombre": "LAZO GUTIÉRREZ PEDRO PABLO",
        "funcionario_area": "SECRETARÍA GENERAL - OFICINA GENERAL DE ADMINISTRACIÓN - "
                            "OFICINA DE ABASTECIMIENTO",
        "funcionario_cargo": "ESPECIALISTA"}),
    "xlsx-nbsp-in-name": (CENTRO, date(2024, 9, 9), time(8, 26), "DNI:49215704", {
        "visitante_nombre": "SÁNCHEZ DEL ÁGUILA GIOVANNA"}),
    "xlsx-surnames-comma-names": (CENTRO, date(2024, 9, 10), time(11, 18), "DNI:12805680", {
        "visitante_nombre": "IBÁÑEZ SALAS MIGUEL ÁNGEL"}),
    "xlsx-native-time-with-seconds": (CENTRO, date(2024, 9, 17), time(13, 28, 48), "DNI:33731467", {
        "hora_salida": time(13, 40, 30), "visitante_nombre": "AQUINO CAHUANA RICARDO"}),
    "windows-1252-nbsp-and-two-digit-year": (SUR, date(2024, 10, 3), time(11, 55), "CE:004031504", {
        "fecha_registro": date(2024, 10, 4), "visitante_nombre": "MARTÍNEZ BROWN LUCAS",
        "visitante_numero_documento": "*******04"}),
    "iso-date-and-exit-never-recorded": (SUR, date(2024, 10, 10), time(8, 29), "DNI:61281527", {
        "fecha_registro": date(2024, 10, 10), "hora_salida": None,
        "visitante_nombre": "LEON ROJAS LUZ MARINA"}),
    "space-before-comma": (SUR, date(2024, 10, 14), time(14, 2), "DNI:28958808", {
        "visitante_nombre": "GUTIÉRREZ PEÑA LUIS ALBERTO",
        "visitante_tipo_entidad": "Entidad pública",
        "visitante_entidad": "CONTRALORÍA GENERAL DE LA REPÚBLICA"}),
    "area-with-comma-and-dash": (SUR, date(2024, 10, 3), time(11, 32), "DNI:21843292", {
        "funcionario_nombre": "CHOQUE QUISPE ROSA AMELIA",
        "funcionario_area": "GERENCIA REGIONAL DE PLANEAMIENTO, PRESUPUESTO Y ACONDICIONAMIENTO "
                            "TERRITORIAL - OFICINA DE PROGRAMACIÓN MULTIANUAL DE INVERSIONES",
        "funcionario_cargo": "JEFA DE OFICINA"}),
    "lobbying-without-detail": (SUR, date(2024, 10, 9), time(10, 17), "DNI:10008988", {
        "motivo": "Gestión de intereses", "motivo_detalle": None}),
    "visitor-entity-trailing-space-and-exit-from-later-upload": (
        SUR, date(2024, 10, 1), time(8, 40), "DNI:53066378", {
            "hora_salida": time(9, 30), "visitante_tipo_entidad": "Entidad privada",
            "visitante_entidad": "INGENIERÍA & PROYECTOS EJEMPLO S.A.C."}),
}


@pytest.mark.parametrize("quirk", QUIRKS)
def test_every_quirk_of_the_samples_is_published_normalised(run_on_samples, quirk: str) -> None:
    ruc, visited, entered, document, expected = QUIRKS[quirk]
    rows = published(run_on_samples[1])
    found = [r for r in rows if (r["entidad_ruc"], r["fecha_visita"], r["hora_ingreso"],
                                 r["visitante_id"]) == (ruc, visited, entered, pseudonym(document))]
    assert len(found) == 1, [r for r in rows if r["fecha_visita"] == visited]
    assert {k: found[0][k] for k in expected} == expected


# ------------------------------------------------------------------------------------------
# Privacy: nothing from the real samples leaks into the synthetic ones
# ------------------------------------------------------------------------------------------


def _collapse(value: str) -> str:
    return " ".join(value.replace(",", " ").upper().split())


def test_no_real_names_or_documents_in_samples() -> None:
    if not REAL_SAMPLES_DIR.is_dir():
        # CI always has ../shared beside the checkout: there a missing folder is a failure.
        if os.environ.get("CI"):
            pytest.fail(f"no están las muestras reales en {REAL_SAMPLES_DIR}")
        pytest.skip(f"no están las muestras reales en {REAL_SAMPLES_DIR}")
    person_keys = {
        "visitante",
        "txt_nombre_visitante",
        "empleado",
        "entidadVisitanteNombreCompleto",
    }
    document_keys = {"txt_dni", "entidadVisitanteDocumento"}
    secrets: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if isinstance(value, str) and value.strip():
                    if key in person_keys | document_keys:
                        secrets.add(_collapse(value))
                    elif key in {"funcionario", "txt_nombre_funcionario"}:
                        secrets.add(_collapse(value.split(" - ")[0]))
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    for path in REAL_SAMPLES_DIR.glob("*.json"):
        walk(json.loads(path.read_text("utf-8")))
    secrets = {s for s in secrets if len(s) >= 8}
    assert secrets, "no se extrajo ningún nombre de las muestras reales"

    corpus = []
    for entry in FILES:
        corpus += [_collapse(("" if value is None else str(value)).replace("\u00a0", " "))
                   for row in read_table(entry).values() for value in row]
    corpus += [_collapse(p.read_text("utf-8")) for p in ENTITIES_DIR.glob("*.yaml")]
    joined = "\n".join(corpus)
    leaked = sorted(s for s in secrets if s in joined)
    assert not leaked
