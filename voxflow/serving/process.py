"""Run TorchServe locally (`voxflow serve`, `up`, tests): preflight checks, config, lifecycle."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import psutil

from voxflow.errors import ConfigError, ServiceUnavailable
from voxflow.inference import KeySource, workers_ready
from voxflow.processes import ManagedProcess
from voxflow.registry import load_registry
from voxflow.settings import Settings, get_settings

JAVA_HINT = (
    "TorchServe needs Java 17: install it with `apt-get install openjdk-17-jre-headless` "
    "(or set JAVA_HOME to a JDK 17)"
)


def check_java() -> str:
    """Return `java -version`'s first line; raise ServiceUnavailable unless it is Java 17+."""
    java_home = os.environ.get("JAVA_HOME")
    java = str(Path(java_home) / "bin" / "java") if java_home else shutil.which("java")
    if not java or not Path(java).exists():
        raise ServiceUnavailable(f"Java was not found. {JAVA_HINT}")
    result = subprocess.run([java, "-version"], capture_output=True, text=True, check=False)
    output = (result.stderr or result.stdout).strip()
    match = re.search(r'version "(\d+)(?:\.(\d+))?', output)
    major = int(match.group(1)) if match else 0
    if major == 1 and match and match.group(2):  # "1.8" style
        major = int(match.group(2))
    if result.returncode != 0 or major < 17:
        found = output.splitlines()[0] if output else "nothing"
        raise ServiceUnavailable(f"Java 17 or newer is required, found {found}. {JAVA_HINT}")
    return output.splitlines()[0]


def check_ports_free(ports: dict[str, int], host: str = "127.0.0.1") -> None:
    """Bind each port once, so a busy one is named with its role before TorchServe starts."""
    for role, port in ports.items():
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((host, port))
            except OSError:
                raise ServiceUnavailable(
                    f"port {port} ({role} API) is already in use on {host}: stop what holds it "
                    f"(`ss -ltnp 'sport = :{port}'`) or choose another port"
                ) from None


def torchserve_executable() -> str:
    """The torchserve script of this interpreter, so workers run with the same Python."""
    local = Path(sys.executable).parent / "torchserve"
    found = str(local) if local.exists() else shutil.which("torchserve")
    if not found:
        raise ServiceUnavailable("torchserve is not installed (pip install torchserve==0.12.0)")
    return found


