"""`voxflow web`: serves the app with uvicorn, and refuses to open up without credentials."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.plugins.services import free_port
from tests.web.conftest import dead_temporal

VOXFLOW = str(Path(sys.executable).parent / "voxflow")


def env_for(tmp_path, **extra) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOXFLOW_")}
    env.update(
        VOXFLOW_DATA_DIR=str(tmp_path / "data"),
        VOXFLOW_TEMPORAL_ADDRESS=dead_temporal(),
        **extra,
    )
    return env


def test_web_refuses_to_listen_beyond_loopback_without_credentials(tmp_path):
    result = subprocess.run(
        [VOXFLOW, "web", "--host", "0.0.0.0", "--port", str(free_port())],
        env=env_for(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "VOXFLOW_API_TOKEN" in result.stderr and "beyond loopback" in result.stderr
    assert "Traceback" not in result.stderr


def test_web_serves_pages_and_api(tmp_path):
    port = free_port()
    process = subprocess.Popen(
        [VOXFLOW, "web", "--port", str(port)],
        env=env_for(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                health = httpx.get(f"{base}/api/health", timeout=2)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stdout.read()
                assert time.monotonic() < deadline, "voxflow web did not answer"
                time.sleep(0.2)
        assert health.json()["database"] is True
        assert health.json()["temporal"]["available"] is False
        page = httpx.get(f"{base}/", timeout=10)
        assert page.status_code == 200 and "No projects yet" in page.text
        assert "Temporal is unavailable" in page.text
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=30)
    assert f"Voxflow web on http://127.0.0.1:{port}" in output and "auth off" in output
