"""Personal-data policy: no full document number is published; visitante_id is a keyed HMAC."""

from __future__ import annotations

import json
import logging
from collections import Counter
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.consolidation.visitas import database_path
from pipeline.normalization import install_macros
from pipeline.publication.personal_data import (
    DEVELOPMENT_KEY,
    KEY_VARIABLE,
    PersonalDataError,
    Policy,
    hmac_sha256_hex,
    load_policy,
    pseudonym_key,
)
from pipeline.settings import Settings, SettingsError
from pipeline.sources.readers import fold, open_table
from tests.projects import copy_project
from tests.stages import (
    SAMPLES,
    TEST_KEY,
    consolidate_and_publish,
    drop,
    ingest,
    published_rows,
    settings_for,
)

#: the sample visit uploads (not the decision-makers registers, which hold no visitor)
SAMPLE_FILES = sorted(p for p in SAMPLES.glob("*/*") if p.suffix in (".csv", ".xlsx")
                      and not p.name.startswith("decisores"))


def input_numbers() -> set[str]:
    """Every document number in the sample uploads, valid rows and rejected rows alike."""
    numbers: set[str] = set()
    con = duckdb.connect()
    install_macros(con)
    for path in SAMPLE_FILES:
        upload = open_table(path, path.name, ["documento del visitante", "visitante", "motivo"])
        [index] = [i for i, label in enumerate(upload.labels) if fold(label) == "documento del visitante"]
        table = pa.Table.from_batches(list(upload.batches), schema=upload.schema)
        # column 0 is the row number
        con.register("cells", table.select([index + 1]).rename_columns(["c"]))
        numbers |= {n for (n,) in con.execute(
            "SELECT DISTINCT doc_number(c) FROM cells WHERE doc_number(c) IS NOT NULL").fetchall()}
    con.close()
    return numbers


def stored_numbers(latest: Path) -> dict[str, str]:
    """The full document number of every consolidated visit, by id_visita (never published)."""
    with duckdb.connect(str(database_path(settings_for(latest.parents[1]))), read_only=True) as con:
        return dict(con.execute("SELECT id_visita, visitante_numero_documento FROM visitas").fetchall())


def publish_samples(var_dir: Path, **env: str) -> Path:
    s = settings_for(var_dir, **env)
    for path in SAMPLE_FILES:
        drop(s, path.parent.name, path.name, path.read_bytes())
    for ruc in sorted({p.parent.name for p in SAMPLE_FILES}):
        ingest(s, ruc)
    return consolidate_and_publish(s)


