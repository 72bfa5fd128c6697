"""Synthetic segment audio for the audio tests (no tests here): tones, speech-like noise, WAVs."""

from __future__ import annotations

import contextlib
import io
import wave

import numpy as np

from voxflow.audio import SegmentAudio

RATE = 22050


def wav_bytes(x: np.ndarray, rate: int = RATE, channels: int = 1, width: int = 2) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(width)
        out.setframerate(rate)
        if width == 2:
            pcm = (np.clip(x, -1, 1) * 32767).astype("<i2")
            out.writeframes(np.repeat(pcm, channels).tobytes())
        else:
            out.writeframes((np.clip(x, -1, 1) * 127 + 128).astype("u1").tobytes())
    return buf.getvalue()


def tone(seconds: float, amplitude: float = 0.3, freq: float = 441.0, rate: int = RATE):
    t = np.arange(round(seconds * rate)) / rate
    return amplitude * np.sin(2 * np.pi * freq * t)


def speechlike(seconds: float, rms_db: float, seed: int = 0, rate: int = RATE) -> np.ndarray:
    """Harmonics under a syllable-rate envelope plus a little noise, scaled to `rms_db` RMS."""
    rng = np.random.default_rng(seed)
    t = np.arange(round(seconds * rate)) / rate
    f0 = 110 + 20 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / rate
    voiced = sum(np.sin(k * phase) / k for k in range(1, 8))
    envelope = np.clip(np.sin(2 * np.pi * 4 * t + rng.uniform(0, 6)), 0, None) ** 2
    x = voiced * envelope + 0.05 * rng.standard_normal(len(t)) * envelope
    return x * (10 ** (rms_db / 20) / np.sqrt(np.mean(x**2)))


def segment(index: int, block: int, x: np.ndarray, text: str | None = None, **kw) -> SegmentAudio:
    data = wav_bytes(x, **kw)
    return SegmentAudio(
        index=index,
        block_index=block,
        text=text if text is not None else f"Sentence {index}.",
        open=lambda: contextlib.closing(io.BytesIO(data)),
    )


def read_wav(path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as reader:
        data = reader.readframes(reader.getnframes())
        return np.frombuffer(data, "<i2") / 32768.0, reader.getframerate()


def bursts(x: np.ndarray, rate: int, threshold_db: float = -40.0) -> list[tuple[float, float]]:
    """(start_s, end_s) of each run louder than `threshold_db` (441 Hz tones: 2 ms resolution)."""
    from scipy import ndimage

    loud = ndimage.maximum_filter1d(np.abs(x), size=rate // 441 + 1) > 10 ** (threshold_db / 20)
    edges = np.flatnonzero(np.diff(loud.astype(np.int8)))
    padded = np.concatenate([[0] if loud[0] else [], edges + 1, [len(x)] if loud[-1] else []])
    return [(a / rate, b / rate) for a, b in zip(padded[::2], padded[1::2], strict=True)]
