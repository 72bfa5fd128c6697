"""Synthesise a batch of segments into the content-addressed store, skipping what exists.

Shared by the direct-mode activity and the queue-mode inference worker, so both give the
same guarantees: a segment's audio is written once under its key, retries are idempotent,
and an edited book only pays for the sentences that changed.
"""

from __future__ import annotations

import asyncio
import wave
from collections.abc import Callable, Collection
from dataclasses import dataclass

from voxflow.artifacts import ArtifactStore
from voxflow.inference import ModelInputError, TorchServeClient
from voxflow.naming import segment_audio_key
from voxflow.registry import Voice


@dataclass
class SegmentWork:
    segment_id: int
    index: int
    text: str
    audio_key: str | None = None  # when the caller already computed it (queue messages carry it)


@dataclass
class SegmentOutcome:
    segment_id: int
    index: int
    status: str  # "done" | "failed"
    audio_key: str
    duration_s: float | None = None
    reused: bool = False
    error: str | None = None


@dataclass(frozen=True)
class Target:
    """What a request is synthesised with: the TorchServe model, its version and parameters."""

    model: str
    version: str
    params: dict

    @classmethod
    def of(cls, voice: Voice) -> Target:
        return cls(voice.name, voice.version, voice.params)


def audio_key_for(target: Target | Voice, text: str) -> str:
    if isinstance(target, Voice):
        target = Target.of(target)
    return segment_audio_key(target.model, target.version, target.params, text)


def wav_duration(store: ArtifactStore, key: str) -> float:
    """Duration from the WAV header alone: no need to read the samples."""
    with store.open(key) as stream, wave.open(stream, "rb") as wav:
        return wav.getnframes() / wav.getframerate()


async def synthesize_segments(
    work: list[SegmentWork],
    target: Target | Voice,
    client: TorchServeClient,
    store: ArtifactStore,
    on_outcome: Callable[[SegmentOutcome], None] | None = None,
    known_stored: Collection[int] = (),
    in_flight: dict[str, asyncio.Future[float]] | None = None,
) -> list[SegmentOutcome]:
    """Return one outcome per segment; raise TransientInferenceError once the rest are stored.

    A model 4xx marks only that segment failed. A transient failure (TorchServe down, 503)
    is raised after every other segment has been stored, so the retry redoes only the gap.
    `known_stored` (segment ids a previous attempt reported) skips even the existence check.
    `in_flight`, shared across calls, makes a key being synthesised by another job of this
    process wait for that synthesis instead of starting a second one (duplicate deliveries).
    """
    if isinstance(target, Voice):
        target = Target.of(target)
    in_flight = {} if in_flight is None else in_flight

    async def synthesize(key: str, text: str) -> float:
        result = await client.synthesize(
            target.model, text, version=target.version, params=target.params
        )
        await asyncio.to_thread(store.put, key, result.wav)
        return result.duration_s

    async def one(item: SegmentWork) -> SegmentOutcome:
        key = item.audio_key or audio_key_for(target, item.text)
        reused = True
        try:
            stored = key not in in_flight and (
                item.segment_id in known_stored or await asyncio.to_thread(store.exists, key)
            )
            if stored:
                duration = await asyncio.to_thread(wav_duration, store, key)
            elif key in in_flight:  # checked again after the await, before registering
                duration = await asyncio.shield(in_flight[key])
            else:
                reused = False
                future = in_flight[key] = asyncio.get_running_loop().create_future()
                try:
                    duration = await synthesize(key, item.text)
                    future.set_result(duration)
                except BaseException as error:
                    future.set_exception(error)
                    future.exception()  # retrieved here: waiters re-raise it themselves
                    raise
                finally:
                    del in_flight[key]
            outcome = SegmentOutcome(item.segment_id, item.index, "done", key, duration, reused)
        except ModelInputError as error:
            outcome = SegmentOutcome(
                item.segment_id, item.index, "failed", key, error=error.message
            )
        if on_outcome is not None:
            on_outcome(outcome)
        return outcome

    results = await asyncio.gather(*(one(item) for item in work), return_exceptions=True)
    errors = [r for r in results if isinstance(r, BaseException)]
    if errors:
        raise errors[0]
    return [r for r in results if isinstance(r, SegmentOutcome)]