@pytest.fixture(scope="module")
def published_default(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return publish_samples(tmp_path_factory.mktemp("default"))


def test_no_full_document_number_anywhere_in_the_published_tree(published_default: Path) -> None:
    numbers = input_numbers()
    # Every distinct number of the four sample files, none short enough to match by accident.
    assert len(numbers) == 110 and all(len(n) >= 8 for n in numbers)
    texts = []
    for path in sorted(p for p in published_default.rglob("*") if p.is_file()):
        texts.append(path.read_bytes().decode("utf-8", errors="replace"))
        if path.suffix == ".parquet":  # compressed bytes hide nothing: decode every value too
            texts.append(json.dumps(pq.read_table(path).to_pylist(), default=str, ensure_ascii=False))
    leaks = sorted(n for n in numbers if any(n in text for text in texts))
    assert leaks == []


def test_masked_number_keeps_only_the_last_two_characters(published_default: Path) -> None:
    rows = {r["id_visita"]: r["visitante_numero_documento"] for r in published_rows(published_default)}
    assert len(rows) == 115
    assert rows == {visit: "*" * (len(number) - 2) + number[-2:]
                    for visit, number in stored_numbers(published_default).items()}
    assert rows["f6bdf2d0f21f3900"] == "******78"  # DNI 53066378
    assert rows["76d333c1b1ae7c23"] == "*******01"  # CEX : 001728901


def test_visitante_id_is_the_keyed_hmac_and_counts_repeat_visitors(tmp_path: Path) -> None:
    s = settings_for(tmp_path)
    path = SAMPLES / "20999300031" / "visitas-2024-10.csv"
    drop(s, "20999300031", path.name, path.read_bytes())
    ingest(s, "20999300031")
    rows = published_rows(consolidate_and_publish(s))
    row = next(r for r in rows if r["visitante_nombre"] == "YUPANQUI VILLANUEVA WILFREDO")
    assert row["visitante_id"] == hmac_sha256_hex(TEST_KEY.encode(), "DNI:53066378")
    by_person: dict[str, set[str]] = {}
    for r in rows:
        by_person.setdefault(r["visitante_nombre"], set()).add(r["visitante_id"])
    assert all(len(ids) == 1 for ids in by_person.values())
    # 38 visits by 35 people: three came twice (one of them once written "PALOMINO CUBA, ELMER").
    visits = Counter(r["visitante_id"] for r in rows)
    assert len(rows) == 38 and len(visits) == 35
    assert {pid for pid, n in visits.items() if n > 1} == {
        hmac_sha256_hex(TEST_KEY.encode(), f"DNI:{number}")
        for number in ("21843292", "11261611", "52765945")}
    assert max(visits.values()) == 2


def test_policy_is_stated_in_the_datapackage(published_default: Path) -> None:
    package = json.loads((published_default / "datapackage.json").read_text(encoding="utf-8"))
    assert package["x-datos-personales"]["numero_documento"] == "enmascarado"
    assert "enmascarado" in package["description"]
    fields = {f["name"]: f for f in package["resources"][0]["schema"]["fields"]}
    assert "visitante_id" in fields and "dos últimos" in fields["visitante_numero_documento"]["description"]


@pytest.mark.parametrize(("policy", "column", "stated"), [
    ("full", True, "completo"),
    ("omitted", False, "omitido"),
])
def test_other_policies(tmp_path: Path, policy: str, column: bool, stated: str) -> None:
    home = tmp_path / "home"
    copy_project(home)
    yaml_path = home / "datasets" / "visitas.yaml"
    yaml_path.write_text(yaml_path.read_text(encoding="utf-8").replace(
        "document_number: masked", f"document_number: {policy}"), encoding="utf-8")
    latest = publish_samples(tmp_path / "var", VISITAS_HOME=str(home))
    rows = published_rows(latest)
    assert ("visitante_numero_documento" in rows[0]) is column
    if column:
        assert {r["id_visita"]: r["visitante_numero_documento"] for r in rows} == stored_numbers(latest)
    # 106 people: the 110 numbers of the samples but the four found only on rejected rows.
    assert len({r["visitante_id"] for r in rows}) == 106
    package = json.loads((latest / "datapackage.json").read_text(encoding="utf-8"))
    assert package["x-datos-personales"]["numero_documento"] == stated
    names = [f["name"] for f in package["resources"][0]["schema"]["fields"]]
    assert names == list(rows[0])


def test_unknown_policy_is_refused() -> None:
    with pytest.raises(PersonalDataError, match="document_number='hashed'"):
        load_policy({"personal_data": {"document_number": "hashed"}})
    assert load_policy({}) == Policy("masked")


def test_key_comes_from_the_environment() -> None:
    assert pseudonym_key(Settings.from_env(environ={KEY_VARIABLE: "s3cr3t"})) == b"s3cr3t"
    assert "s3cr3t" not in repr(Settings.from_env(environ={KEY_VARIABLE: "s3cr3t"}))


def test_local_falls_back_to_the_development_key_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        assert pseudonym_key(Settings.from_env(environ={}), environ={}) == DEVELOPMENT_KEY.encode()
    assert KEY_VARIABLE in caplog.text


@pytest.mark.parametrize("environment", ["demo", "production"])
def test_missing_key_fails_outside_local(environment: str) -> None:
    settings = Settings.from_env(environ={"VISITAS_ENV": environment})
    with pytest.raises(SettingsError, match=KEY_VARIABLE):
        pseudonym_key(settings, environ={})
