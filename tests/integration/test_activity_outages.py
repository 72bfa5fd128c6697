"""Activities wait out a database outage in place: a real driver's error, a real Temporal server.

The database is a SQLite file whose folder does not exist yet, so the real driver refuses to open
it ("unable to open database file", an OperationalError) until the test creates the folder.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from temporalio import activity, workflow
from temporalio.client import Client, WorkflowFailureError
from temporalio.common import RetryPolicy
from temporalio.worker import Worker

from activities.outages import WaitOutDatabase

pytestmark = pytest.mark.integration

HEARTBEAT_TIMEOUT = timedelta(seconds=2)


class Probe:
    """Activities that read a database which comes back only when the test says so."""

    def __init__(self, database: Path) -> None:
        self.engine = sa.create_engine(f"sqlite:///{database}")
        self.runs: list[int] = []

    def _query(self) -> int:
        self.runs.append(activity.info().attempt)
        with self.engine.connect() as connection:
            return connection.execute(sa.text("select 42")).scalar_one()

    @activity.defn
    async def read_async(self) -> int:
        activity.heartbeat("progress")
        return await asyncio.to_thread(self._query)

    @activity.defn
    def read_in_thread(self) -> int:
        activity.heartbeat("progress")
        return self._query()

    @activity.defn
    async def broken(self) -> int:
        self.runs.append(activity.info().attempt)
        raise ValueError("not a database problem")


@workflow.defn(sandboxed=False)
class ProbeWorkflow:
    @workflow.run
    async def run(self, activity_name: str) -> int:
        return await workflow.execute_activity(
            activity_name,
            start_to_close_timeout=timedelta(seconds=60),
            heartbeat_timeout=HEARTBEAT_TIMEOUT,
            retry_policy=RetryPolicy(maximum_attempts=1),
        )


async def _run(temporal_address: str, probe: Probe, name: str, outage_s: float) -> int:
    client = await Client.connect(temporal_address)
    queue = f"outage-{uuid.uuid4().hex[:8]}"
    with ThreadPoolExecutor(2) as executor:
        async with Worker(
            client,
            task_queue=queue,
            workflows=[ProbeWorkflow],
            activities=[probe.read_async, probe.read_in_thread, probe.broken],
            activity_executor=executor,
            interceptors=[WaitOutDatabase(outage_s)],
        ):
            return await client.execute_workflow(
                ProbeWorkflow.run, name, id=f"outage-{uuid.uuid4().hex}", task_queue=queue
            )


async def _restore_after(folder: Path, delay_s: float) -> None:
    await asyncio.sleep(delay_s)
    folder.mkdir()


@pytest.mark.parametrize("name", ["read_async", "read_in_thread"])
async def test_an_outage_longer_than_the_heartbeat_timeout_costs_no_retry(
    tmp_path, temporal_address, name
):
    folder = tmp_path / "down"
    probe = Probe(folder / "voxflow.db")
    started = time.monotonic()
    restore = asyncio.create_task(_restore_after(folder, 4.0))
    result = await _run(temporal_address, probe, name, outage_s=60)
    await restore

    assert result == 42
    assert time.monotonic() - started >= 4.0, "it waited for the database"
    assert len(probe.runs) >= 3, "it ran again while the database was down"
    assert set(probe.runs) == {1}, "all within the first and only attempt"


async def test_other_errors_fail_at_once(tmp_path, temporal_address):
    probe = Probe(tmp_path / "voxflow.db")
    with pytest.raises(WorkflowFailureError):
        await _run(temporal_address, probe, "broken", outage_s=60)
    assert probe.runs == [1]


async def test_an_outage_past_the_limit_gives_the_try_back_to_temporal(tmp_path, temporal_address):
    probe = Probe(tmp_path / "never" / "voxflow.db")
    started = time.monotonic()
    with pytest.raises(WorkflowFailureError) as failure:
        await _run(temporal_address, probe, "read_async", outage_s=2)
    assert time.monotonic() - started < 20
    assert "unable to open database file" in str(failure.value.cause.cause)
    assert len(probe.runs) >= 2
