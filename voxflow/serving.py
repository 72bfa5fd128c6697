"""Build the TorchServe model store and run TorchServe locally (`voxflow serve`, `up`, tests)."""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx
import psutil
import yaml

from voxflow.errors import ConfigError, ServiceUnavailable
from voxflow.registry import Voice, load_registry
from voxflow.settings import Settings, get_settings

REPO_ROOT = Path(__file__).resolve().parents[1]
MODEL_CONFIGS = REPO_ROOT / "model_store" / "configs"
HANDLERS_DIR = REPO_ROOT / "handlers"
HANDLER_FILES = {"piper": "piper_voice.py", "hf": "hf_tts.py"}
SHARED_HANDLER_FILES = {"piper": ["voice_common.py"], "hf": ["voice_common.py", "hf_model.py"]}
JAVA_HINT = (
    "TorchServe needs Java 17: install it with `apt-get install openjdk-17-jre-headless` "
    "(or set JAVA_HOME to a JDK 17)"
)


# ---------------------------------------------------------------- model store


def model_config(voice: Voice, *, device: str | None = None) -> dict[str, Any]:
    """The archive's model-config.yaml: model_store/configs/<voice>.yaml or <handler>.yaml."""
    for candidate in (
        MODEL_CONFIGS / f"{voice.name}.yaml",
        MODEL_CONFIGS / f"{voice.handler}.yaml",
    ):
        if candidate.is_file():
            config = yaml.safe_load(candidate.read_text(encoding="utf-8")) or {}
            break
    else:
        raise ConfigError(f"no model-config for voice {voice.name!r} in {MODEL_CONFIGS}")
    config["handler"] = {**(config.get("handler") or {}), "max_chars": voice.max_chars}
    if device is not None:
        config["deviceType"] = device
    return config


def archive(
    name: str,
    version: str,
    handler: str,
    files: Iterable[Path],
    config: dict[str, Any],
    store: Path,
) -> Path:
    """Run torch-model-archiver; the archive is named <name>-<version>.mar so versions coexist."""
    store.mkdir(parents=True, exist_ok=True)
    target = store / f"{name}-{version}.mar"
    handler_file = HANDLERS_DIR / HANDLER_FILES[handler]
    extra = [HANDLERS_DIR / f for f in SHARED_HANDLER_FILES[handler]] + list(files)
    archiver = shutil.which("torch-model-archiver", path=str(Path(sys.executable).parent))
    archiver = archiver or shutil.which("torch-model-archiver")
    if archiver is None:
        raise ConfigError(
            "torch-model-archiver is not installed (pip install torch-model-archiver)"
        )
    with tempfile.TemporaryDirectory(dir=store) as tmp:
        config_path = Path(tmp) / "model-config.yaml"
        config_path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        command = [
            archiver,
            "--model-name", name,
            "--version", version,
            "--handler", str(handler_file),
            "--extra-files", ",".join(str(path) for path in extra),
            "--config-file", str(config_path),
            "--export-path", tmp,
            "--force",
        ]  # fmt: skip
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise ConfigError(f"torch-model-archiver failed for {name}: {result.stderr.strip()}")
        os.replace(Path(tmp) / f"{name}.mar", target)
    return target


def piper_files(voice: Voice, model_dir: Path | None) -> list[Path]:
    """The .onnx and .onnx.json: from `model_dir`, or the voice's installed package."""
    if model_dir is None:
        if voice.package is None:
            raise ConfigError(
                f"voice {voice.name!r}: give the folder with its .onnx and .onnx.json"
            )
        try:
            package = importlib.import_module(voice.package)
        except ImportError:
            raise ConfigError(
                f"voice {voice.name!r} comes from the Python package {voice.package!r}, "
                "which is not installed"
            ) from None
        return [Path(package.model_path()), Path(package.config_path())]
    onnx = sorted(Path(model_dir).glob("*.onnx"))
    if len(onnx) != 1 or not onnx[0].with_name(onnx[0].name + ".json").is_file():
        raise ConfigError(f"{model_dir} must hold exactly one .onnx and its .onnx.json")
    return [onnx[0], onnx[0].with_name(onnx[0].name + ".json")]


