"""Async TorchServe client: synthesis with retries on overload only, management, health checks."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import random
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from voxflow.errors import VoxflowError
from voxflow.settings import Settings, get_settings

RETRYABLE_STATUS = {503, 507}


class InferenceError(VoxflowError):
    """TorchServe could not synthesise a segment."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class ModelInputError(InferenceError):
    """The model refused the input (a 4xx): retrying the same request cannot succeed."""


class AuthorizationError(InferenceError):
    """TorchServe refused the token (it answers 400 InvalidKeyException): a configuration error."""


class TransientInferenceError(InferenceError):
    """TorchServe was overloaded or unreachable (503/507/connection/timeout) after all retries."""

    exit_code = 3


log = logging.getLogger("voxflow.inference")
# The voice handlers' header with the words' times (handlers/voice_common.py HEADER_WORD_TIMES).
WORD_TIMES_HEADER = "X-Word-Times"
WordTimes = list[tuple[str, float, float]]


@dataclass
class Synthesis:
    wav: bytes
    sample_rate: int
    duration_s: float
    words: WordTimes | None = None  # [(word, start_s, end_s)] when the voice gives them


def parse_words(header: str | None) -> WordTimes | None:
    """The handler's word times, or None when the voice gives none or the header is garbled."""
    if not header:
        return None
    try:
        return [(str(w), float(a), float(b)) for w, a, b in json.loads(header)]
    except (ValueError, TypeError):
        log.warning("ignoring an unreadable %s header", WORD_TIMES_HEADER)
        return None


def parse_wav(data: bytes) -> Synthesis:
    """Read the sample rate and duration from the WAV header (the handler's headers agree)."""
    try:
        with wave.open(io.BytesIO(data), "rb") as wav:
            rate, frames = wav.getframerate(), wav.getnframes()
    except (wave.Error, EOFError) as error:
        raise InferenceError(
            f"TorchServe returned audio that is not a WAV file: {error}"
        ) from error
    return Synthesis(wav=data, sample_rate=rate, duration_s=frames / rate if rate else 0.0)


def error_body(response: httpx.Response) -> tuple[str, str]:
    """TorchServe's error bodies are JSON with "message" (and "type"); else the raw text."""
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return "", response.text.strip() or response.reason_phrase
    if isinstance(body, dict) and body.get("message"):
        return str(body.get("type", "")), str(body["message"])
    return "", response.text.strip()


def read_key_file(path: Path) -> dict[str, str]:
    """TorchServe's key_file.json → {"inference": key, "management": key}; ValueError mid-write."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return {
        role: entry["key"]
        for role, entry in data.items()
        if isinstance(entry, dict) and "key" in entry
    }


def workers_ready(described: list[dict[str, Any]]) -> bool:
    """True when a describe-model answer (GET /models/NAME) lists at least one READY worker."""
    return any(
        worker.get("status") == "READY"
        for entry in described
        for worker in entry.get("workers", [])
    )


class KeySource:
    """Bearer tokens: one fixed token, or TorchServe's key_file.json (re-read when it changes)."""

    def __init__(self, token: str | None, key_file: Path | None) -> None:
        self.token = token
        self.key_file = Path(key_file).expanduser() if key_file else None
        self._mtime: float | None = None
        self._keys: dict[str, str] = {}

    def header(self, role: str) -> dict[str, str]:
        key = self.token or self._file_key(role)
        return {"Authorization": f"Bearer {key}"} if key else {}

    def _file_key(self, role: str) -> str | None:
        if self.key_file is None or not self.key_file.is_file():
            return None
        mtime = self.key_file.stat().st_mtime
        if mtime != self._mtime:
            try:
                self._keys = read_key_file(self.key_file)
            except ValueError:  # caught mid-write by TorchServe: keep the keys we had
                return self._keys.get(role)
            self._mtime = mtime
        return self._keys.get(role)


