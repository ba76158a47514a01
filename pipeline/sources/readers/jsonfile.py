"""JSON records (an API's response saved to a file, a system's export) as a stream of Arrow
record batches of text cells.

The records are a top-level array, or the array under a key of the top-level object: the key
the entity's mapping names (`records:`, a dotted path such as `respuesta.filas`), else the
usual ones (`data`, `rows`, `records`, …), else the only array of objects the object holds.
Each record is an object (nested objects are flattened: `persona.nombre`) or, in an array of
arrays, a row under a first row of labels. The header is every key in the order first met;
a record without a key has that cell empty. Values become text as written in the JSON
(`8.23`, `true`); `null` is empty. A record's row number is its position in the array, from 1.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa

from pipeline.sources.readers.table import TableStream, UnreadableUpload

BATCH_ROWS = 65_536
#: keys under which APIs commonly return their records, tried in this order
RECORD_KEYS = ("data", "rows", "records", "items", "results", "resultados", "registros",
               "visitas", "datos")


def _load(path: Path) -> Any:
    raw = path.read_bytes()
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text = raw.decode("utf-16")
    else:
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = raw.decode("cp1252", errors="replace")  # a Windows tool's export
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UnreadableUpload(
            f"El archivo no es un JSON válido: {exc.msg} (línea {exc.lineno}, columna "
            f"{exc.colno}).", "format-error") from exc


def _at(data: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(data, dict) or part not in data:
            return None
        data = data[part]
    return data


def find_records(data: Any, keys: tuple[str, ...] = ()) -> tuple[list[Any], str]:
    """The array of records and where it was found ('' for a top-level array)."""
    if isinstance(data, list):
        return data, ""
    if not isinstance(data, dict):
        raise UnreadableUpload("El JSON no tiene registros: se esperaba una lista de objetos, "
                               "o un objeto que la contenga.", "format-error")
    for key in (*keys, *RECORD_KEYS):
        found = _at(data, key)
        if isinstance(found, list):
            return found, key
    lists = [k for k, v in data.items() if isinstance(v, list) and v
             and all(isinstance(r, dict) for r in v[:10])]
    if len(lists) == 1:
        return data[lists[0]], lists[0]
    named = ", ".join(f"«{k}»" for k in data) or "ninguna"
    raise UnreadableUpload(
        f"El JSON es un objeto sin una lista de registros reconocible (claves: {named}). "
        "Indique en la correspondencia de la entidad, con records:, la clave que la contiene.",
        "format-error")


def cell(value: Any) -> str:
    """A JSON value as text, as written in the file; null is empty."""
    kind = type(value)
    if kind is str:
        return value
    if value is None:
        return ""
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return str(value)
    if kind is float:
        return json.dumps(value)  # as JSON writes it (1e+20, not 1e20)
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _flatten(record: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def open_json(path: Path, record_keys: tuple[str, ...] = ()) -> TableStream:
    """Open a JSON file's records for streaming (see the module's docstring)."""
    records, where = find_records(_load(path), record_keys)
    if not records:
        raise UnreadableUpload("El JSON no tiene ningún registro: la lista está vacía.")
    first_row = 1
    if all(isinstance(r, list) for r in records):
        # an array of arrays: the first holds the labels, as a table's header row
        labels = [cell(v) for v in records[0]]
        rows = [dict(zip(labels, r, strict=False)) for r in records[1:]]
        first_row = 2
    elif all(isinstance(r, dict) for r in records):
        # most systems return flat records: flattened only when a value is an object
        rows = [_flatten(r) if any(type(v) is dict for v in r.values()) else r
                for r in records]
        labels = list(dict.fromkeys(k for r in rows for k in r))
    else:
        raise UnreadableUpload("Los registros del JSON deben ser objetos ({\"clave\": valor, "
                               "…}): la lista mezcla objetos con otros valores.", "format-error")
    stream = TableStream(labels=labels, header_row=first_row - 1, file_format="json",
                         batches=iter(()), encoding="utf-8")
    if where:
        stream.notes.append(f"Se leyeron los registros de la clave «{where}» del JSON.")
    stream.batches = _batches(rows, stream, first_row)
    return stream


def _batches(rows: list[dict[str, Any]], stream: TableStream, first_row: int
             ) -> Iterator[pa.RecordBatch]:
    labels = stream.labels
    schema = stream.schema
    for start in range(0, len(rows), BATCH_ROWS):
        part = rows[start:start + BATCH_ROWS]
        numbers = pa.array(range(first_row + start, first_row + start + len(part)), pa.int64())
        columns = [pa.array([cell(r.get(label)) for r in part], pa.string())
                   for label in labels]
        yield pa.RecordBatch.from_arrays([numbers, *columns], schema=schema)


__all__ = ["RECORD_KEYS", "cell", "find_records", "open_json"]
