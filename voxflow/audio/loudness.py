"""Streaming level measurement: RMS, sample/true peak, BS.1770 LUFS, noise floor, head/tail.

Everything is computed chunk by chunk so a two-hour chapter never sits in RAM. The K-weighting
filters are pyloudnorm's own coefficients and the gating is BS.1770-4, so the LUFS figure matches
`pyloudnorm.Meter.integrated_loudness` (a unit test holds that).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyloudnorm
from scipy import signal

SILENCE_DB = -200.0
ONSET_THRESHOLD_DB = -50.0  # 10 ms frames louder than this are programme, not room tone
NOISE_WINDOW_S = 0.5
TRUE_PEAK_OVERSAMPLE = 4
_TP_CONTEXT = 32  # input samples of context each side; the 4x polyphase filter needs ~10


def to_db(amplitude: float) -> float:
    """Amplitude (1.0 = full scale) to dBFS, with digital silence floored at -200 dB."""
    return 20.0 * math.log10(amplitude) if amplitude > 1e-10 else SILENCE_DB


def sum_of_squares(x: np.ndarray) -> float:
    """Without BLAS: `np.dot` wakes OpenBLAS's threads, which spin on cores synthesis needs."""
    return float(np.einsum("i,i->", x, x))


def power_db(mean_square: float) -> float:
    return 10.0 * math.log10(mean_square) if mean_square > 1e-20 else SILENCE_DB


class _Framer:
    """Sum of squares over fixed-length frames across arbitrary chunk boundaries."""

    def __init__(self, length: int) -> None:
        self.length = length
        self._rest = np.zeros(0)
        self._energies: list[np.ndarray] = []

    def feed(self, x: np.ndarray) -> None:
        buf = np.concatenate([self._rest, x]) if len(self._rest) else x
        full = len(buf) // self.length * self.length
        if full:
            self._energies.append(np.square(buf[:full]).reshape(-1, self.length).sum(axis=1))
        self._rest = buf[full:].copy()

    def energies(self) -> np.ndarray:
        """Energies of complete frames only; the trailing partial frame is left out."""
        return np.concatenate(self._energies) if self._energies else np.zeros(0)


# resample_poly's own 4x interpolation filter (Kaiser, 81 taps), made once.
OVERSAMPLING_FILTER = signal.firwin(
    20 * TRUE_PEAK_OVERSAMPLE + 1, 1 / TRUE_PEAK_OVERSAMPLE, window=("kaiser", 5.0)
)
_TP_FILTER = TRUE_PEAK_OVERSAMPLE * OVERSAMPLING_FILTER
OVERSAMPLING_REACH = 10  # input samples the filter spans either side; its centre is tap 40
# Phase p of the interpolated signal is x convolved with taps p, p+4, p+8, ... Phase 0 holds the
# centre tap and the sinc's zeros, so it is x itself times that tap: only phases 1-3 cost work.
_PHASES = [_TP_FILTER[p::TRUE_PEAK_OVERSAMPLE] for p in range(1, TRUE_PEAK_OVERSAMPLE)]
_CENTRE_TAP = float(_TP_FILTER[TRUE_PEAK_OVERSAMPLE * OVERSAMPLING_REACH])
OVERSAMPLING_BOUND = max(
    float(np.abs(_TP_FILTER[p::TRUE_PEAK_OVERSAMPLE]).sum()) for p in range(TRUE_PEAK_OVERSAMPLE)
)


def oversampled_level(x: np.ndarray) -> np.ndarray:
    """Per input sample, the largest |value| of its 4 interpolated points (BS.1770 annex 2 true
    peak), for `x[OVERSAMPLING_REACH:-OVERSAMPLING_REACH]`: each end lacks the filter's context.

    Equal to `resample_poly(x, 4, 1)` with this filter, at 3 convolutions of 20 taps rather than
    one of 81: `np.convolve` over each phase is ~2x faster than `upfirdn` over all four."""
    n = len(x) - 2 * OVERSAMPLING_REACH
    level = np.abs(x[OVERSAMPLING_REACH : OVERSAMPLING_REACH + n]) * abs(_CENTRE_TAP)
    for taps in _PHASES:
        phase = np.convolve(x, taps, mode="valid")[1 : n + 1]
        np.maximum(level, np.abs(phase, out=phase), out=level)
    return level


