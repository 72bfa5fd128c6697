"""Request parsing, validation and WAV encoding shared by the voice handlers (in each .mar)."""

from __future__ import annotations

import io
import json
import math
import os
import uuid
import wave
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from ts.torch_handler.base_handler import BaseHandler

# Response headers every successful item carries (documented in docs/serving.md).
HEADER_SAMPLE_RATE = "X-Sample-Rate"
HEADER_DURATION = "X-Audio-Duration"
HEADER_SAMPLES = "X-Audio-Samples"
HEADER_MODEL_VERSION = "X-Model-Version"
HEADER_BATCH_SIZE = "X-Batch-Size"
HEADER_BATCH_ID = "X-Batch-Id"


class ItemError(Exception):
    """A problem with one request of a batch: it becomes that request's HTTP status and message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class ParamSpec:
    """One synthesis parameter: accepted type and range; aliases map older names to it."""

    low: float
    high: float
    integer: bool = False
    aliases: tuple[str, ...] = field(default_factory=tuple)


@dataclass
class TTSRequest:
    text: str
    params: dict[str, Any]


def request_body(row: Mapping[str, Any]) -> Any:
    """TorchServe puts the body under "data" or "body"; JSON arrives decoded, text/* as str."""
    body = row.get("data")
    if body is None:
        body = row.get("body")
    if isinstance(body, bytes | bytearray):
        try:
            body = body.decode("utf-8")
        except UnicodeDecodeError as error:
            raise ItemError(400, "request body is not UTF-8 text") from error
    if isinstance(body, str):
        stripped = body.strip()
        if stripped.startswith("{"):
            try:
                return json.loads(stripped)
            except json.JSONDecodeError as error:
                raise ItemError(400, f"request body is not valid JSON: {error.msg}") from error
        return {"text": body}
    if isinstance(body, dict):
        return body
    if body is None:
        raise ItemError(400, 'empty request: send JSON {"text": ...} or text/plain')
    raise ItemError(400, f"unsupported request body of type {type(body).__name__}")


def parse_request(
    row: Mapping[str, Any], *, max_chars: int, specs: Mapping[str, ParamSpec]
) -> TTSRequest:
    """Validate one request: text present and within the limit, known parameters within range."""
    body = request_body(row)
    text = body.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ItemError(400, 'text is empty: send a non-empty "text"')
    text = text.strip()
    if len(text) > max_chars:
        raise ItemError(
            413, f"text has {len(text)} characters; this voice accepts at most {max_chars}"
        )
    aliases = {alias: name for name, spec in specs.items() for alias in spec.aliases}
    params: dict[str, Any] = {}
    for key, value in body.items():
        if key in ("text", "format"):
            continue
        name = aliases.get(key, key)
        spec = specs.get(name)
        if spec is None:
            known = ", ".join(sorted(specs)) or "none"
            raise ItemError(400, f"unknown parameter {key!r}; known parameters: {known}")
        params[name] = check_param(key, value, spec)
    return TTSRequest(text=text, params=params)


def check_param(key: str, value: Any, spec: ParamSpec) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ItemError(400, f"parameter {key!r} must be a number, got {value!r}")
    if spec.integer and not float(value).is_integer():
        raise ItemError(400, f"parameter {key!r} must be an integer, got {value!r}")
    if not math.isfinite(value) or not spec.low <= value <= spec.high:
        raise ItemError(
            400, f"parameter {key!r}={value!r} is out of range [{spec.low:g}, {spec.high:g}]"
        )
    return int(value) if spec.integer else float(value)


def wav_bytes(audio: np.ndarray, sample_rate: int) -> bytes:
    """Float audio in [-1, 1] (or int16) to a mono 16-bit PCM WAV file."""
    if audio.dtype != np.int16:
        audio = (np.clip(audio, -1.0, 1.0) * 32767.0).astype(np.int16)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(sample_rate)
        wav.writeframes(audio.tobytes())
    return buffer.getvalue()


def cpu_threads(workers: int) -> int:
    """Threads per worker: VOXFLOW_TTS_THREADS, else the usable CPUs shared among the workers."""
    configured = os.environ.get("VOXFLOW_TTS_THREADS")
    if configured:
        return max(1, int(configured))
    return max(1, available_cpus() // max(1, workers))


def available_cpus(cgroup_root: Path = Path("/sys/fs/cgroup")) -> int:
    """The CPUs this process may use: its affinity, capped by the container's CPU limit.

    A pod sees every vCPU of its node; only the cgroup quota says what `limits.cpu` allows, and
    threads beyond it are throttled, not faster.
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    limit = cgroup_cpu_limit(cgroup_root)
    cores = cores or 1
    return max(1, min(cores, math.floor(limit))) if limit is not None else cores


def cgroup_cpu_limit(root: Path) -> float | None:
    """CPUs allowed by cgroup v2 `cpu.max` or v1 `cpu.cfs_quota_us`; None when unlimited."""
    try:
        quota, period = (root / "cpu.max").read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        quota_us = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
        period_us = int((root / "cpu" / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return None if quota_us <= 0 or period_us <= 0 else quota_us / period_us


@dataclass
class _Batch:
    """One batch between preprocess and postprocess: which rows parsed, which failed why."""

    size: int
    batch_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    valid: list[int] = field(default_factory=list)
    errors: dict[int, ItemError] = field(default_factory=dict)


class VoiceHandler(BaseHandler):
    """TorchServe's split for a voice, keeping BaseHandler.handle (and its HandlerTime metric).

    preprocess parses each row and records per-item errors; the subclass's `inference` turns
    the valid requests into audio; postprocess writes each WAV with its headers, and gives a bad
    item its own 4xx/5xx while the rest of the batch succeeds. Subclasses set `max_chars`,
    `specs`, `sample_rate` and `version` in `initialize`.
    """

    max_chars: int = 400
    specs: Mapping[str, ParamSpec] = {}
    sample_rate: int = 22050
    version: str = ""

    def preprocess(self, data: list[Mapping[str, Any]]) -> list[TTSRequest]:
        self._batch = _Batch(len(data))
        requests = []
        for idx, row in enumerate(data):
            try:
                requests.append(parse_request(row, max_chars=self.max_chars, specs=self.specs))
            except ItemError as error:
                self._batch.errors[idx] = error
            else:
                self._batch.valid.append(idx)
        return requests

    def inference(self, requests: list[TTSRequest], *args: Any, **kwargs: Any) -> list[Any]:
        """Audio (float in [-1, 1] or int16) or an Exception, one per request, in order."""
        raise NotImplementedError

    def postprocess(self, outputs: list[Any]) -> list[Any]:
        batch, context = self._batch, self.context
        results: list[Any] = [b""] * batch.size
        for idx, error in batch.errors.items():
            fail(context, idx, error.status, error.message, results)
        for idx, audio in zip(batch.valid, outputs, strict=True):
            if isinstance(audio, ItemError):
                fail(context, idx, audio.status, audio.message, results)
                continue
            if isinstance(audio, Exception):
                fail(context, idx, 500, f"synthesis failed: {audio}", results)
                continue
            results[idx] = wav_bytes(audio, self.sample_rate)
            context.set_response_content_type(idx, "audio/wav")
            context.set_response_header(idx, HEADER_SAMPLE_RATE, str(self.sample_rate))
            context.set_response_header(idx, HEADER_SAMPLES, str(len(audio)))
            context.set_response_header(
                idx, HEADER_DURATION, f"{len(audio) / self.sample_rate:.4f}"
            )
            context.set_response_header(idx, HEADER_MODEL_VERSION, self.version)
            context.set_response_header(idx, HEADER_BATCH_SIZE, str(batch.size))
            context.set_response_header(idx, HEADER_BATCH_ID, batch.batch_id)
        return results


def fail(context: Any, idx: int, status: int, message: str, results: list[Any]) -> None:
    context.set_response_status(status, message, idx=idx)
    context.set_response_content_type(idx, "application/json")
    results[idx] = json.dumps({"code": status, "message": message})


def handler_config(context: Any) -> dict[str, Any]:
    """The `handler:` section of the archive's model-config.yaml (empty when absent)."""
    config = getattr(context, "model_yaml_config", None) or {}
    return dict(config.get("handler") or {})


def model_version(context: Any) -> str:
    manifest = getattr(context, "manifest", None) or {}
    return str(manifest.get("model", {}).get("modelVersion", ""))
