"""The synthetic samples in datasets/ are reproducible and are what MANIFEST.json says they are."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import yaml

from pipeline.identifiers import is_valid_ruc

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "generate_samples.py"
ENTITIES_DIR = ROOT / "datasets" / "entities"
SAMPLES_DIR = ROOT / "datasets" / "samples"
REAL_SAMPLES_DIR = ROOT.parent / "shared" / "real-samples"

MANIFEST: dict[str, Any] = json.loads((SAMPLES_DIR / "MANIFEST.json").read_text("utf-8"))
FILES: list[dict[str, Any]] = MANIFEST["files"]
SAMPLE_RUCS: list[str] = sorted({entry["ruc"] for entry in FILES})
ENTITY_FILES: list[Path] = sorted(ENTITIES_DIR.glob("*.yaml"))

# The 12 published columns, in order (DESIGN §2); restated here on purpose.
COLUMNS = [
    "Fecha de Registro",
    "Fecha de Visita",
    "Entidad visitada",
    "Visitante",
    "Documento del visitante",
    "Entidad del visitante",
    "Funcionario visitado",
    "Hora Ingreso",
    "Hora Salida",
    "Motivo",
    "Lugar específico",
    "Observación",
]
PLACEHOLDER = "No se recibieron visitas"
REQUIRED_ENTITY_KEYS = {"ruc", "name", "stage", "source", "administrator"}
EXPECTED_FILES = {
    # file: (format, encoding, delimiter, header row)
    "visitas-2024-08.csv": ("csv", "utf-8-sig", ";", 1),
    "visitas-2024-09.xlsx": ("xlsx", None, None, 2),
    "visitas-2024-10.csv": ("csv", "cp1252", ",", 1),
    "visitas-2024-10-b.csv": ("csv", "utf-8", ",", 1),
}
DOCUMENT_FORMS = {
    "DNI": re.compile(r"DNI \d{8}"),
    "CE": re.compile(r"CE \d{9}"),
    "PASAPORTE": re.compile(r"PASAPORTE [A-Z]{2}\d{6}"),
    "CEX": re.compile(r"CEX : \d{9}"),
    "PSP": re.compile(r"PSP : [A-Z]{2}\d{7}"),
    "DNI/LE": re.compile(r"DNI/LE \d{8}"),
    "bare DNI": re.compile(r"\d{8}"),
}
VISITOR_ORG = re.compile(
    r"(Entidad pública - \S.*|Entidad privada - \S.*|Persona natural - a titulo personal)"
)
CATEGORIES = ("Reunión de trabajo", "Gestión de intereses", "Otros Motivos")


# ------------------------------------------------------------------------------------------
# Helpers
# ------------------------------------------------------------------------------------------


def run_generator(out: Path, *extra: str) -> None:
    subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(out), *extra],
        check=True,
        capture_output=True,
        text=True,
    )


def files_under(root: Path) -> list[Path]:
    return sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file())


def xlsx_snapshot(path: Path) -> list[tuple[str, list[tuple[str, object, str]], list[str]]]:
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


def read_table(entry: dict[str, Any]) -> tuple[list[Any], list[tuple[int, list[Any]]]]:
    """Header and (physical row number, values) of every data row, read as the manifest says."""
    path = SAMPLES_DIR / entry["path"]
    if entry["format"] == "xlsx":
        sheet = openpyxl.load_workbook(path).active
        assert sheet is not None
        rows = [list(values) for values in sheet.iter_rows(values_only=True)]
    else:
        text = path.read_bytes().decode(entry["encoding"])
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=entry["delimiter"]))
    header_row = entry["header_row"]
    data = [(header_row + 1 + i, values) for i, values in enumerate(rows[header_row:])]
    return rows[header_row - 1], data


def as_record(values: list[Any]) -> dict[str, Any]:
    assert len(values) == len(COLUMNS)
    return dict(zip(COLUMNS, values, strict=True))


def text(value: Any) -> str:
    return "" if value is None else str(value)


def is_blank(value: Any) -> bool:
    return text(value).replace("\u00a0", " ").strip() == ""


def parse_date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    for fmt in ("%d/%m/%Y", "%Y-%m-%d", "%d/%m/%y"):
        try:
            return datetime.strptime(text(value).strip(), fmt).date()
        except ValueError:
            pass
    return None


def parse_time(value: Any) -> time | None:
    if isinstance(value, time):
        return value
    for fmt in ("%H:%M:%S", "%H:%M"):
        try:
            return datetime.strptime(text(value).strip(), fmt).time()
        except ValueError:
            pass
    return None


def problems(record: dict[str, Any]) -> set[str]:
    """Fields that make a visit invalid, by an independent minimal reading of DESIGN §2."""
    bad = {
        column
        for column in ("Fecha de Registro", "Fecha de Visita")
        if not parse_date(record[column])
    }
    for column in (
        "Visitante",
        "Documento del visitante",
        "Entidad del visitante",
        "Funcionario visitado",
        "Motivo",
    ):
        if is_blank(record[column]):
            bad.add(column)
    entry = parse_time(record["Hora Ingreso"])
    if entry is None:
        bad.add("Hora Ingreso")
    if not is_blank(record["Hora Salida"]):
        leave = parse_time(record["Hora Salida"])
        if leave is None or (entry is not None and leave < entry):
            bad.add("Hora Salida")
    return bad


def entity_name(ruc: str) -> str:
    return yaml.safe_load((ENTITIES_DIR / f"{ruc}.yaml").read_text("utf-8"))["name"]


def valid_records(entry: dict[str, Any]) -> list[dict[str, Any]]:
    skip = set(entry["placeholder_rows"]) | {bad["row"] for bad in entry["invalid_rows"]}
    _, data = read_table(entry)
    return [as_record(values) for row, values in data if row not in skip]


def entry_for(file: str) -> dict[str, Any]:
    return next(entry for entry in FILES if entry["file"] == file)


# ------------------------------------------------------------------------------------------
# The generator reproduces the committed files
# ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("muestras")
    run_generator(out)
    return out


def test_generator_writes_the_expected_files(generated: Path) -> None:
    expected = {Path("datasets/samples/MANIFEST.json")}
    expected |= {Path(f"datasets/entities/{ruc}.yaml") for ruc in SAMPLE_RUCS}
    expected |= {Path("datasets/samples") / entry["path"] for entry in FILES}
    assert set(files_under(generated)) == expected
    assert {entry["file"] for entry in FILES} == set(EXPECTED_FILES)


def test_generator_reproduces_committed_files(generated: Path) -> None:
    for relative in files_under(generated):
        fresh, committed = generated / relative, ROOT / relative
        assert committed.is_file(), f"{relative} no está en el repositorio"
        if relative.suffix == ".xlsx":
            assert xlsx_snapshot(fresh) == xlsx_snapshot(committed), relative
        else:
            assert fresh.read_bytes() == committed.read_bytes(), (
                f"{relative} difiere: ejecute python scripts/generate_samples.py"
            )


def test_generator_is_byte_for_byte_deterministic(generated: Path, tmp_path: Path) -> None:
    run_generator(tmp_path, "--seed", str(MANIFEST["seed"]))
    for relative in files_under(generated):
        assert (tmp_path / relative).read_bytes() == (generated / relative).read_bytes(), relative


def test_another_seed_gives_other_rows_with_same_shape(tmp_path: Path) -> None:
    run_generator(tmp_path, "--seed", "7")
    other = json.loads((tmp_path / "datasets/samples/MANIFEST.json").read_text("utf-8"))
    assert [e["data_rows"] for e in other["files"]] == [e["data_rows"] for e in FILES]
    assert [len(e["invalid_rows"]) for e in other["files"]] == [
        len(e["invalid_rows"]) for e in FILES
    ]
    first = FILES[0]["path"]
    assert (tmp_path / "datasets/samples" / first).read_bytes() != (
        SAMPLES_DIR / first
    ).read_bytes()


# ------------------------------------------------------------------------------------------
# Entity registry
# ------------------------------------------------------------------------------------------


def test_sample_entities_are_registered() -> None:
    assert len(SAMPLE_RUCS) == 3
    assert set(SAMPLE_RUCS) <= {path.stem for path in ENTITY_FILES}


@pytest.mark.parametrize("path", ENTITY_FILES, ids=[p.stem for p in ENTITY_FILES])
def test_entity_file_is_well_formed(path: Path) -> None:
    entity = yaml.safe_load(path.read_text("utf-8"))
    assert set(entity) >= REQUIRED_ENTITY_KEYS, f"faltan claves en {path.name}"
    assert isinstance(entity["ruc"], str), "el RUC debe ir entre comillas (texto)"
    assert is_valid_ruc(entity["ruc"]), f"RUC inválido: {entity['ruc']}"
    assert path.stem == entity["ruc"]
    assert entity["stage"] in {"demo", "production"}
    assert isinstance(entity["name"], str) and entity["name"].strip()
    assert isinstance(entity["source"], dict) and "kind" in entity["source"]
    assert {"name", "email"} <= set(entity["administrator"])
    assert re.fullmatch(r"[^@\s]+@[^@\s]+\.[a-z]{2,}", entity["administrator"]["email"])


@pytest.mark.parametrize("ruc", SAMPLE_RUCS)
def test_sample_entity_has_exactly_the_registry_keys(ruc: str) -> None:
    entity = yaml.safe_load((ENTITIES_DIR / f"{ruc}.yaml").read_text("utf-8"))
    assert set(entity) == REQUIRED_ENTITY_KEYS
    assert entity["ruc"] == ruc and ruc.startswith("20")
    assert entity["source"] == {"kind": "files"}
    assert set(entity["administrator"]) == {"name", "email"}
    assert entity["administrator"]["email"].endswith(".gob.pe")
    assert "Ejemplo" in entity["name"], "las entidades de muestra deben ser visiblemente ficticias"


def test_sample_stages() -> None:
    stages = sorted(
        yaml.safe_load((ENTITIES_DIR / f"{ruc}.yaml").read_text("utf-8"))["stage"]
        for ruc in SAMPLE_RUCS
    )
    assert stages == ["demo", "production", "production"]


# ------------------------------------------------------------------------------------------
# Encodings and layout
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("entry", FILES, ids=[e["file"] for e in FILES])
def test_manifest_layout_matches_expectations(entry: dict[str, Any]) -> None:
    fmt, encoding, delimiter, header_row = EXPECTED_FILES[entry["file"]]
    assert (entry["format"], entry["encoding"], entry["delimiter"], entry["header_row"]) == (
        fmt,
        encoding,
        delimiter,
        header_row,
    )
    assert entry["first_data_row"] == header_row + 1
    assert entry["path"] == f"{entry['ruc']}/{entry['file']}"


def test_entity1_csv_is_utf8_with_bom() -> None:
    raw = (SAMPLES_DIR / entry_for("visitas-2024-08.csv")["path"]).read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert raw.decode("utf-8-sig").startswith("Fecha de Registro;Fecha de Visita;")
    assert b"\r\n" in raw and raw.count(b"\n") == raw.count(b"\r\n")


def test_entity3_first_csv_is_windows_1252() -> None:
    raw = (SAMPLES_DIR / entry_for("visitas-2024-10.csv")["path"]).read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf")
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    decoded = raw.decode("cp1252")
    assert decoded.startswith(",".join(COLUMNS) + "\r\n")
    assert "Ñ" in decoded and "\u00a0" in decoded


def test_entity3_reupload_is_plain_utf8() -> None:
    raw = (SAMPLES_DIR / entry_for("visitas-2024-10-b.csv")["path"]).read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf")
    assert raw.decode("utf-8").startswith(",".join(COLUMNS) + "\n")
    assert b"\r" not in raw
    assert not raw.isascii()


def test_xlsx_has_title_row_and_native_date_time_cells() -> None:
    entry = entry_for("visitas-2024-09.xlsx")
    sheet = openpyxl.load_workbook(SAMPLES_DIR / entry["path"]).active
    assert sheet is not None
    assert sheet["A1"].value == entry["title"] == "Registro de visitas - Septiembre 2024"
    assert [cell.value for cell in sheet[2]] == COLUMNS
    for cells in sheet.iter_rows(min_row=3):
        registered, visited, entry_time, exit_time = cells[0], cells[1], cells[7], cells[8]
        assert isinstance(registered.value, datetime) and registered.is_date
        assert isinstance(visited.value, datetime) and visited.is_date
        assert isinstance(entry_time.value, time)
        assert exit_time.value is None or isinstance(exit_time.value, time)
        assert isinstance(cells[4].value, str), "el documento es texto"


def test_xlsx_properties_are_fixed() -> None:
    workbook = openpyxl.load_workbook(SAMPLES_DIR / entry_for("visitas-2024-09.xlsx")["path"])
    assert workbook.properties.created == workbook.properties.modified == datetime(2024, 10, 1, 8)


# ------------------------------------------------------------------------------------------
# Row counts and the rows the manifest calls invalid or placeholder
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("entry", FILES, ids=[e["file"] for e in FILES])
def test_counts_match_manifest(entry: dict[str, Any]) -> None:
    header, data = read_table(entry)
    assert header == COLUMNS
    assert len(data) == entry["data_rows"]
    assert all(len(values) == len(COLUMNS) for _, values in data)
    assert entry["valid_rows"] == (
        entry["data_rows"] - len(entry["invalid_rows"]) - len(entry["placeholder_rows"])
    )


@pytest.mark.parametrize("entry", FILES, ids=[e["file"] for e in FILES])
def test_invalid_rows_are_exactly_those_listed(entry: dict[str, Any]) -> None:
    _, data = read_table(entry)
    placeholders = set(entry["placeholder_rows"])
    found = {
        row: problems(record)
        for row, values in data
        if row not in placeholders and problems(record := as_record(values))
    }
    listed = {bad["row"]: {bad["field"]} for bad in entry["invalid_rows"]}
    assert found == listed
    assert all(bad["reason"].strip() for bad in entry["invalid_rows"])


@pytest.mark.parametrize("entry", FILES, ids=[e["file"] for e in FILES])
def test_placeholder_rows(entry: dict[str, Any]) -> None:
    _, data = read_table(entry)
    rows = dict(data)
    for row in entry["placeholder_rows"]:
        record = as_record(rows[row])
        assert record["Visitante"] == PLACEHOLDER
        assert parse_date(record["Fecha de Visita"]) and parse_date(record["Fecha de Registro"])
        others = set(COLUMNS) - {"Visitante", "Fecha de Visita", "Fecha de Registro"}
        assert all(is_blank(record[column]) for column in others)
        visited = parse_date(record["Fecha de Visita"])
        assert not any(
            parse_date(as_record(values)["Fecha de Visita"]) == visited
            for other, values in data
            if other != row
        ), "el día sin visitas no debe tener visitas"


def test_expected_invalid_and_placeholder_counts() -> None:
    counts = {
        e["file"]: (e["valid_rows"], len(e["invalid_rows"]), len(e["placeholder_rows"]))
        for e in FILES
    }
    assert counts == {
        "visitas-2024-08.csv": (37, 2, 1),
        "visitas-2024-09.xlsx": (40, 0, 0),
        "visitas-2024-10.csv": (38, 2, 0),
        "visitas-2024-10-b.csv": (5, 0, 0),
    }
    fields = {(e["file"], bad["field"]) for e in FILES for bad in e["invalid_rows"]}
    assert fields == {
        ("visitas-2024-08.csv", "Visitante"),
        ("visitas-2024-08.csv", "Hora Salida"),
        ("visitas-2024-10.csv", "Fecha de Visita"),
        ("visitas-2024-10.csv", "Funcionario visitado"),
    }


@pytest.mark.parametrize("entry", FILES, ids=[e["file"] for e in FILES])
def test_valid_rows_follow_the_published_format(entry: dict[str, Any]) -> None:
    name = entity_name(entry["ruc"])
    for record in valid_records(entry):
        registered = parse_date(record["Fecha de Registro"])
        visited = parse_date(record["Fecha de Visita"])
        assert registered is not None and visited is not None
        assert registered - visited in (timedelta(0), timedelta(days=1))
        assert record["Entidad visitada"] == name
        document = text(record["Documento del visitante"])
        assert any(form.fullmatch(document) for form in DOCUMENT_FORMS.values()), document
        assert VISITOR_ORG.fullmatch(text(record["Entidad del visitante"]))
        official, area, post = text(record["Funcionario visitado"]).rsplit(" - ", 2)
        assert official and area and post and " - " not in post
        assert text(record["Motivo"]).split(" - ", 1)[0] in CATEGORIES


@pytest.mark.parametrize("entry", FILES, ids=[e["file"] for e in FILES])
def test_blank_exit_rows(entry: dict[str, Any]) -> None:
    _, data = read_table(entry)
    rows = dict(data)
    skip = set(entry["placeholder_rows"]) | {bad["row"] for bad in entry["invalid_rows"]}
    blank = [row for row, values in data if row not in skip and is_blank(values[8])]
    assert blank == entry["blank_exit_rows"]
    for row in entry["formula_rows"]:
        assert any(text(value).startswith(("=", "+", "-", "@")) for value in rows[row])


def test_reupload_fills_exit_times() -> None:
    second = entry_for("visitas-2024-10-b.csv")
    first = entry_for(second["reuploads"][0]["same_visit_as"]["file"])
    first_rows = dict(read_table(first)[1])
    second_rows = dict(read_table(second)[1])
    assert len(second["reuploads"]) == second["data_rows"] == 5
    for link in second["reuploads"]:
        later = as_record(second_rows[link["row"]])
        earlier = as_record(first_rows[link["same_visit_as"]["row"]])
        assert link["fills"] == ["Hora Salida"]
        assert earlier["Hora Salida"] == "" and later["Hora Salida"] != ""
        assert {c: v for c, v in later.items() if c != "Hora Salida"} == {
            c: v for c, v in earlier.items() if c != "Hora Salida"
        }
        leave, entry_time = parse_time(later["Hora Salida"]), parse_time(later["Hora Ingreso"])
        assert leave is not None and entry_time is not None and leave > entry_time
        assert link["same_visit_as"]["row"] in first["blank_exit_rows"]


# ------------------------------------------------------------------------------------------
# The samples exercise the quirks listed in DESIGN §2
# ------------------------------------------------------------------------------------------


def test_samples_cover_domain_quirks() -> None:
    records = [record for entry in FILES for record in valid_records(entry)]
    documents = [text(r["Documento del visitante"]) for r in records]
    forms = {
        kind for doc in documents for kind, form in DOCUMENT_FORMS.items() if form.fullmatch(doc)
    }
    assert forms == set(DOCUMENT_FORMS)
    assert any(doc.startswith("DNI 0") for doc in documents), "DNI con cero inicial"
    assert any(re.fullmatch(r"0\d{7}", doc) for doc in documents), "DNI sin tipo con cero inicial"

    visitors = [text(r["Visitante"]) for r in records]
    assert any(", " in v for v in visitors), "APELLIDOS, NOMBRES"
    assert any("\u00a0" in v for v in visitors), "espacio de no separación"
    assert any("  " in v for v in visitors), "espacios dobles"
    assert any(v.endswith(" ") for v in visitors), "espacio final"
    assert any("Ñ" in v for v in visitors) and any(re.search("[ÁÉÍÓÚÜ]", v) for v in visitors)

    officials = [text(r["Funcionario visitado"]) for r in records]
    assert any(" - " in o.rsplit(" - ", 2)[1] or o.count(" - ") > 2 for o in officials)

    motives = [text(r["Motivo"]) for r in records]
    assert {m.split(" - ", 1)[0] for m in motives} == set(CATEGORIES)
    assert any(m in CATEGORIES for m in motives), "Motivo sin detalle"

    orgs = {VISITOR_ORG.fullmatch(text(r["Entidad del visitante"])) is not None for r in records}
    assert orgs == {True}
    assert {text(r["Entidad del visitante"]).split(" - ")[0] for r in records} == {
        "Entidad pública",
        "Entidad privada",
        "Persona natural",
    }
    assert any(re.fullmatch(r"\d\d:\d\d:\d\d", text(r["Hora Ingreso"])) for r in records)
    assert any(not is_blank(r["Observación"]) for r in records)


@pytest.mark.parametrize(
    "entry", [e for e in FILES if e["data_rows"] >= 20], ids=lambda e: e["file"]
)
def test_about_three_of_four_motives_are_otros(entry: dict[str, Any]) -> None:
    motives = [text(r["Motivo"]) for r in valid_records(entry)]
    share = sum(m.startswith("Otros Motivos") for m in motives) / len(motives)
    assert 0.65 <= share <= 0.85


def test_regional_file_mixes_date_formats() -> None:
    _, data = read_table(entry_for("visitas-2024-10.csv"))
    visit_dates = [values[1] for _, values in data]
    assert any(re.fullmatch(r"\d{4}-\d\d-\d\d", d) for d in visit_dates), "fechas ISO"
    assert any(re.fullmatch(r"\d\d/\d\d/\d\d", d) for d in visit_dates), "años de 2 dígitos"
    assert "31/02/2024" in visit_dates


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
        _, data = read_table(entry)
        corpus += [
            _collapse(text(value).replace("\u00a0", " ")) for _, row in data for value in row
        ]
    corpus += [_collapse(p.read_text("utf-8")) for p in ENTITIES_DIR.glob("*.yaml")]
    joined = "\n".join(corpus)
    leaked = sorted(s for s in secrets if s in joined)
    assert not leaked
