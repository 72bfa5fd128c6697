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
from voxflow.artifacts.keys import segment_audio_key
from voxflow.inference import ModelInputError, TorchServeClient
from voxflow.registry import Voice


@dataclass
class SegmentWork:
    segment_id: int
    index: int
    text: str


@dataclass
class SegmentOutcome:
    segment_id: int
    index: int
    status: str  # "done" | "failed"
    audio_key: str
    duration_s: float | None = None
    reused: bool = False
    error: str | None = None


def audio_key_for(voice: Voice, text: str) -> str:
    return segment_audio_key(voice.name, voice.version, voice.params, text)


def wav_duration(store: ArtifactStore, key: str) -> float:
    """Duration from the WAV header alone: no need to read the samples."""
    with store.open(key) as stream, wave.open(stream, "rb") as wav:
        return wav.getnframes() / wav.getframerate()


async def synthesize_segments(
    work: list[SegmentWork],
    voice: Voice,
    client: TorchServeClient,
    store: ArtifactStore,
    on_outcome: Callable[[SegmentOutcome], None] | None = None,
    known_stored: Collection[int] = (),
) -> list[SegmentOutcome]:
    """Return one outcome per segment; raise TransientInferenceError once the rest are stored.

    A model 4xx marks only that segment failed. A transient failure (TorchServe down, 503)
    is raised after every other segment has been stored, so the retry redoes only the gap.
    `known_stored` (segment ids a previous attempt reported) skips even the existence check.
    """

    async def one(item: SegmentWork) -> SegmentOutcome:
        key = audio_key_for(voice, item.text)
        if item.segment_id in known_stored or await asyncio.to_thread(store.exists, key):
            duration = await asyncio.to_thread(wav_duration, store, key)
            outcome = SegmentOutcome(item.segment_id, item.index, "done", key, duration, True)
        else:
            try:
                result = await client.synthesize(
                    voice.name, item.text, version=voice.version, params=voice.params
                )
            except ModelInputError as error:
                outcome = SegmentOutcome(
                    item.segment_id, item.index, "failed", key, error=error.message
                )
            else:
                await asyncio.to_thread(store.put, key, result.wav)
                outcome = SegmentOutcome(
                    item.segment_id, item.index, "done", key, result.duration_s
                )
        if on_outcome is not None:
            on_outcome(outcome)
        return outcome

    results = await asyncio.gather(*(one(item) for item in work), return_exceptions=True)
    errors = [r for r in results if isinstance(r, BaseException)]
    if errors:
        raise errors[0]
    return [r for r in results if isinstance(r, SegmentOutcome)]
