"""Build the TorchServe model store: one .mar archive per voice (`voxflow models build`)."""

from __future__ import annotations

import contextlib
import importlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from voxflow.errors import ConfigError
from voxflow.registry import Voice, load_registry
from voxflow.settings import Settings, get_settings

REPO_ROOT = Path(__file__).resolve().parents[2]
MODEL_CONFIGS = REPO_ROOT / "model_store" / "configs"
HANDLERS_DIR = REPO_ROOT / "handlers"
HANDLER_FILES = {"piper": "piper_voice.py", "hf": "hf_tts.py"}
SHARED_HANDLER_FILES = {"piper": ["voice_common.py"], "hf": ["voice_common.py", "hf_model.py"]}


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
