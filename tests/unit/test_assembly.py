"""Chapter assembly into the store resumes: a retry after a crash reuses what was stored."""

from __future__ import annotations

import json

import pytest

from tests.unit.test_audio_synth import segment, speechlike
from voxflow import assembly, audio, naming
from voxflow.artifacts import LocalStore
from voxflow.registry import Voice

VOICE = Voice("joe", "1.0", "piper", "cpu", 22050, 400, {})
ROWS = [(i, i // 2, f"Sentence {i}.", f"segments/{i:02d}/key{i}.wav") for i in range(4)]


def segments():
    return [segment(i, i // 2, speechlike(0.8, -24, seed=i)) for i in range(4)]


def inputs(rows=ROWS, output_format="mp3", title="Intro") -> str:
    return assembly.chapter_inputs(rows, title=title, output_format=output_format, voice=VOICE)


def store_intro(store: LocalStore, digest: str) -> assembly.StoredChapter:
    return assembly.store_chapter(
        store,
        segments(),
        project_id=7,
        index=1,
        title="Intro",
        voice=VOICE,
        output_format="mp3",
        inputs=digest,
    )


def test_the_digest_follows_what_shapes_the_files():
    assert inputs() == inputs()
    assert inputs() != inputs(rows=[*ROWS[:3], (3, 1, "Sentence 3.", "segments/xx/other.wav")])
    assert inputs() != inputs(output_format="ogg")
    assert inputs() != inputs(title="Prologue")


def test_a_retry_after_a_crash_in_the_aac_encode_reuses_the_chapter(tmp_path, monkeypatch):
    store = LocalStore(tmp_path)
    first = store_intro(store, inputs())
    part_key = naming.chapter_part_key(first.audio_key)
    audio_bytes = store.get(first.audio_key)
    store.delete(part_key)  # the worker died while it encoded the book's AAC part

    def must_not_assemble(*args, **kwargs):
        raise AssertionError("the chapter was assembled again")

    monkeypatch.setattr(audio, "assemble_chapter", must_not_assemble)
    again = store_intro(store, inputs())
    assert store.exists(part_key), "only the missing AAC part is made"
    assert store.get(first.audio_key) == audio_bytes
    assert again.audio_key == first.audio_key and again.subtitle_key == first.subtitle_key
    assert again.duration_s == pytest.approx(first.duration_s, abs=1e-3)
    assert again.lufs == pytest.approx(first.lufs, abs=0.01)
    assert [(t.index, t.text) for t in again.segment_times] == [
        (t.index, t.text) for t in first.segment_times
    ]
    assert [t.start_s for t in again.segment_times] == pytest.approx(
        [t.start_s for t in first.segment_times], abs=1e-3
    )


def test_other_inputs_make_the_chapter_again(tmp_path, monkeypatch):
    store = LocalStore(tmp_path)
    store_intro(store, inputs())
    calls = []
    real = audio.assemble_chapter
    monkeypatch.setattr(audio, "assemble_chapter", lambda *a, **k: calls.append(1) or real(*a, **k))
    store_intro(store, inputs(rows=ROWS[:3]))  # an edited chapter under the same name
    store_intro(store, inputs(rows=ROWS[:3]))  # then its retry
    assert calls == [1], "assembled once for the new inputs, reused on the retry"


def test_a_crashed_assembly_leaves_no_marker_to_reuse(tmp_path, monkeypatch):
    """Made for A, crashed while making B, back to A: the files may be B's, so A is made again."""
    store = LocalStore(tmp_path)
    first = store_intro(store, inputs())
    real = audio.assemble_chapter

    def crash(*args, **kwargs):
        raise RuntimeError("worker killed")

    monkeypatch.setattr(audio, "assemble_chapter", crash)
    with pytest.raises(RuntimeError):
        store_intro(store, inputs(rows=ROWS[:3]))
    marker = json.loads(store.get(naming.chapter_marker_key(first.audio_key)))
    assert marker["inputs"] is None, "the old marker was voided before the files changed"
    calls = []
    monkeypatch.setattr(audio, "assemble_chapter", lambda *a, **k: calls.append(1) or real(*a, **k))
    store_intro(store, inputs())
    assert calls == [1]
