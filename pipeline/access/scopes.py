"""Where an entity's keys may act: its landing prefix and its reports prefix, on S3.

Both come from the configured locations (VISITAS_LANDING_URL, VISITAS_REPORTS_URL):
`s3://bucket/prefix` gives `bucket/prefix/<RUC>/`, the folder the pipeline reads the entity's
uploads from and writes its reports to. Access rules only mean something on object storage,
so a location that is a local folder is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.faults import EXIT_CONFIG, OperationalError
from pipeline.settings import Settings


class NotOnS3Error(OperationalError):
    """A location the access rules must scope is not an `s3://` URL."""

    def __init__(self, variable: str, value: str) -> None:
        super().__init__(
            f"{variable} es {value}, no una ubicación S3: los permisos por entidad solo se "
            "aplican en un almacenamiento de objetos",
            f"Apunte {variable} a una URL s3://bucket/prefijo (la misma que usa la pasada) y "
            "vuelva a ejecutar",
            EXIT_CONFIG,
        )


@dataclass(frozen=True)
class Location:
    """A bucket and a key prefix (no leading or trailing slash; empty for the whole bucket)."""

    bucket: str
    prefix: str

    def folder(self, ruc: str) -> str:
        """The entity's folder as a key prefix, ending in `/` so that no other name matches."""
        return f"{self.prefix}/{ruc}/" if self.prefix else f"{ruc}/"

    def url(self, ruc: str) -> str:
        return f"s3://{self.bucket}/{self.folder(ruc)}"


def s3_location(variable: str, value: str) -> Location:
    if not value.startswith("s3://"):
        raise NotOnS3Error(variable, value)
    bucket, _, prefix = value[len("s3://"):].partition("/")
    if not bucket:
        raise NotOnS3Error(variable, value)
    return Location(bucket, prefix.strip("/"))


@dataclass(frozen=True)
class EntityScope:
    """What one entity may touch: write (and list) its landing folder, read (and list) its
    reports folder. Nothing else."""

    ruc: str
    landing: Location
    reports: Location


def entity_scope(settings: Settings, ruc: str) -> EntityScope:
    return EntityScope(
        ruc,
        s3_location("VISITAS_LANDING_URL", settings.landing_url),
        s3_location("VISITAS_REPORTS_URL", settings.reports_url),
    )
