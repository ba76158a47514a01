"""S3 (or any S3-compatible server, e.g. SeaweedFS or MinIO) as a storage backend.

Credentials are resolved by boto3's standard chain (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY
/ AWS_SESSION_TOKEN, profiles, instance roles); this module never reads or prints the secret
except to scrub it from error messages.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

import boto3
from boto3.exceptions import Boto3Error
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from pipeline.storage.base import ObjectInfo, Storage, StorageError, StorageExists

log = logging.getLogger(__name__)

ENDPOINT_ENV = "VISITAS_S3_ENDPOINT_URL"
DEFAULT_REGION = "us-east-1"

MiB = 1 << 20
# 5 MiB is the smallest part S3 accepts: anything bigger already goes multipart, so uploads
# are parallel and a failed part is retried alone instead of resending the whole file.
PART_SIZE = 5 * MiB
# A single PUT cannot exceed 5 GiB, and S3 allows at most 10 000 parts per upload.
MAX_SINGLE_PUT = 5 * 1024 * MiB
MAX_PARTS = 10_000

# Errors raised by boto3/botocore/s3transfer; all of them become StorageError.
_BOTO_ERRORS: tuple[type[BaseException], ...] = (ClientError, BotoCoreError, Boto3Error)

_NOT_FOUND_CODES = {"404", "NoSuchKey", "NotFound"}
_CREDENTIAL_CODES = {
    "AccessDenied",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "InvalidToken",
    "ExpiredToken",
    "403",
}


def client_config() -> Config:
    # Checksums only when the API demands them: newer botocore adds CRC32 trailers by
    # default, which several S3-compatible servers reject or mis-validate.
    return Config(
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        retries={"max_attempts": 5, "mode": "standard"},
        # Path-style works with bucket names containing dots and with servers without
        # wildcard DNS (SeaweedFS, MinIO, localhost endpoints).
        s3={"addressing_style": "path"},
    )


def _error_code(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


def _error_message(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Message", ""))
    return ""


def _is_not_found(exc: BaseException) -> bool:
    return _error_code(exc) in _NOT_FOUND_CODES


def _is_precondition_failed(exc: BaseException) -> bool:
    if not isinstance(exc, ClientError):
        return False
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return _error_code(exc) in {"PreconditionFailed", "412"} or status == 412


def _redact(text: str) -> str:
    # botocore does not put secrets in its messages; this is a guard in case an endpoint
    # URL or a server echoes one back.
    for var in ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        secret = os.environ.get(var)
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text


def _root_cause(exc: BaseException) -> BaseException:
    # boto3's transfer manager re-raises S3 errors as S3UploadFailedError and friends with
    # the ClientError only in the text; the chained original has the structured code.
    seen = exc
    while not isinstance(seen, ClientError):
        inner = seen.__cause__ or seen.__context__
        if inner is None:
            return exc
        seen = inner
    return seen


def _describe(exc: BaseException) -> str:
    exc = _root_cause(exc)
    code = _error_code(exc)
    if code in _NOT_FOUND_CODES:
        cause = "el objeto no existe"
    elif code == "NoSuchBucket":
        cause = "el bucket no existe"
    elif code in _CREDENTIAL_CODES:
        cause = (f"acceso denegado ({code}: {_error_message(exc)}); revise "
                 "AWS_ACCESS_KEY_ID y AWS_SECRET_ACCESS_KEY")
    elif isinstance(exc, ClientError):
        detail = _error_message(exc)
        cause = f"{code}: {detail}" if detail else str(exc)
    else:
        cause = f"{type(exc).__name__}: {exc}"
    return _redact(cause)


class S3Storage(Storage):
    """Objects under `prefix` in an S3 bucket; keys are relative to that prefix."""

    #: Create-only uploads above this size use a multipart upload whose completion is
    #: conditional; below it a single conditional PUT is enough.
    max_single_put: int = MAX_SINGLE_PUT

    def __init__(self, bucket: str, prefix: str = "", *, endpoint_url: str | None = None,
                 client: Any = None) -> None:
        if not bucket:
            raise StorageError("Falta el nombre del bucket S3 (use s3://bucket/prefijo)")
        self.bucket = bucket
        clean = prefix.strip("/")
        self.prefix = f"{clean}/" if clean else ""
        self.url = f"s3://{bucket}/{clean}" if clean else f"s3://{bucket}"
        if endpoint_url is None:
            endpoint_url = os.environ.get(ENDPOINT_ENV) or None
        self.endpoint_url = endpoint_url
        if client is None:
            region = (os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
                      or DEFAULT_REGION)
            session = boto3.session.Session(region_name=region)
            client = session.client("s3", endpoint_url=endpoint_url, config=client_config())
        self.client = client
        self.transfer_config = TransferConfig(multipart_threshold=PART_SIZE,
                                              multipart_chunksize=PART_SIZE)
        log.debug("S3Storage %s (endpoint %s)", self.url, endpoint_url or "AWS")

    def __repr__(self) -> str:
        return f"S3Storage({self.url!r}, endpoint_url={self.endpoint_url!r})"

    # -- helpers -----------------------------------------------------------------------

    def _key(self, key: str) -> str:
        # Same rules as LocalStorage, so a key valid on disk is valid on S3 and vice versa.
        if not key or key.startswith("/") or ".." in key.split("/"):
            raise StorageError(f"Clave no válida: {key!r}")
        return self.prefix + key

    def _fail(self, action: str, key: str | None, exc: BaseException) -> NoReturn:
        where = self.locate(key) if key is not None else self.url
        raise StorageError(f"No se pudo {action} {where}: {_describe(exc)}", action=action,
                           location=where) from exc

    def _call(self, action: str, key: str | None, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except _BOTO_ERRORS as exc:
            self._fail(action, key, exc)

    @staticmethod
    def _extra_args(content_type: str | None) -> dict[str, Any]:
        return {"ContentType": content_type} if content_type else {}

    # -- Storage interface -------------------------------------------------------------

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        full_prefix = self.prefix + prefix
        start = len(self.prefix)

        def collect() -> list[ObjectInfo]:
            found = []
            paginator = self.client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=full_prefix):
                for obj in page.get("Contents", []):
                    version = f"{obj.get('ETag', '')}@{obj.get('LastModified', '')}"
                    found.append(ObjectInfo(obj["Key"][start:], int(obj["Size"]), version))
            return found

        # Listed eagerly so that errors surface here, wrapped, and not mid-iteration.
        found = self._call("listar", prefix or None, collect)
        return iter(sorted(found, key=lambda o: o.key))

    def exists(self, key: str) -> bool:
        full = self._key(key)
        try:
            self.client.head_object(Bucket=self.bucket, Key=full)
        except ClientError as exc:
            if _is_not_found(exc):
                return False
            self._fail("consultar", key, exc)
        except _BOTO_ERRORS as exc:
            self._fail("consultar", key, exc)
        return True

    def read_bytes(self, key: str) -> bytes:
        full = self._key(key)

        def read() -> bytes:
            response = self.client.get_object(Bucket=self.bucket, Key=full)
            with response["Body"] as body:
                return body.read()

        return self._call("leer", key, read)

    def download(self, key: str, dest: Path) -> None:
        full = self._key(key)
        try:
            # The transfer manager writes to a temporary file beside `dest` and renames it,
            # fetching ranges in parallel for large objects.
            self.client.download_file(self.bucket, full, str(dest), Config=self.transfer_config)
        except (*_BOTO_ERRORS, OSError) as exc:
            self._fail("leer", key, exc)

    def upload(self, src: Path, key: str, *, content_type: str | None = None,
               if_absent: bool = False) -> None:
        full = self._key(key)
        extra = self._extra_args(content_type)
        try:
            if not if_absent:
                self.client.upload_file(str(src), self.bucket, full, ExtraArgs=extra,
                                        Config=self.transfer_config)
                return
            # The transfer manager cannot send If-None-Match, so create-only writes are
            # issued by hand.
            size = Path(src).stat().st_size
            if size <= self.max_single_put:
                with open(src, "rb") as fh:
                    self._put_if_absent(key, full, fh, extra)
            else:
                self._multipart_if_absent(key, full, Path(src), size, extra)
        except (*_BOTO_ERRORS, OSError) as exc:
            self._fail("escribir", key, exc)

    def write_bytes(self, key: str, data: bytes, *, content_type: str | None = None,
                    if_absent: bool = False) -> None:
        full = self._key(key)
        extra = self._extra_args(content_type)
        if if_absent:
            self._put_if_absent(key, full, data, extra)
            return
        self._call("escribir", key,
                   lambda: self.client.put_object(Bucket=self.bucket, Key=full, Body=data,
                                                  **extra))

    def delete(self, key: str) -> None:
        full = self._key(key)
        self._call("borrar", key,
                   lambda: self.client.delete_object(Bucket=self.bucket, Key=full))

    def delete_tree(self, prefix: str) -> None:
        for obj in self.list(prefix):
            self.delete(obj.key)
        # A multipart upload its writer never completed nor aborted (a killed process): its
        # parts are in no listing, yet kept (and billed) until aborted.
        full_prefix = self.prefix + prefix

        def pending() -> list[tuple[str, str]]:
            paginator = self.client.get_paginator("list_multipart_uploads")
            return [(u["Key"], u["UploadId"])
                    for page in paginator.paginate(Bucket=self.bucket, Prefix=full_prefix)
                    for u in page.get("Uploads", [])]

        for full, upload_id in self._call("listar las subidas inconclusas en", prefix, pending):
            self._call("abortar la subida inconclusa de", full[len(self.prefix):],
                       lambda full=full, upload_id=upload_id: self.client.abort_multipart_upload(
                           Bucket=self.bucket, Key=full, UploadId=upload_id))

    def size(self, key: str) -> int:
        full = self._key(key)
        head = self._call("consultar", key,
                          lambda: self.client.head_object(Bucket=self.bucket, Key=full))
        return int(head["ContentLength"])

    def sha256(self, key: str) -> str:
        full = self._key(key)

        def digest() -> str:
            # Streamed in chunks: a release file can be larger than the memory we have.
            hasher = hashlib.sha256()
            body = self.client.get_object(Bucket=self.bucket, Key=full)["Body"]
            try:
                for chunk in body.iter_chunks(chunk_size=1 << 20):
                    hasher.update(chunk)
            finally:
                body.close()
            return hasher.hexdigest()

        return self._call("leer", key, digest)

    def copy(self, src_key: str, dest_key: str, *, if_absent: bool = False) -> None:
        src_full, dest_full = self._key(src_key), self._key(dest_key)
        source = {"Bucket": self.bucket, "Key": src_full}
        # CopyObject has no If-None-Match on every S3-compatible server; release keys are
        # unique per release id, so a HEAD first is enough to refuse overwriting.
        if if_absent and self.exists(dest_key):
            raise StorageExists(f"Ya existe {self.locate(dest_key)}")
        try:
            # Managed copy: CopyObject below the threshold, UploadPartCopy above it (CopyObject
            # alone stops at 5 GiB). Data never leaves the server either way.
            self.client.copy(source, self.bucket, dest_full, Config=self.transfer_config)
        except _BOTO_ERRORS as exc:
            raise StorageError(
                f"No se pudo copiar {self.locate(src_key)} a {self.locate(dest_key)}: "
                f"{_describe(exc)}", action="copiar en", location=self.locate(dest_key)
            ) from exc

    # -- S3 specifics ------------------------------------------------------------------

    def ensure_bucket(self) -> None:
        """Create the bucket if it does not exist yet (idempotent)."""
        try:
            self.client.head_bucket(Bucket=self.bucket)
            return
        except ClientError as exc:
            if _error_code(exc) not in {"404", "NoSuchBucket", "NotFound"}:
                self._fail("consultar el bucket", None, exc)
        except _BOTO_ERRORS as exc:
            self._fail("consultar el bucket", None, exc)

        params: dict[str, Any] = {"Bucket": self.bucket}
        region = self.client.meta.region_name
        # us-east-1 is the one region that rejects an explicit LocationConstraint.
        if region and region != DEFAULT_REGION:
            params["CreateBucketConfiguration"] = {"LocationConstraint": region}
        try:
            self.client.create_bucket(**params)
            log.info("Bucket creado: s3://%s", self.bucket)
        except ClientError as exc:
            # Someone else created it between the HEAD and the CREATE: that is fine.
            if _error_code(exc) != "BucketAlreadyOwnedByYou":
                self._fail("crear el bucket", None, exc)
        except _BOTO_ERRORS as exc:
            self._fail("crear el bucket", None, exc)

    def _put_if_absent(self, key: str, full: str, body: Any, extra: dict[str, Any]) -> None:
        try:
            self.client.put_object(Bucket=self.bucket, Key=full, Body=body, IfNoneMatch="*",
                                   **extra)
        except ClientError as exc:
            if _is_precondition_failed(exc):
                raise StorageExists(f"Ya existe {self.locate(key)}") from exc
            self._fail("escribir", key, exc)
        except _BOTO_ERRORS as exc:
            self._fail("escribir", key, exc)

    def _multipart_if_absent(self, key: str, full: str, src: Path, size: int,
                             extra: dict[str, Any]) -> None:
        # Parts are plain uploads; only CompleteMultipartUpload carries If-None-Match, so the
        # object appears atomically and only if nobody created it meanwhile.
        part_size = max(self.transfer_config.multipart_chunksize, math.ceil(size / MAX_PARTS))
        upload_id = self.client.create_multipart_upload(Bucket=self.bucket, Key=full,
                                                        **extra)["UploadId"]
        try:
            parts = []
            with open(src, "rb") as fh:
                number = 1
                while chunk := fh.read(part_size):
                    response = self.client.upload_part(Bucket=self.bucket, Key=full,
                                                       UploadId=upload_id, PartNumber=number,
                                                       Body=chunk)
                    parts.append({"PartNumber": number, "ETag": response["ETag"]})
                    number += 1
            self.client.complete_multipart_upload(Bucket=self.bucket, Key=full,
                                                  UploadId=upload_id, IfNoneMatch="*",
                                                  MultipartUpload={"Parts": parts})
        except BaseException as exc:
            try:
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=full,
                                                   UploadId=upload_id)
            except _BOTO_ERRORS:
                log.warning("No se pudo abortar la subida multiparte de %s", self.locate(key))
            if _is_precondition_failed(exc):
                raise StorageExists(f"Ya existe {self.locate(key)}") from exc
            raise
