"""The controlled vocabularies portals read: the EU Publications Office's authority tables
(data themes, frequencies, file types, countries, languages) and IANA media types.

DCAT-AP asks for their IRIs, each typed with the class its range shapes expect (a frequency is
a `dct:Frequency`, a file type a `dct:MediaTypeOrExtent`…); data.json (DCAT-US) takes labels
and ISO 8601 durations instead. A dataset names its codes in `datasets/<table>.yaml`
(`themes`, `accrual_periodicity`, `spatial`, `language`); only the codes listed here are
accepted, so a typo fails the release with the list of valid ones rather than publishing an
IRI no portal knows. A new code is added here with its label from the authority table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

EU = "http://publications.europa.eu/resource/authority"
IANA = "https://www.iana.org/assignments/media-types"

#: data-theme: the 13 themes of the EU's open-data portals (Spanish labels of the table)
THEMES = {
    "AGRI": "Agricultura, pesca, silvicultura y alimentación",
    "ECON": "Economía y finanzas",
    "EDUC": "Educación, cultura y deporte",
    "ENER": "Energía",
    "ENVI": "Medio ambiente",
    "GOVE": "Gobierno y sector público",
    "HEAL": "Salud",
    "INTR": "Asuntos internacionales",
    "JUST": "Justicia, sistema judicial y seguridad pública",
    "REGI": "Regiones y ciudades",
    "SOCI": "Población y sociedad",
    "TECH": "Ciencia y tecnología",
    "TRAN": "Transporte",
}


@dataclass(frozen=True)
class Frequency:
    label: str
    #: DCAT-US `accrualPeriodicity`: an ISO 8601 repeating duration, or "irregular"
    iso: str


FREQUENCIES = {
    "UPDATE_CONT": Frequency("actualización continua", "R/PT1S"),
    "DAILY": Frequency("diaria", "R/P1D"),
    "WEEKLY": Frequency("semanal", "R/P1W"),
    "MONTHLY": Frequency("mensual", "R/P1M"),
    "QUARTERLY": Frequency("trimestral", "R/P3M"),
    "ANNUAL": Frequency("anual", "R/P1Y"),
    "IRREG": Frequency("irregular", "irregular"),
}

COUNTRIES = {"PER": "Perú"}


@dataclass(frozen=True)
class Language:
    label: str
    #: ISO 639-1, what data.json's `language` takes
    code: str


LANGUAGES = {"SPA": Language("español", "es")}


@dataclass(frozen=True)
class FileType:
    """How a published file is described: its EU file type, its IANA media type (registered
    types only: an IRI under IANA must exist), and the compression around it."""

    code: str
    label: str
    media_type: str
    compress: str | None = None


#: by `ReleaseFile.format`. DuckDB has neither a file type nor a registered media type: it
#: is binary data (`BIN`, application/octet-stream) to a portal.
FILE_TYPES = {
    "csv": FileType("CSV", "CSV", "text/csv"),
    "csv.gz": FileType("CSV", "CSV", "text/csv", compress="application/gzip"),
    "json": FileType("JSON", "JSON", "application/json"),
    "parquet": FileType("PARQUET", "Parquet", "application/vnd.apache.parquet"),
    "duckdb": FileType("BIN", "DuckDB", "application/octet-stream"),
}

#: planned-availability: how long a distribution's URL is meant to last
AVAILABILITY = {"STABLE": "estable", "AVAILABLE": "disponible"}

#: access-right: anyone may access the data
PUBLIC_ACCESS = f"{EU}/access-right/PUBLIC"
THEME_SCHEME = f"{EU}/data-theme"


def iri(table: str, code: str) -> str:
    return f"{EU}/{table}/{code}"


def media_type(name: str) -> str:
    return f"{IANA}/{name}"


def file_type(fmt: str) -> FileType:
    return FILE_TYPES.get(fmt, FileType("BIN", fmt.upper(), "application/octet-stream"))


class VocabularyError(ValueError):
    """Raised while the catalogue is written when a dataset's YAML names a code that is not
    in its vocabulary; says which file, which key, and the codes accepted."""


@dataclass(frozen=True)
class Discovery:
    """What portals show and search by, as declared for one dataset."""

    themes: tuple[str, ...] = ()
    frequency: str | None = None
    spatial: str | None = None
    language: str | None = None

    @classmethod
    def of(cls, extra: dict[str, Any], fallback: dict[str, Any], source: str) -> Discovery:
        """The codes in `extra` (a dataset's YAML), each missing key taken from `fallback`
        (the main dataset's: a companion describes the same register)."""

        def pick(key: str, table: dict[str, Any]) -> Any:
            value = extra.get(key, fallback.get(key))
            values = value if isinstance(value, list) else [] if value is None else [value]
            for code in values:
                if code not in table:
                    raise VocabularyError(
                        f"{key}: {code!r} en {source} no es un código del vocabulario; use uno "
                        f"de: {', '.join(table)} (pipeline/publication/vocabularies.py).")
            return value

        themes = pick("themes", THEMES)
        return cls(
            themes=tuple(themes if isinstance(themes, list) else [themes] if themes else []),
            frequency=pick("accrual_periodicity", FREQUENCIES),
            spatial=pick("spatial", COUNTRIES),
            language=pick("language", LANGUAGES),
        )
