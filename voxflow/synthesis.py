"""Synthesise a batch of segments into the content-addressed store, skipping what exists.

Shared by the direct-mode activity and the queue-mode inference worker, so both give the
same guarantees: a segment's audio is written once under its key, retries are idempotent,
and an edited book only pays for the sentences that changed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import wave
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from typing import Any

from voxflow.artifacts import ArtifactStore
from voxflow.inference import ModelInputError, TorchServeClient, TransientInferenceError
from voxflow.naming import segment_audio_key, segment_words_key
from voxflow.registry import Voice
from voxflow.retrying import backoff

log = logging.getLogger("voxflow.synthesis")


@dataclass
class SegmentWork:
    segment_id: int
    index: int
    text: str
    audio_key: str | None = None  # when the caller already computed it (queue messages carry it)
    take: int = 0  # another rendering of the same text when > 0


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


def audio_key_for(target: Target | Voice, text: str, take: int = 0) -> str:
    if isinstance(target, Voice):
        target = Target.of(target)
    return segment_audio_key(target.model, target.version, target.params, text, take)


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
    before_synthesis: Callable[[list[int]], Awaitable[None]] | None = None,
) -> list[SegmentOutcome]:
    """Return one outcome per segment; raise TransientInferenceError once the rest are stored.

    A model 4xx marks only that segment failed. A transient failure (TorchServe down, 503)
    is raised after every other segment has been stored, so the retry redoes only the gap.
    `known_stored` (segment ids a previous attempt reported) skips even the existence check.
    `in_flight`, shared across calls, makes a key being synthesised by another job of this
    process wait for that synthesis instead of starting a second one (duplicate deliveries).
    `before_synthesis` gets the ids about to be synthesised, once, before any model call: the
    caller makes the attempts durable there, so a crash during synthesis cannot lose them.
    """
    if isinstance(target, Voice):
        target = Target.of(target)
    in_flight = {} if in_flight is None else in_flight

    async def synthesize(key: str, text: str) -> float:
        result = await client.synthesize(
            target.model, text, version=target.version, params=target.params
        )
        if result.words:  # before the audio: a stored WAV means its words are stored too
            words = json.dumps(result.words, ensure_ascii=False).encode()
            await asyncio.to_thread(store.put, segment_words_key(key), words)
        await asyncio.to_thread(store.put, key, result.wav)
        return result.duration_s

    async def resolve(item: SegmentWork, key: str) -> bool | asyncio.Future[float]:
        """True if stored; another job's pending synthesis; False once this call claims it."""
        if key in in_flight:
            return in_flight[key]
        if item.segment_id in known_stored or await asyncio.to_thread(store.exists, key):
            return True
        if key in in_flight:  # checked again after the await
            return in_flight[key]
        in_flight[key] = asyncio.get_running_loop().create_future()
        return False

    def release(key: str, error: BaseException | None, duration: float = 0.0) -> None:
        """Tell the jobs waiting on this key how its synthesis went, and drop the claim."""
        future = in_flight.pop(key)
        if error is None:
            future.set_result(duration)
        else:
            future.set_exception(error)
            future.exception()  # retrieved here: waiters re-raise it themselves

    async def one(
        item: SegmentWork, key: str, found: bool | asyncio.Future[float]
    ) -> SegmentOutcome:
        reused = True
        try:
            if isinstance(found, asyncio.Future):
                duration = await asyncio.shield(found)
            elif found:
                duration = await asyncio.to_thread(wav_duration, store, key)
            else:
                reused = False
                try:
                    duration = await synthesize(key, item.text)
                except BaseException as error:
                    release(key, error)
                    raise
                release(key, None, duration)
            outcome = SegmentOutcome(item.segment_id, item.index, "done", key, duration, reused)
        except ModelInputError as error:
            outcome = SegmentOutcome(
                item.segment_id, item.index, "failed", key, error=error.message
            )
        if on_outcome is not None:
            on_outcome(outcome)
        return outcome

    keys = [item.audio_key or audio_key_for(target, item.text, item.take) for item in work]
    found = await asyncio.gather(
        *(resolve(item, key) for item, key in zip(work, keys, strict=True)),
        return_exceptions=True,
    )
    plan = list(zip(work, keys, found, strict=True))
    claimed = [(item, key) for item, key, state in plan if state is False]
    try:
        failures = [state for state in found if isinstance(state, BaseException)]
        if failures:
            raise failures[0]
        if before_synthesis is not None and claimed:
            await before_synthesis([item.segment_id for item, _ in claimed])
    except BaseException as error:
        for _, key in claimed:  # nobody else may wait on a synthesis that will not happen
            release(key, error)
        raise
    results = await asyncio.gather(*(one(*step) for step in plan), return_exceptions=True)
    errors = [r for r in results if isinstance(r, BaseException)]
    if errors:
        raise errors[0]
    return [r for r in results if isinstance(r, SegmentOutcome)]


async def synthesize_through_outages(
    work: list[SegmentWork],
    target: Target | Voice,
    client: TorchServeClient,
    store: ArtifactStore,
    *,
    outage_s: float,
    what: str,
    **options: Any,
) -> list[SegmentOutcome]:
    """`synthesize_segments`, retried in place while TorchServe is down or busy, for `outage_s`.

    A TorchServe restart takes seconds to a minute: waiting here, still heartbeating, spends no
    retry or redelivery of the job. Each try redoes only what is not stored yet.
    """
    deadline = time.monotonic() + outage_s
    for delay in backoff():
        try:
            return await synthesize_segments(work, target, client, store, **options)
        except TransientInferenceError as error:
            if time.monotonic() + delay > deadline:
                log.error("%s: TorchServe still unavailable after %.0fs: %s", what, outage_s, error)
                raise
            log.warning(
                "%s: TorchServe unavailable (%s); trying again in %.1fs", what, error, delay
            )
            await asyncio.sleep(delay)
    raise AssertionError("backoff() never ends")
