"""Copying artifacts out of any store into a folder: how TorchServe pods fetch their archives."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

from voxflow.artifacts.base import ArtifactStore

_CHUNK = 1024 * 1024


def download(store: ArtifactStore, key: str, target: Path) -> Path:
    """Stream one artifact to `target` atomically (a temp file beside it, then a rename)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as out, store.open(key) as stream:
            shutil.copyfileobj(stream, out, _CHUNK)
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
    return target


def pull(store: ArtifactStore, prefix: str, dest: Path, suffix: str = "") -> list[Path]:
    """Copy every artifact under `prefix` (ending in `suffix`) into `dest`, keeping sub-paths."""
    pulled = []
    for key in store.list(prefix):
        relative = key[len(prefix) :].lstrip("/")
        if relative and key.endswith(suffix):
            pulled.append(download(store, key, dest / relative))
    return pulled
