"""A self-contained Spanish HTML report for the entity's administrator.

One file with inline CSS and an inline SVG chart, no scripts and no external resources, so it
opens offline and can be sent by e-mail.
"""

from __future__ import annotations

import html
from collections import defaultdict

from pipeline.validation.errors import ERROR_TYPES, ErrorType
from pipeline.validation.report import Report, ReportError

EXAMPLES_PER_TYPE = 5
_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;max-width:60rem;
color:#1f2933;padding:0 1rem;line-height:1.45}
h1{font-size:1.5rem;margin-bottom:.25rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ccd}
.ok{color:#17633a}.bad{color:#a61b1b}.meta{color:#52606d;font-size:.9rem}
.cards{display:flex;gap:1rem;flex-wrap:wrap;margin:1rem 0}
.card{border:1px solid #ccd;border-radius:.5rem;padding:.6rem 1rem;min-width:9rem}
.card b{display:block;font-size:1.6rem}
table{border-collapse:collapse;width:100%;margin:.5rem 0}
th,td{border-bottom:1px solid #e4e7eb;text-align:left;padding:.35rem .5rem;vertical-align:top}
th{background:#f5f7fa}td.n{text-align:right;font-variant-numeric:tabular-nums}
code{background:#f5f7fa;padding:0 .2rem;border-radius:.2rem}
.fix{background:#fffbea;border-left:4px solid #f0b429;padding:.4rem .8rem;margin:.5rem 0}
"""


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value))


def _spec(kind: str) -> ErrorType:
    return ERROR_TYPES.get(kind) or ErrorType(kind, kind, "{note}", "")


def bar_chart(counts: dict[str, int], width: int = 560) -> str:
    """A horizontal bar chart of counts per error type, as inline SVG."""
    items = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    if not items:
        return ""
    bar_h, gap, label_w = 22, 8, 220
    height = len(items) * (bar_h + gap) + gap
    top = max(v for _, v in items)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" '
             f'height="{height}" viewBox="0 0 {width} {height}" '
             f'aria-label="Errores por tipo">']
    for i, (kind, n) in enumerate(items):
        y = gap + i * (bar_h + gap)
        w = max(2, int((width - label_w - 60) * n / top))
        parts.append(
            f'<text x="{label_w - 6}" y="{y + bar_h * 0.7}" text-anchor="end" '
            f'font-size="12">{_e(_spec(kind).title)}</text>'
            f'<rect x="{label_w}" y="{y}" width="{w}" height="{bar_h}" fill="#c2410c">'
            f"<title>{_e(kind)}: {n}</title></rect>"
            f'<text x="{label_w + w + 6}" y="{y + bar_h * 0.7}" font-size="12">{n}</text>')
    parts.append("</svg>")
    return "".join(parts)


def render_html(report: Report) -> str:
    """The report as one HTML page in Spanish."""
    name = report.place.rsplit("/", 1)[-1]
    if report.valid:
        verdict = f'<p class="ok"><b>✔ El archivo es válido.</b> {report.valid_rows} visitas listas para publicar.</p>'
    elif not report.readable:
        verdict = '<p class="bad"><b>✘ No se pudo procesar el archivo.</b> Corrija los problemas de abajo y vuelva a subirlo.</p>'
    else:
        verdict = (f'<p class="bad"><b>✘ El archivo tiene {report.error_count} errores en '
                   f'{report.rejected_rows} filas.</b> Las filas válidas siguen su curso; las filas con '
                   "errores quedan en cuarentena hasta que las corrija y vuelva a subirlas.</p>")
    cards = [("Filas leídas", report.rows), ("Filas válidas", report.valid_rows),
             ("Filas con errores", report.rejected_rows), ("Errores", report.error_count)]
    if report.placeholder_rows:
        cards.append(("Filas sin visitas", report.placeholder_rows))
    out = [
        "<!DOCTYPE html>",
        '<html lang="es"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Reporte de validación — {_e(name)}</title><style>{_CSS}</style></head><body>",
        f"<h1>Reporte de validación: {_e(name)}</h1>",
        f'<p class="meta">Formato: {_e(report.schema) or "—"} · {report.bytes} bytes · '
        f'SHA-256 <code>{_e(report.sha256[:16])}…</code></p>',
        verdict,
        '<div class="cards">',
        *(f'<div class="card"><b>{n}</b>{_e(label)}</div>' for label, n in cards),
        "</div>",
    ]
    if report.error_count:
        omitted = max(0, report.error_count - len(report.errors))
        out += ["<h2>Errores por tipo</h2>", bar_chart(report.counts_by_type),
                "<table><thead><tr><th>Tipo de error</th><th>Código</th><th>Casos</th>"
                "<th>Cómo corregirlo</th></tr></thead><tbody>"]
        for kind, n in sorted(report.counts_by_type.items(), key=lambda kv: (-kv[1], kv[0])):
            spec = _spec(kind)
            out.append(f"<tr><td>{_e(spec.title)}</td><td><code>{_e(kind)}</code></td>"
                       f'<td class="n">{n}</td><td>{_e(spec.fix)}</td></tr>')
        out.append("</tbody></table>")
        if report.counts_by_field:
            out += ["<h2>Errores por columna</h2><table><thead><tr><th>Columna</th>"
                    "<th>Errores</th></tr></thead><tbody>"]
            for column, n in sorted(report.counts_by_field.items(), key=lambda kv: (-kv[1], kv[0])):
                out.append(f'<tr><td>{_e(column)}</td><td class="n">{n}</td></tr>')
            out.append("</tbody></table>")
        out.append("<h2>Ejemplos y cómo corregirlos</h2>")
        by_type: dict[str, list[ReportError]] = defaultdict(list)
        for error in report.errors:
            by_type[error.type].append(error)
        for kind, errors in sorted(by_type.items(), key=lambda kv: -report.counts_by_type.get(kv[0], 0)):
            spec = _spec(kind)
            total = report.counts_by_type.get(kind, len(errors))
            out.append(f"<h3>{_e(spec.title)} <code>{_e(kind)}</code> — {total} casos</h3>")
            out.append(f'<div class="fix"><b>Cómo corregir:</b> {_e(spec.fix)}</div>')
            out.append("<table><thead><tr><th>Fila</th><th>Columna</th><th>Valor</th>"
                       "<th>Mensaje</th></tr></thead><tbody>")
            for error in errors[:EXAMPLES_PER_TYPE]:
                out.append(f'<tr><td class="n">{_e(error.rowNumber or "—")}</td>'
                           f"<td>{_e(error.fieldName or '—')}</td><td><code>{_e(error.cell)}</code></td>"
                           f"<td>{_e(error.message)}</td></tr>")
            out.append("</tbody></table>")
            if total > EXAMPLES_PER_TYPE:
                out.append(f'<p class="meta">… y {total - min(len(errors), EXAMPLES_PER_TYPE)} '
                           "casos más de este tipo.</p>")
        if omitted:
            out.append(f'<p class="meta">El reporte detalla los primeros {len(report.errors)} '
                       f"errores; {omitted} más se cuentan pero no se detallan.</p>")
    out.append(f'<p class="meta">Validado en {report.seconds:.2f} s.</p></body></html>')
    return "\n".join(out)
