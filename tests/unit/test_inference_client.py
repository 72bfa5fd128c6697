"""TorchServeClient against httpx.MockTransport: retries on overload only, typed errors, tokens."""

from __future__ import annotations

import io
import json
import wave

import httpx
import pytest

from voxflow.inference import (
    AuthorizationError,
    InferenceError,
    ModelInputError,
    Synthesis,
    TorchServeClient,
    TransientInferenceError,
)
from voxflow.settings import Settings


def wav(seconds: float = 0.5, rate: int = 22050) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"\0\0" * int(seconds * rate))
    return buffer.getvalue()


def client_for(handler, tmp_path, **options) -> tuple[TorchServeClient, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request, len(seen))

    settings = options.pop("settings", None) or Settings(data_dir=tmp_path)
    client = TorchServeClient(
        settings, transport=httpx.MockTransport(record), backoff_s=0.001, **options
    )
    return client, seen


async def test_retries_503_then_succeeds(tmp_path):
    def handler(request, n):
        if n < 3:
            return httpx.Response(503, json={"code": 503, "message": "Prediction failed"})
        return httpx.Response(200, content=wav(0.5), headers={"content-type": "audio/wav"})

    client, seen = client_for(handler, tmp_path)
    async with client:
        result = await client.synthesize("joe", "Hello.", version="1.0", params={"noise_w": 0.8})
    assert isinstance(result, Synthesis)
    assert (result.sample_rate, result.duration_s) == (22050, pytest.approx(0.5))
    assert len(seen) == 3
    assert seen[0].url.path == "/predictions/joe/1.0"
    assert json.loads(seen[0].content) == {"text": "Hello.", "noise_w": 0.8}


async def test_gives_up_after_retries_with_a_transient_error(tmp_path):
    client, seen = client_for(lambda r, n: httpx.Response(507, json={"message": "OOM"}), tmp_path)
    async with client:
        with pytest.raises(TransientInferenceError) as caught:
            await client.synthesize("joe", "Hello.")
    assert len(seen) == 4  # the first try and three retries
    assert caught.value.status == 507


async def test_connection_refused_is_transient(tmp_path):
    def handler(request, n):
        raise httpx.ConnectError("connection refused", request=request)

    client, seen = client_for(handler, tmp_path, retries=1)
    async with client:
        with pytest.raises(TransientInferenceError):
            await client.synthesize("joe", "Hello.")
    assert len(seen) == 2


async def test_4xx_is_not_retried_and_carries_torchserve_message(tmp_path):
    def handler(request, n):
        return httpx.Response(400, json={"code": 400, "message": "text is empty"})

    client, seen = client_for(handler, tmp_path)
    async with client:
        with pytest.raises(ModelInputError) as caught:
            await client.synthesize("joe", "")
    assert len(seen) == 1
    assert (caught.value.status, caught.value.message) == (400, "text is empty")


async def test_500_is_an_inference_error_without_retry(tmp_path):
    client, seen = client_for(lambda r, n: httpx.Response(500, text="boom"), tmp_path)
    async with client:
        with pytest.raises(InferenceError) as caught:
            await client.synthesize("joe", "Hello.")
    assert not isinstance(caught.value, ModelInputError | TransientInferenceError)
    assert len(seen) == 1


async def test_token_setting_is_sent_as_bearer(tmp_path):
    def handler(request, n):
        return httpx.Response(200, content=wav())

    client, seen = client_for(handler, tmp_path, token="s3cret")
    async with client:
        await client.synthesize("joe", "Hello.")
    assert seen[0].headers["authorization"] == "Bearer s3cret"


async def test_key_file_gives_inference_and_management_keys(tmp_path):
    keys = {
        "management": {"key": "MGMT", "expiration time": "x"},
        "inference": {"key": "INFER", "expiration time": "x"},
        "API": {"key": "API"},
    }
    key_file = tmp_path / "key_file.json"
    key_file.write_text(json.dumps(keys))

    def handler(request, n):
        if request.url.path.startswith("/predictions"):
            return httpx.Response(200, content=wav())
        return httpx.Response(200, json={"status": "ok"})

    settings = Settings(data_dir=tmp_path, torchserve_key_file=key_file)
    client, seen = client_for(handler, tmp_path, settings=settings)
    async with client:
        await client.synthesize("joe", "Hello.")
        await client.set_default("joe", "2.0")
    assert seen[0].headers["authorization"] == "Bearer INFER"
    assert seen[1].headers["authorization"] == "Bearer MGMT"
    assert seen[1].method == "PUT" and seen[1].url.path == "/models/joe/2.0/set-default"


async def test_invalid_key_is_an_authorization_error(tmp_path):
    def handler(request, n):
        body = {"code": 400, "type": "InvalidKeyException", "message": "Token failed"}
        return httpx.Response(400, json=body)

    client, seen = client_for(handler, tmp_path)
    async with client:
        with pytest.raises(AuthorizationError):
            await client.synthesize("joe", "Hello.")
    assert len(seen) == 1


async def test_synthesize_many_returns_errors_per_item(tmp_path):
    def handler(request, n):
        text = json.loads(request.content)["text"]
        if not text:
            return httpx.Response(400, json={"message": "text is empty"})
        return httpx.Response(200, content=wav(0.1 * len(text)))

    client, _ = client_for(handler, tmp_path, concurrency=2)
    async with client:
        results = await client.synthesize_many("joe", ["ab", "", "abcd"])
    assert isinstance(results[0], Synthesis) and results[0].duration_s == pytest.approx(0.2)
    assert isinstance(results[1], ModelInputError)
    assert isinstance(results[2], Synthesis) and results[2].duration_s == pytest.approx(0.4)


async def test_register_sends_management_parameters(tmp_path):
    client, seen = client_for(lambda r, n: httpx.Response(200, json={"status": "ok"}), tmp_path)
    async with client:
        await client.register("joe-2.0.mar", initial_workers=2, batch_size=4)
    params = dict(seen[0].url.params)
    assert seen[0].method == "POST" and seen[0].url.path == "/models"
    assert params == {
        "url": "joe-2.0.mar",
        "initial_workers": "2",
        "synchronous": "true",
        "batch_size": "4",
    }
