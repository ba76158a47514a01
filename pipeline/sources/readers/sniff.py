"""What an uploaded file really is, told by its first bytes rather than by its name.

Administrators rename files: a workbook saved as `visitas.csv`, a CSV renamed `.xlsx`, the web
page some registers export with an `.xls` extension. The reader picks by content; the name only
decides what the report says when the two disagree. Only the first few kilobytes are read (and,
for a ZIP, its central directory at the end of the file), never the whole file.
"""

from __future__ import annotations

import codecs
import zipfile
from dataclasses import dataclass
from pathlib import Path

HEAD_BYTES = 8 * 1024

#: the kinds a reader exists for
TEXT = "text"
XLSX = "xlsx"
XLS = "xls"
ODS = "ods"
SPREADSHEETS = (XLSX, XLS, ODS)
EMPTY_FILE = "empty"
#: read only where an entity's source declares a mapping (`open_table(..., extended=True)`):
#: web pages holding tables (spreadsheets saved as HTML) and JSON records
HTML = "html"
JSON = "json"

#: what the name promises, by suffix
KIND_BY_SUFFIX = {".csv": TEXT, ".txt": TEXT, ".tsv": TEXT, ".xlsx": XLSX, ".xlsm": XLSX,
                  ".xls": XLS, ".ods": ODS}
#: a kind as named in a sentence ("es …")
#: and the further suffixes of the extended formats
EXTENDED_SUFFIXES = {".html": HTML, ".htm": HTML, ".json": JSON}
DESCRIPTIONS = {TEXT: "un archivo de texto delimitado (CSV)", XLSX: "un libro de Excel (.xlsx)",
                XLS: "un libro de Excel 97-2003 (.xls)",
                ODS: "una hoja de cálculo de OpenDocument (.ods)",
                HTML: "una página web (HTML)", JSON: "un archivo JSON"}
#: what a web page is said to be where web pages are not read
HTML_NOT_READ = "una página web (HTML), no una hoja de cálculo"

_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_MAGIC = (
    (b"%PDF", "un documento PDF"),
    (b"\x89PNG", "una imagen PNG"),
    (b"\xff\xd8\xff", "una imagen JPEG"),
    (b"GIF8", "una imagen GIF"),
    (b"\x1f\x8b", "un archivo comprimido con gzip"),
    (b"Rar!", "un archivo comprimido RAR"),
    (b"7z\xbc\xaf", "un archivo comprimido 7-Zip"),
    (b"{\\rtf", "un documento RTF"),
)
#: bytes no text table holds (C0 controls but tab, LF, VT, FF, CR; and DEL)
_CONTROL = bytes([*range(0x00, 0x09), *range(0x0e, 0x20), 0x7f])


@dataclass(frozen=True)
class Sniffed:
    #: TEXT, XLSX, XLS, ODS, EMPTY_FILE, or 'other' (nothing reads it)
    kind: str
    #: what the file is, for a sentence: "un documento PDF"
    what: str

    @property
    def readable(self) -> bool:
        return self.kind == TEXT or self.kind in SPREADSHEETS


def sniff(path: Path) -> Sniffed:
    with open(path, "rb") as fh:
        head = fh.read(HEAD_BYTES)
    if not head:
        return Sniffed(EMPTY_FILE, "un archivo vacío")
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return _zip(path)
    if head.startswith(_OLE2):
        # calamine tells a workbook from another Office document (.doc, .ppt, .msg)
        return Sniffed(XLS, DESCRIPTIONS[XLS])
    for magic, what in _MAGIC:
        if head.startswith(magic):
            return Sniffed("other", what)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return Sniffed(TEXT, DESCRIPTIONS[TEXT])
    start = head.removeprefix(codecs.BOM_UTF8).lstrip()[:1024].lower()
    if start.startswith((b"<!doctype html", b"<html")) or b"<table" in start:
        # what several registers and web systems export under an .xls name; read only where
        # the entity's source declares a mapping (see `open_table`)
        return Sniffed(HTML, HTML_NOT_READ)
    if start[:1] in (b"[", b"{"):
        # JSON records (an API's response saved to a file); elsewhere read as text, as before
        return Sniffed(JSON, DESCRIPTIONS[TEXT])
    if start.startswith(b"<?xml"):
        if b"urn:schemas-microsoft-com:office:spreadsheet" in head:
            return Sniffed("other", "una hoja de cálculo XML de Excel 2003")
        return Sniffed("other", "un documento XML")
    controls = sum(head.count(c) for c in _CONTROL)
    if controls >= 4 and controls * 50 > len(head):
        return Sniffed("other", "un archivo binario, no una tabla de texto ni una hoja de cálculo")
    return Sniffed(TEXT, DESCRIPTIONS[TEXT])


def _zip(path: Path) -> Sniffed:
    """A ZIP container: a workbook, another Office document, or an archive."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            mimetype = archive.read("mimetype")[:100] if "mimetype" in names else b""
    except (zipfile.BadZipFile, OSError, KeyError):
        return Sniffed("damaged-zip", "un archivo comprimido dañado o incompleto")
    if "xl/workbook.xml" in names:
        return Sniffed(XLSX, DESCRIPTIONS[XLSX])
    if "xl/workbook.bin" in names:
        return Sniffed("other", "un libro binario de Excel (.xlsb)")
    if mimetype == b"application/vnd.oasis.opendocument.spreadsheet":
        return Sniffed(ODS, DESCRIPTIONS[ODS])
    if mimetype.startswith(b"application/vnd.oasis.opendocument"):
        return Sniffed("other", "un documento de OpenDocument que no es una hoja de cálculo")
    if "word/document.xml" in names:
        return Sniffed("other", "un documento de Word (.docx)")
    if "ppt/presentation.xml" in names:
        return Sniffed("other", "una presentación de PowerPoint (.pptx)")
    return Sniffed("other", "un archivo comprimido (.zip)")


def expected_kind(filename: str, extended: bool = False) -> str | None:
    """The kind the file's name promises; None for a suffix no reader is named after."""
    suffix = Path(filename).suffix.lower()
    if extended and suffix in EXTENDED_SUFFIXES:
        return EXTENDED_SUFFIXES[suffix]
    return KIND_BY_SUFFIX.get(suffix)
