"""Versions, rollback without downtime, metrics, and token authorization on a real TorchServe."""

from __future__ import annotations

import asyncio
import dataclasses
import re

import httpx
import pytest

from tests.plugins.torchserve import start_torchserve
from voxflow.inference import AuthorizationError, Synthesis, TorchServeClient
from voxflow.registry import load_registry
from voxflow.serving.archives import build_archive

pytestmark = pytest.mark.integration


def requests_total(metrics: str, model: str) -> float:
    pattern = rf'^ts_inference_requests_total\{{model_name="{model}",[^}}]*\}} ([0-9.e+]+)$'
    return sum(float(m) for m in re.findall(pattern, metrics, flags=re.MULTILINE))


async def test_default_flips_v1_v2_v1_while_requests_keep_succeeding(torchserve):
    joe = load_registry().get("joe")
    v2 = dataclasses.replace(joe, version="2.0")
    build_archive(v2, torchserve.model_store)
    url = f"{torchserve.inference_url}/predictions/joe"
    seen: list[str] = []
    failures: list[str] = []
    stop = asyncio.Event()

    async def traffic(http: httpx.AsyncClient) -> None:
        while not stop.is_set():
            response = await http.post(url, json={"text": "Still here."})
            if response.status_code == 200:
                seen.append(response.headers["x-model-version"])
            else:
                failures.append(f"{response.status_code} {response.text}")

    async def wait_for(version: str) -> None:
        start = len(seen)
        while version not in seen[start:]:
            assert not failures, failures
            await asyncio.sleep(0.05)

    async with (
        TorchServeClient(torchserve.settings) as client,
        httpx.AsyncClient(timeout=60) as http,
    ):
        metrics_url = f"{torchserve.metrics_url}/metrics"
        before = requests_total((await http.get(metrics_url)).text, "joe")
        await client.register(v2.archive_name, initial_workers=1)
        loops = [asyncio.create_task(traffic(http)) for _ in range(2)]
        try:
            await asyncio.wait_for(wait_for("1.0"), 60)
            await client.set_default("joe", "2.0")
            await asyncio.wait_for(wait_for("2.0"), 60)
            assert await client.default_version("joe") == "2.0"
            await client.set_default("joe", "1.0")
            await asyncio.wait_for(wait_for("1.0"), 60)
        finally:
            stop.set()
            await asyncio.gather(*loops)
            await client.set_default("joe", "1.0")
            await client.unregister("joe", "2.0")
        after = requests_total((await http.get(metrics_url)).text, "joe")
        versioned = await client.synthesize("joe", "Pinned.", version="1.0")

    assert failures == []
    assert "2.0" in seen and seen[-1] == "1.0"
    assert isinstance(versioned, Synthesis)
    assert after - before >= len(seen)


async def test_token_auth_refuses_without_key_and_accepts_the_key_file(torchserve_store, tmp_path):
    process = start_torchserve(tmp_path, torchserve_store, models=["joe"], token_auth=True)
    try:
        async with httpx.AsyncClient(timeout=60) as http:
            refused = await http.post(
                f"{process.inference_url}/predictions/joe", json={"text": "Let me in."}
            )
            management = await http.get(f"{process.management_url}/models")
        # TorchServe 0.12 refuses a missing token with 400 InvalidKeyException.
        assert refused.status_code in (400, 401, 403)
        assert refused.json()["type"] == "InvalidKeyException"
        assert management.json()["type"] == "InvalidKeyException"

        async with TorchServeClient(process.settings) as client:
            assert process.settings.torchserve_key_file == process.key_file
            result = await client.synthesize("joe", "Let me in.")
            assert await client.model_ready("joe")
        assert result.duration_s > 0.3
        async with TorchServeClient(process.settings, token="wrong", retries=0) as client:
            with pytest.raises(AuthorizationError):
                await client.synthesize("joe", "Let me in.")
    finally:
        process.stop()
