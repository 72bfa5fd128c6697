"""Artifact keys: content-addressed segment audio and stable chapter/book names."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from voxflow.artifacts import validate_key
from voxflow.naming import (
    book_key,
    chapter_file_key,
    manifest_key,
    segment_audio_key,
    slugify,
)

BASE = ("joe", "1.0", {"speed": 1.0, "speaker": 3}, "Hello there, world.")


def test_same_inputs_same_key():
    assert segment_audio_key(*BASE) == segment_audio_key(*BASE)


def test_key_shape():
    key = segment_audio_key(*BASE)
    match = re.fullmatch(r"segments/([0-9a-f]{2})/([0-9a-f]{64})\.wav", key)
    assert match is not None
    assert match.group(2).startswith(match.group(1))
    assert validate_key(key) == key


@pytest.mark.parametrize(
    "changed",
    [
        ("amy", "1.0", {"speed": 1.0, "speaker": 3}, "Hello there, world."),
        ("joe", "2.0", {"speed": 1.0, "speaker": 3}, "Hello there, world."),
        ("joe", "1.0", {"speed": 1.1, "speaker": 3}, "Hello there, world."),
        ("joe", "1.0", {"speed": 1.0, "speaker": 4}, "Hello there, world."),
        ("joe", "1.0", {"speed": 1.0}, "Hello there, world."),
        ("joe", "1.0", {"speed": 1.0, "speaker": 3, "noise": 0.5}, "Hello there, world."),
        ("joe", "1.0", {"speed": 1.0, "speaker": 3}, "Hello there, world!"),
        ("joe", "1.0", {"speed": 1.0, "speaker": 3}, "hello there, world."),
    ],
)
def test_any_change_changes_key(changed):
    assert segment_audio_key(*changed) != segment_audio_key(*BASE)


def test_model_and_version_are_not_concatenated():
    assert segment_audio_key("jo", "e1", {}, "x") != segment_audio_key("joe", "1", {}, "x")


def test_param_order_irrelevant():
    a = segment_audio_key("joe", "1", {"a": 1, "b": {"x": 1, "y": 2}}, "Hi.")
    b = segment_audio_key("joe", "1", {"b": {"y": 2, "x": 1}, "a": 1}, "Hi.")
    assert a == b


@given(st.dictionaries(st.text(max_size=8), st.integers() | st.text(max_size=8), max_size=6))
def test_param_order_irrelevant_property(params):
    reordered = dict(reversed(list(params.items())))
    assert segment_audio_key("m", "v", params, "t") == segment_audio_key("m", "v", reordered, "t")


def test_text_normalisation_whitespace_and_unicode_form():
    assert segment_audio_key("m", "v", {}, "  Hello\n  world. ") == segment_audio_key(
        "m", "v", {}, "Hello world."
    )
    composed, decomposed = "caf\u00e9", "cafe\u0301"
    assert segment_audio_key("m", "v", {}, composed) == segment_audio_key("m", "v", {}, decomposed)


def test_non_json_params_refused():
    with pytest.raises(TypeError):
        segment_audio_key("m", "v", {"x": object()}, "t")
    with pytest.raises(ValueError):
        segment_audio_key("m", "v", {"x": float("nan")}, "t")


@pytest.mark.parametrize(
    ("title", "slug"),
    [
        ("Chapter 1: The Beginning", "chapter-1-the-beginning"),
        ("  Ça va — très bien!  ", "ca-va-tres-bien"),
        ("???", "untitled"),
        ("", "untitled"),
        ("../../etc/passwd", "etc-passwd"),
    ],
)
def test_slugify(title, slug):
    assert slugify(title) == slug


def test_slugify_is_bounded_and_idempotent():
    slug = slugify("word " * 100)
    assert len(slug) <= 60
    assert not slug.endswith("-")
    assert slugify(slug) == slug


def test_project_keys():
    assert chapter_file_key(7, 3, "The Storm", "mp3") == "projects/7/chapters/03-the-storm.mp3"
    assert chapter_file_key(7, 12, "the-storm", ".vtt") == "projects/7/chapters/12-the-storm.vtt"
    assert book_key(7, "My Book") == "projects/7/my-book.m4b"
    assert manifest_key(7) == "projects/7/manifest.json"
    for key in [chapter_file_key(1, 1, "../x", "mp3"), book_key(1, "/etc"), manifest_key(1)]:
        assert validate_key(key) == key