def hf_files(model_dir: Path) -> list[Path]:
    """Everything save_pretrained wrote (config, weights, tokenizer files)."""
    model_dir = Path(model_dir)
    if not (model_dir / "config.json").is_file():
        raise ConfigError(f"{model_dir} is not a Hugging Face model folder (no config.json)")
    return sorted(path for path in model_dir.iterdir() if path.is_file())


def build_archive(
    voice: Voice,
    store: Path,
    *,
    model_dir: Path | None = None,
    device: str | None = None,
    force: bool = False,
) -> Path:
    """Build one voice's .mar unless an up-to-date one is already in the store."""
    files = piper_files(voice, model_dir) if voice.handler == "piper" else None
    if voice.handler == "hf":
        if model_dir is None:
            raise ConfigError(f"voice {voice.name!r} is a Hugging Face model: give its folder")
        files = hf_files(model_dir)
    config = model_config(voice, device=device)
    target = store / voice.archive_name
    sources = [*files, HANDLERS_DIR / HANDLER_FILES[voice.handler]]
    sources += [HANDLERS_DIR / f for f in SHARED_HANDLER_FILES[voice.handler]]
    sources += [p for p in MODEL_CONFIGS.glob("*.yaml")]
    if not force and target.is_file():
        newest = max(path.stat().st_mtime for path in sources)
        if target.stat().st_mtime >= newest and archive_config(target) == config:
            return target
    return archive(voice.name, voice.version, voice.handler, files, config, store)


def archive_config(path: Path) -> dict[str, Any] | None:
    """The model-config.yaml packed in an archive, to rebuild when the registry changed."""
    import zipfile

    with (
        contextlib.suppress(OSError, zipfile.BadZipFile, StopIteration),
        zipfile.ZipFile(path) as mar,
    ):
        name = next(n for n in mar.namelist() if n.endswith("model-config.yaml"))
        return yaml.safe_load(mar.read(name))
    return None


def build_model_store(settings: Settings | None = None, voices: list[str] | None = None) -> Path:
    """Build missing or stale .mar files into settings.model_store_dir (packaged voices)."""
    settings = settings or get_settings()
    store = Path(settings.model_store_dir)
    registry = load_registry(settings)
    chosen = [registry.get(name) for name in voices] if voices else registry.voices
    for voice in chosen:
        if voice.handler == "piper" and voice.package is not None:
            build_archive(voice, store, device=voice.pool)
        elif not (store / voice.archive_name).is_file():
            raise ConfigError(
                f"voice {voice.name!r} has no archive {voice.archive_name} in {store}; build it "
                f"with `voxflow models build {voice.name} --model-dir DIR`"
            )
    return store


# ---------------------------------------------------------------- TorchServe process


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


