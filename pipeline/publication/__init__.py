"""Publication: release files (CSV, JSON, Parquet) and the metadata harvesters read."""
