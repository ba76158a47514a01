"""Which environment a release comes from, said wherever a person or a harvester looks.

A demo release holds whatever entities are trying out the register: its data is not
official. So its title (in `datapackage.json`, `catalog.jsonld`, `data.json`, `index.html`,
`CAMBIOS.md`) starts with `DEMO_MARK`, its description says why, `index.html` shows a notice
above everything else, and `datapackage.json` carries `"x-entorno"` with the environment's
name (`local`, `demo` or `production`) for programs to check.
"""

from __future__ import annotations

from dataclasses import replace

from pipeline.publication.dataset import DatasetMeta

#: the `datapackage.json` property naming the environment a release comes from
ENVIRONMENT_KEY = "x-entorno"
DEMO = "demo"
DEMO_MARK = "DEMO — datos de prueba, no oficiales"
DEMO_NOTICE = ("Publicación del entorno de demostración: sus datos son de prueba, no son "
               "oficiales y pueden cambiar o desaparecer sin aviso. Los datos oficiales son "
               "los del entorno de producción.")


def mark(meta: DatasetMeta, environment: str) -> DatasetMeta:
    """The dataset as the release of `environment` describes it."""
    extra = {**meta.extra, ENVIRONMENT_KEY: environment}
    if environment != DEMO:
        return replace(meta, extra=extra)
    return replace(meta, title=f"[{DEMO_MARK}] {meta.title}",
                   description=f"{DEMO_NOTICE} {meta.description}", extra=extra)


def is_demo(meta: DatasetMeta) -> bool:
    return meta.extra.get(ENVIRONMENT_KEY) == DEMO
