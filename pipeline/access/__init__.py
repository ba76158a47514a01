"""Per-entity access to object storage.

Each entity's administrator gets an S3 key pair that can write only the entity's own landing
prefix and read only its own validation reports; the pipeline's own keys keep every right.
Key pairs are derived from one master secret (`keys.py`), so nothing secret is stored: the
same master key and RUC always give the same pair. `seaweedfs.py` writes the identities file a
SeaweedFS S3 server is started with; `aws.py` gives the equivalent IAM policy for AWS; both
take their buckets and prefixes from `scopes.py`.
"""
