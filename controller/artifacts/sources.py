"""Where model files are read from: a local folder or an S3 prefix, through one small interface.

Only the top level of the folder counts (Bedrock imports the folder's files; subfolders such as Llama's
`original/` are ignored). Every read is bounded by the caller; nothing reads a whole weights file.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import urlparse

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError


@dataclass(frozen=True)
class FileInfo:
    name: str  # relative to the folder
    size: int
    etag: str = ""  # S3's ETag (a local file: its modification time): what changed if the bytes did


class SourceAccessError(Exception):
    """The folder cannot be read at all (missing bucket, access denied, no such directory)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


_DENIED = frozenset({"AccessDenied", "AllAccessDisabled", "403"})
_MISSING = frozenset({"NoSuchBucket", "NoSuchDirectory", "InvalidUri", "404"})


def source_error_reason(code: str) -> str | None:
    """The condition reason for a source the user must fix, or None when retrying may help (network, 5xx).

    The one mapping for inline validation and for validation Jobs, so both modes say the same thing.
    """
    if code in _DENIED:
        return "SourceAccessDenied"
    if code in _MISSING:
        return "SourceNotFound"
    return None


class ModelSource(Protocol):
    uri: str

    def list_files(self, limit: int | None = None) -> list[FileInfo]:
        """The folder's files; with `limit`, listing stops after limit + 1 (too many is all that matters)."""
        ...

    def read(self, name: str, start: int, length: int) -> bytes:
        """Up to `length` bytes from `start` (fewer at end of file)."""
        ...


class _ByteCounter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.bytes_read = 0
        self.requests = 0

    def add(self, n: int) -> None:
        with self._lock:
            self.bytes_read += n
            self.requests += 1


class LocalFolder(_ByteCounter):
    def __init__(self, path: str | Path) -> None:
        super().__init__()
        self.path = Path(path)
        self.uri = str(self.path)

    def list_files(self, limit: int | None = None) -> list[FileInfo]:
        if not self.path.is_dir():
            raise SourceAccessError("NoSuchDirectory", f"{self.path} is not a directory")
        files = []
        self.subfolders = []
        try:
            with os.scandir(self.path) as entries:
                for e in entries:
                    if e.is_dir() and len(self.subfolders) < 20:
                        self.subfolders.append(e.name + "/")
                    if e.is_file():
                        stat = e.stat()
                        files.append(FileInfo(e.name, stat.st_size, str(stat.st_mtime_ns)))
                        if limit is not None and len(files) > limit:
                            break
        except PermissionError as exc:
            raise SourceAccessError("AccessDenied", f"cannot list {self.path}: {exc.strerror}") from exc
        return sorted(files, key=lambda f: f.name)

    def read(self, name: str, start: int, length: int) -> bytes:
        with open(self.path / name, "rb") as fh:
            fh.seek(start)
            data = fh.read(length)
        self.add(len(data))
        return data


class S3Folder(_ByteCounter):
    """An S3 prefix read with ranged GETs. Credentials come from the usual boto3 chain."""

    def __init__(self, uri: str, *, client=None, endpoint_url: str | None = None, region: str | None = None):
        super().__init__()
        parsed = urlparse(uri)
        if parsed.scheme != "s3" or not parsed.netloc:
            raise SourceAccessError("InvalidUri", f"{uri!r} is not an s3://bucket/prefix/ URI")
        self.uri = uri
        self.bucket = parsed.netloc
        prefix = parsed.path.lstrip("/")
        self.prefix = prefix if not prefix or prefix.endswith("/") else prefix + "/"
        self._s3 = client or self.make_client(endpoint_url, region)

    @staticmethod
    def make_client(endpoint_url: str | None = None, region: str | None = None, session=None):
        """An S3 client for reading model folders (retries, a pool for concurrent header reads, metrics).

        Thread-safe once made: a caller that validates often (the operator) makes one and passes it in.
        """
        from controller import metrics
        from controller.aws.session import default_session, new_client

        client = new_client(
            session or default_session(),
            "s3",
            endpoint_url=endpoint_url,  # None: AWS_ENDPOINT_URL_S3 if set, else AWS
            region_name=region,
            config=Config(retries={"mode": "standard", "max_attempts": 5}, max_pool_connections=32),
        )
        metrics.instrument(client)
        return client

    def _fail(self, exc: Exception, action: str) -> SourceAccessError:
        if isinstance(exc, ClientError):
            err = exc.response.get("Error", {})
            code = err.get("Code") or str(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode"))
            return SourceAccessError(
                code, f"{action} s3://{self.bucket}/{self.prefix}: {err.get('Message', code)}"
            )
        return SourceAccessError(type(exc).__name__, f"{action} s3://{self.bucket}/{self.prefix}: {exc}")

    def list_files(self, limit: int | None = None) -> list[FileInfo]:
        files = []
        try:
            pages = self._s3.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self.prefix, Delimiter="/"
            )
            self.subfolders = []
            for page in pages:
                for obj in page.get("Contents", []):
                    name = obj["Key"][len(self.prefix) :]
                    if name:
                        files.append(FileInfo(name, int(obj["Size"]), str(obj.get("ETag", ""))))
                for common in page.get("CommonPrefixes", [])[:20]:
                    if len(self.subfolders) < 20:
                        self.subfolders.append(common["Prefix"][len(self.prefix) :])
                if limit is not None and len(files) > limit:
                    break
        except (ClientError, BotoCoreError) as exc:
            raise self._fail(exc, "cannot list") from exc
        return sorted(files, key=lambda f: f.name)

    def read(self, name: str, start: int, length: int) -> bytes:
        if length <= 0:
            return b""
        try:
            resp = self._s3.get_object(
                Bucket=self.bucket, Key=self.prefix + name, Range=f"bytes={start}-{start + length - 1}"
            )
            data = resp["Body"].read(length)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "InvalidRange":
                return b""
            raise self._fail(exc, f"cannot read {name} in") from exc
        except BotoCoreError as exc:
            raise self._fail(exc, f"cannot read {name} in") from exc
        self.add(len(data))
        return data


def open_source(uri: str, **s3_options) -> LocalFolder | S3Folder:
    """A source for `s3://bucket/prefix/` or a local directory path."""
    if uri.startswith(("http://", "https://")):
        raise SourceAccessError(
            "NotAnS3Uri", f"{uri} is a URL; give the folder as s3://bucket/prefix/ (or a local directory)"
        )
    if uri.startswith("s3://"):
        return S3Folder(uri, **s3_options)
    return LocalFolder(uri)
