"""Ingestion: from an entity's source to staged, validated batches.

`batches` archives each raw upload, validates it and stages its valid rows and quarantine;
`withdrawals` stages the visits an entity withdraws. Later stages read staged batches through
this package's API, never through its folder layout.
"""
