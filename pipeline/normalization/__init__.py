"""Value normalisation as DuckDB SQL macros, shared by validation and consolidation."""

from pipeline.normalization.macros import install_macros

__all__ = ["install_macros"]
