"""Build consolidated `visitas` tables in DuckDB for publication tests, check releases, and make
the publisher's storage fail where a test wants it to."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb

from pipeline.publication import layout
from pipeline.settings import Settings
from pipeline.storage.base import ObjectInfo, Storage

RUCS = ("20999100016", "20999200029", "20999300031")


def settings_for(tmp: Path, **overrides: Any) -> Settings:
    return Settings(var_dir=tmp / "var", **overrides)


def write_table(db: Path, n: int = 360) -> None:
    """n visits from 2023-12-01 on, 4 a day, 3 entities, deterministic: 360 span 2023-12 to 2024-02."""
    db.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(db)) as con:
        con.execute(f"""CREATE OR REPLACE TABLE visitas AS
            SELECT lpad(printf('%x', i), 16, '0') AS id_visita,
                   ['{RUCS[0]}', '{RUCS[1]}', '{RUCS[2]}'][i % 3 + 1] AS entidad_ruc,
                   'Entidad ' || (i % 3) AS entidad_nombre,
                   DATE '2023-12-01' + (i // 4)::INTEGER AS fecha_registro,
                   DATE '2023-12-01' + (i // 4)::INTEGER AS fecha_visita,
                   TIME '08:00' + INTERVAL (i % 4 * 30) MINUTE AS hora_ingreso,
                   NULL::TIME AS hora_salida,
                   'VISITANTE ' || i AS visitante_nombre,
                   'DNI' AS visitante_tipo_documento,
                   lpad(i::VARCHAR, 8, '0') AS visitante_numero_documento,
                   'Persona natural' AS visitante_tipo_entidad,
                   NULL::VARCHAR AS visitante_entidad,
                   'FUNCIONARIO ' || (i % 7) AS funcionario_nombre,
                   'AREA' AS funcionario_area, 'CARGO' AS funcionario_cargo,
                   'Reunión de trabajo' AS motivo, NULL::VARCHAR AS motivo_detalle,
                   NULL::VARCHAR AS lugar, NULL::VARCHAR AS observacion
            FROM range({n}) t(i)""")


def change_table(db: Path) -> dict[tuple[str, str], dict[str, int]]:
    """Change 2024-01 only: 5 rows edited (entity 0), 3 withdrawn (entity 1), 4 added (entity 2).

    Returns the exact changelog expected, per (entity, month).
    """
    with duckdb.connect(str(db)) as con:
        con.execute(f"""UPDATE visitas SET hora_salida = TIME '18:00' WHERE id_visita IN (
            SELECT id_visita FROM visitas WHERE entidad_ruc = '{RUCS[0]}'
            AND strftime(fecha_visita, '%Y-%m') = '2024-01' ORDER BY id_visita LIMIT 5)""")
        con.execute(f"""DELETE FROM visitas WHERE id_visita IN (
            SELECT id_visita FROM visitas WHERE entidad_ruc = '{RUCS[1]}'
            AND strftime(fecha_visita, '%Y-%m') = '2024-01' ORDER BY id_visita LIMIT 3)""")
        con.execute(f"""INSERT INTO visitas SELECT 'ffff00000000000' || i, '{RUCS[2]}', 'Entidad 2',
            DATE '2024-01-20', DATE '2024-01-20', TIME '17:00', NULL, 'NUEVO ' || i, 'DNI', '1234567' || i,
            'Persona natural', NULL, 'FUNCIONARIO', 'AREA', 'CARGO', 'Reunión de trabajo', NULL, NULL, NULL
            FROM range(4) t(i)""")
    return {(RUCS[0], "2024-01"): {"agregadas": 0, "modificadas": 5, "retiradas": 0},
            (RUCS[1], "2024-01"): {"agregadas": 0, "modificadas": 0, "retiradas": 3},
            (RUCS[2], "2024-01"): {"agregadas": 4, "modificadas": 0, "retiradas": 0}}


def resource_bytes(storage: Storage, directory: str, resource: dict[str, Any]) -> bytes:
    """A resource's bytes as Frictionless reads them: a multi-part one (`path` a list) is its
    parts one after the other, the header line of every part after the first dropped."""
    paths = resource["path"] if isinstance(resource["path"], list) else [resource["path"]]
    body = b""
    for number, path in enumerate(paths):
        part = storage.read_bytes(f"{directory}/{path}")
        body += part.split(b"\n", 1)[1] if number else part
    return body


def assert_whole(storage: Storage, directory: str) -> dict[str, Any]:
    """Every resource of `<directory>/datapackage.json` exists with its bytes and sha256."""
    package = json.loads(storage.read_bytes(f"{directory}/{layout.DATAPACKAGE}"))
    for res in package["resources"]:
        key = f"{directory}/{res['path']}"
        body = resource_bytes(storage, directory, res)
        assert len(body) == res["bytes"], key
        assert res["hash"] == "sha256:" + hashlib.sha256(body).hexdigest(), key
    return package


class Crash(Exception):
    """The publisher process 'dies' here."""


class FaultyStorage(Storage):
    """Delegates to a real storage and raises at the k-th write (upload, copy, delete...)."""

    def __init__(self, inner: Storage, crash_at: int | None) -> None:
        self.inner, self.crash_at, self.writes = inner, crash_at, 0
        self.url = inner.url

    def _step(self) -> None:
        if self.crash_at is not None and self.writes == self.crash_at:
            raise Crash(f"paso {self.writes}")
        self.writes += 1

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        return self.inner.list(prefix)

    def exists(self, key: str) -> bool:
        return self.inner.exists(key)

    def read_bytes(self, key: str) -> bytes:
        return self.inner.read_bytes(key)

    def download(self, key: str, dest: Path) -> None:
        self.inner.download(key, dest)

    def size(self, key: str) -> int:
        return self.inner.size(key)

    def sha256(self, key: str) -> str:
        return self.inner.sha256(key)

    def local_path(self, key: str) -> Path | None:
        return self.inner.local_path(key)

    def upload(self, src: Path, key: str, **kw: Any) -> None:
        self._step()
        self.inner.upload(src, key, **kw)

    def write_bytes(self, key: str, data: bytes, **kw: Any) -> None:
        # The publishers' lock (`.locks/`, its own faults tested in test_locks) is not a step
        # of the release.
        if not key.startswith(".locks/"):
            self._step()
        self.inner.write_bytes(key, data, **kw)

    def delete(self, key: str) -> None:
        if not key.startswith(".locks/"):
            self._step()
        self.inner.delete(key)

    def copy(self, src_key: str, dest_key: str, **kw: Any) -> None:
        self._step()
        self.inner.copy(src_key, dest_key, **kw)


class CrashingAt(FaultyStorage):
    """Dies when asked to write one given key."""

    def __init__(self, inner: Storage, key: str) -> None:
        super().__init__(inner, None)
        self.key = key

    def write_bytes(self, key: str, data: bytes, **kw: Any) -> None:
        if key == self.key:
            raise Crash(key)
        self.inner.write_bytes(key, data, **kw)
