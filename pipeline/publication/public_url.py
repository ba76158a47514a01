"""Where the published tree is served from (`VISITAS_PUBLIC_BASE_URL`).

Without it the download links of `data.json`, `catalog.jsonld` and `index.html` are relative:
fine for a folder opened on a disk, useless to a portal that harvests `data.json` (DCAT-US
requires absolute URLs). In `local` that is only worth a warning; in `demo` and `production`
the release is refused before any work, like any other missing setting.
"""

from __future__ import annotations

from pipeline.settings import Settings, SettingsError

VARIABLE = "VISITAS_PUBLIC_BASE_URL"
EXAMPLE = "https://datos.example.gob.pe/visitas"


def check(settings: Settings) -> str | None:
    """Raise `SettingsError` if the base URL is unusable, or missing outside `local`; return
    the warning to give in `local` when it is missing (None when all is well)."""
    base = settings.public_base_url.strip()
    if base:
        if not base.startswith(("https://", "http://")):
            raise SettingsError(f"{VARIABLE}={base!r} no es una URL: indique la dirección "
                                f"completa desde la que se sirve el árbol publicado, con "
                                f"https:// (p. ej. {EXAMPLE}).")
        return None
    if settings.environment == "local":
        return (f"{VARIABLE} no está definida: data.json y catalog.jsonld llevan enlaces "
                f"relativos, que los portales no pueden cosechar. Defínala con la URL desde la "
                f"que se sirve el árbol publicado (p. ej. {EXAMPLE}) antes de publicar para un "
                f"portal.")
    raise SettingsError(f"{VARIABLE} no está definida: es obligatoria en el entorno "
                        f"{settings.environment} para publicar, porque data.json y catalog.jsonld "
                        f"necesitan enlaces absolutos (p. ej. {EXAMPLE}).")
