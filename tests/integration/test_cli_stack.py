"""`voxflow up` refuses clearly, before starting anything, when it cannot run."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

from tests.plugins.services import free_port


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
