"""A lexicon entry re-renders exactly the segments it touches, on the real stack: Temporal dev
server, worker, TorchServe and the joe voice. Other segments are reused from the audio store
and other chapters keep their files."""

from __future__ import annotations

import time

import pytest

from tests.helpers.conversions import book, convert, project_result, snapshot
from tests.plugins.temporal import make_settings, running_worker
from voxflow import approval, takes
from voxflow.artifacts import open_store
from voxflow.conversion import connect, rerender_project
from voxflow.db import make_engine, session_scope
from voxflow.lexicon import Entry, Lexicon
from voxflow.lexicon import store as lexicon_store
from voxflow.registry import load_registry
from voxflow.synthesis import audio_key_for

pytestmark = pytest.mark.integration
# Sentence n talks about NOUNS[n % 9]: "anchor" (n = 3) is in chapters One and Two only.
CHAPTERS = {"One": 5, "Two": 4, "Three": 3}


async def test_an_entry_rerenders_only_the_segments_with_its_word(
    tmp_path, temporal_address, torchserve
):
    settings = make_settings(tmp_path, temporal_address, torchserve)
    async with running_worker(settings):
        client = await connect(settings)
        started = time.monotonic()
        project_id = await convert(settings, book(CHAPTERS), "harbour.md", client)
        first_s = time.monotonic() - started
        _, chapters, _ = snapshot(settings, project_id)
        store = open_store(settings)
        before = {i: store.get(c.audio_key) for i, c in chapters.items()}

        entry = Entry("anchor", "ankker")
        engine = make_engine(settings.database_url)
        with session_scope(engine) as session:
            touched = lexicon_store.touched_by(session, project_id, [entry], shared=False)
            lexicon_store.put(session, project_id, [entry])
        engine.dispose()
        assert [(t.chapter_index, t.segment_index) for t in touched] == [(1, 3), (2, 3)]

        started = time.monotonic()
        run = await rerender_project(settings, client, project_id)
        result = await project_result(client, run.workflow_id)
        again_s = time.monotonic() - started

    assert (result.state, result.synthesized, result.reused) == ("done", 2, 10)
    _, chapters, segments = snapshot(settings, project_id)
    voice = load_registry(settings).get("joe")
    spoken = Lexicon([entry])
    for index in (1, 2):
        row = segments[index][3]
        assert row.audio_key == audio_key_for(voice, spoken.apply(row.text))
        assert "ankker" in spoken.apply(row.text) and "anchor" in row.text
        assert store.get(chapters[index].audio_key) != before[index]
    assert store.get(chapters[3].audio_key) == before[3], "an untouched chapter keeps its file"
    print(f"first conversion {first_s:.1f} s, re-render {again_s:.1f} s")


async def test_an_approved_segment_keeps_its_audio_through_later_changes(
    tmp_path, temporal_address, torchserve
):
    settings = make_settings(tmp_path, temporal_address, torchserve)
    async with running_worker(settings):
        client = await connect(settings)
        project_id = await convert(settings, book(CHAPTERS), "harbour.md", client)
        _, _, segments = snapshot(settings, project_id)
        locked = segments[1][3].audio_key
        engine = make_engine(settings.database_url)
        with session_scope(engine) as session:
            approval.approve(session, project_id, 1, 3)
            entry = Entry("anchor", "ankker")
            touched = lexicon_store.touched_by(session, project_id, [entry], shared=False)
            lexicon_store.put(session, project_id, [entry])
        assert [(t.chapter_index, t.segment_index) for t in touched] == [(2, 3)]
        run = await rerender_project(settings, client, project_id)
        result = await project_result(client, run.workflow_id)
        assert (result.state, result.synthesized) == ("done", 1)
        _, _, segments = snapshot(settings, project_id)
        assert segments[1][3].audio_key == locked, "approved: the lexicon did not reach it"
        assert segments[2][3].audio_key != locked

        with session_scope(engine) as session:
            approval.unlock(session, project_id, 1, 3)
        engine.dispose()
        run = await rerender_project(settings, client, project_id)
        result = await project_result(client, run.workflow_id)
        _, _, segments = snapshot(settings, project_id)
    assert (result.state, result.synthesized) == ("done", 1)
    assert segments[1][3].audio_key != locked, "unlocked: the next render reads it anew"


async def test_edit_retake_and_go_back_to_a_take(tmp_path, temporal_address, torchserve):
    """The studio loop on one sentence: edit it, render; ask for another take, render; go back
    to the first take (locked), render: each render synthesises that segment at most."""
    settings = make_settings(tmp_path, temporal_address, torchserve)
    engine = make_engine(settings.database_url)

    async def render() -> tuple:
        run = await rerender_project(settings, client, project_id)
        result = await project_result(client, run.workflow_id)
        assert result.state == "done", result
        return result.synthesized, snapshot(settings, project_id)[2][2][1]

    async with running_worker(settings):
        client = await connect(settings)
        project_id = await convert(settings, book(CHAPTERS), "harbour.md", client)
        original = snapshot(settings, project_id)[2][2][1].audio_key
        with session_scope(engine) as session:
            takes.edit(session, project_id, 2, 1, "Two sentence two talks about the lantern!", 400)
        synthesized, edited = await render()
        assert synthesized == 1 and edited.audio_key != original
        assert edited.text == "Two sentence two talks about the lantern!"

        with session_scope(engine) as session:
            assert takes.retake(session, project_id, 2, 1).take == 1
        synthesized, retaken = await render()
        assert synthesized == 1 and retaken.audio_key not in {original, edited.audio_key}

        with session_scope(engine) as session:
            history = takes.history(session, project_id, 2, 1)
            assert [t.audio_key for t in history] == [original, edited.audio_key, retaken.audio_key]
            takes.use(session, project_id, 2, 1, 1)
        synthesized, back = await render()
    engine.dispose()
    assert synthesized == 0, "the first take's audio is in the store: nothing to synthesise"
    assert back.audio_key == back.approved_key == original
    assert back.text == "Two sentence 2 talks about the lantern."