class TorchServeClient:
    """Pooled async client for TorchServe's inference and management APIs."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        inference_url: str | None = None,
        management_url: str | None = None,
        token: str | None = None,
        concurrency: int | None = None,
        retries: int = 3,
        backoff_s: float = 0.25,
        timeout_s: float | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        settings = settings or get_settings()
        self.inference_url = (inference_url or settings.torchserve_inference_url).rstrip("/")
        self.management_url = (management_url or settings.torchserve_management_url).rstrip("/")
        self.keys = KeySource(token or settings.torchserve_token, settings.torchserve_key_file)
        self.concurrency = concurrency or settings.torchserve_concurrency
        self.retries = retries
        self.backoff_s = backoff_s
        timeout = timeout_s or settings.torchserve_timeout_s
        self._semaphore = asyncio.Semaphore(self.concurrency)
        self._http = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout, connect=5.0),
            limits=httpx.Limits(max_connections=max(self.concurrency, 10)),
            transport=transport,
        )

    async def __aenter__(self) -> TorchServeClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # ---------------------------------------------------------------- inference
    async def synthesize(
        self,
        model: str,
        text: str,
        *,
        version: str | None = None,
        params: dict[str, Any] | None = None,
    ) -> Synthesis:
        """One segment → WAV; 4xx raises ModelInputError, overload retries then Transient."""
        path = f"/predictions/{model}" + (f"/{version}" if version else "")
        body = {"text": text, **(params or {})}
        async with self._semaphore:
            response = await self._request(
                "POST", self.inference_url + path, role="inference", json=body
            )
        synthesis = parse_wav(response.content)
        synthesis.words = parse_words(response.headers.get(WORD_TIMES_HEADER))
        return synthesis

    async def synthesize_many(
        self,
        model: str,
        texts: list[str],
        *,
        version: str | None = None,
        params: dict[str, Any] | None = None,
    ) -> list[Synthesis | InferenceError]:
        """Concurrent requests (bounded by `concurrency`) so TorchServe batches them."""

        async def one(text: str) -> Synthesis | InferenceError:
            try:
                return await self.synthesize(model, text, version=version, params=params)
            except InferenceError as error:
                return error

        return list(await asyncio.gather(*(one(text) for text in texts)))

    async def ping(self) -> bool:
        try:
            response = await self._http.get(
                self.inference_url + "/ping", headers=self.keys.header("inference"), timeout=5.0
            )
        except httpx.TransportError:
            return False
        return response.status_code == 200 and "Healthy" in response.text

    async def model_ready(self, model: str, version: str | None = None) -> bool:
        """True when the model (version) has at least one READY worker."""
        path = f"/models/{model}" + (f"/{version}" if version else "")
        try:
            response = await self._http.get(
                self.management_url + path, headers=self.keys.header("management"), timeout=5.0
            )
        except httpx.TransportError:
            return False
        return response.status_code == 200 and workers_ready(response.json())

    # ---------------------------------------------------------------- management
    async def list_models(self) -> list[dict[str, Any]]:
        """Every registered model version, with "isDefault" added, and its worker states."""
        response = await self._management("GET", "/models", params={"limit": 1000})
        models = []
        for entry in response.json().get("models", []):
            name = entry["modelName"]
            default = await self.default_version(name)
            detail = await self._management("GET", f"/models/{name}/all")
            models.extend({**m, "isDefault": m["modelVersion"] == default} for m in detail.json())
        return models

    async def default_version(self, model: str) -> str:
        response = await self._management("GET", f"/models/{model}")
        return str(response.json()[0]["modelVersion"])

    async def register(
        self,
        url_or_mar: str,
        *,
        initial_workers: int = 1,
        synchronous: bool = True,
        model_name: str | None = None,
        batch_size: int | None = None,
        max_batch_delay: int | None = None,
        response_timeout: int | None = None,
    ) -> dict[str, Any]:
        """Register an archive (a file name in the model store, or a URL) and start workers."""
        params: dict[str, Any] = {
            "url": url_or_mar,
            "initial_workers": initial_workers,
            "synchronous": str(synchronous).lower(),
        }
        optional = {
            "model_name": model_name,
            "batch_size": batch_size,
            "max_batch_delay": max_batch_delay,
            "response_timeout": response_timeout,
        }
        params.update({key: value for key, value in optional.items() if value is not None})
        response = await self._management("POST", "/models", params=params)
        return response.json()

    async def set_default(self, name: str, version: str) -> dict[str, Any]:
        """Route unversioned requests to `version`: the roll-forward and the rollback call."""
        response = await self._management("PUT", f"/models/{name}/{version}/set-default")
        return response.json()

    async def unregister(self, name: str, version: str | None = None) -> dict[str, Any]:
        path = f"/models/{name}" + (f"/{version}" if version else "")
        response = await self._management("DELETE", path)
        return response.json()

    async def scale(self, name: str, version: str | None, min_workers: int) -> dict[str, Any]:
        path = f"/models/{name}" + (f"/{version}" if version else "")
        params = {"min_worker": min_workers, "synchronous": "true"}
        response = await self._management("PUT", path, params=params)
        return response.json()

    async def _management(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return await self._request(
            method, self.management_url + path, role="management", timeout=300.0, **kwargs
        )

    # ---------------------------------------------------------------- transport
    async def _request(self, method: str, url: str, *, role: str, **kwargs: Any) -> httpx.Response:
        """Send with retries on 503/507 and connection errors; raise typed errors otherwise."""
        attempt = 0
        while True:
            try:
                response = await self._http.request(
                    method, url, headers=self.keys.header(role), **kwargs
                )
            except (httpx.TransportError, httpx.TimeoutException) as error:
                failure: InferenceError = TransientInferenceError(
                    f"TorchServe at {url} did not answer: {type(error).__name__}: {error}"
                )
            else:
                if response.status_code < 300:
                    return response
                kind, message = error_body(response)
                where = f"TorchServe {method} {url} returned {response.status_code}: {message}"
                if kind == "InvalidKeyException":
                    raise AuthorizationError(
                        f"TorchServe refused the {role} token: set VOXFLOW_TORCHSERVE_KEY_FILE "
                        "to its key_file.json or VOXFLOW_TORCHSERVE_TOKEN",
                        status=response.status_code,
                    )
                if response.status_code in RETRYABLE_STATUS:
                    failure = TransientInferenceError(where, status=response.status_code)
                elif 400 <= response.status_code < 500:
                    raise ModelInputError(message, status=response.status_code)
                else:
                    raise InferenceError(where, status=response.status_code)
            if attempt >= self.retries:
                raise failure
            await asyncio.sleep(self.backoff_s * 2**attempt * (0.5 + random.random() / 2))
            attempt += 1