def read_key_file(path: Path) -> dict[str, str]:
    """TorchServe's key_file.json → {"inference": key, "management": key}."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return {role: entry["key"] for role, entry in data.items() if isinstance(entry, dict)}


class TorchServeProcess:
    """`torchserve --foreground` with a config it writes; waits for readiness, stops cleanly."""

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
        self.env = env or {}
        self.models = self._resolve_models(models)
        self.process: subprocess.Popen[bytes] | None = None

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
        command = [
            torchserve_executable(),
            "--foreground",
            "--ts-config", str(config),
            "--model-store", str(self.model_store),
            "--ncs",
        ]  # fmt: skip
        if self.models:
            command += ["--models", *(f"{n}={f}" for n, f in self.models.items())]
        env = {
            **os.environ,
            # TorchServe keeps its pid file in the temp dir: one per instance lets several run.
            "TMPDIR": str(self.workdir / "tmp"),
            "TEMP": str(self.workdir / "tmp"),
            "LOG_LOCATION": str(self.log_dir),
            "METRICS_LOCATION": str(self.log_dir),
            **self.env,
        }
        out = (self.log_dir / "torchserve.out").open("ab")
        self.process = subprocess.Popen(
            command,
            cwd=self.workdir,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: stop() signals Java and workers
        )
        out.close()
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def wait_ready(self) -> None:
        """Poll /ping and each model's workers until all are READY, or fail with the log's tail."""
        deadline = time.monotonic() + self.startup_timeout_s
        pending = set(self.models)
        healthy = False
        with httpx.Client(timeout=5.0) as http:
            while time.monotonic() < deadline:
                if self.process is not None and self.process.poll() is not None:
                    raise ServiceUnavailable(
                        f"TorchServe exited with code {self.process.returncode} while starting."
                        f"\n{self.log_tail()}"
                    )
                try:
                    if not healthy:
                        response = http.get(
                            f"{self.inference_url}/ping", headers=self._auth("inference")
                        )
                        healthy = response.status_code == 200
                    if healthy:
                        pending = {m for m in pending if not self._model_ready(http, m)}
                        if not pending:
                            return
                except httpx.TransportError:
                    pass
                time.sleep(0.5)
        waiting = ", ".join(sorted(pending)) if healthy else "/ping"
        raise ServiceUnavailable(
            f"TorchServe was not ready after {self.startup_timeout_s:.0f} s (waiting for "
            f"{waiting}).\n{self.log_tail()}"
        )

    def _auth(self, role: str) -> dict[str, str]:
        """With token auth even /ping needs the inference key (TorchServe answers 400 without)."""
        if not self.token_auth or not self.key_file.is_file():
            return {}
        try:
            keys = read_key_file(self.key_file)
        except (ValueError, KeyError):  # TorchServe is still writing it: ask again next poll
            return {}
        return {"Authorization": f"Bearer {keys[role]}"} if role in keys else {}

    def _model_ready(self, http: httpx.Client, name: str) -> bool:
        response = http.get(
            f"{self.management_url}/models/{name}", headers=self._auth("management")
        )
        if response.status_code != 200:
            return False
        return any(
            worker.get("status") == "READY"
            for entry in response.json()
            for worker in entry.get("workers", [])
        )

    def log_tail(self, lines: int = 40) -> str:
        parts = []
        for name in ("torchserve.out", "ts_log.log", "model_log.log"):
            path = self.log_dir / name
            if path.is_file():
                tail = path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
                parts.append(f"--- {path} (last {len(tail)} lines)\n" + "\n".join(tail))
        return "\n".join(parts) or f"(no TorchServe log in {self.log_dir})"

    def stop(self, timeout_s: float = 30.0) -> None:
        """SIGTERM Java (the wrapper reaps it), then the group; SIGKILL whatever is left."""
        if self.process is None:
            return
        pgid = self.process.pid
        # Java first: the `torchserve` wrapper waits on it, so no zombie is left for init.
        with contextlib.suppress(psutil.Error):
            for child in psutil.Process(pgid).children():
                child.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=timeout_s)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
            self.process.wait(timeout=10)
        deadline = time.monotonic() + timeout_s
        while group_members(pgid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if group_members(pgid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
        self.process = None

    def __enter__(self) -> TorchServeProcess:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def group_members(pgid: int) -> list[psutil.Process]:
    """Live processes of a process group (TorchServe's Java frontend and Python workers)."""
    members = []
    for process in psutil.process_iter(["pid", "status"]):
        with contextlib.suppress(psutil.Error, ProcessLookupError):
            if process.info["status"] != psutil.STATUS_ZOMBIE and os.getpgid(process.pid) == pgid:
                members.append(process)
    return members


def torchserve_executable() -> str:
    """The torchserve script of this interpreter, so workers run with the same Python."""
    local = Path(sys.executable).parent / "torchserve"
    found = str(local) if local.exists() else shutil.which("torchserve")
    if not found:
        raise ServiceUnavailable("torchserve is not installed (pip install torchserve==0.12.0)")
    return found
