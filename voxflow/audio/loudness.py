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


# resample_poly's own 4x interpolation filter (Kaiser, 81 taps), made once; upfirdn applies it.
OVERSAMPLING_FILTER = signal.firwin(
    20 * TRUE_PEAK_OVERSAMPLE + 1, 1 / TRUE_PEAK_OVERSAMPLE, window=("kaiser", 5.0)
)
_TP_FILTER = TRUE_PEAK_OVERSAMPLE * OVERSAMPLING_FILTER
_TP_DELAY = 10 * TRUE_PEAK_OVERSAMPLE
_TP_GAIN_BOUND = max(
    float(np.abs(_TP_FILTER[p::TRUE_PEAK_OVERSAMPLE]).sum()) for p in range(TRUE_PEAK_OVERSAMPLE)
)


class _TruePeak:
    """Max of |x| after 4x polyphase oversampling (BS.1770 annex 2), chunked with context.

    Speed: an oversampled value is at most (block sample peak) x (largest per-phase L1 norm of
    the filter), so blocks that cannot beat the running true peak are skipped, exactly; the
    loudest blocks are evaluated first so the bound bites early.
    """

    _BLOCK = 1024

    def __init__(self) -> None:
        self._tail = np.zeros(_TP_CONTEXT)
        self._pending = 0  # trailing samples of _tail not yet evaluated
        self.peak = 0.0

    def _oversampled_max(self, buf: np.ndarray, start: int, stop: int) -> float:
        piece = buf[start - _TP_CONTEXT : stop + _TP_CONTEXT]
        up = signal.upfirdn(_TP_FILTER, piece, TRUE_PEAK_OVERSAMPLE)
        first = _TP_CONTEXT * TRUE_PEAK_OVERSAMPLE + _TP_DELAY
        return float(np.max(np.abs(up[first : first + (stop - start) * TRUE_PEAK_OVERSAMPLE])))

    def _evaluate(self, buf: np.ndarray, start: int, stop: int) -> None:
        """Raise self.peak to the true peak of buf[start:stop] (buf has context both sides)."""
        if stop <= start:
            return
        starts = np.arange(start, stop, self._BLOCK)
        maxima = np.maximum.reduceat(np.abs(buf[start:stop]), starts - start)
        for i in np.argsort(-maxima):
            if maxima[i] * _TP_GAIN_BOUND <= self.peak:
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
    """Feed float samples in [-1, 1] chunk by chunk, then call `result()` once."""

    def __init__(self, sample_rate: int) -> None:
        self.sample_rate = sample_rate
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
        frames = self._ten_ms.energies()
        frame_s = self._ten_ms.length / rate
        duration = self._frames / rate
        loud = np.flatnonzero(frames / self._ten_ms.length > 10 ** (ONSET_THRESHOLD_DB / 10))
        if len(loud):
            head = float(loud[0] * frame_s)
            tail = max(0.0, duration - float((loud[-1] + 1) * frame_s))
        else:
            head, tail = duration, duration
        return Levels(
            duration_s=duration,
            sample_rate=rate,
            rms_db=power_db(self._sumsq / self._frames) if self._frames else SILENCE_DB,
            peak_db=to_db(self._peak),
            true_peak_db=to_db(self._true_peak.finish()),
            lufs=self._lufs(),
            noise_floor_db=self._noise_floor_db(frames),
            head_s=head,
            tail_s=tail,
        )
