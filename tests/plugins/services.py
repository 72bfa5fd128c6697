"""Fixtures for the real services; missing services fail under CI=true and skip elsewhere."""

from __future__ import annotations

import os
import socket
import subprocess
import uuid
from collections.abc import Iterator
from typing import NoReturn

import pytest
from sqlalchemy.engine import Engine

from voxflow.db import make_engine, migrate
from voxflow.processes import port_open

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

POSTGRES_ADMIN_URL = os.environ.get(
    "VOXFLOW_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
AMQP_URL = os.environ.get("VOXFLOW_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")


def missing(message: str) -> NoReturn:
    """Fail under CI (a missing service or tool is a broken CI), skip on a developer machine."""
    if IN_CI:
        pytest.fail(f"{message} (CI=true: everything the tests need must be there)")
    pytest.skip(message)


def require_service(name: str, host: str, port: int) -> None:
    if not port_open(host, port):
        missing(f"{name} is not reachable on {host}:{port}")


def rabbitmqctl(*args: str) -> str:
    """Run rabbitmqctl (as root, like CI): its output, or RuntimeError with what it said."""
    done = subprocess.run(["rabbitmqctl", *args], capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"rabbitmqctl {' '.join(args)} failed: {done.stderr}")
    return done.stdout


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def private_addresses() -> dict[str, str]:
    """Settings for a Temporal server and TorchServe of a run's own, each on a free port."""
    return {
        "temporal_address": f"127.0.0.1:{free_port()}",
        "temporal_ui_url": f"http://127.0.0.1:{free_port()}",
        "torchserve_inference_url": f"http://127.0.0.1:{free_port()}",
        "torchserve_management_url": f"http://127.0.0.1:{free_port()}",
        "torchserve_metrics_url": f"http://127.0.0.1:{free_port()}",
    }


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, uniquely named PostgreSQL database per test, dropped afterwards."""
    import sqlalchemy as sa

    require_service("PostgreSQL", "127.0.0.1", 5432)
    name = f"voxflow_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'voxflow.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request) -> str:
    """Run a database test on both SQLite and the real PostgreSQL."""
    return request.getfixturevalue(f"{'sqlite' if request.param == 'sqlite' else 'postgres'}_url")


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """A migrated database on both SQLite and PostgreSQL, as every process would open it."""
    migrate(database_url)
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def amqp_url() -> str:
    require_service("RabbitMQ", "127.0.0.1", 5672)
    return AMQP_URL
