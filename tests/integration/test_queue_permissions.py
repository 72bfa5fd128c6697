"""Queue mode under the broker permissions the OKE overlay grants, on the real RabbitMQ.

The production user may configure, write and read only names matching `^voxflow\\.` (the
rendered `Permission`). A conversion must complete under exactly that, and a worker the broker
refuses must stop with the reason rather than hold its jobs in silence.
"""

from __future__ import annotations

import uuid
from urllib.parse import quote

import pytest

from tests.deploy.k8s import named, render
from tests.helpers.conversions import book, convert
from tests.plugins.queue import running_queue_workers
from tests.plugins.services import rabbitmqctl
from tests.plugins.temporal import running_worker
from voxflow.errors import ConfigError
from voxflow.queue.inference_worker import InferenceWorker

pytestmark = pytest.mark.integration


@pytest.fixture
def restricted_user(queue_settings):
    """A vhost and user with the rendered Permission's regexes, rewritten for the test prefix."""
    rules = named(render("overlays/oke"), "Permission", "voxflow-app")["spec"]["permissions"]
    prefix = queue_settings.queue_prefix
    run = uuid.uuid4().hex[:8]
    vhost, user, password = f"voxflow-perm-{run}", f"voxflow-perm-{run}", "pa/ss+wo=rd"
    rabbitmqctl("add_vhost", vhost)
    rabbitmqctl("add_user", user, password)
    regexes = {k: v.replace("^voxflow\\.", f"^{prefix}\\.") for k, v in rules.items()}
    rabbitmqctl("set_permissions", "-p", vhost, user, regexes["configure"], regexes["write"],
                regexes["read"])  # fmt: skip
    url = f"amqp://{user}:{quote(password, safe='')}@127.0.0.1:5672/{quote(vhost, safe='')}"
    yield queue_settings.model_copy(update={"amqp_url": url}), vhost, user
    rabbitmqctl("delete_vhost", vhost)
    rabbitmqctl("delete_user", user)


async def test_a_book_converts_with_only_the_production_permissions(restricted_user):
    settings, _, _ = restricted_user
    async with running_worker(settings), running_queue_workers(settings) as workers:
        await convert(settings, book({"Allowed": 5}), "allowed.md")
    assert workers.relay.completed == workers.inference[0].processed > 0


async def test_a_refused_result_stops_the_worker_with_why(restricted_user):
    settings, vhost, user = restricted_user
    prefix = settings.queue_prefix
    # Every name may be written but the results exchange: publishing a result is refused.
    writable = rf"^{prefix}\.(jobs|jobs\.cpu|jobs\.gpu|dlx|dead|results)$"
    rabbitmqctl("set_permissions", "-p", vhost, user, f"^{prefix}\\.", writable, f"^{prefix}\\.")
    async with running_worker(settings):
        import asyncio

        from voxflow.conversion import connect, start_conversion_bytes

        worker = InferenceWorker(settings, "cpu", name="refused")
        stop = asyncio.Event()
        run = asyncio.ensure_future(worker.run(stop))
        started = await start_conversion_bytes(settings, book({"Refused": 2}), "refused.md")
        try:
            # The first thing a worker publishes for a job is its attempts, then its result.
            with pytest.raises(ConfigError, match=r"refused to take (attempts|result) of"):
                await asyncio.wait_for(run, timeout=120)
        finally:
            # Workflow ids (project-{id}) repeat across tests' databases on the session's
            # Temporal server: leave nothing running under this one.
            client = await connect(settings)
            await client.get_workflow_handle(started.workflow_id).terminate("test over")
