"""`voxflow up` refuses clearly, before starting anything, when it cannot run."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers.conversions import book
from tests.plugins.services import free_port
from tests.plugins.temporal import make_settings
from voxflow.settings import Settings
from voxflow.stack import TemporalDevServer, TemporalWorkerProcess, settings_env


def voxflow(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "voxflow", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_queue_mode_without_a_broker_says_so(tmp_path):
    dead = f"amqp://guest:secret@127.0.0.1:{free_port()}/"
    done = voxflow("up", "--dispatch", "queue", env={
        "VOXFLOW_DATA_DIR": str(tmp_path), "VOXFLOW_AMQP_URL": dead,
    })  # fmt: skip
    assert done.returncode == 3
    assert "RabbitMQ is not reachable" in done.stderr
    assert "secret" not in done.stderr, "the password is never printed"
    assert "Traceback" not in done.stderr


def test_a_port_in_use_is_named(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = voxflow("up", "--no-torchserve", env={
            "VOXFLOW_DATA_DIR": str(tmp_path),
            "VOXFLOW_TEMPORAL_ADDRESS": f"127.0.0.1:{port}",
        })  # fmt: skip
    assert done.returncode == 3
    assert f"port {port}" in done.stderr and "already in use" in done.stderr
    assert "VOXFLOW_TEMPORAL_ADDRESS" in done.stderr
    assert "Traceback" not in done.stderr


def convert_process(settings, document: Path) -> subprocess.Popen:
    """`voxflow convert` as a user runs it, against the stack the settings point at."""
    return subprocess.Popen(
        [sys.executable, "-m", "voxflow", "convert", str(document), "-o", str(document.parent)],
        env={**os.environ, **settings_env(settings)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.integration
def test_convert_waits_for_a_starting_stacks_worker(tmp_path, temporal_address, torchserve):
    """Temporal up, its worker not yet: convert waits for it instead of starting a second stack."""
    settings = make_settings(tmp_path / "data", temporal_address, torchserve)
    document = tmp_path / "short.md"
    document.write_text(book({"Only": 3}).decode())
    convert = convert_process(settings, document)
    worker = TemporalWorkerProcess(settings)
    try:
        time.sleep(5)
        assert convert.poll() is None, convert.communicate()
        worker.start()
        out, err = convert.communicate(timeout=240)
    finally:
        convert.kill()
        worker.stop()
    assert convert.returncode == 0, err
    assert "Done." in out and "already in use" not in err


@pytest.mark.integration
def test_convert_says_when_its_stack_goes_away(tmp_path, torchserve):
    temporal = Settings(
        data_dir=tmp_path / "temporal",
        temporal_address=f"127.0.0.1:{free_port()}",
        temporal_ui_url=f"http://127.0.0.1:{free_port()}",
    )
    server = TemporalDevServer(temporal).start()
    settings = make_settings(tmp_path / "data", temporal.temporal_address, torchserve)
    document = tmp_path / "long.md"
    document.write_text(book({"One": 40, "Two": 40}).decode())
    worker = TemporalWorkerProcess(settings).start()
    convert = convert_process(settings, document)
    try:
        time.sleep(8)  # the conversion is under way
        server.kill()
        out, err = convert.communicate(timeout=60)
    finally:
        convert.kill()
        worker.stop()
        server.stop()
    assert convert.returncode == 3, (out, err)
    assert f"the Temporal server at {temporal.temporal_address} stopped answering" in err
    assert "resumes when a stack runs again" in err and "Traceback" not in err
