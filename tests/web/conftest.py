"""Web test fixtures: an app per test (SQLite and PostgreSQL), and a real uvicorn server."""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import httpx
import pytest
import uvicorn

from tests.helpers.conversions import wait_for as wait_until  # noqa: F401  (used by tests)
from tests.plugins.services import free_port
from voxflow.settings import Settings
from web import create_app


def dead_temporal() -> str:
    """An address nothing listens on: Temporal is "down" for the app."""
    return f"127.0.0.1:{free_port()}"


@pytest.fixture
def web_settings(tmp_path, database_url) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        temporal_address=dead_temporal(),
        web_poll_s=0.1,
    )


@pytest.fixture
def app(web_settings):
    return create_app(web_settings)


@pytest.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@contextmanager
def serve(app, port: int | None = None) -> Iterator[str]:
    """The app under a real uvicorn on a free loopback port, in a thread; yields its base URL."""
    port = port or free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
