"""The joe voice on a real TorchServe: valid audio, the right words, per-item errors in a batch."""

from __future__ import annotations

import asyncio
import io
import wave

import httpx
import pytest

from tests.helpers.asr import aligned_words, normalise, transcribe, word_error
from voxflow.inference import ModelInputError, Synthesis, TorchServeClient

pytestmark = pytest.mark.integration

SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "Please call me back when you get home tonight.",
    "She opened the window and looked at the garden.",
    "We walked along the river until the sun went down.",
]


async def test_one_sentence_is_a_valid_wav_of_plausible_length(torchserve):
    text = "The train to the city leaves every morning at eight."
    async with TorchServeClient(torchserve.settings) as client:
        result = await client.synthesize("joe", text)
    with wave.open(io.BytesIO(result.wav), "rb") as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 22050)
        frames = wav.getnframes()
    assert result.sample_rate == 22050
    assert result.duration_s == pytest.approx(frames / 22050)
    words = len(text.split())
    # Ordinary narration runs at about 2-4 words a second.
    assert 0.15 * words < result.duration_s < 0.8 * words


async def test_the_audio_says_the_text(torchserve):
    async with TorchServeClient(torchserve.settings, concurrency=3) as client:
        results = await client.synthesize_many("joe", SENTENCES)
    heard = [transcribe(result.wav) for result in results if isinstance(result, Synthesis)]
    assert len(heard) == len(SENTENCES), results
    # Over the whole set: in a 9-word sentence each misheard word adds 0.11.
    error = word_error(" ".join(SENTENCES), " ".join(heard))
    assert error <= 0.35, (error, heard)


BAD_ITEMS = {
    "empty text": ({"text": "   "}, 400, "text is empty"),
    "over the limit": ({"text": "word " * 100}, 413, "at most 400"),
    "bad parameter": ({"text": "Fine words.", "length_scale": 50}, 400, "length_scale"),
}


@pytest.fixture(scope="module")
async def batching_joe(torchserve):
    """joe again under another name, one worker, batches of 4 held up to 5 s: one batch per 4."""
    async with TorchServeClient(torchserve.settings) as client:
        await client.register(
            "joe-1.0.mar",
            model_name="joebatch",
            initial_workers=1,
            batch_size=4,
            max_batch_delay=5000,
        )
        try:
            yield "joebatch"
        finally:
            await client.unregister("joebatch")


@pytest.mark.parametrize("bad", list(BAD_ITEMS))
async def test_a_bad_item_fails_alone_in_its_batch(torchserve, batching_joe, bad):
    body, status, message = BAD_ITEMS[bad]
    bodies = [{"text": "One good sentence."}, body, {"text": "Another."}, {"text": "A third."}]
    url = f"{torchserve.inference_url}/predictions/{batching_joe}"
    async with httpx.AsyncClient(timeout=60) as http:
        responses = await asyncio.gather(*(http.post(url, json=b) for b in bodies))
    bad_response = responses[1]
    assert bad_response.status_code == status
    assert message in bad_response.json()["message"]
    good = [responses[i] for i in (0, 2, 3)]
    assert [r.status_code for r in good] == [200, 200, 200]
    assert all(r.headers["content-type"] == "audio/wav" for r in good)
    # All four arrived in one batch: the handler reports the batch's size and id.
    assert {r.headers["x-batch-size"] for r in good} == {"4"}
    assert len({r.headers["x-batch-id"] for r in good}) == 1


async def test_client_raises_model_input_error_with_torchserve_message(torchserve):
    async with TorchServeClient(torchserve.settings) as client:
        with pytest.raises(ModelInputError) as caught:
            await client.synthesize("joe", "Hello.", params={"noise_w": "loud"})
        results = await client.synthesize_many("joe", ["Hello there.", ""])
    assert caught.value.status == 400
    assert "noise_w" in caught.value.message
    assert isinstance(results[0], Synthesis)
    assert isinstance(results[1], ModelInputError) and results[1].status == 400


async def test_health_and_readiness(torchserve):
    async with TorchServeClient(torchserve.settings) as client:
        assert await client.ping()
        assert await client.model_ready("joe")
        assert await client.model_ready("joe", "1.0")
        assert not await client.model_ready("nobody")
        served = {
            (m["modelName"], m["modelVersion"], m["isDefault"]) for m in await client.list_models()
        }
    assert ("joe", "1.0", True) in served


async def test_words_come_timed_and_agree_with_the_recogniser(torchserve, tmp_path):
    """Piper's durations time each word: the recogniser's forced alignment puts every word's
    middle inside the span we report, within 100 ms."""
    text = "The train to the city leaves every morning at eight, said Holmes."
    async with TorchServeClient(torchserve.settings) as client:
        result = await client.synthesize("joe", text)
    assert [w for w, _, _ in result.words] == text.split()
    assert result.words[-1][2] <= result.duration_s
    heard = aligned_words(result.wav, text)
    assert [w for w, _, _ in heard] == normalise(text).split()
    for (word, start, end), (_, heard_start, heard_end) in zip(result.words, heard, strict=True):
        middle = (heard_start + heard_end) / 2
        assert start - 0.1 <= middle <= end + 0.1, (word, start, end, heard_start, heard_end)
