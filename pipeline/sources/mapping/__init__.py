"""An entity's mapping: from the columns or keys of its own files and records to an upload
layout (`language.py`: what `source:` may say, checked at registry load; `values.py`: one
value through its rule; `stream.py`: a file read through the layout its header fits).

Whatever the kind of source (files dropped in the landing area, history exports taken by
`visitas backfill`, and the records later sources hand over as CSV or JSON files), the rows
go through the same mapping, then the same validation as any upload. See docs/fuentes.md.
"""

from pipeline.sources.mapping.language import (
    RESERVED_PREFIXES,
    SOURCE_KINDS,
    FieldRule,
    KindSpec,
    Layout,
    MappingError,
    SourceMapping,
    applies_to,
    parse_source,
    register_kind,
)
from pipeline.sources.mapping.stream import Choice, choose_layout, mapped_stream

__all__ = ["RESERVED_PREFIXES", "SOURCE_KINDS", "Choice", "FieldRule", "KindSpec", "Layout",
           "MappingError", "SourceMapping", "applies_to", "choose_layout", "mapped_stream",
           "parse_source", "register_kind"]
