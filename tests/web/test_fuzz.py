"""schemathesis fuzzes every API operation from /openapi.json against a real uvicorn.

The app talks to the real Temporal dev server (on a task queue no worker serves), so even a
generated valid "start" is a real start; no response may be a 5xx, and every response must
match its documented status codes, content types and schemas. Examples per operation are
kept small so the run takes about a minute here.
"""

from __future__ import annotations

import asyncio

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.web.conftest import serve
from tests.web.seeding import seed_project
from voxflow.db.models import ProjectState
from voxflow.settings import Settings
from web import create_app, routes, service

pytestmark = pytest.mark.integration
MAX_EXAMPLES = 100
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory, temporal_address):
    data = tmp_path_factory.mktemp("fuzz")
    config = Settings(
        data_dir=data,
        database_url=f"sqlite:///{data / 'voxflow.db'}",
        temporal_address=temporal_address,
        temporal_task_queue="web-fuzz-nobody-listens",
    )
    seed_project(config, {"One": 5, "Two": 3}, finished=True, state=ProjectState.done)
    seed_project(config, {"One": 5, "Two": 3}, done={1: 5}, failed={2: "x"})
    patch = pytest.MonkeyPatch()
    patch.setattr(service, "CANCEL_WAIT_S", 0.2)  # no worker: cancels end in a terminate
    with serve(create_app(config)) as base:
        yield base
    patch.undo()
    # A generated valid rerender really starts project-N on the shared dev server; no worker
    # serves this queue, so end those runs: later tests' projects reuse the same ids.
    asyncio.run(_terminate_running(config))


async def _terminate_running(config: Settings) -> None:
    from voxflow.conversion import connect

    client = await connect(config)
    query = f"TaskQueue = '{config.temporal_task_queue}' AND ExecutionStatus = 'Running'"
    async for execution in client.list_workflows(query):
        await client.get_workflow_handle(execution.id, run_id=execution.run_id).terminate(
            reason="the API fuzz test is over"
        )


@pytest.fixture(scope="module")
def web_schema(fuzz_server):
    return schemathesis.openapi.from_url(f"{fuzz_server}/openapi.json")


# Every operation of the API routers (the events stream is endless: test_events covers it).
OPERATIONS = sorted(
    (method.lower(), route.path)
    for router in routes.ROUTERS
    for route in router.routes
    for method in route.methods
)


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_api_fuzz_finds_no_server_errors(web_schema, method, path):
    operation = web_schema[path][method]

    strategies = [operation.as_strategy(mode) for mode in GenerationMode]  # valid and invalid

    @given(case=st.one_of(strategies))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def check(case):
        case.call_and_validate(checks=CHECKS, timeout=30)

    check()
