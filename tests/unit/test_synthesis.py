"""The synthesis kernel's guarantees, with a recording stand-in for the TorchServe client."""

from __future__ import annotations

import asyncio
import io
import wave

import pytest

from voxflow.artifacts import LocalStore
from voxflow.inference import ModelInputError, Synthesis, TransientInferenceError
from voxflow.registry import Voice
from voxflow.synthesis import (
    SegmentWork,
    audio_key_for,
    synthesize_segments,
    synthesize_through_outages,
)

VOICE = Voice("joe", "1.0", "piper", "cpu", 22050, 400, {"length_scale": 1.0})


def wav_of(seconds: float, rate: int = 22050) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(b"\0\0" * int(seconds * rate))
    return buffer.getvalue()


class RecordingClient:
    """Answers each text with 0.5 s of audio, or with the error mapped to that text."""

    def __init__(self, errors: dict[str, Exception] | None = None) -> None:
        self.calls: list[str] = []
        self.errors = errors or {}

    async def synthesize(self, model, text, *, version=None, params=None) -> Synthesis:
        self.calls.append(text)
        if text in self.errors:
            raise self.errors[text]
        return Synthesis(wav_of(0.5), 22050, 0.5)


def work(*texts: str) -> list[SegmentWork]:
    return [SegmentWork(segment_id=100 + i, index=i, text=t) for i, t in enumerate(texts)]


async def test_stored_segments_are_reused_and_new_ones_stored(tmp_path):
    store = LocalStore(tmp_path)
    store.put(audio_key_for(VOICE, "Old sentence."), wav_of(1.25))
    client = RecordingClient()
    outcomes = await synthesize_segments(
        work("Old sentence.", "New sentence."), VOICE, client, store
    )
    assert client.calls == ["New sentence."]
    assert [o.reused for o in outcomes] == [True, False]
    assert [o.duration_s for o in outcomes] == pytest.approx([1.25, 0.5], abs=1e-3)
    assert store.exists(audio_key_for(VOICE, "New sentence."))


async def test_known_stored_segments_skip_the_existence_check(tmp_path):
    store = LocalStore(tmp_path)
    key = audio_key_for(VOICE, "Done before.")
    store.put(key, wav_of(2.0))
    checked: list[str] = []
    original = store.exists
    store.exists = lambda k: checked.append(k) or original(k)  # type: ignore[method-assign]
    items = work("Done before.", "Fresh.")
    outcomes = await synthesize_segments(
        items, VOICE, RecordingClient(), store, known_stored={items[0].segment_id}
    )
    assert key not in checked
    assert outcomes[0].reused
    assert outcomes[0].duration_s == pytest.approx(2.0, abs=1e-3)


async def test_a_model_refusal_fails_only_that_segment(tmp_path):
    store = LocalStore(tmp_path)
    client = RecordingClient({"Bad.": ModelInputError("text too long", status=413)})
    seen = []
    outcomes = await synthesize_segments(
        work("Good.", "Bad.", "Also good."), VOICE, client, store, on_outcome=seen.append
    )
    assert [o.status for o in outcomes] == ["done", "failed", "done"]
    assert outcomes[1].error == "text too long"
    assert len(seen) == 3
    assert not store.exists(audio_key_for(VOICE, "Bad."))


async def test_a_transient_failure_raises_after_the_rest_are_stored(tmp_path):
    store = LocalStore(tmp_path)
    client = RecordingClient({"Down.": TransientInferenceError("TorchServe is down")})
    with pytest.raises(TransientInferenceError):
        await synthesize_segments(work("One.", "Down.", "Three."), VOICE, client, store)
    assert store.exists(audio_key_for(VOICE, "One."))
    assert store.exists(audio_key_for(VOICE, "Three."))


async def test_concurrent_jobs_with_the_same_sentence_synthesise_it_once(tmp_path):
    store = LocalStore(tmp_path)
    client = RecordingClient()
    shared: dict = {}
    first, second = await asyncio.gather(
        synthesize_segments(work("Same words."), VOICE, client, store, in_flight=shared),
        synthesize_segments(work("Same words."), VOICE, client, store, in_flight=shared),
    )
    assert client.calls == ["Same words."]
    assert sorted([first[0].reused, second[0].reused]) == [False, True]
    assert not shared, "finished keys leave the in-flight map"


