"""Speech recognisers that say what synthesised audio contains, independently of the voice."""

from __future__ import annotations

import io
import math
import re
import threading
import wave
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from pocketsphinx import Decoder

# pocketsphinx's bundled US-English acoustic model is trained on 16 kHz audio.
ASR_SAMPLE_RATE = 16000
PCM_WIDTH_BYTES = 2
_INT16_SCALE = 32768.0
# pocketsphinx carries its cepstral mean (CMN) from one utterance to the next, so a shared
# decoder's transcript depended on what it heard before (2 of 12 sentences differed; setting the
# mean back with set_cmn still left 1 of 12), and a fresh decoder's first utterance hears worse.
# Before each utterance the feature extraction is reinitialised and hears a second of silence:
# the same start as a fresh decoder (12 of 12 identical, in either order; bench/qa_calibration.py).
WARM_UP_PCM = bytes(ASR_SAMPLE_RATE * PCM_WIDTH_BYTES)
# At most this many HMMs searched per frame (pocketsphinx's default, 30000, is effectively no
# bound): on 40 Sherlock Holmes sentences read by joe, decoding took 0.115 s per audio second
# instead of 0.171, with mean WER 0.324 against 0.323 and 34 of 40 transcripts identical
# (docs/qa.md); the flag rule was calibrated again with it.
MAX_HMMS_PER_FRAME = 3000
# The dictionary's alternative pronunciations show as "read(2)"; the word is the same.
_ALTERNATIVE = re.compile(r"\(\d+\)$")


@runtime_checkable
class Recognizer(Protocol):
    """Anything that turns a WAV file into the words it hears; `name` goes into reports and
    `concurrency` says how many transcriptions it runs at once."""

    name: str
    concurrency: int

    def transcribe(self, wav_bytes: bytes) -> str: ...


def read_wav(wav_bytes: bytes) -> tuple[np.ndarray, int]:
    """16-bit PCM WAV → mono float32 samples in [-1, 1] and the sample rate."""
    with wave.open(io.BytesIO(wav_bytes), "rb") as wav:
        rate, channels, width = wav.getframerate(), wav.getnchannels(), wav.getsampwidth()
        frames = wav.readframes(wav.getnframes())
    if width != PCM_WIDTH_BYTES:
        raise ValueError(f"expected 16-bit PCM, got {8 * width}-bit")
    audio = np.frombuffer(frames, dtype="<i2").astype(np.float32) / _INT16_SCALE
    return audio.reshape(-1, channels).mean(axis=1), rate


def resample(audio: np.ndarray, rate: int, target: int = ASR_SAMPLE_RATE) -> np.ndarray:
    """Polyphase resampling (with its anti-aliasing filter) to the recogniser's rate.

    scipy comes with pyloudnorm, a runtime dependency; 22050 → 16000 Hz is 320/441."""
    if rate == target or audio.size == 0:
        return audio
    from scipy.signal import resample_poly

    common = math.gcd(rate, target)
    return resample_poly(audio, target // common, rate // common).astype(np.float32)


def asr_pcm(wav_bytes: bytes) -> bytes:
    """A WAV file as the raw 16 kHz mono 16-bit PCM that pocketsphinx decodes."""
    audio, rate = read_wav(wav_bytes)
    samples = np.clip(resample(audio, rate), -1.0, 1.0) * (_INT16_SCALE - 1)
    return samples.astype("<i2").tobytes()


class PocketsphinxRecognizer:
    """pocketsphinx 5 with its bundled US-English model: offline, CPU-only, no downloads.

    One decoder per instance (a fresh one per sentence took 26 % longer), its feature extraction
    reset before each utterance so that transcripts do not depend on order; a lock keeps it to
    one utterance at a time, since a decoder is not thread-safe."""

    name = "pocketsphinx-en-us"
    concurrency = 1

    def __init__(self) -> None:
        self._decoder: Decoder | None = None
        self._lock = threading.Lock()

    def transcribe(self, wav_bytes: bytes) -> str:
        """The words heard in a WAV file, lower case, space-separated ("" for silence)."""
        pcm = asr_pcm(wav_bytes)
        if not pcm:
            return ""
        with self._lock:
            decoder = self._loaded()
            decoder.reinit_feat()  # forget the cepstral mean of earlier utterances
            _decode(decoder, WARM_UP_PCM)
            return _decode(decoder, pcm)

    def _loaded(self) -> Decoder:
        """The decoder, loaded on first use so that constructing a recogniser is cheap."""
        if self._decoder is None:
            from pocketsphinx import Decoder

            self._decoder = Decoder(
                samprate=ASR_SAMPLE_RATE, maxhmmpf=MAX_HMMS_PER_FRAME, loglevel="FATAL"
            )
        return self._decoder


def _decode(decoder: Decoder, pcm: bytes) -> str:
    """One whole utterance through the decoder: its best hypothesis, without variant marks."""
    decoder.start_utt()
    decoder.process_raw(pcm, full_utt=True)
    decoder.end_utt()
    hypothesis = decoder.hyp()
    if hypothesis is None:
        return ""
    return " ".join(_ALTERNATIVE.sub("", word) for word in hypothesis.hypstr.split())
