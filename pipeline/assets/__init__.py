"""Dagster assets: thin layers over the plain-Python stages, one asset per stage."""
