"""`index.html`: the Spanish landing page of a release, the page a journalist or an analyst
lands on: what the data covers (period, entities), how to download it (every file of the
release, each format of each month), what each column means (from the Table Schema), a few
charts, and what changed. With schema.org `Dataset` JSON-LD so search engines and Google
Dataset Search list every file. The page is laid out by `templates/index.html`.

Everything listed comes from the release's manifest, so a file a release adds is linked
without touching this module.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pipeline.publication import charts, environment, layout
from pipeline.publication.dataset import DatasetMeta
from pipeline.publication.manifest import Manifest, ReleaseFile
from pipeline.spanish import (
    counted,
    lima_time,
    long_date,
    month_name,
    number,
    plural,
    short_month,
    size,
)
from pipeline.templates import render

Link = Callable[[str], str]

_MONTH = re.compile(r"\d{4}-\d{2}")
FORMAT_LABELS = {"csv": "CSV", "json": "JSON", "parquet": "Parquet", "duckdb": "DuckDB",
                 "md": "Markdown", "jsonld": "JSON-LD", "html": "HTML"}
#: Table Schema types as a reader of the dictionary knows them
TYPE_LABELS = {"string": "texto", "integer": "número entero", "number": "número",
               "boolean": "sí/no", "date": "fecha (AAAA-MM-DD)", "time": "hora (HH:MM:SS)",
               "datetime": "fecha y hora", "year": "año", "yearmonth": "año y mes"}


@dataclass(frozen=True)
class Download:
    href: str
    file: ReleaseFile
    format: str  # "CSV"
    size: str  # "1,2 MB"
    description: str = ""

    @property
    def rows(self) -> str:
        return "" if self.file.rows is None else number(self.file.rows)


@dataclass(frozen=True)
class MonthRow:
    label: str  # "agosto de 2024"
    visits: str
    downloads: dict[str, Download]  # by format label


@dataclass(frozen=True)
class Column:
    name: str
    title: str
    type: str
    description: str


@dataclass(frozen=True)
class EntityRow:
    name: str
    ruc: str
    visits: str
    first: str
    last: str


def schema_org(meta: DatasetMeta, files: list[ReleaseFile], *, version: str, modified: str,
               link: Link, coverage: tuple[str, str] | None = None,
               identity: tuple[str, str] | None = None) -> dict[str, Any]:
    """`identity`: the dataset's stable identifier and landing page (the same at every
    release, as in the catalogues), so search engines keep one entry for it."""
    return {
        "@context": "https://schema.org/",
        "@type": "Dataset",
        **({"identifier": identity[0], "url": identity[1]} if identity else {}),
        "name": meta.title,
        "description": meta.description,
        "keywords": meta.keywords,
        "license": meta.licence["path"],
        "version": version,
        "dateModified": modified,
        **({"temporalCoverage": f"{coverage[0]}/{coverage[1]}"} if coverage else {}),
        "inLanguage": "es",
        "isAccessibleForFree": True,
        "creator": {"@type": "Organization", "name": meta.publisher["name"]},
        "publisher": {"@type": "Organization", "name": meta.publisher["name"]},
        "distribution": [{"@type": "DataDownload", "name": f.path, "contentUrl": link(f.path),
                          "encodingFormat": f.mediatype, "contentSize": f"{f.bytes} B",
                          "sha256": f.sha256} for f in files],
    }


def _format(f: ReleaseFile) -> str:
    return FORMAT_LABELS.get(f.format, f.format.upper())


def _descriptions(meta: DatasetMeta) -> dict[str, str]:
    return {
        meta.schema_path.name: "Esquema de la tabla (Table Schema): columnas, tipos y reglas.",
        layout.DUCKDB: f"Base DuckDB con todas las filas en la tabla «{meta.table}»: se abre "
                       "desde cualquier carpeta.",
        layout.complete_file(meta.table, "csv.gz"): "Todos los meses en un solo CSV, comprimido con "
                                            "gzip.",
        layout.complete_file(meta.table, "parquet"): "Todos los meses en un solo archivo Parquet.",
        layout.CHANGES: "Filas agregadas, modificadas y retiradas en esta versión, por entidad "
                        "y mes.",
        layout.CHANGES_MD: "Las mismas cifras, para leer.",
        **{name: text for companion in meta.companions
           for name, text in _companion_descriptions(companion).items()},
    }


#: how the release page describes each table published whole beside `visitas`
COMPANION_TEXTS = {
    "cumplimiento": ("Cumplimiento de cada entidad por mes: filas recibidas y rechazadas, "
                     "visitas publicadas, calidad y demora.", "de cumplimiento"),
    "decisores": ("Decisores de cada entidad, todas las versiones de su registro, con cargo, "
                  "área y periodo en el cargo.", "de decisores"),
    "actos_gestion_intereses": ("Actos de gestión de intereses: visitas a decisores con motivo "
                                "«Gestión de intereses»; se unen con las visitas por id_visita.",
                                "de actos de gestión de intereses"),
    "indicadores_gestion_intereses": ("Indicadores por entidad y mes: visitas a decisores, actos "
                                      "declarados y visitas de organizaciones privadas a "
                                      "decisores con otro motivo (para mirar, no hallazgos).",
                                      "de indicadores de gestión de intereses"),
}


def _companion_descriptions(companion: DatasetMeta) -> dict[str, str]:
    """The files of a table published whole beside the visits, as the release page
    describes them."""
    text, which = COMPANION_TEXTS.get(companion.table, (companion.title, f"«{companion.table}»"))
    return {
        layout.table_file(companion.table, "csv"): text,
        layout.table_file(companion.table, "parquet"): f"La misma tabla {which}, en Parquet.",
        companion.schema_path.name: f"Esquema de la tabla {which} (Table Schema).",
        **({layout.COMPLIANCE_PAGE: "Gráficos de cumplimiento por entidad y mes, y las "
                                    "entidades en silencio."}
           if companion.table == "cumplimiento" else {}),
    }


def downloads(meta: DatasetMeta, manifest: Manifest,
              link: Link) -> tuple[list[str], list[MonthRow], list[Download]]:
    """The formats of the monthly files, one row per month with a link per format, and the
    release's other files (whatever they are: each is listed)."""
    described = _descriptions(meta)
    by_month: dict[str, dict[str, Download]] = {}
    others = []
    for f in manifest.files:
        d = Download(link(f.path), f, _format(f), size(f.bytes), described.get(f.path, ""))
        if _MONTH.fullmatch(f.partition):
            by_month.setdefault(f.partition, {})[d.format] = d
        else:
            others.append(d)
    formats = list(dict.fromkeys(fmt for cells in by_month.values() for fmt in cells))
    rows = [MonthRow(month_name(m), number(manifest.months.get(m, {}).get("rows", 0)),
                     by_month[m]) for m in sorted(by_month)]
    return formats, rows, others