class TorchServeProcess(ManagedProcess):
    """`torchserve --foreground` with a config it writes; waits for readiness, stops cleanly."""

    reap_group = True  # the Python workers can outlive the wrapper: wait for them, then SIGKILL

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        models: list[str] | None = None,
        model_store: Path | None = None,
        inference_port: int = 8080,
        management_port: int = 8081,
        metrics_port: int = 8082,
        grpc_inference_port: int = 7070,
        grpc_management_port: int = 7071,
        host: str = "127.0.0.1",
        token_auth: bool = False,
        enable_model_api: bool = True,
        workdir: Path | None = None,
        startup_timeout_s: float = 180.0,
        extra_properties: dict[str, str] | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.base_settings = settings or get_settings()
        self.model_store = Path(model_store or self.base_settings.model_store_dir)
        self.host = host
        self.ports = {"inference": inference_port, "management": management_port}
        self.ports["metrics"] = metrics_port
        # TorchServe 0.12 always starts its gRPC servers too: they need free ports as well.
        self.ports["gRPC inference"] = grpc_inference_port
        self.ports["gRPC management"] = grpc_management_port
        self.token_auth = token_auth
        self.enable_model_api = enable_model_api
        self.workdir = Path(workdir or Path(self.base_settings.data_dir) / "torchserve")
        self.startup_timeout_s = startup_timeout_s
        self.extra_properties = extra_properties or {}
        self.models = self._resolve_models(models)
        # With token auth even /ping needs the inference key (TorchServe answers 400 without).
        self.keys = KeySource(None, self.key_file if token_auth else None)
        tmp = str(self.workdir / "tmp")
        process_env = {
            # TorchServe keeps its pid file in the temp dir: one per instance lets several run.
            "TMPDIR": tmp,
            "TEMP": tmp,
            "LOG_LOCATION": str(self.log_dir),
            "METRICS_LOCATION": str(self.log_dir),
            **(env or {}),
        }
        log = self.log_dir / "torchserve.out"
        super().__init__("TorchServe", [], log, env=process_env, cwd=self.workdir)

    @classmethod
    def from_settings(cls, settings: Settings, **options: Any) -> TorchServeProcess:
        """Host and ports taken from settings.torchserve_*_url (what clients will call)."""
        urls = {
            "inference_port": settings.torchserve_inference_url,
            "management_port": settings.torchserve_management_url,
            "metrics_port": settings.torchserve_metrics_url,
        }
        parsed = {key: httpx.URL(url) for key, url in urls.items()}
        ports = {key: url.port or 80 for key, url in parsed.items()}
        host = parsed["inference_port"].host or "127.0.0.1"
        return cls(settings, host=host, **ports, **options)

    # ---- addresses
    @property
    def inference_url(self) -> str:
        return f"http://{self.host}:{self.ports['inference']}"

    @property
    def management_url(self) -> str:
        return f"http://{self.host}:{self.ports['management']}"

    @property
    def metrics_url(self) -> str:
        return f"http://{self.host}:{self.ports['metrics']}"

    @property
    def key_file(self) -> Path:
        return self.workdir / "key_file.json"

    @property
    def log_dir(self) -> Path:
        return self.workdir / "logs"

    @property
    def settings(self) -> Settings:
        """Settings pointing at this instance, for TorchServeClient and the rest of Voxflow."""
        return self.base_settings.model_copy(
            update={
                "torchserve_inference_url": self.inference_url,
                "torchserve_management_url": self.management_url,
                "torchserve_metrics_url": self.metrics_url,
                "torchserve_key_file": self.key_file if self.token_auth else None,
                "model_store_dir": self.model_store,
            }
        )

    def _resolve_models(self, models: list[str] | None) -> dict[str, str]:
        """Voice names → archive files; "name=file.mar" passes through; default: the registry."""
        registry = load_registry(self.base_settings)
        if models is None:
            models = [
                v.name for v in registry.voices if (self.model_store / v.archive_name).is_file()
            ]
        resolved: dict[str, str] = {}
        for entry in models:
            if "=" in entry:
                name, archive_file = entry.split("=", 1)
            else:
                voice = registry.get(entry)
                name, archive_file = voice.name, voice.archive_name
            if not (self.model_store / archive_file).exists():
                raise ConfigError(
                    f"{archive_file} is not in the model store {self.model_store}: "
                    "run `voxflow models build` first"
                )
            resolved[name] = archive_file
        return resolved

    def config_properties(self) -> str:
        lines = {
            "inference_address": self.inference_url,
            "management_address": self.management_url,
            "metrics_address": self.metrics_url,
            "grpc_inference_address": self.host,
            "grpc_inference_port": str(self.ports["gRPC inference"]),
            "grpc_management_address": self.host,
            "grpc_management_port": str(self.ports["gRPC management"]),
            "model_store": str(self.model_store),
            "metrics_mode": "prometheus",
            "enable_model_api": str(self.enable_model_api).lower(),
            "disable_token_authorization": str(not self.token_auth).lower(),
            "install_py_dep_per_model": "false",
            "default_response_timeout": "120",
            **self.extra_properties,
        }
        return "".join(f"{key}={value}\n" for key, value in lines.items())

    # ---- lifecycle
    def start(self) -> TorchServeProcess:
        check_java()
        check_ports_free(self.ports, self.host)
        for sub in ("tmp", "logs"):
            (self.workdir / sub).mkdir(parents=True, exist_ok=True)
        self.key_file.unlink(missing_ok=True)
        config = self.workdir / "config.properties"
        config.write_text(self.config_properties(), encoding="utf-8")
        self.argv = [
            torchserve_executable(),
            "--foreground",
            "--ts-config", str(config),
            "--model-store", str(self.model_store),
            "--ncs",
        ]  # fmt: skip
        if self.models:
            self.argv += ["--models", *(f"{n}={f}" for n, f in self.models.items())]
        super().start()
        self.wait_ready()
        return self

    def wait_ready(self) -> None:
        """Poll /ping, then each model's workers, until all are READY; stop TorchServe if not."""
        pending = set(self.models)
        what = f"/ping answered and {', '.join(sorted(pending)) or 'no model'} had READY workers"
        with httpx.Client(timeout=5.0) as http:
            healthy = False

            def ready() -> bool:
                nonlocal healthy, pending
                try:
                    if not healthy:
                        ping = http.get(
                            f"{self.inference_url}/ping", headers=self.keys.header("inference")
                        )
                        healthy = ping.status_code == 200
                    if healthy:
                        pending = {m for m in pending if not self._model_ready(http, m)}
                except httpx.TransportError:
                    return False
                return healthy and not pending

            self.wait_until(ready, self.startup_timeout_s, what)

    def _model_ready(self, http: httpx.Client, name: str) -> bool:
        response = http.get(
            f"{self.management_url}/models/{name}", headers=self.keys.header("management")
        )
        return response.status_code == 200 and workers_ready(response.json())

    def log_tail(self, lines: int = 40) -> str:
        """The ends of TorchServe's own log, its frontend log and the model workers' log."""
        parts = []
        for name in ("torchserve.out", "ts_log.log", "model_log.log"):
            path = self.log_dir / name
            if path.is_file():
                tail = path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
                parts.append(f"--- {path} (last {len(tail)} lines)\n" + "\n".join(tail))
        return "\n".join(parts) or f"(no TorchServe log in {self.log_dir})"

    def stop(self, timeout_s: float = 30.0, sig: int = signal.SIGTERM) -> None:
        """SIGTERM Java first (the wrapper reaps it, leaving no zombie), then the whole group."""
        if self.process is None:
            return
        with contextlib.suppress(psutil.Error):
            for child in psutil.Process(self.process.pid).children():
                child.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=timeout_s)
        super().stop(timeout_s, sig)
        self.process = None

    def __enter__(self) -> TorchServeProcess:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
