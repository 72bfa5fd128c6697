"""Request parsing, validation and WAV encoding shared by the voice handlers (in each .mar)."""

from __future__ import annotations

import io
import itertools
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
# JSON [[word, start_s, end_s], ...] over the request's whitespace-separated words; only from
# voices whose model gives durations (Piper). ASCII-escaped, as HTTP headers must be.
HEADER_WORD_TIMES = "X-Word-Times"
# Phoneme symbols that are not sounds of a word: word gaps, sentence begin/end, punctuation.
WORD_GAP = " "
NOT_SPOKEN = frozenset("^$_ .,;:!?¡¿—…\"'()-")


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


@dataclass
class Speech:
    """A request's audio, and when each of its words is spoken where the model says so."""

    audio: np.ndarray
    words: list[tuple[str, float, float]] | None = None


def word_times(
    text: str, phonemes: list[tuple[str, int]], sample_rate: int
) -> list[tuple[str, float, float]]:
    """Each whitespace-separated word of `text` with its start and end in seconds, from the
    model's (phoneme, samples) durations over the whole request.

    The phonemiser's words (runs between gaps) pair one to one with the text's words when their
    counts agree; otherwise (a number read as several words, two words read as one) they are
    paired by `_pair`, which matches their lengths in order.
    """
    spans: list[tuple[int, int, int]] = []  # first sample, end sample, phonemes
    word: tuple[int, int, int] | None = None
    position = 0
    for symbol, samples in phonemes:
        if symbol == WORD_GAP and word is not None:
            spans.append(word)
            word = None
        elif symbol not in NOT_SPOKEN:
            first, count = (position, 0) if word is None else (word[0], word[2])
            word = (first, position + samples, count + 1)
        position += samples
    if word is not None:
        spans.append(word)
    words = text.split()
    if not words or not spans:
        return []
    times = [(a, b) for a, b, _ in spans] if len(spans) == len(words) else _pair(words, spans)
    return [(w, a / sample_rate, b / sample_rate) for w, (a, b) in zip(words, times, strict=True)]


def _spoken_length(word: str) -> float:
    """Rough phonemes a written word becomes: digits are read as whole words."""
    return sum(4.0 if c.isdigit() else 1.0 for c in word if c.isalnum()) or 1.0


# (text words, phonemiser words) a step of `_pair` may take together.
_STEPS = [(1, 1), (1, 2), (1, 3), (1, 4), (1, 5), (1, 6), (2, 1), (3, 1)]


def _pair(words: list[str], spans: list[tuple[int, int, int]]) -> list[tuple[int, int]]:
    """Monotonic pairing of text words with phonemiser words (dynamic programming) so that
    paired lengths agree best; words that share one phonemiser word split it by length."""
    n, m = len(words), len(spans)
    lengths = [_spoken_length(w) for w in words]
    scale = sum(s[2] for s in spans) / sum(lengths)
    inf = float("inf")
    cost = [[inf] * (m + 1) for _ in range(n + 1)]
    step: list[list[tuple[int, int] | None]] = [[None] * (m + 1) for _ in range(n + 1)]
    cost[0][0] = 0.0
    for i in range(n + 1):
        for j in range(m + 1):
            if cost[i][j] == inf:
                continue
            for di, dj in _STEPS:
                if i + di > n or j + dj > m:
                    continue
                said = sum(s[2] for s in spans[j : j + dj])
                written = sum(lengths[i : i + di]) * scale
                c = cost[i][j] + abs(math.log(said / written)) + 0.1 * (di + dj - 2)
                if c < cost[i + di][j + dj]:
                    cost[i + di][j + dj], step[i + di][j + dj] = c, (di, dj)
    if step[n][m] is None:  # no pairing fits these limits: share the time by length
        return _by_length(lengths, spans[0][0], spans[-1][1])
    times: list[tuple[int, int]] = []
    i, j = n, m
    while i or j:
        di, dj = step[i][j]  # type: ignore[misc]
        first, end = spans[j - dj][0], spans[j - 1][1]
        times[:0] = _by_length(lengths[i - di : i], first, end)
        i, j = i - di, j - dj
    return times


def _by_length(lengths: list[float], first: int, end: int) -> list[tuple[int, int]]:
    """Split samples [first, end) among words in proportion to their lengths."""
    edges = np.round(first + (end - first) * np.cumsum([0.0, *lengths]) / sum(lengths))
    return [(int(a), int(b)) for a, b in itertools.pairwise(edges)]


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
        """Audio (float in [-1, 1] or int16, or a Speech with word times) or an Exception,
        one per request, in order."""
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
            words = audio.words if isinstance(audio, Speech) else None
            audio = audio.audio if isinstance(audio, Speech) else audio
            results[idx] = wav_bytes(audio, self.sample_rate)
            if words:
                times = [[w, round(a, 3), round(b, 3)] for w, a, b in words]
                context.set_response_header(idx, HEADER_WORD_TIMES, json.dumps(times))
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
