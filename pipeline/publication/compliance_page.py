"""`cumplimiento.html`: the Spanish page of the compliance dataset in each release, a chart per
indicator and the entities silent for more than `silencio_dias` days.

The charts are drawn by matplotlib as SVG and inlined in the page, text kept as text: the page
is read offline (from a portal or a downloaded copy), so nothing is loaded from the network,
and a browser, a search engine or a screen reader reads every label and value.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import matplotlib
from markupsafe import Markup
from matplotlib.colors import Colormap
from matplotlib.figure import Figure

from pipeline.publication import compliance, environment, layout
from pipeline.publication.compliance import LIMA, Activity
from pipeline.publication.dataset import DatasetMeta
from pipeline.publication.index_page import dictionary
from pipeline.publication.manifest import ReleaseFile
from pipeline.settings import Settings
from pipeline.spanish import counted, lima_time, long_date, month_name, number, short_month
from pipeline.storage.base import sha256_file
from pipeline.templates import render

#: entities drawn in each chart (those with the most rows received); the CSV has every one
TOP_ENTITIES = 30
#: cells annotated with their value up to this many per chart (beyond, colour alone)
ANNOTATED_CELLS = 600
_NAME_CHARS = 40
# Same bytes for the same data: no creation date in the SVG, ids from a fixed salt.
matplotlib.rcParams.update({"svg.fonttype": "none", "svg.hashsalt": "cumplimiento",
                            "font.size": 9, "font.family": "sans-serif"})


@dataclass(frozen=True)
class Indicator:
    column: str
    title: str
    explanation: str
    colours: str  # a matplotlib colour map: blues where more is better, oranges where worse
    suffix: str = ""


INDICATORS = (
    Indicator("visitas_publicadas", "Visitas publicadas",
              "Visitas del mes publicadas en esta versión.", "Blues"),
    Indicator("filas_recibidas", "Filas recibidas",
              "Filas de visitas del mes en las cargas de la entidad, válidas y rechazadas.",
              "Blues"),
    Indicator("filas_rechazadas", "Filas rechazadas",
              "Filas del mes que la validación rechazó (la entidad debe corregirlas y volver a "
              "cargarlas).", "Oranges"),
    Indicator("pct_sin_hora_salida", "Visitas sin hora de salida (%)",
              "Porcentaje de las visitas publicadas del mes sin hora de salida.", "Oranges",
              " %"),
    Indicator("pct_otros_motivos", "Visitas con motivo «Otros Motivos» (%)",
              "Porcentaje de las visitas publicadas del mes registradas con la categoría "
              "«Otros Motivos», que no dice a qué vino el visitante.", "Oranges", " %"),
    Indicator("demora_mediana_dias", "Demora mediana de publicación (días)",
              "Mediana de los días entre la fecha de la visita y la primera carga que la trajo. "
              "La norma pide publicar a más tardar al día siguiente.", "Oranges"),
    Indicator("dias_con_visitas", "Días con visitas",
              "Días distintos del mes con al menos una visita publicada.", "Blues"),
)


@dataclass(frozen=True)
class Chart:
    title: str
    explanation: str
    svg: Markup
    note: str  # "" or which entities the chart leaves out


@dataclass(frozen=True)
class SilentRow:
    name: str
    ruc: str
    last_upload: str  # "5 de agosto de 2024" or "nunca"
    days: str  # "45" or ""


def _short(name: str) -> str:
    return name if len(name) <= _NAME_CHARS else name[:_NAME_CHARS - 1].rstrip() + "…"


def _value(v: float | int | None, suffix: str = "") -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    return number(v) + suffix


def _svg(fig: Figure) -> Markup:
    """The figure as an <svg> element to inline (no XML prolog, no creation date)."""
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    text = buffer.getvalue()
    # matplotlib escapes every label it writes (entity names come from the registry)
    return Markup(text[text.index("<svg"):])


def _heatmap(indicator: Indicator, entities: list[tuple[str, str]], months: list[str],
             cell: Callable[[str, str], Any]) -> Markup:
    """Entities (rows) × months (columns), each cell coloured by the indicator and, when
    there is room, labelled with its value; an empty cell (no visits) grey with a dash."""
    values = tuple(tuple(cell(ruc, m) for m in months) for ruc, _ in entities)
    return _drawn_heatmap(indicator, tuple(entities), tuple(months), values)


# Drawing is most of what a release costs on a small dataset (about 0.15 s a chart); a
# process that publishes again the same figures (a retried release, a Dagster code server)
# draws each once. The SVG is a function of these arguments only (fixed hash salt, no date).
@functools.lru_cache(maxsize=64)
def _drawn_heatmap(indicator: Indicator, entities: tuple[tuple[str, str], ...],
                   months: tuple[str, ...], values: tuple[tuple[Any, ...], ...]) -> Markup:
    grid = [[math.nan if v is None else float(v) for v in row] for row in values]
    fig = Figure(figsize=(min(2.5 + 0.62 * len(months), 11), 0.9 + 0.32 * len(entities)))
    ax = fig.add_subplot()
    colours: Colormap = matplotlib.colormaps[indicator.colours].with_extremes(bad="#eeeeee")
    finite = [v for row in grid for v in row if not math.isnan(v)]
    top = max(finite, default=0) or 1
    image = ax.imshow(grid, aspect="auto", cmap=colours, vmin=0, vmax=top,
                      interpolation="nearest")
    ax.set_xticks(range(len(months)), [short_month(m) for m in months], rotation=45,
                  ha="right")
    ax.set_yticks(range(len(entities)), [_short(name) for _, name in entities])
    ax.tick_params(length=0)
    for side in ax.spines.values():
        side.set_visible(False)
    if len(entities) * len(months) <= ANNOTATED_CELLS:
        for i, row in enumerate(values):
            for j, v in enumerate(row):
                dark = v is not None and float(v) > top * 0.6
                ax.text(j, i, _value(v), ha="center", va="center", fontsize=8,
                        color="white" if dark else "#1f2937")
    fig.colorbar(image, ax=ax, shrink=0.8, pad=0.02)
    return _svg(fig)


def _silence_chart(rows: list[tuple[str, int]], days: int) -> Markup:
    """Days since each entity's last upload, a bar per entity, the threshold as a line."""
    fig = Figure(figsize=(8, 0.9 + 0.32 * len(rows)))
    ax = fig.add_subplot()
    names = [_short(name) for name, _ in rows]
    gaps = [gap for _, gap in rows]
    ax.barh(range(len(rows)), gaps,
            color=["#ea580c" if gap > days else "#2563eb" for gap in gaps])
    ax.set_yticks(range(len(rows)), names)
    ax.invert_yaxis()
    ax.axvline(days, color="#111827", linestyle="--", linewidth=1)
    ax.text(days, -0.7, f" umbral: {counted(days, 'día')}", va="bottom", fontsize=8)
    for i, gap in enumerate(gaps):
        ax.text(gap, i, f" {number(gap)}", va="center", fontsize=8)
    ax.set_xlabel("Días desde la última carga")
    ax.set_xlim(0, max([*gaps, days]) * 1.15 + 1)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return _svg(fig)


