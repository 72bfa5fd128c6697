"""Artifact storage: audio, subtitles and manifests addressed by keys, never passed by value."""

from __future__ import annotations

from typing import TYPE_CHECKING

from voxflow.artifacts.base import ArtifactNotFound, ArtifactStore, InvalidKey, validate_key
from voxflow.artifacts.local import LocalStore
from voxflow.errors import ConfigError

if TYPE_CHECKING:
    from voxflow.settings import Settings

__all__ = [
    "ArtifactNotFound",
    "ArtifactStore",
    "InvalidKey",
    "LocalStore",
    "open_store",
    "validate_key",
]


def open_store(settings: Settings) -> ArtifactStore:
    """The store `settings.artifact_store` names; each backend is one branch here."""
    if settings.artifact_store == "local":
        return LocalStore(settings.artifacts_dir)
    if settings.artifact_store == "oci":
        from voxflow.artifacts.oci import OCIObjectStore  # The oci SDK loads only when used.

        return OCIObjectStore.from_settings(settings)
    raise ConfigError(f"unknown artifact_store {settings.artifact_store!r}; use 'local' or 'oci'")
