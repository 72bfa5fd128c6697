"""An independent check that synthesised audio says the right words: pocketsphinx + jiwer."""

from __future__ import annotations

import io
import re
import wave

import jiwer
import numpy as np

ASR_RATE = 16000
_NUMBERS = {
    "0": "zero", "1": "one", "2": "two", "3": "three", "4": "four", "5": "five",
    "6": "six", "7": "seven", "8": "eight", "9": "nine", "10": "ten",
}  # fmt: skip


def read_wav(wav_bytes: bytes) -> tuple[np.ndarray, int]:
    """16-bit PCM WAV → mono float32 samples and the sample rate."""
    with wave.open(io.BytesIO(wav_bytes), "rb") as wav:
        rate, channels, width = wav.getframerate(), wav.getnchannels(), wav.getsampwidth()
        frames = wav.readframes(wav.getnframes())
    if width != 2:
        raise ValueError(f"expected 16-bit PCM, got {8 * width}-bit")
    audio = np.frombuffer(frames, dtype=np.int16).astype(np.float32) / 32768.0
    return audio.reshape(-1, channels).mean(axis=1), rate


def resample(audio: np.ndarray, rate: int, target: int = ASR_RATE) -> np.ndarray:
    """Linear-interpolation resampling after a moving-average low-pass (enough for ASR)."""
    if rate == target:
        return audio
    if target < rate:  # crude anti-aliasing: average over the decimation ratio
        width = max(1, round(rate / target))
        audio = np.convolve(audio, np.ones(width) / width, mode="same")
    duration = len(audio) / rate
    positions = np.arange(int(duration * target)) / target
    return np.interp(positions, np.arange(len(audio)) / rate, audio).astype(np.float32)


def transcribe(wav_bytes: bytes) -> str:
    """What pocketsphinx's bundled US-English model hears in the audio."""
    from pocketsphinx import Decoder

    audio, rate = read_wav(wav_bytes)
    pcm = (np.clip(resample(audio, rate), -1.0, 1.0) * 32767).astype(np.int16).tobytes()
    decoder = Decoder(samprate=ASR_RATE, loglevel="FATAL")
    decoder.start_utt()
    decoder.process_raw(pcm, full_utt=True)
    decoder.end_utt()
    hypothesis = decoder.hyp()
    return hypothesis.hypstr if hypothesis is not None else ""


def normalise(text: str) -> str:
    text = text.lower().replace("-", " ")
    text = re.sub(r"\d+", lambda m: " ".join(_NUMBERS.get(d, d) for d in m.group()), text)
    text = re.sub(r"[^a-z' ]+", " ", text)
    return re.sub(r"\s+", " ", text).strip()


def word_error(reference: str, hypothesis: str) -> float:
    """Word error rate after lowercasing, dropping punctuation and spelling out digits."""
    return float(jiwer.wer(normalise(reference), normalise(hypothesis) or "<empty>"))


def aligned_words(wav_bytes: bytes, text: str) -> list[tuple[str, float, float]]:
    """pocketsphinx's forced alignment of `text` to the audio: (word, start_s, end_s) each."""
    from pocketsphinx import Decoder

    audio, rate = read_wav(wav_bytes)
    pcm = (np.clip(resample(audio, rate), -1.0, 1.0) * 32767).astype(np.int16).tobytes()
    decoder = Decoder(samprate=ASR_RATE, loglevel="FATAL")
    decoder.set_align_text(normalise(text))
    decoder.start_utt()
    decoder.process_raw(pcm, full_utt=True)
    decoder.end_utt()
    frame_s = 0.01
    return [
        (re.sub(r"\(\d+\)$", "", seg.word), seg.start_frame * frame_s, seg.end_frame * frame_s)
        for seg in decoder.seg()
        if not seg.word.startswith("<") and seg.word != "<sil>"
    ]
