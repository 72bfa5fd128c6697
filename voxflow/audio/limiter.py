"""Gain planning and a look-ahead peak limiter, applied chunk by chunk for pass 2.

The limiter's gain curve is a moving average (half-width A) of a sliding minimum (half-width
M >= A) of the gain each sample needs. Every sample in the averaging window lies within M of the
centre, so the smoothed gain is never above what the centre sample needs: no overshoot, by
construction, and gain changes ramp over ~2A instead of clicking.
"""

from __future__ import annotations

import wave
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from voxflow.audio.loudness import (
    OVERSAMPLING_BOUND,
    OVERSAMPLING_REACH,
    SILENCE_DB,
    Levels,
    oversampled_level,
    power_db,
    sum_of_squares,
)
from voxflow.audio.wavio import read_float

PEAK_MARGIN_DB = 1.0  # headroom under the ceiling for resampling and MP3 overshoot
RMS_SLACK_DB = 1.0  # a peak-safe gain within this of the target needs no limiter
MAX_GAIN_DB = 40.0
LIMITER_WINDOW_S = 0.02  # M = A = 20 ms: ramps of ~40 ms, gentle on speech
CHUNK_FRAMES = 1 << 17
CALIBRATION_CHUNKS = 24
PEAK_BLOCK = 256  # samples per block whose oversampled peak is bounded before computing it


@dataclass(frozen=True, slots=True)
class GainPlan:
    gain_db: float
    limit: bool
    threshold_db: float


def plan_gain(levels: Levels, target_rms_db: float, peak_ceiling_db: float) -> GainPlan:
    """One gain per chapter: the target if peaks allow, else peak-safe, else target + limiter."""
    ceiling = peak_ceiling_db - PEAK_MARGIN_DB
    if levels.rms_db <= SILENCE_DB:
        return GainPlan(0.0, False, ceiling)
    want = max(-MAX_GAIN_DB, min(MAX_GAIN_DB, target_rms_db - levels.rms_db))
    safe = ceiling - levels.true_peak_db
    if want <= safe:
        return GainPlan(want, False, ceiling)
    if levels.rms_db + safe >= target_rms_db - RMS_SLACK_DB:
        return GainPlan(safe, False, ceiling)
    return GainPlan(want, True, ceiling)


def calibrate(reader: wave.Wave_read, plan: GainPlan, target_rms_db: float) -> GainPlan:
    """When limiting, the limiter itself lowers RMS: re-measure and raise the gain (<= 3 tries).

    Limiting is only planned for chapters that need it, so the common path costs nothing here.
    A long chapter is re-measured on an even sample of `CALIBRATION_CHUNKS` of its chunks (about
    2.5 minutes of it): speech is loud alike throughout, and the final levels are measured on
    everything that is encoded."""
    chunks = -(-reader.getnframes() // CHUNK_FRAMES)
    every = max(1, chunks // CALIBRATION_CHUNKS)
    for _ in range(3):
        if not plan.limit:
            return plan
        sumsq, frames = 0.0, 0
        for chunk in process(reader, plan, None, every=every):
            sumsq += sum_of_squares(chunk.astype(np.float64))
            frames += len(chunk)
        rms_db = power_db(sumsq / max(1, frames))
        shortfall = target_rms_db - rms_db
        if shortfall < 0.25 or plan.gain_db >= MAX_GAIN_DB:
            return plan
        plan = GainPlan(min(MAX_GAIN_DB, plan.gain_db + shortfall), True, plan.threshold_db)
    return plan


def peak_level(x: np.ndarray, threshold: float) -> np.ndarray:
    """|x| raised to its 4x-oversampled peaks wherever those could reach `threshold`.

    Oversampling costs most of the limiter, and most blocks of speech are far below the
    threshold: only blocks whose sample peak times the filter's bound reaches it are resampled.
    """
    level = np.abs(x)
    starts = np.arange(0, len(x), PEAK_BLOCK)
    block_peaks = np.maximum.reduceat(level, starts)
    # The filter reaches 10 samples into the next block either way, so neighbours count too.
    reach = np.maximum(
        block_peaks, np.maximum(np.r_[0, block_peaks[:-1]], np.r_[block_peaks[1:], 0])
    )
    hot = np.flatnonzero(reach * OVERSAMPLING_BOUND >= threshold)
    if not len(hot):
        return level
    # Runs of consecutive hot blocks are oversampled together, with context either side (zeros
    # past the signal's ends).
    breaks = np.flatnonzero(np.diff(hot) > 1)
    padded = np.concatenate([np.zeros(OVERSAMPLING_REACH), x, np.zeros(OVERSAMPLING_REACH)])
    for first, last in zip(
        hot[np.r_[0, breaks + 1]], hot[np.r_[breaks, len(hot) - 1]], strict=True
    ):
        a, b = int(starts[first]), min(len(x), int(starts[last]) + PEAK_BLOCK)
        up = oversampled_level(padded[a : b + 2 * OVERSAMPLING_REACH])
        np.maximum(level[a:b], up, out=level[a:b])
    return level


def limiter_gain(x: np.ndarray, threshold: float, half_width: int) -> np.ndarray:
    """Per-sample gain (<= 1) keeping |x| and its 4x-oversampled peaks under `threshold`."""
    level = peak_level(x, threshold)
    need = np.minimum(1.0, threshold / np.maximum(level, 1e-12))
    if need.min() >= 1.0:
        return need
    held = ndimage.minimum_filter1d(need, size=2 * half_width + 1, mode="reflect")
    return ndimage.uniform_filter1d(held, size=2 * half_width + 1, mode="reflect")


def process(
    reader: wave.Wave_read,
    plan: GainPlan,
    room_tone_db: float | None,
    seed: int = 0,
    every: int = 1,
) -> Iterator[np.ndarray]:
    """Yield the gained, limited, room-toned signal of `reader` as float32 chunks (only every
    `every`-th chunk when sampling it)."""
    total = reader.getnframes()
    rate = reader.getframerate()
    scale = 10 ** (plan.gain_db / 20)
    threshold = 10 ** (plan.threshold_db / 20)
    half = max(1, round(LIMITER_WINDOW_S * rate))
    context = 2 * half + 64 if plan.limit else 0
    rng = np.random.default_rng(seed)
    sigma = 10 ** (room_tone_db / 20) if room_tone_db is not None else 0.0
    for start in range(0, total, CHUNK_FRAMES * every):
        stop = min(total, start + CHUNK_FRAMES)
        lo, hi = max(0, start - context), min(total, stop + context)
        x = read_float(reader, lo, hi - lo) * scale
        if plan.limit:
            x = x * limiter_gain(x, threshold, half)
        y = x[start - lo : start - lo + (stop - start)]
        if sigma:
            y = y + sigma * rng.standard_normal(len(y), dtype=np.float32)
        yield np.clip(y, -1.0, 1.0).astype("<f4")