def page(meta: DatasetMeta, rows: list[dict[str, Any]], activity: list[Activity], *,
         silence_days: int, version: str, created: str, links: dict[str, str]) -> str:
    """The page of one release: `rows` the table as published (dicts by column), `activity`
    each entity's last upload as of the release, `created` the release time (ISO), `links`
    where its files are (relative to the page)."""
    months = sorted({r["mes"] for r in rows})
    by_cell = {(r["entidad_ruc"], r["mes"]): r for r in rows}
    received: dict[str, int] = {}
    names: dict[str, str] = {}
    for r in rows:
        received[r["entidad_ruc"]] = received.get(r["entidad_ruc"], 0) + r["filas_recibidas"]
        names[r["entidad_ruc"]] = r["entidad_nombre"]
    ranked = sorted(names, key=lambda ruc: (-received[ruc], names[ruc]))
    shown = [(ruc, names[ruc]) for ruc in ranked[:TOP_ENTITIES]]
    note = (f"Se muestran las {TOP_ENTITIES} entidades con más filas recibidas de "
            f"{len(names)}; el CSV tiene todas." if len(names) > TOP_ENTITIES else "")

    def cell(column: str) -> Callable[[str, str], Any]:
        return lambda ruc, month: (by_cell[(ruc, month)][column]
                                   if (ruc, month) in by_cell else None)

    charts = [Chart(i.title, i.explanation, _heatmap(i, shown, months, cell(i.column)), note)
              for i in INDICATORS] if months else []
    moment = dt.datetime.fromisoformat(created.replace("Z", "+00:00"))
    today = moment.astimezone(LIMA).date()
    gaps = [(a.name, a.days) for a in activity if a.days is not None]
    return render(
        "cumplimiento.html",
        meta=meta,
        version=version,
        published=lima_time(moment),
        today=long_date(today),
        entity_count=counted(len(names), "entidad", "entidades"),
        period=(month_name(months[0]), month_name(months[-1])) if months else None,
        links=links,
        charts=charts,
        silence_days=counted(silence_days, "día"),
        silence_chart=_silence_chart(gaps[:TOP_ENTITIES], silence_days) if gaps else None,
        silent=[SilentRow(s.name, s.ruc,
                          long_date(s.last_upload.astimezone(LIMA).date())
                          if s.last_upload else "nunca",
                          number(s.days) if s.days is not None else "")
                for s in activity if s.silent(silence_days)],
        columns=dictionary(meta),
        demo_notice=(f"{environment.DEMO_MARK}. {environment.DEMO_NOTICE}"
                     if environment.is_demo(meta) else ""),
    )



def write(con: duckdb.DuckDBPyConnection, settings: Settings, companion: compliance.ComplianceMeta,
          out: Path, *, version: str, created: str) -> tuple[Path, ReleaseFile]:
    """`cumplimiento.html` of a release under `out`, from the table `compliance.stage` left
    on `con`. Its links are relative: the page sits beside the files it names both in the
    release and under latest/."""
    meta = companion.meta
    moment = dt.datetime.fromisoformat(created.replace("Z", "+00:00"))
    html = page(meta, compliance.records(con), compliance.activity(con, settings, moment),
                silence_days=companion.silence_days, version=version, created=created,
                links={"csv": layout.table_file(meta.table, "csv"),
                       "parquet": layout.table_file(meta.table, "parquet"),
                       "schema": meta.schema_path.name, "index": layout.INDEX})
    path = out / layout.COMPLIANCE_PAGE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
    return path, ReleaseFile(path.name, "html", path.stat().st_size, sha256_file(path))