async def test_attempts_are_reported_before_the_model_is_called(tmp_path):
    """The caller makes attempts durable first: a crash mid-synthesis cannot lose them."""
    store = LocalStore(tmp_path)
    store.put(audio_key_for(VOICE, "Old."), wav_of(1.0))
    client = RecordingClient()
    reported: list[tuple[list[int], list[str]]] = []

    async def before(ids: list[int]) -> None:
        reported.append((ids, list(client.calls)))

    items = work("Old.", "New one.", "New two.")
    await synthesize_segments(items, VOICE, client, store, before_synthesis=before)
    assert reported == [([101, 102], [])], "once, only the missing ones, before any call"
    assert sorted(client.calls) == ["New one.", "New two."]

    reported.clear()
    await synthesize_segments(items, VOICE, client, store, before_synthesis=before)
    assert reported == [], "nothing to synthesise, no attempt"


async def test_a_segment_another_job_is_synthesising_waits_for_it(tmp_path):
    """Duplicate deliveries in one process share one synthesis (and one attempt)."""
    store = LocalStore(tmp_path)
    gate = asyncio.Event()

    class SlowClient(RecordingClient):
        async def synthesize(self, model, text, *, version=None, params=None) -> Synthesis:
            await gate.wait()
            return await super().synthesize(model, text, version=version, params=params)

    client, in_flight = SlowClient(), {}
    attempts: list[list[int]] = []

    async def before(ids: list[int]) -> None:
        attempts.append(ids)

    first = asyncio.create_task(
        synthesize_segments(
            work("Shared."), VOICE, client, store, in_flight=in_flight, before_synthesis=before
        )
    )
    while not in_flight:
        await asyncio.sleep(0.01)
    second = asyncio.create_task(
        synthesize_segments(
            work("Shared."), VOICE, client, store, in_flight=in_flight, before_synthesis=before
        )
    )
    await asyncio.sleep(0.05)
    gate.set()
    (one,), (two,) = await asyncio.gather(first, second)
    assert client.calls == ["Shared."]
    assert attempts == [[100]]
    assert (one.reused, two.reused) == (False, True)


async def test_a_torchserve_outage_is_waited_out_in_place(tmp_path, caplog):
    """TorchServe restarting: the job waits (logging why) instead of spending a retry."""
    store = LocalStore(tmp_path)
    down = TransientInferenceError("TorchServe is not answering", status=503)

    class RestartingClient(RecordingClient):
        outage = 2

        async def synthesize(self, model, text, *, version=None, params=None) -> Synthesis:
            if self.outage:
                self.outage -= 1
                raise down
            return await super().synthesize(model, text, version=version, params=params)

    client = RestartingClient()
    outcomes = await synthesize_through_outages(
        work("After the restart."), VOICE, client, store, outage_s=30, what="job 7"
    )
    assert [o.status for o in outcomes] == ["done"] and client.calls == ["After the restart."]
    assert [r.getMessage() for r in caplog.records].count(
        "job 7: TorchServe unavailable (TorchServe is not answering); trying again in 0.5s"
    ) == 1

    always = RecordingClient({"Never.": down})
    with pytest.raises(TransientInferenceError):
        await synthesize_through_outages(work("Never."), VOICE, always, store, outage_s=1, what="j")
    assert "j: TorchServe still unavailable after 1s" in caplog.text


async def test_word_times_are_stored_beside_the_audio(tmp_path):
    """A voice's word times land under the audio's key before the audio does."""
    import json

    from voxflow.naming import segment_words_key

    class TimedClient(RecordingClient):
        async def synthesize(self, model, text, *, version=None, params=None) -> Synthesis:
            result = await super().synthesize(model, text, version=version, params=params)
            result.words = [(word, 0.1 * i, 0.1 * i + 0.08) for i, word in enumerate(text.split())]
            return result

    store = LocalStore(tmp_path)
    await synthesize_segments(work("Two words.", "Untimed."), VOICE, TimedClient(), store)
    key = audio_key_for(VOICE, "Two words.")
    stored = json.loads(store.get(segment_words_key(key)))
    assert stored == [["Two", 0.0, 0.08], ["words.", 0.1, 0.18]]
    await synthesize_segments(work("Plain."), VOICE, RecordingClient(), store)
    assert not store.exists(segment_words_key(audio_key_for(VOICE, "Plain.")))
