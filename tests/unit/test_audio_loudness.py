"""Level measurement and normalisation: meter vs pyloudnorm, limiter safety, ACX window."""

from __future__ import annotations

import numpy as np
import pyloudnorm
import pytest

from tests.unit.test_audio_synth import RATE, segment, speechlike
from voxflow.audio import AudioSettings, LevelMeter, assemble_chapter
from voxflow.audio.limiter import GainPlan, limiter_gain, plan_gain


def _measure(x: np.ndarray, chunk: int):
    meter = LevelMeter(RATE)
    for i in range(0, len(x), chunk):
        meter.feed(x[i : i + chunk])
    return meter.result()


@pytest.mark.parametrize("chunk", [997, 65536, 10**7])
def test_meter_matches_pyloudnorm_and_numpy_whatever_the_chunking(chunk):
    x = np.concatenate([np.zeros(RATE), speechlike(6.0, -24, seed=3), np.zeros(RATE // 2)])
    levels = _measure(x, chunk)
    assert levels.lufs == pytest.approx(pyloudnorm.Meter(RATE).integrated_loudness(x), abs=0.05)
    assert levels.rms_db == pytest.approx(20 * np.log10(np.sqrt(np.mean(x**2))), abs=1e-6)
    assert levels.peak_db == pytest.approx(20 * np.log10(np.max(np.abs(x))), abs=1e-9)
    assert levels.true_peak_db >= levels.peak_db - 1e-9
    assert levels.head_s == pytest.approx(1.0, abs=0.02)
    assert levels.duration_s == pytest.approx(len(x) / RATE)


def test_true_peak_sees_intersample_overs():
    # A quarter-rate sine sampled at ±45°: every sample is 0.707 of the true crest.
    n = np.arange(RATE)
    x = 0.5 * np.sin(np.pi / 2 * n + np.pi / 4)
    levels = _measure(x, 4096)
    assert levels.peak_db == pytest.approx(20 * np.log10(0.5 * np.sqrt(0.5)), abs=0.01)
    assert levels.true_peak_db == pytest.approx(20 * np.log10(0.5), abs=0.3)


def test_limiter_never_lets_a_peak_through():
    rng = np.random.default_rng(7)
    x = speechlike(3.0, -12, seed=1)
    x[rng.integers(0, len(x), 30)] = rng.choice([-1.0, 1.0], 30) * 1.8
    threshold = 10 ** (-4 / 20)
    y = x * limiter_gain(x, threshold, half_width=441)
    assert np.max(np.abs(y)) <= threshold + 1e-12
    untouched = np.abs(x) < threshold * 0.5
    assert np.mean(y[untouched] == x[untouched]) > 0.5  # far from peaks the signal is unchanged


def test_gain_plan_prefers_no_limiter():
    quiet = _measure(speechlike(4.0, -35, seed=2), 65536)
    plan = plan_gain(quiet, -20.0, -3.0)
    assert plan == GainPlan(pytest.approx(-20.0 - quiet.rms_db), False, -4.0)
    peaky = _measure(np.concatenate([speechlike(4.0, -35, seed=2), [0.99]]), 65536)
    assert plan_gain(peaky, -20.0, -3.0).limit


def _chapter(tmp_path, rms_db: float, clicks: bool = False):
    rng = np.random.default_rng(int(-rms_db))
    segments = []
    for i in range(8):
        x = speechlike(2.0, rms_db, seed=i)
        if clicks:
            x[rng.integers(0, len(x), 2)] = 0.99  # one or two 0 dBFS clicks per sentence
        segments.append(segment(i, i // 3, x))
    return assemble_chapter(segments, tmp_path, f"c{-rms_db:.0f}", AudioSettings())


@pytest.mark.parametrize(
    ("rms_db", "clicks"),
    [(-40.0, False), (-8.0, False), (-30.0, True)],
    ids=["quiet", "loud", "peaky"],
)
def test_mp3_lands_in_the_acx_window(tmp_path, rms_db, clicks):
    chapter = _chapter(tmp_path, rms_db, clicks)
    acx = chapter.acx
    assert acx.passed, acx.problems
    assert -23.0 <= chapter.rms_db <= -18.0
    assert chapter.peak_db <= -3.0 and acx.true_peak_db <= -3.0
    assert chapter.noise_floor_db <= -60.0
    assert 0.5 <= acx.head_s <= 1.0 and 1.0 <= acx.tail_s <= 5.0
    assert acx.sample_rate == 44100 and acx.bit_rate == 192_000
    assert chapter.limited is clicks
    assert chapter.lufs == pytest.approx(chapter.rms_db, abs=4.0)


def test_true_peak_equals_brute_force_oversampling():
    """The block-skipping true-peak meter must agree with oversampling everything."""
    from scipy import signal

    rng = np.random.default_rng(11)
    for _ in range(3):
        x = rng.standard_normal(150_000) * np.repeat(rng.uniform(0, 0.3, 150), 1000)
        x[rng.integers(0, len(x))] = 0.9
        brute = 20 * np.log10(np.max(np.abs(signal.resample_poly(x, 4, 1))))
        assert _measure(x, 7777).true_peak_db == pytest.approx(brute, abs=1e-9)


@pytest.mark.parametrize("threshold", [0.05, 0.3, 0.6, 1.0])
def test_peak_level_oversamples_every_block_that_could_reach_the_threshold(threshold):
    """Skipping blocks is exact: wherever full 4x oversampling reaches the threshold, so does it."""
    from scipy import signal

    from voxflow.audio.limiter import peak_level

    rng = np.random.default_rng(3)
    gains = np.repeat(rng.uniform(0, 3, 256), 512)
    x = np.clip(rng.normal(0, 0.1, len(gains)) * gains, -1.5, 1.5)
    full = np.maximum(np.abs(x), np.abs(signal.resample_poly(x, 4, 1)).reshape(-1, 4).max(axis=1))
    fast = peak_level(x, threshold)
    inner = slice(64, -64)  # resample_poly of the whole array pads its two ends with zeros
    hot = full[inner] >= threshold
    assert hot.any()
    np.testing.assert_allclose(fast[inner][hot], full[inner][hot], rtol=0, atol=1e-12)
    assert np.all(fast <= full + 1e-12)


def test_oversampled_level_is_resample_poly_per_sample():
    """Three phase convolutions give exactly what resample_poly's four phases give."""
    from scipy import signal

    from voxflow.audio.loudness import OVERSAMPLING_REACH, oversampled_level

    x = np.random.default_rng(5).normal(0, 0.3, 20_000)
    full = np.abs(signal.resample_poly(x, 4, 1)).reshape(-1, 4).max(axis=1)
    level = oversampled_level(x)
    assert len(level) == len(x) - 2 * OVERSAMPLING_REACH
    edge = 64  # resample_poly pads the whole array's ends with zeros
    inner = full[OVERSAMPLING_REACH + edge : -OVERSAMPLING_REACH - edge]
    np.testing.assert_allclose(level[edge:-edge], inner, rtol=0, atol=1e-12)


def test_planning_meter_measures_rms_and_peaks_as_the_full_one():
    """Pass 1 meters only what gain planning reads; those figures must not differ."""
    x = speechlike(30.0, -24.0, seed=4)
    full, light = LevelMeter(RATE), LevelMeter(RATE, full=False)
    for start in range(0, len(x), 40_000):
        full.feed(x[start : start + 40_000])
        light.feed(x[start : start + 40_000])
    a, b = full.result(), light.result()
    assert (a.rms_db, a.peak_db, a.true_peak_db) == (b.rms_db, b.peak_db, b.true_peak_db)
    assert np.isnan(b.lufs) and np.isnan(b.noise_floor_db)
