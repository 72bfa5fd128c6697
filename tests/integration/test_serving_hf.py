"""A tiny transformers VitsModel, made at test time, archived and served with true batching."""

from __future__ import annotations

import asyncio
import io
import wave

import httpx
import pytest

from bench.tiny_vits import make_tiny_vits
from voxflow.inference import TorchServeClient
from voxflow.registry import Voice
from voxflow.serving.archives import build_archive

pytestmark = pytest.mark.integration

TEXTS = ["hi", "a somewhat longer text than that", "hello there my friend, how are you today?"]
# No duration noise: per-item lengths are then deterministic and comparable.
PARAMS = {"noise_scale_duration": 0.0}


@pytest.fixture(scope="module")
async def tiny_vits(torchserve, tmp_path_factory):
    """The tiny model archived as tiny-1.0.mar and registered: 1 worker, batches of 3."""
    folder = make_tiny_vits(tmp_path_factory.mktemp("tiny-vits"))
    voice = Voice("tiny", "1.0", "hf", "cpu", 16000, 200)
    build_archive(voice, torchserve.model_store, model_dir=folder, device="cpu", force=True)
    async with TorchServeClient(torchserve.settings) as client:
        await client.register(
            voice.archive_name, initial_workers=1, batch_size=3, max_batch_delay=10000
        )
        try:
            yield folder
        finally:
            await client.unregister("tiny", "1.0")


async def test_tiny_vits_is_served_in_one_batch_with_each_length_respected(torchserve, tiny_vits):
    from handlers.hf_model import TextToWaveform

    url = f"{torchserve.inference_url}/predictions/tiny"
    async with httpx.AsyncClient(timeout=120) as http:
        responses = await asyncio.gather(
            *(http.post(url, json={"text": text, **PARAMS}) for text in TEXTS)
        )
    assert [r.status_code for r in responses] == [200] * len(TEXTS), [r.text for r in responses]
    assert {r.headers["x-batch-size"] for r in responses} == {str(len(TEXTS))}
    assert len({r.headers["x-batch-id"] for r in responses}) == 1
    served = []
    for response in responses:
        with wave.open(io.BytesIO(response.content), "rb") as wav:
            assert wav.getframerate() == 16000
            served.append(wav.getnframes())
    # Each item alone, in process: its own sequence_length, not the padded batch length.
    local = TextToWaveform(tiny_vits)
    alone = [len(local.synthesize([text], PARAMS)[0]) for text in TEXTS]
    assert served == alone
    assert len(set(served)) == len(TEXTS)


async def test_tiny_vits_bad_item_fails_alone(torchserve, tiny_vits):
    url = f"{torchserve.inference_url}/predictions/tiny"
    bodies = [{"text": "fine"}, {"text": "x" * 201}, {"text": "also fine"}]
    async with httpx.AsyncClient(timeout=120) as http:
        responses = await asyncio.gather(*(http.post(url, json=b) for b in bodies))
    assert [r.status_code for r in responses] == [200, 413, 200]
    assert "at most 200" in responses[1].json()["message"]
