"""Entity sources: where raw visit records come from, all behind one interface."""

from pipeline.sources.base import Source, Upload, source_for

__all__ = ["Source", "Upload", "source_for"]
