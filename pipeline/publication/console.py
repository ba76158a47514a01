"""What `visitas run` prints about a publication, in Spanish: the version served, its
changes, and every file of a new release marked written (+) or copied unchanged from the
previous release (=), so the counts always cover the files listed."""

from __future__ import annotations

from pipeline.publication.lobbying import REVIEW_FILE
from pipeline.publication.publisher import PublicationOutcome
from pipeline.spanish import plural, size


def outcome_lines(pub: PublicationOutcome) -> list[str]:
    """The lines under "Publicación", without indentation."""
    if not pub.new_release:
        return [f"sin cambios: {pub.location}/ sigue sirviendo la versión {pub.version}"
                f" ({plural(pub.rows, 'visita', 'visitas')})"]
    visits = plural(pub.rows, "visita publicada", "visitas publicadas")
    if pub.previous is None:
        lines = [f"versión {pub.version} (primera): {visits} en {pub.location}/"]
    else:
        changes = pub.changes
        lines = [f"versión {pub.version}: {visits} en {pub.location}/ (anterior: {pub.previous};"
                 f" {plural(changes.get('agregadas', 0), 'agregada', 'agregadas')},"
                 f" {plural(changes.get('modificadas', 0), 'modificada', 'modificadas')},"
                 f" {plural(changes.get('retiradas', 0), 'retirada', 'retiradas')})"]
    counts = f"{plural(len(pub.written), 'archivo escrito', 'archivos escritos')} (+)"
    if pub.reused:
        counts += (f", {plural(len(pub.reused), 'copiado', 'copiados')} sin cambios de la"
                   f" versión {pub.previous} (=)")
    lines.append(counts)
    reused = set(pub.reused)
    width = max((len(f.path) for f in pub.files), default=0)
    for f in pub.files:
        mark = "=" if f.path in reused else "+"
        lines.append(f"  {mark} {f.path:<{width}}  {size(f.bytes):>10}  sha256:{f.sha256[:16]}…")
    if pub.lobbying:
        counts = pub.lobbying
        lines.append(
            f"gestión de intereses: {plural(counts['actos'], 'acto publicado', 'actos publicados')}"
            f" ({plural(counts['entidades'], 'entidad', 'entidades')} con registro de decisores);"
            f" {plural(counts['por_revisar'], 'visita', 'visitas')} por revisar en"
            f" {pub.review_files or '<reportes>/<RUC>/' + REVIEW_FILE}")
    return lines