def dictionary(meta: DatasetMeta) -> list[Column]:
    """One row per published column, from the Table Schema as published."""
    out = []
    for field in meta.schema["fields"]:
        notes = [field.get("description", "")]
        constraints = field.get("constraints", {})
        if constraints.get("enum"):
            notes.append("Valores: " + ", ".join(str(v) for v in constraints["enum"]) + ".")
        if constraints.get("required"):
            notes.append("Siempre presente.")
        out.append(Column(field["name"], field.get("title", ""),
                          TYPE_LABELS.get(field.get("type", "string"), field.get("type", "")),
                          " ".join(n for n in notes if n)))
    return out


def _entities(overview: dict[str, Any]) -> list[EntityRow]:
    return [EntityRow(e["nombre"] or e["ruc"], e["ruc"], number(e["visitas"]),
                      long_date(e["desde"]), long_date(e["hasta"]))
            for e in overview.get("entidades", [])]


def index_html(meta: DatasetMeta, manifest: Manifest, *, link: Link, previous_link: str | None,
               totals: dict[str, int], identity: tuple[str, str] | None = None) -> str:
    overview = manifest.overview
    coverage = (overview["desde"], overview["hasta"]) if overview.get("desde") else None
    formats, months, others = downloads(meta, manifest, link)
    entities = overview.get("entidades", [])
    return render(
        "index.html",
        meta=meta,
        demo_notice=(f"{environment.DEMO_MARK}. {environment.DEMO_NOTICE}"
                     if environment.is_demo(meta) else ""),
        version=manifest.id,
        published=lima_time(manifest.created),
        visits=counted(manifest.rows, "visita"),
        entity_count=counted(len(entities), "entidad", "entidades"),
        coverage=(long_date(coverage[0]), long_date(coverage[1])) if coverage else None,
        dataset_ld=schema_org(meta, manifest.files, version=manifest.id,
                              modified=manifest.created, link=link, coverage=coverage,
                              identity=identity),
        licence_link=meta.licence["path"],
        licence_title=meta.licence.get("title", meta.licence["name"]),
        previous=manifest.previous,
        previous_link=previous_link,
        changes=_changes(totals),
        links={"changes_md": link(layout.CHANGES_MD), "changes": link(layout.CHANGES),
               "datapackage": link(layout.DATAPACKAGE), "catalog": link(layout.CATALOG),
               "data_json": link(layout.DATA_JSON)},
        formats=formats,
        months=months,
        others=others,
        files=[Download(link(f.path), f, _format(f), size(f.bytes)) for f in manifest.files],
        columns=dictionary(meta),
        schema_name=meta.schema_path.name,
        schema_link=link(meta.schema_path.name),
        entities=_entities(overview),
        month_chart=charts.columns(
            [(short_month(m), month_name(m), manifest.months.get(m, {}).get("rows", 0))
             for m in _every_month(manifest.months)], label="Visitas por mes"),
        entity_chart=charts.bars([(e["nombre"] or e["ruc"], e["visitas"]) for e in entities],
                                 label="Visitas por entidad"),
        top_entities=charts.TOP_ENTITIES,
    )


def _changes(totals: dict[str, int]) -> str:
    """'4 filas agregadas, 1 modificada y 0 retiradas'."""
    added, changed, withdrawn = (totals.get(k, 0) for k in ("agregadas", "modificadas",
                                                            "retiradas"))
    return (f"{plural(added, 'fila agregada', 'filas agregadas')}, "
            f"{plural(changed, 'modificada', 'modificadas')} y "
            f"{plural(withdrawn, 'retirada', 'retiradas')}")


def _every_month(months: dict[str, Any]) -> list[str]:
    """From the first month to the last, those without visits included: a month with none
    is news too, and a chart that skipped it would mislead."""
    if not months:
        return []
    first, last = min(months), max(months)
    year, month = int(first[:4]), int(first[5:7])
    out = []
    while f"{year}-{month:02d}" <= last:
        out.append(f"{year}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out
