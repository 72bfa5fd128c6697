"""What the studio benches share: a fresh embedded stack in a temporary data folder (its
start-up not timed by them), and a project workflow's result that must be "done"."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from voxflow.settings import Settings


async def finished(client, workflow_id: str):
    """The project workflow's result, which must be "done" for the figures to mean anything."""
    from voxflow.contracts import ProjectResult

    handle = client.get_workflow_handle(workflow_id, result_type=ProjectResult)
    result = await handle.result()
    assert result.state == "done", result
    return result


def on_fresh_stack(prefix: str, work: Callable[[Settings], Coroutine[Any, Any, None]]) -> None:
    """Run `work(settings)` against the embedded stack on a data folder of its own."""
    from voxflow.stack import LocalStack

    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        settings = Settings(data_dir=Path(tmp))
        with LocalStack(settings):
            asyncio.run(work(settings))