class _TruePeak:
    """Max of the 4x-oversampled |x| (BS.1770 annex 2), chunked with context.

    Speed: an oversampled value is at most (block sample peak) x OVERSAMPLING_BOUND, so blocks
    that cannot beat the running true peak are skipped, exactly; the loudest blocks are evaluated
    first so the bound bites early, and when most blocks qualify they are evaluated in one go.
    """

    _BLOCK = 1024

    def __init__(self) -> None:
        self._tail = np.zeros(_TP_CONTEXT)
        self._pending = 0  # trailing samples of _tail not yet evaluated
        self.peak = 0.0

    def _oversampled_max(self, buf: np.ndarray, start: int, stop: int) -> float:
        piece = buf[start - OVERSAMPLING_REACH : stop + OVERSAMPLING_REACH]
        return float(np.max(oversampled_level(piece)))

    def _evaluate(self, buf: np.ndarray, start: int, stop: int) -> None:
        """Raise self.peak to the true peak of buf[start:stop] (buf has context both sides)."""
        if stop <= start:
            return
        starts = np.arange(start, stop, self._BLOCK)
        maxima = np.maximum.reduceat(np.abs(buf[start:stop]), starts - start)
        candidates = np.flatnonzero(maxima * OVERSAMPLING_BOUND > self.peak)
        if len(candidates) > len(starts) // 2:
            self.peak = max(self.peak, self._oversampled_max(buf, start, stop))
            return
        for i in candidates[np.argsort(-maxima[candidates])]:
            if maxima[i] * OVERSAMPLING_BOUND <= self.peak:
                break
            a = int(starts[i])
            b = min(stop, a + self._BLOCK)
            self.peak = max(self.peak, float(maxima[i]), self._oversampled_max(buf, a, b))

    def feed(self, x: np.ndarray) -> None:
        buf = np.concatenate([self._tail, x])
        start = len(self._tail) - self._pending
        stop = max(start, len(buf) - _TP_CONTEXT)
        self._evaluate(buf, start, stop)
        self._pending = len(buf) - stop
        self._tail = buf[-(self._pending + _TP_CONTEXT) :].copy()

    def finish(self) -> float:
        buf = np.concatenate([self._tail, np.zeros(_TP_CONTEXT)])
        self._evaluate(buf, len(self._tail) - self._pending, len(self._tail))
        self._pending = 0
        return self.peak


@dataclass(frozen=True, slots=True)
class Levels:
    """What the meter saw; dB values are dBFS (full-scale square wave = 0 dB RMS)."""

    duration_s: float
    sample_rate: int
    rms_db: float
    peak_db: float
    true_peak_db: float
    lufs: float
    noise_floor_db: float
    head_s: float
    tail_s: float


class LevelMeter:
    """Feed float samples in [-1, 1] chunk by chunk, then call `result()` once.

    `full=False` measures only RMS and peaks, what gain planning reads; LUFS, noise floor and
    head/tail are then NaN. It costs half as much, and the encoded stream is measured in full."""

    def __init__(self, sample_rate: int, full: bool = True) -> None:
        self.sample_rate = sample_rate
        self.full = full
        self._frames = 0
        self._sumsq = 0.0
        self._peak = 0.0
        self._true_peak = _TruePeak()
        self._ten_ms = _Framer(max(1, sample_rate // 100))
        self._hop = _Framer(max(1, round(0.1 * sample_rate)))
        meter = pyloudnorm.Meter(sample_rate)
        self._filters = [
            (f.b, f.a, f.passband_gain, signal.lfilter_zi(f.b, f.a) * 0.0)
            for f in meter._filters.values()
        ]

    def feed(self, x: np.ndarray) -> None:
        if not len(x):
            return
        x = np.asarray(x, dtype=np.float64)
        self._frames += len(x)
        self._sumsq += sum_of_squares(x)
        self._peak = max(self._peak, float(np.max(np.abs(x))))
        self._true_peak.feed(x)
        if not self.full:
            return
        self._ten_ms.feed(x)
        weighted = x
        for i, (b, a, gain, zi) in enumerate(self._filters):
            weighted, zf = signal.lfilter(b, a, weighted, zi=zi)
            weighted = weighted * gain
            self._filters[i] = (b, a, gain, zf)
        self._hop.feed(weighted)

    def _lufs(self) -> float:
        hops = self._hop.energies()
        if len(hops) < 4:
            return -math.inf
        window = np.convolve(hops, np.ones(4), mode="valid") / (4 * self._hop.length)
        with np.errstate(divide="ignore"):
            block_lufs = -0.691 + 10.0 * np.log10(window)
        gated = window[block_lufs >= -70.0]
        if not len(gated):
            return -math.inf
        relative = -0.691 + 10.0 * math.log10(float(np.mean(gated))) - 10.0
        gated = window[(block_lufs > relative) & (block_lufs >= -70.0)]
        return -0.691 + 10.0 * math.log10(float(np.mean(gated)))

    def _noise_floor_db(self, frames: np.ndarray) -> float:
        """RMS of the quietest 500 ms window (the whole file when shorter)."""
        span = max(1, round(NOISE_WINDOW_S * 100))
        if len(frames) == 0:
            return SILENCE_DB
        if len(frames) <= span:
            return power_db(float(frames.sum()) / (len(frames) * self._ten_ms.length))
        sums = np.convolve(frames, np.ones(span), mode="valid")
        return power_db(float(sums.min()) / (span * self._ten_ms.length))

    def result(self) -> Levels:
        rate = self.sample_rate
        duration = self._frames / rate
        peaks = {
            "duration_s": duration,
            "sample_rate": rate,
            "rms_db": power_db(self._sumsq / self._frames) if self._frames else SILENCE_DB,
            "peak_db": to_db(self._peak),
            "true_peak_db": to_db(self._true_peak.finish()),
        }
        if not self.full:
            nan = math.nan
            return Levels(**peaks, lufs=nan, noise_floor_db=nan, head_s=nan, tail_s=nan)
        frames = self._ten_ms.energies()
        frame_s = self._ten_ms.length / rate
        loud = np.flatnonzero(frames / self._ten_ms.length > 10 ** (ONSET_THRESHOLD_DB / 10))
        if len(loud):
            head = float(loud[0] * frame_s)
            tail = max(0.0, duration - float((loud[-1] + 1) * frame_s))
        else:
            head, tail = duration, duration
        return Levels(
            **peaks,
            lufs=self._lufs(),
            noise_floor_db=self._noise_floor_db(frames),
            head_s=head,
            tail_s=tail,
        )
