"""HTML pages from the Jinja2 templates in this folder, autoescaped.

Every value a template prints is HTML-escaped unless the Python side marks it safe, so text
from an upload or a dataset's metadata can never add markup to a page. Undefined names raise
instead of printing nothing, so a typo in a template fails the tests rather than the page.
"""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from pipeline.spanish import plural

_ENV = Environment(
    loader=PackageLoader("pipeline", "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)
# `tojson` escapes <, > and & as \u003c etc. and marks the result safe, which is what JSON
# inside <script> needs. Keep the dict's key order (schema.org's @context first) and write
# accented text as UTF-8, as the page itself is.
_ENV.policies["json.dumps_kwargs"] = {"ensure_ascii": False, "sort_keys": False}
_ENV.globals["plural"] = plural


def render(template_name: str, **context: Any) -> str:
    """The template `template_name` of this folder rendered with `context`."""
    return _ENV.get_template(template_name).render(**context)
