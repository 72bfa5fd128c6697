"""The workers' exec probe: it passes only while a real connection to the port is established."""

from __future__ import annotations

import socket
import subprocess
import sys

from tests.deploy.k8s import REPO

PROBE = REPO / "deploy" / "docker" / "tcp_probe.py"


def probe(*ports: int | str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(PROBE), *map(str, ports)],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )


def test_probe_follows_a_live_connection():
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        assert probe(port).returncode == 1  # listening is not connected
        client = socket.create_connection(("127.0.0.1", port))
        accepted, _ = server.accept()
        try:
            assert probe(port).returncode == 0
            result = probe(port, 1)  # port 1: nothing is connected there
            assert result.returncode == 1 and "[1]" in result.stderr
        finally:
            client.close()
            accepted.close()


def test_probe_usage():
    assert probe().returncode == 2
    assert probe("amqp").returncode == 2
