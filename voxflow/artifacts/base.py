"""The artifact store contract every backend (local folder, OCI Object Storage) fulfils.

Keys are relative POSIX paths such as `segments/ab/ab12….wav`. They are validated by
`validate_key` in every store, so a key that is safe on one backend is safe on all.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import BinaryIO, Protocol, runtime_checkable

from voxflow.errors import VoxflowError

MAX_KEY_LENGTH = 1024  # OCI Object Storage's limit on object names (bytes).
TEMP_PREFIX = ".voxflow-tmp-"  # Names a store uses for in-flight writes; never valid keys.


class ArtifactNotFound(VoxflowError, LookupError):
    """No artifact under this key.

    A LookupError (not KeyError, whose str() is the quoted repr) so `except LookupError` works
    and the CLI still prints one clean line.
    """

    def __init__(self, key: str) -> None:
        super().__init__(f"artifact {key!r} does not exist")
        self.key = key


class InvalidKey(VoxflowError, ValueError):
    """A key that could escape the store or mean different things on different backends."""

    def __init__(self, key: object, reason: str) -> None:
        super().__init__(f"invalid artifact key {key!r}: {reason}")
        self.key = key


def validate_key(key: str, *, prefix: bool = False) -> str:
    """Return `key` if it is a relative POSIX key; raise InvalidKey saying why otherwise.

    With `prefix=True` the empty string and a trailing slash are allowed (for `list`).
    """
    if not isinstance(key, str):
        raise InvalidKey(key, "keys are strings")
    if not key:
        if prefix:
            return key
        raise InvalidKey(key, "empty key")
    if len(key.encode("utf-8")) > MAX_KEY_LENGTH:
        raise InvalidKey(key, f"longer than {MAX_KEY_LENGTH} bytes")
    if "\x00" in key:
        raise InvalidKey(key, "contains a NUL character")
    if any(ord(char) < 0x20 or char == "\x7f" for char in key):
        raise InvalidKey(key, "contains a control character")
    if "\\" in key:
        raise InvalidKey(key, "contains a backslash; use '/' between parts")
    if key.startswith("/"):
        raise InvalidKey(key, "absolute paths are not keys; use a relative path")
    parts = key.split("/")
    if prefix and parts[-1] == "":
        parts = parts[:-1]
    for part in parts:
        if part == "":
            raise InvalidKey(key, "empty path part ('//' or a trailing '/')")
        if part in {".", ".."}:
            raise InvalidKey(key, f"'{part}' parts are not allowed")
        if part.startswith(TEMP_PREFIX):
            raise InvalidKey(key, f"names starting with {TEMP_PREFIX!r} are reserved")
    return key


@runtime_checkable
class ArtifactStore(Protocol):
    """Where audio, subtitles and manifests live; only keys travel in workflows and messages."""

    def put(self, key: str, data: bytes | BinaryIO) -> None:
        """Store `data` under `key` atomically: readers see the old or the whole new artifact."""

    def put_file(self, key: str, path: str | Path) -> None:
        """Store a local file's content under `key`."""

    def get(self, key: str) -> bytes:
        """The artifact's bytes; ArtifactNotFound if absent."""

    def exists(self, key: str) -> bool: ...

    def open(self, key: str) -> AbstractContextManager[BinaryIO]:
        """A binary stream for large artifacts; ArtifactNotFound if absent."""

    def delete(self, key: str) -> None:
        """Remove the artifact; deleting a missing key is not an error (retries stay idempotent)."""

    def list(self, prefix: str = "") -> Iterator[str]:
        """Keys starting with `prefix` (a plain string prefix, like object storage), sorted."""

    def url(self, key: str) -> str:
        """Where a user or tool can fetch the artifact: a file:// URI or a download URL."""

    def local_path(self, key: str) -> Path | None:
        """The artifact's path on this machine, or None for remote stores (not checked to exist)."""
