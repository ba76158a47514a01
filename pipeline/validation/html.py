"""A self-contained Spanish HTML report for the entity's administrator.

One file with inline CSS and an inline SVG chart, no scripts and no external resources, so it
opens offline and can be sent by e-mail. This module computes what the page shows (counts,
examples, chart geometry); `templates/validation_report.html` lays it out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pipeline.templates import render
from pipeline.validation.errors import ERROR_TYPES, ErrorType
from pipeline.validation.report import Report, ReportError

EXAMPLES_PER_TYPE = 5
NONE_SHOWN = "—"  # printed where an error has no row or column


@dataclass(frozen=True)
class Bar:
    kind: str
    label: str
    count: int
    y: int
    width: int
    text_y: float  # baseline of the label and of the count, inside the bar
    value_x: int  # where the count starts, right of the bar


@dataclass(frozen=True)
class BarChart:
    width: int
    height: int
    bars: list[Bar]
    label_x: int  # labels end here (right-aligned)
    bar_x: int
    bar_height: int
    colour: str = "#c2410c"


@dataclass(frozen=True)
class TypeCount:
    kind: str
    title: str
    fix: str
    count: int


@dataclass(frozen=True)
class Example:
    row: str
    column: str
    value: str
    message: str


@dataclass(frozen=True)
class ExampleSection:
    kind: str
    title: str
    fix: str
    total: int
    examples: list[Example]
    more: int  # cases of this type the section does not show
    not_shown: str  # and that, in a sentence


def _spec(kind: str) -> ErrorType:
    return ERROR_TYPES.get(kind) or ErrorType(kind, kind, "{note}", "")


def _by_count(counts: dict[str, int]) -> list[tuple[str, int]]:
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


def bar_chart(counts: dict[str, int], width: int = 560) -> BarChart | None:
    """Geometry of a horizontal bar chart of counts per error type; None without counts."""
    items = _by_count(counts)
    if not items:
        return None
    bar_h, gap, label_w = 22, 8, 220
    top = max(v for _, v in items)
    bars = []
    for i, (kind, n) in enumerate(items):
        y = gap + i * (bar_h + gap)
        # 60 px stay free right of the longest bar for its count
        w = max(2, int((width - label_w - 60) * n / top))
        bars.append(Bar(kind=kind, label=_spec(kind).title, count=n, y=y, width=w,
                        text_y=y + bar_h * 0.7, value_x=label_w + w + 6))
    return BarChart(width=width, height=len(items) * (bar_h + gap) + gap, bars=bars,
                    label_x=label_w - 6, bar_x=label_w, bar_height=bar_h)


def _example(error: ReportError) -> Example:
    return Example(row=str(error.rowNumber or NONE_SHOWN), column=error.fieldName or NONE_SHOWN,
                   value="" if error.cell is None else str(error.cell), message=error.message)


def example_sections(report: Report) -> list[ExampleSection]:
    """Every error type with its first examples, most frequent type first; a type beyond the
    error limit has a section too, with no example and its count."""
    sections = []
    for kind, errors in sorted(report.detailed_by_type().items(),
                               key=lambda kv: -report.counts_by_type.get(kv[0], 0)):
        spec = _spec(kind)
        total = report.counts_by_type.get(kind, len(errors))
        shown = errors[:EXAMPLES_PER_TYPE]
        sections.append(ExampleSection(kind=kind, title=spec.title, fix=spec.fix, total=total,
                                       examples=[_example(e) for e in shown],
                                       more=total - len(shown),
                                       not_shown=report.not_shown_es(len(shown), total, of_type=True)))
    return sections


def _verdict(report: Report) -> Literal["valid", "unreadable", "rejected", "errors"]:
    if report.valid:
        return "valid"
    if report.unreadable:
        return "unreadable"
    return "errors" if report.readable else "rejected"


def render_html(report: Report, rejected_href: str | None = None) -> str:
    """The report as one HTML page in Spanish; `rejected_href`, relative to the page, is the
    CSV of the rejected rows written beside it."""
    cards = [("Filas leídas", report.rows), ("Filas válidas", report.valid_rows),
             ("Filas con errores", report.rejected_rows), ("Errores", report.error_count)]
    if report.placeholder_rows:
        cards.append(("Filas sin visitas", report.placeholder_rows))
    types = [TypeCount(kind=kind, title=_spec(kind).title, fix=_spec(kind).fix, count=n)
             for kind, n in _by_count(report.counts_by_type)]
    return render(
        "validation_report.html",
        report=report,
        name=report.place.rsplit("/", 1)[-1],
        verdict=_verdict(report),
        cards=cards,
        chart=bar_chart(report.counts_by_type),
        types=types,
        columns=_by_count(report.counts_by_field),
        sections=example_sections(report),
        omitted=max(0, report.error_count - len(report.errors)),
        rejected_href=rejected_href,
    )
