"""TorchServeProcess's preflight checks: a missing Java and a busy port give clear messages."""

from __future__ import annotations

import socket

import pytest

from voxflow.errors import ServiceUnavailable
from voxflow.serving.process import check_java, check_ports_free


def test_missing_java_says_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "no-jdk"))
    with pytest.raises(ServiceUnavailable, match="apt-get install openjdk-17-jre-headless"):
        check_java()


def test_busy_port_is_named(tmp_path):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(ServiceUnavailable, match=f"port {port} \\(metrics API\\)"):
            check_ports_free({"inference": 0, "metrics": port})
