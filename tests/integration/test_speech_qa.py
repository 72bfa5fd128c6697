"""Speech QA on the real stack (Temporal dev server, worker, TorchServe, joe, pocketsphinx):
every rendering is checked once, a segment whose audio says another sentence is flagged and
reported, and with retakes on it is rendered again and its best take kept."""

from __future__ import annotations

import json

import pytest
from sqlmodel import delete

from tests.helpers.conversions import project_result, snapshot
from tests.plugins.temporal import make_settings, running_worker
from voxflow import naming
from voxflow.artifacts import open_store
from voxflow.conversion import QaChange, connect, rerender_project, start_conversion_bytes
from voxflow.db import make_engine, session_scope
from voxflow.db.models import SegmentCheck, SegmentTake
from voxflow.qa.store import current_checks

pytestmark = pytest.mark.integration

BOOK = b"""# Gull Point

## The Tower

Maren Alder had kept the light at Gull Point for eleven years. Every evening she climbed the
ninety-two steps of the tower and wound the clockwork. The lighthouse stood on a rock at the end
of a long causeway.

## The Storm

The wind rose in the night and rattled every window in the kitchen. By morning the causeway had
vanished under grey water. Her only visitor was the postman, who rowed out from the village.
"""
BROKEN = (1, 1)  # chapter, segment: gets the audio of another sentence
DONOR = (2, 2)


def checks_by_segment(settings, project_id: int) -> dict[tuple[int, int], SegmentCheck]:
    """The check of each segment's current audio, by (chapter, segment) index."""
    _, chapters, _ = snapshot(settings, project_id)
    engine = make_engine(settings.database_url)
    with session_scope(engine) as session:
        found = {
            (c.index, segment.index): check
            for c in chapters.values()
            for segment, check in current_checks(session, c.id)
        }
        session.expunge_all()
    engine.dispose()
    return found


async def test_qa_flags_a_swapped_segment_and_a_retake_replaces_it(
    tmp_path, temporal_address, torchserve
):
    settings = make_settings(tmp_path, temporal_address, torchserve)
    store = open_store(settings)
    engine = make_engine(settings.database_url)
    async with running_worker(settings):
        client = await connect(settings)
        started = await start_conversion_bytes(
            settings, BOOK, "gull-point.md", client=client, qa_retakes=0
        )
        first = await project_result(client, started.workflow_id)
        assert first.state == "done"
        checks = checks_by_segment(settings, started.project_id)
        assert sorted(checks) == [(c, s) for c in (1, 2) for s in range(3)], "all checked"
        report = json.loads(store.get(naming.qa_report_key(started.project_id, "json")))
        assert report["segments"] == 6 and report["recognizer"] == "pocketsphinx-en-us"
        assert all(isinstance(c["acx"]["passed"], bool) for c in report["chapters"]), "ACX beside"
        clean_flags = report["flagged_count"]

        # Break one segment: its audio now says another sentence. Its old check goes, so the
        # next render checks that audio again.
        _, _, segments = snapshot(settings, started.project_id)
        broken, donor = segments[BROKEN[0]][BROKEN[1]], segments[DONOR[0]][DONOR[1]]
        store.put(broken.audio_key, store.get(donor.audio_key))
        with session_scope(engine) as session:
            session.exec(delete(SegmentCheck).where(SegmentCheck.segment_id == broken.id))
        run = await rerender_project(settings, client, started.project_id)
        again = await project_result(client, run.workflow_id)
        assert (again.state, again.synthesized) == ("done", 0), "QA alone renders nothing"
        flagged = checks_by_segment(settings, started.project_id)[BROKEN]
        assert flagged.reason.startswith("WER "), flagged.reason
        assert "postman" in flagged.heard or "village" in flagged.heard, flagged.heard
        report = json.loads(store.get(naming.qa_report_key(started.project_id, "json")))
        chapter = next(c for c in report["chapters"] if c["index"] == BROKEN[0])
        listed = [s["index"] for s in chapter["flagged"]]
        assert BROKEN[1] in listed and report["flagged_count"] >= 1
        assert "WER" in store.get(naming.qa_report_key(started.project_id, "html")).decode()

        # One automatic retake: the flagged segment is rendered again as take 1, checked, and
        # the better take (the new, true one) is the one in use.
        run = await rerender_project(settings, client, started.project_id, QaChange(1))
        retaken = await project_result(client, run.workflow_id)
    assert retaken.state == "done" and retaken.synthesized >= 1
    _, _, segments = snapshot(settings, started.project_id)
    fixed = segments[BROKEN[0]][BROKEN[1]]
    assert fixed.take == 1 and fixed.audio_key != broken.audio_key
    check = checks_by_segment(settings, started.project_id)[BROKEN]
    assert check.reason == "" and check.take == 1, (check.reason, check.heard)
    with session_scope(engine) as session:
        history = session.exec(
            SegmentTake.__table__.select().where(SegmentTake.segment_id == fixed.id)
        ).all()
    engine.dispose()
    assert fixed.audio_key in [row.audio_key for row in history]
    others = {(c, s): segments[c][s].audio_key for c in (1, 2) for s in range(3)}
    assert others[DONOR] == donor.audio_key, "segments that passed keep their audio"
    print(f"clean conversion: {clean_flags} of 6 segments flagged")
