"""A real Temporal dev server for the session, plus per-test settings and an in-process worker."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager

import pytest

from tests.plugins.services import free_port, missing
from voxflow.settings import Settings

# Low on purpose: every long chapter in the tests exercises continue-as-new.
SUGGEST_CONTINUE_AS_NEW_AT = 200


@pytest.fixture(scope="session")
def temporal_address(tmp_path_factory) -> Iterator[str]:
    from voxflow.errors import ServiceUnavailable
    from voxflow.stack import TemporalDevServer

    data_dir = tmp_path_factory.mktemp("temporal")
    settings = Settings(
        data_dir=data_dir,
        temporal_address=f"127.0.0.1:{free_port()}",
        temporal_ui_url=f"http://127.0.0.1:{free_port()}",
    )
    args = [
        "--dynamic-config-value",
        f"limit.historyCount.suggestContinueAsNew={SUGGEST_CONTINUE_AS_NEW_AT}",
    ]
    server = TemporalDevServer(settings, extra_args=args)
    try:
        server.start()
    except ServiceUnavailable as error:
        missing(f"Temporal dev server did not start: {error}")
    yield settings.temporal_address
    server.stop()


def make_settings(data_dir, temporal_address: str, torchserve, **overrides) -> Settings:
    """Settings for one test: its own database, artifacts and task queue; fast retries."""
    values = dict(
        data_dir=data_dir,
        temporal_address=temporal_address,
        temporal_task_queue=f"test-{uuid.uuid4().hex[:8]}",
        torchserve_inference_url=torchserve.inference_url,
        torchserve_management_url=torchserve.management_url,
        torchserve_metrics_url=torchserve.metrics_url,
        model_store_dir=torchserve.model_store,
        activity_max_attempts=3,
        heartbeat_timeout_s=10,
        job_max_segments=4,
        job_window=3,
    )
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def voxflow_settings(tmp_path, temporal_address, torchserve) -> Settings:
    return make_settings(tmp_path / "data", temporal_address, torchserve)


@asynccontextmanager
async def running_worker(settings: Settings) -> AsyncIterator[object]:
    """The real worker (both workflows, every activity) running in the current event loop."""
    from activities.worker import build_worker
    from voxflow.conversion import connect
    from voxflow.db import migrate

    migrate(settings.database_url)
    client = await connect(settings)
    with ThreadPoolExecutor(max_workers=settings.worker_max_activities) as executor:
        async with build_worker(client, settings, executor) as worker:
            yield worker
    await asyncio.sleep(0.1)


@pytest.fixture
async def temporal_worker(voxflow_settings) -> AsyncIterator[object]:
    async with running_worker(voxflow_settings) as worker:
        yield worker
