"""Child processes of the local stack: each in its own group, stopped without orphans."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import psutil

from voxflow.errors import ServiceUnavailable


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def require_free_port(host: str, port: int, what: str, setting: str) -> None:
    """Fail before starting anything, with the setting that moves the port."""
    if port_open(host, port):
        raise ServiceUnavailable(
            f"port {port} on {host} is already in use, so {what} cannot start there; "
            f"stop whatever holds it or choose another port with {setting}"
        )


def split_address(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host or "127.0.0.1", int(port)


def group_members(pgid: int) -> list[psutil.Process]:
    """Live processes of a process group (e.g. TorchServe's Java frontend and Python workers)."""
    members = []
    for process in psutil.process_iter(["pid", "status"]):
        with contextlib.suppress(psutil.Error, ProcessLookupError):
            if process.info["status"] != psutil.STATUS_ZOMBIE and os.getpgid(process.pid) == pgid:
                members.append(process)
    return members


class ManagedProcess:
    """A child process with its own log file, stopped with SIGTERM then SIGKILL to its group."""

    # True: stop() also outwaits, then SIGKILLs, group members left after the leader exits.
    reap_group = False

    def __init__(
        self,
        name: str,
        argv: list[str],
        log_path: Path,
        env: dict | None = None,
        cwd: Path | None = None,
    ):
        self.name = name
        self.argv = argv
        self.log_path = log_path
        self.env = env
        self.cwd = cwd
        self.process: subprocess.Popen | None = None

    def start(self) -> ManagedProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(self.env or {})},
            cwd=self.cwd,
            start_new_session=True,
        )
        log.close()
        return self

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def wait_until(self, ready: Callable[[], bool], timeout_s: float, what: str) -> None:
        """Poll `ready` until true; on any failure stop the process, so nothing is orphaned."""
        try:
            self._poll(ready, timeout_s, what)
        except BaseException:
            self.stop()
            raise

    def _poll(self, ready: Callable[[], bool], timeout_s: float, what: str) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if ready():
                return
            if not self.alive:
                code = self.process.returncode if self.process else None
                raise ServiceUnavailable(
                    f"{self.name} exited with code {code} before {what} "
                    f"(log {self.log_path}):\n{self.log_tail()}"
                )
            time.sleep(0.2)
        raise ServiceUnavailable(
            f"{self.name} did not become ready ({what}) within {timeout_s:.0f}s "
            f"(log {self.log_path}):\n{self.log_tail()}"
        )

    def stop(self, timeout_s: float = 20.0, sig: int = signal.SIGTERM) -> None:
        if self.process is None or (self.process.poll() is not None and not self.reap_group):
            return
        pgid = self.process.pid
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, sig)
        try:
            self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
            self.process.wait(timeout=10)
        if self.reap_group:
            deadline = time.monotonic() + timeout_s
            while group_members(pgid) and time.monotonic() < deadline:
                time.sleep(0.2)
            if group_members(pgid):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pgid, signal.SIGKILL)

    def kill(self) -> None:
        """SIGKILL the whole group at once: what a crashed pod looks like."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
