"""The AWS IAM policy equivalent to an entity's SeaweedFS identity.

Attach it to the IAM user whose access keys the entity's administrator receives (AWS issues
its own keys: derived keys cannot be imported into IAM). It allows exactly three things:
`s3:PutObject` under the entity's landing folder, `s3:GetObject` under its reports folder,
and `s3:ListBucket` on those buckets only for prefixes inside those two folders.
"""

from __future__ import annotations

from typing import Any

from pipeline.access.scopes import EntityScope

VERSION = "2012-10-17"


def entity_policy(scope: EntityScope) -> dict[str, Any]:
    landing, reports = scope.landing, scope.reports
    statements: list[dict[str, Any]] = [
        {
            "Sid": "EscribirCargasPropias",
            "Effect": "Allow",
            "Action": ["s3:PutObject"],
            "Resource": [f"arn:aws:s3:::{landing.bucket}/{landing.folder(scope.ruc)}*"],
        },
        {
            "Sid": "LeerReportesPropios",
            "Effect": "Allow",
            "Action": ["s3:GetObject"],
            "Resource": [f"arn:aws:s3:::{reports.bucket}/{reports.folder(scope.ruc)}*"],
        },
    ]
    # ListBucket is granted on the bucket and narrowed by the listing's prefix; landing and
    # reports may share a bucket, then one statement lists both folders.
    prefixes: dict[str, list[str]] = {}
    for place in (landing, reports):
        prefixes.setdefault(place.bucket, []).append(f"{place.folder(scope.ruc)}*")
    for number, (bucket, allowed) in enumerate(prefixes.items(), start=1):
        statements.append({
            "Sid": f"ListarCarpetasPropias{number}",
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": [f"arn:aws:s3:::{bucket}"],
            "Condition": {"StringLike": {"s3:prefix": allowed}},
        })
    return {"Version": VERSION, "Statement": statements}
