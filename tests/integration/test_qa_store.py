"""Speech-QA checks in the database (SQLite and PostgreSQL): what awaits a check, and how
flagged segments get their retakes and then their best take."""

from __future__ import annotations

from tests.integration.test_db import make_document
from voxflow import approval, takes
from voxflow.db import repository, session_scope
from voxflow.db.models import SegmentStatus
from voxflow.lexicon import Entry, Kind
from voxflow.lexicon import store as lexicon_store
from voxflow.qa import score_segment
from voxflow.qa import store as qa_store


def synthesised(engine, take_suffix: str = "") -> tuple[int, int]:
    """A project whose first chapter's three segments have audio; (project id, chapter id)."""
    with session_scope(engine) as session:
        project = repository.create_project(
            session, make_document(), source_name="small.md", voice="joe", model_version="1.0",
            output_format="mp3",
        )  # fmt: skip
        chapter = repository.get_chapter(session, project.id, 1)
        repository.mark_segments(
            session,
            [
                repository.SegmentUpdate(s.id, SegmentStatus.done, 1.0, f"seg/{s.index}.wav")
                for s in repository.list_segments(session, chapter.id)
            ],
        )
        return project.id, chapter.id


def check_page(engine, project_id: int, chapter_id: int, heard: dict[int, str]) -> None:
    """Check every unchecked rendering, hearing `heard[index]` (else the text itself)."""
    with session_scope(engine) as session:
        for pending in qa_store.unchecked(session, project_id, chapter_id, -1, 100):
            said = heard.get(pending.index, pending.expected)
            score = score_segment(pending.index, pending.expected, said)
            qa_store.save(session, pending, score, "test")


def test_each_rendering_is_checked_once_against_the_respelled_text(engine):
    project_id, chapter_id = synthesised(engine)
    with session_scope(engine) as session:
        lexicon_store.put(
            session, project_id, [Entry("rain", "rayne"), Entry("late", "l eɪ t", Kind.phonemes)]
        )
        pending = qa_store.unchecked(session, project_id, chapter_id, -1, 100)
    assert [p.expected for p in pending] == ["It was late.", "The rayne fell.", "Nobody came."]
    check_page(engine, project_id, chapter_id, {})
    with session_scope(engine) as session:
        assert qa_store.unchecked(session, project_id, chapter_id, -1, 100) == []
        assert len(qa_store.current_checks(session, chapter_id)) == 3


def test_flagged_segments_get_retakes_then_their_best_take(engine):
    project_id, chapter_id = synthesised(engine)
    wrong = {1: "completely different words here"}
    check_page(engine, project_id, chapter_id, wrong)
    with session_scope(engine) as session:
        flagged = qa_store.current_checks(session, chapter_id, flagged_only=True)
        assert [s.index for s, _ in flagged] == [1]
        assert qa_store.settle_flagged(session, chapter_id, max_retakes=1) == [1]
        segment = approval.segment_at(session, project_id, 1, 1)
        assert segment.take == 1, "asked for the next take"
        # The retake is synthesised (a new key); its check hears the words and passes.
        repository.mark_segments(
            session, [repository.SegmentUpdate(segment.id, SegmentStatus.done, 1.0, "seg/1b.wav")]
        )
    check_page(engine, project_id, chapter_id, {1: "the rain different"})
    with session_scope(engine) as session:
        assert qa_store.settle_flagged(session, chapter_id, max_retakes=1) == [], "no more"
        segment = approval.segment_at(session, project_id, 1, 1)
        assert (segment.take, segment.audio_key) == (1, "seg/1b.wav"), "the passing take kept"


def test_when_every_take_is_flagged_the_lowest_wer_is_kept(engine):
    project_id, chapter_id = synthesised(engine)
    check_page(engine, project_id, chapter_id, {2: "all wrong words"})
    with session_scope(engine) as session:
        assert qa_store.settle_flagged(session, chapter_id, max_retakes=1) == [2]
        segment = approval.segment_at(session, project_id, 1, 2)
        repository.mark_segments(
            session, [repository.SegmentUpdate(segment.id, SegmentStatus.done, 1.0, "seg/2b.wav")]
        )
    check_page(engine, project_id, chapter_id, {2: "nothing right here at all and more"})
    with session_scope(engine) as session:
        assert qa_store.settle_flagged(session, chapter_id, max_retakes=1) == []
        segment = approval.segment_at(session, project_id, 1, 2)
        assert (segment.take, segment.audio_key) == (0, "seg/2.wav"), "back to the lower WER"
        assert takes.checks(session, segment.id).keys() == {"seg/2.wav", "seg/2b.wav"}


def test_an_approved_segment_is_never_retaken(engine):
    project_id, chapter_id = synthesised(engine)
    check_page(engine, project_id, chapter_id, {0: "nothing alike at all"})
    with session_scope(engine) as session:
        approval.approve(session, project_id, 1, 0)
        assert qa_store.settle_flagged(session, chapter_id, max_retakes=3) == []
        assert approval.segment_at(session, project_id, 1, 0).take == 0


def test_voxflow_qa_lists_the_flags_of_the_audio_in_use(engine, database_url, monkeypatch):
    """`voxflow qa PROJECT` as a user runs it: the flagged segments, or with --all every check."""
    from typer.testing import CliRunner

    from voxflow.cli import app
    from voxflow.cli import qa as qa_cli
    from voxflow.settings import get_settings

    project_id, chapter_id = synthesised(engine)
    monkeypatch.setattr(qa_cli.console, "width", 200)  # whole sentences in the table's cells
    monkeypatch.setenv("VOXFLOW_DATABASE_URL", database_url)
    get_settings.cache_clear()
    try:
        empty = CliRunner().invoke(app, ["qa", str(project_id)])
        assert empty.exit_code == 0 and "has been checked: run `voxflow rerender" in empty.output
        check_page(engine, project_id, chapter_id, {1: "completely different words here"})
        flagged = CliRunner().invoke(app, ["qa", str(project_id)])
        assert flagged.exit_code == 0, flagged.output
        assert "1 flagged of 3 checked segments" in flagged.output
        assert "completely different words here" in flagged.output
        assert "Nobody came." not in flagged.output
        every = CliRunner().invoke(app, ["qa", str(project_id), "--all"])
        assert "1 flagged of 3 checked segments" in every.output
        assert "Nobody came." in every.output and "passes" in every.output
    finally:
        get_settings.cache_clear()
