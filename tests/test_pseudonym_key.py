"""The pseudonym key (VISITAS_PSEUDONYM_KEY) never leaves Python: not in SQL text, not in the
values bound to queries, not in logs, errors or any file written.

HMAC-SHA256 derives its inner and outer padded keys by XOR with 0x36 and 0x5c, and a key
longer than one SHA-256 block (64 bytes) is first replaced by its digest: each of these gives
the key back, so each counts as the key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
import pytest

from pipeline.consolidation.visitas import consolidate, database_path
from pipeline.flow import included_entities
from pipeline.publication.personal_data import hmac_sha256_hex
from pipeline.publication.publisher import publish
from tests.stages import NOW, SAMPLES, drop, ingest, published_rows, settings_for

RUC = "20999300031"
SHORT_KEY = "clave-secreta-de-prueba-ñandú-7f3a"
LONG_KEY = "clave-larga-que-excede-un-bloque-de-sha256-" * 3  # > 64 bytes: HMAC hashes it first
BLOCK = 64


def forms(key: str) -> dict[str, bytes]:
    """Every form of `key` that would let someone recover it (or stand in for it in HMAC)."""
    raw = key.encode("utf-8")
    effective = hashlib.sha256(raw).digest() if len(raw) > BLOCK else raw
    out: dict[str, bytes] = {}
    for label, value in (("key", raw), ("effective", effective)):
        # XOR over the key's own bytes: the zero padding that follows adds nothing secret
        ipad = bytes(b ^ 0x36 for b in value)
        opad = bytes(b ^ 0x5C for b in value)
        for name, form in (("", value), ("ipad-", ipad), ("opad-", opad)):
            out[f"{name}{label}"] = form
            out[f"{name}{label}-hex"] = form.hex().encode()
            out[f"{name}{label}-HEX"] = form.hex().upper().encode()
            out[f"{name}{label}-base64"] = base64.b64encode(form).rstrip(b"=")
            out[f"{name}{label}-base64url"] = base64.urlsafe_b64encode(form).rstrip(b"=")
    out["key-sha256-hex"] = hashlib.sha256(raw).hexdigest().encode()
    out["key-sha256"] = hashlib.sha256(raw).digest()
    return out


def leaks(key: str, haystacks: dict[str, bytes]) -> list[str]:
    return sorted(f"{form} in {where}" for form, needle in forms(key).items()
                  for where, data in haystacks.items() if needle in data)


class RecordingConnection:
    """A DuckDB connection that records every SQL text and bound value it is given."""

    SQL_METHODS = ("execute", "executemany", "sql", "query", "from_query")

    def __init__(self, con: duckdb.DuckDBPyConnection, log: list[str]) -> None:
        self._con = con
        self._log = log

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._con, name)
        if name not in self.SQL_METHODS:
            return attr

        def recorded(query: object, *args: Any, **kwargs: Any) -> Any:
            self._log.append(str(query))
            self._log.extend(repr(a) for a in [*args, *kwargs.values()])
            result = attr(query, *args, **kwargs)
            # execute() returns the connection itself: keep recording what is chained on it
            return self if result is self._con else result

        return recorded

    def __enter__(self) -> RecordingConnection:
        self._con.__enter__()
        return self

    def __exit__(self, *exc: object) -> Any:
        return self._con.__exit__(*exc)


@pytest.fixture
def recorded_sql(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    log: list[str] = []
    real_connect = duckdb.connect

    def connect(*args: Any, **kwargs: Any) -> RecordingConnection:
        return RecordingConnection(real_connect(*args, **kwargs), log)

    monkeypatch.setattr(duckdb, "connect", connect)
    for name in ("execute", "sql", "query"):  # the module-level default connection
        real = getattr(duckdb, name)
        monkeypatch.setattr(duckdb, name, lambda q, *a, _real=real, **k: (log.append(str(q)),
                                                                          _real(q, *a, **k))[1])
    yield log


def written_files(root: Path) -> dict[str, bytes]:
    """Every file under `root`, as bytes; Parquet and DuckDB files also decoded, since their
    compression would hide a value from a byte search."""
    found: dict[str, bytes] = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        name = path.relative_to(root).as_posix()
        found[name] = path.read_bytes()
        if path.suffix == ".parquet":
            found[f"{name} (values)"] = json.dumps(
                pq.read_table(path).to_pylist(), default=str, ensure_ascii=False).encode()
        elif path.suffix == ".duckdb":
            with duckdb.connect(str(path), read_only=True) as con:
                catalog = con.execute("SELECT sql FROM duckdb_views() WHERE NOT internal UNION ALL "
                                      "SELECT sql FROM duckdb_tables()").fetchall()
            found[f"{name} (catalog)"] = json.dumps(catalog, ensure_ascii=False).encode()
    return found


@pytest.mark.parametrize("key", [SHORT_KEY, LONG_KEY], ids=["short-key", "long-key"])
def test_key_is_in_no_sql_log_error_or_file(tmp_path: Path, key: str, recorded_sql: list[str],
                                            caplog: pytest.LogCaptureFixture,
                                            capfd: pytest.CaptureFixture[str]) -> None:
    caplog.set_level(logging.DEBUG)
    var = tmp_path / "var"
    s = settings_for(var, VISITAS_PSEUDONYM_KEY=key)
    first, second = sorted((SAMPLES / RUC).glob("visitas-*.csv"))[:2]
    drop(s, RUC, first.name, first.read_bytes())
    ingest(s, RUC)
    consolidate(s, included_entities(s))
    publish(s, now=NOW)
    # A second release reuses unchanged months and computes a changelog: other queries
    drop(s, RUC, second.name, second.read_bytes())
    ingest(s, RUC)
    consolidate(s, included_entities(s))
    publish(s, now=NOW.replace(hour=13))
    rows = published_rows(var / "publish" / "latest")
    assert rows and all(r["visitante_id"] for r in rows)

    # A failing publication: DuckDB errors quote the statement they failed on.
    with duckdb.connect(str(database_path(s))) as con:
        con.execute("ALTER TABLE visitas RENAME COLUMN visitante_tipo_documento TO tipo")
    with pytest.raises(duckdb.Error) as failure:
        publish(s, now=NOW.replace(hour=14))
    error = "".join(traceback.format_exception(failure.value))

    out, err = capfd.readouterr()
    haystacks = {
        "sql": "\n".join(recorded_sql).encode(),
        "logs": "\n".join(r.getMessage() for r in caplog.records).encode(),
        "stdout/stderr": (out + err).encode(),
        "error": error.encode(),
        **written_files(tmp_path),
    }
    assert any("pub" in q for q in recorded_sql)  # the recorder saw the publication's queries
    assert leaks(key, haystacks) == []


def test_published_visitante_id_is_the_standard_hmac(tmp_path: Path) -> None:
    """Byte-identical to `hmac.new(key, "TIPO:NUMERO", sha256).hexdigest()`, short or long key."""
    for key in (SHORT_KEY, LONG_KEY):
        var = tmp_path / str(len(key))
        s = settings_for(var, VISITAS_PSEUDONYM_KEY=key)
        path = sorted((SAMPLES / RUC).glob("visitas-*.csv"))[0]
        drop(s, RUC, path.name, path.read_bytes())
        ingest(s, RUC)
        consolidate(s, included_entities(s))
        publish(s, now=NOW)
        with duckdb.connect(str(database_path(s)), read_only=True) as con:
            # the published row of a visit is found by its id; its message by the stored number
            stored = dict(con.execute(
                "SELECT id_visita, visitante_tipo_documento || ':' || visitante_numero_documento "
                "FROM visitas WHERE visitante_numero_documento IS NOT NULL").fetchall())
        rows = published_rows(var / "publish" / "latest")
        checked = 0
        for row in rows:
            message = stored.get(row["id_visita"])
            if message is None:
                continue
            expected = hmac.new(key.encode(), message.encode(), hashlib.sha256).hexdigest()
            assert row["visitante_id"] == expected == hmac_sha256_hex(key.encode(), message)
            checked += 1
        assert checked >= 5
