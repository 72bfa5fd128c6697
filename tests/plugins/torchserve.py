"""A real TorchServe with the real joe voice, started once per test session on free ports."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.plugins.services import free_port, missing
from voxflow.errors import ServiceUnavailable
from voxflow.serving.archives import build_model_store
from voxflow.serving.process import TorchServeProcess, check_java
from voxflow.settings import Settings

# Built archives are cached here (git-ignored) and rebuilt when a handler or config changes.
TEST_STORE = Path(__file__).resolve().parents[2] / "model_store" / "build" / "test-store"


def require_torchserve() -> None:
    """Java 17 and the torchserve script: fail under CI=true, skip on a developer machine."""
    try:
        check_java()
        if shutil.which("torchserve") is None and not _venv_torchserve().exists():
            raise ServiceUnavailable("torchserve is not installed")
    except ServiceUnavailable as error:
        missing(str(error))


def _venv_torchserve() -> Path:
    import sys

    return Path(sys.executable).parent / "torchserve"


def start_torchserve(workdir: Path, store: Path, **options) -> TorchServeProcess:
    """A TorchServe on free ports serving `store`; the caller stops it."""
    settings = Settings(data_dir=workdir, model_store_dir=store)
    process = TorchServeProcess(
        settings,
        inference_port=free_port(),
        management_port=free_port(),
        metrics_port=free_port(),
        grpc_inference_port=free_port(),
        grpc_management_port=free_port(),
        workdir=workdir / "torchserve",
        **options,
    )
    return process.start()


@pytest.fixture(scope="session")
def torchserve_store() -> Path:
    """The model store with joe 1.0 built from the installed wheel."""
    require_torchserve()
    settings = Settings(data_dir=TEST_STORE.parent, model_store_dir=TEST_STORE)
    return build_model_store(settings, ["joe"])


@pytest.fixture(scope="session")
def torchserve(torchserve_store, tmp_path_factory) -> Iterator[TorchServeProcess]:
    """One TorchServe for the session: joe loaded, model API on, token auth off."""
    process = start_torchserve(
        tmp_path_factory.mktemp("torchserve-session"), torchserve_store, models=["joe"]
    )
    try:
        yield process
    finally:
        process.stop()
