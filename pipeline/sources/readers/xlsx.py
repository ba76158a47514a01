"""What calamine cannot tell about an XLSX sheet, found in the sheet's XML.

calamine returns each cell's cached value, and hands back two kinds of cells as empty: a
formula without a computed value (a workbook written by a program that never calculated it)
and an Excel error value such as `#N/A`. Both are reported per cell instead.
"""

from __future__ import annotations

import posixpath
import re
import zipfile
from pathlib import Path
from xml.etree import ElementTree

_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_REF = re.compile(r"([A-Z]+)([0-9]+)")


def _sheet_part(archive: zipfile.ZipFile, sheet_name: str | None) -> str | None:
    """The zip member holding the named sheet (the first sheet when no name is given)."""
    try:
        workbook = ElementTree.fromstring(archive.read("xl/workbook.xml"))
        rels = ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    except (KeyError, ElementTree.ParseError):
        return None
    sheets = workbook.findall(f"{_MAIN}sheets/{_MAIN}sheet")
    sheet = next((s for s in sheets if sheet_name is None or s.get("name") == sheet_name), None)
    if sheet is None:
        return None
    rid = sheet.get(f"{_REL}id")
    for rel in rels.iter(f"{_PKG_REL}Relationship"):
        if rel.get("Id") == rid:
            target = rel.get("Target", "")
            return target.lstrip("/") if target.startswith("/") else \
                posixpath.normpath(posixpath.join("xl", target))
    return None


def _holds_marker(archive: zipfile.ZipFile, part: str) -> bool:
    """Whether the sheet holds any formula or error cell at all (a byte search, streamed)."""
    tail = b""
    with archive.open(part) as fh:
        while block := fh.read(1 << 20):
            chunk = tail + block
            if b"<f" in chunk or b't="e"' in chunk:
                return True
            tail = chunk[-8:]
    return False


def problem_cells(path: Path, sheet_name: str | None = None
                  ) -> dict[tuple[int, int], tuple[str, str]]:
    """(row, column) → (error type, text) of formula cells without a value and error cells."""
    found: dict[tuple[int, int], tuple[str, str]] = {}
    with zipfile.ZipFile(path) as archive:
        part = _sheet_part(archive, sheet_name)
        if part is None or part not in archive.namelist() or not _holds_marker(archive, part):
            return found
        with archive.open(part) as fh:
            for _, element in ElementTree.iterparse(fh, events=("end",)):
                if element.tag != f"{_MAIN}c":
                    if element.tag == f"{_MAIN}row":
                        element.clear()  # memory stays flat on long sheets
                    continue
                match = _REF.fullmatch(element.get("r", ""))
                if match is None:
                    continue
                letters, row = match.groups()
                column = 0
                for letter in letters:
                    column = column * 26 + ord(letter) - 64
                formula = element.find(f"{_MAIN}f")
                value = element.find(f"{_MAIN}v")
                value_text = value.text if value is not None else None
                if element.get("t") == "e":
                    found[int(row), column] = ("spreadsheet-error", value_text or "#ERROR")
                elif formula is not None and not value_text:
                    text = f"={formula.text}" if formula.text else "(fórmula compartida)"
                    found[int(row), column] = ("formula-without-value", text)
    return found


__all__ = ["problem_cells"]
