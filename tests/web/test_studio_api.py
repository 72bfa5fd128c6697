"""The studio over the API and the chapter page: speech-QA, edit and approval fields and
filters on the segment list, takes with their QA, speech QA at create and rerender, and the
book's QA report. Projects are seeded straight into the database (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import re
from types import SimpleNamespace

import httpx
import pytest
from sqlmodel import select
from temporalio.exceptions import WorkflowAlreadyStartedError

from tests.web.seeding import FAKE_AUDIO, seed_project
from tests.web.test_auth import production
from voxflow import approval, conversion, takes
from voxflow.artifacts import open_store
from voxflow.db import make_engine, repository, session_scope
from voxflow.db.models import ProjectState, Segment, SegmentCheck, SegmentTake
from voxflow.naming import qa_report_key
from voxflow.qa.report import ChapterScores, book_report, render_html
from voxflow.qa.scoring import score_segment
from web import create_app
from web.schemas import audio_version

OLD_KEY = "segments/seed/old-take.wav"


def check(segment: Segment, key: str, *, heard: str, wer: float, reason: str = "") -> SegmentCheck:
    return SegmentCheck(
        segment_id=segment.id, audio_key=key, take=segment.take, expected=segment.text,
        heard=heard, wer=wer, missing="sentence" if reason else "", added="",
        reason=reason, recognizer="test",
    )  # fmt: skip


def studio_project(settings) -> int:
    """Chapter 1 of 6 segments, all synthesised: 1 is flagged now, 2 passes, 3 is edited (its
    audio was made from the old text), 0 is approved, and 4 was flagged only on an old take."""
    pid = seed_project(settings, {"Alpha": 6}, done={1: 6}, state=ProjectState.done)
    store = open_store(settings)
    store.put(OLD_KEY, FAKE_AUDIO[:100])
    engine = make_engine(settings.database_url)
    try:
        with session_scope(engine) as session:
            chapter = repository.get_chapter(session, pid, 1)
            rows = {s.index: s for s in repository.list_segments(session, chapter.id)}
            for s in rows.values():  # what the first conversion recorded
                session.add(
                    SegmentTake(segment_id=s.id, take=0, text=s.text, audio_key=s.audio_key)
                )
            session.add(
                check(rows[1], rows[1].audio_key, heard="alpha", wer=0.67, reason="WER 0.67")
            )
            session.add(check(rows[2], rows[2].audio_key, heard="alpha sentence two", wer=0.0))
            session.add(check(rows[4], OLD_KEY, heard="nothing", wer=1.0, reason="WER 1.00"))
            session.add(
                SegmentTake(segment_id=rows[4].id, take=1, text=rows[4].text, audio_key=OLD_KEY)
            )
            session.flush()
            takes.edit(session, pid, 1, 3, "Alpha sentence three, edited.", 400)
            approval.approve(session, pid, 1, 0)
    finally:
        engine.dispose()
    return pid


async def test_segments_show_qa_edits_approval_and_staleness(client, web_settings):
    pid = studio_project(web_settings)
    url = f"/api/projects/{pid}/chapters/1/segments"
    items = {s["index"]: s for s in (await client.get(url)).json()["items"]}

    assert items[0]["approved"] is True and items[0]["qa"] is None
    assert items[1]["qa"] == {
        "wer": 0.67, "heard": "alpha", "reason": "WER 0.67", "flagged": True,
        "missing": ["sentence"], "added": [],
    }  # fmt: skip
    assert items[2]["qa"]["flagged"] is False and items[2]["qa"]["reason"] == ""
    assert items[4]["qa"] is None, "the old take's check is not the audio in use"
    edited = items[3]
    assert (edited["edited"], edited["text"], edited["source_text"]) == (
        True, "Alpha sentence three, edited.", "Alpha sentence 3.",
    )  # fmt: skip
    assert edited["stale"] is True, "its audio was made from the imported text"
    assert [i for i, s in items.items() if s["stale"]] == [3]
    assert [i for i, s in items.items() if s["edited"]] == [3]
    assert items[1]["take"] == 0 and items[1]["source_text"] is None


async def test_segment_filters_page_by_key(client, web_settings):
    pid = studio_project(web_settings)
    url = f"/api/projects/{pid}/chapters/1/segments"

    async def indexes(**params) -> list[int]:
        response = await client.get(url, params=params)
        assert response.status_code == 200, response.text
        return [s["index"] for s in response.json()["items"]]

    assert await indexes(flagged="true") == [1]
    assert await indexes(flagged="false") == [0, 2, 3, 4, 5]
    assert await indexes(edited="true") == [3]
    assert await indexes(approved="true") == [0]
    assert await indexes(approved="false", edited="false", flagged="false") == [2, 4, 5]
    assert await indexes(status="done", flagged="true") == [1]
    assert await indexes(status="failed", edited="true") == []

    page = (await client.get(url, params={"flagged": "false", "limit": 2, "start": 3})).json()
    assert [s["index"] for s in page["items"]] == [3, 4]
    assert (page["prev_start"], page["next_start"], page["last_start"]) == (0, 5, 4)
    assert (page["flagged"], page["edited"], page["approved"]) == (False, None, None)
    assert (await client.get(url, params={"flagged": "maybe"})).status_code == 422


async def test_the_flagged_filter_pages_a_long_chapter_by_key(client, web_settings):
    """Flagged is an SQL condition (EXISTS), so paging by key works as for the other filters."""
    pid = seed_project(web_settings, {"Long": 3000}, done={1: 3000}, state=ProjectState.done)
    engine = make_engine(web_settings.database_url)
    with session_scope(engine) as session:
        chapter = repository.get_chapter(session, pid, 1)
        for s in repository.list_segments(session, chapter.id, offset=2990, limit=3):
            session.add(check(s, s.audio_key, heard="x", wer=1.0, reason="WER 1.00"))
    engine.dispose()
    url = f"/api/projects/{pid}/chapters/1/segments"
    page = (await client.get(url, params={"flagged": "true", "limit": 2})).json()
    assert [s["index"] for s in page["items"]] == [2990, 2991]
    assert (page["next_start"], page["last_start"]) == (2992, 2991)
    last = (await client.get(url, params={"flagged": "true", "limit": 2, "start": 2992})).json()
    assert [s["index"] for s in last["items"]] == [2992] and last["prev_start"] == 2990


async def test_takes_carry_their_qa_and_audio(client, web_settings):
    pid = studio_project(web_settings)
    base = f"/api/projects/{pid}/chapters/1/segments/4"
    history = (await client.get(f"{base}/takes")).json()
    assert [(t["number"], t["in_use"], t["wer"], t["reason"]) for t in history] == [
        (1, True, None, None),
        (2, False, 1.0, "WER 1.00"),
    ]
    assert history[1]["heard"] == "nothing"
    assert history[1]["audio_url"] == f"{base}/takes/2/audio"
    old = await client.get(history[1]["audio_url"])
    assert old.status_code == 200 and old.content == FAKE_AUDIO[:100]
    assert (await client.get(f"{base}/takes/3/audio")).status_code == 404

    used = (await client.post(f"{base}/takes/2/use")).json()
    assert used["approved"] is True and used["qa"]["reason"] == "WER 1.00"
    assert used["audio_url"].endswith(f"/segments/4/audio?v={audio_version(OLD_KEY)}")
    assert (await client.get(used["audio_url"])).content == FAKE_AUDIO[:100]


async def test_changes_answer_the_segment_with_its_new_state(client, web_settings):
    pid = studio_project(web_settings)
    base = f"/api/projects/{pid}/chapters/1/segments"
    edited = (await client.post(f"{base}/5/text", json={"text": "A new fifth sentence."})).json()
    assert (edited["edited"], edited["stale"], edited["source_text"]) == (
        True, True, "Alpha sentence 5.",
    )  # fmt: skip
    back = (await client.post(f"{base}/5/text", json={"text": "Alpha sentence 5."})).json()
    assert (back["edited"], back["stale"]) == (False, False), "back to the imported text"
    retaken = (await client.post(f"{base}/2/retake")).json()
    assert (retaken["take"], retaken["stale"], retaken["qa"]["wer"]) == (1, True, 0.0)
    unlocked = (await client.post(f"{base}/0/unlock")).json()
    assert unlocked["approved"] is False


@pytest.fixture
def started(monkeypatch, app):
    """Rerenders go through the real kernel (the QA choice is stored), but nothing starts."""
    calls = []

    async def client():
        return object()

    async def start_project(settings, client, engine, project_id):
        calls.append(project_id)
        return SimpleNamespace(id=f"project-{project_id}", first_execution_run_id="run")

    monkeypatch.setattr(app.state.voxflow.gateway, "client", client)
    monkeypatch.setattr(conversion, "start_project", start_project)
    return calls


async def test_rerender_can_change_speech_qa(client, web_settings, started):
    pid = seed_project(web_settings, {"Alpha": 2}, done={1: 2}, state=ProjectState.done)
    url = f"/api/projects/{pid}/rerender"

    async def qa() -> tuple:
        body = (await client.get(f"/api/projects/{pid}")).json()
        return body["speech_qa"], body["qa_retakes"]

    on = await client.post(url, json={"speech_qa": True, "qa_retakes": 2})
    assert on.status_code == 202, on.text
    assert on.json()["workflow_id"] == f"project-{pid}"
    assert await qa() == (True, 2)
    assert (await client.post(url)).status_code == 202
    assert await qa() == (True, 2), "no body: the project keeps its choice"
    assert (await client.post(url, json={"speech_qa": False, "qa_retakes": 4})).status_code == 202
    assert await qa() == (False, 0)
    too_many = await client.post(url, json={"speech_qa": True, "qa_retakes": 6})
    assert too_many.status_code == 422 and "qa_retakes" in too_many.json()["detail"]
    assert started == [pid, pid, pid]

    running = seed_project(web_settings, {"Beta": 2}, state=ProjectState.running)
    busy = await client.post(f"/api/projects/{running}/rerender", json={"speech_qa": True})
    assert busy.status_code == 409 and "wait for it to finish" in busy.json()["detail"]


async def test_a_second_rerender_before_the_first_shows_running_is_a_409(
    client, web_settings, started, monkeypatch
):
    """Two quick saves in the editor: the workflow runs, the row does not say so yet."""
    pid = seed_project(web_settings, {"Alpha": 2}, done={1: 2}, state=ProjectState.done)

    async def already(settings, client, engine, project_id):
        raise WorkflowAlreadyStartedError(f"project-{project_id}", "ProjectWorkflow")

    monkeypatch.setattr(conversion, "start_project", already)
    again = await client.post(f"/api/projects/{pid}/rerender")
    assert again.status_code == 409 and "rendered already" in again.json()["detail"]
    refused = await client.post(
        f"/api/projects/{pid}/rerender", json={"speech_qa": True, "qa_retakes": 2}
    )
    assert refused.status_code == 409
    engine = make_engine(web_settings.database_url)
    try:
        with session_scope(engine) as session:
            project = repository.get_project(session, pid)
            # the refused render's choice is not kept: the render that runs did not use it
            assert (project.speech_qa, project.qa_retakes) == (False, 0)
    finally:
        engine.dispose()


async def test_create_with_speech_qa(client):
    on = await client.post(
        "/api/projects", data={"text": "# T\n\nOne. Two.", "speech_qa": "true", "qa_retakes": "3"}
    )
    assert on.status_code == 201, on.text
    assert (on.json()["speech_qa"], on.json()["qa_retakes"]) == (True, 3)
    off = await client.post("/api/projects", data={"text": "One. Two.", "qa_retakes": "3"})
    assert (off.json()["speech_qa"], off.json()["qa_retakes"]) == (False, 0)
    bad = await client.post("/api/projects", data={"text": "One.", "qa_retakes": "6"})
    assert bad.status_code == 422 and "qa_retakes" in bad.json()["detail"]
    listed = (await client.get("/api/projects")).json()["items"]
    assert [(p["speech_qa"], p["qa_retakes"]) for p in listed] == [(False, 0), (True, 3)]


async def test_new_project_page_turns_speech_qa_on(client):
    form = await client.get("/projects/new")
    assert 'id="speech_qa"' in form.text and 'id="qa_retakes"' in form.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
    created = await client.post(
        "/projects/new",
        data={"csrf_token": token, "text": "# T\n\nOne.", "speech_qa": "true", "qa_retakes": "2"},
    )
    assert created.status_code == 303, created.text
    page = await client.get(created.headers["location"])
    assert "speech QA on, 2 automatic retakes" in page.text


async def test_qa_report_json_and_html(client, web_settings):
    pid = seed_project(web_settings, {"Alpha": 2}, finished=True, state=ProjectState.done)
    missing = await client.get(f"/api/projects/{pid}/qa-report")
    assert missing.status_code == 404 and "no speech-QA report yet" in missing.json()["detail"]
    assert "turn speech QA on" in missing.json()["detail"]
    assert (await client.get(f"/api/projects/{pid}/qa-report.html")).status_code == 404
    assert (await client.get(f"/api/projects/{pid}")).json()["qa_report_url"] is None
    assert 'id="qa-report"' not in (await client.get(f"/projects/{pid}")).text
    assert (await client.get("/api/projects/999/qa-report")).status_code == 404

    scores = [score_segment(0, "Alpha sentence 0.", "alpha sentence zero")]
    scores.append(score_segment(1, "Alpha sentence 1 is long enough.", "nothing at all"))
    report = book_report("Seeded Book", [ChapterScores(1, "Alpha", scores)], "pocketsphinx")
    store = open_store(web_settings)
    store.put(qa_report_key(pid, "json"), json.dumps(report).encode())
    store.put(qa_report_key(pid, "html"), render_html(report).encode())

    body = (await client.get(f"/api/projects/{pid}/qa-report")).json()
    assert body["title"] == "Seeded Book" and body["segments"] == 2
    assert body["chapters"][0]["flagged"][0]["index"] == 1
    assert body["flagged_count"] == report["flagged_count"] == 1
    page = await client.get(f"/api/projects/{pid}/qa-report.html")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "sandbox" in page.headers["content-security-policy"]
    assert "Seeded Book" in page.text
    download = await client.get(f"/api/projects/{pid}/qa-report.html?download=true")
    assert download.headers["content-disposition"].startswith("attachment")
    detail = (await client.get(f"/api/projects/{pid}")).json()
    assert detail["qa_report_url"] == f"/api/projects/{pid}/qa-report"
    project_page = (await client.get(f"/projects/{pid}")).text
    assert f'id="qa-report" href="/api/projects/{pid}/qa-report.html"' in project_page


async def test_chapter_page_is_an_editor_with_filters(client, web_settings):
    pid = studio_project(web_settings)
    page = await client.get(f"/projects/{pid}/chapters/1")
    assert page.status_code == 200
    html = page.text
    assert re.findall(r'<tr id="segment-(\d+)"', html) == [str(i) for i in range(6)]
    assert '<script src="/static/studio.js" defer></script>' in html
    assert f'data-segments="/api/projects/{pid}/chapters/1/segments?start=0&amp;limit=100"' in html
    row = html[html.index('id="segment-1"') : html.index('id="segment-2"')]
    assert 'data-flag="flagged"' in row and "WER 0.67" in row and "Heard: “alpha”" in row
    assert "/segments/1/audio?v=" in row and 'data-action="edit"' in row
    row3 = html[html.index('id="segment-3"') : html.index('id="segment-4"')]
    assert 'data-flag="edited"' in row3 and 'data-flag="stale"' in row3
    assert "Imported text: Alpha sentence 3." in row3

    flagged = (await client.get(f"/projects/{pid}/chapters/1?show=flagged")).text
    assert re.findall(r'<tr id="segment-(\d+)"', flagged) == ["1"]
    assert "segments?start=0&amp;limit=100&amp;flagged=true" in flagged
    approved = (await client.get(f"/projects/{pid}/chapters/1?show=approved")).text
    assert re.findall(r'<tr id="segment-(\d+)"', approved) == ["0"]
    edited = (await client.get(f"/projects/{pid}/chapters/1?show=edited&limit=50")).text
    assert re.findall(r'<tr id="segment-(\d+)"', edited) == ["3"]
    assert (await client.get(f"/projects/{pid}/chapters/1?show=odd")).status_code == 422


async def test_chapter_cards_link_to_their_flagged_segments(client, web_settings):
    """Only the flag on the audio in use counts (segment 4's was on an old take), and only
    while the project has speech QA on."""
    pid = studio_project(web_settings)
    pages = (f"/projects/{pid}", f"/projects/{pid}/_chapters/1", f"/projects/{pid}/chapters/1")
    for page in pages:  # QA off: no count is made
        assert 'data-role="flagged"' not in (await client.get(page)).text, page
    set_speech_qa(web_settings, pid, 1)
    review = f'href="/projects/{pid}/chapters/1?show=flagged">1 segment flagged by speech QA'
    for page in pages:
        assert review in (await client.get(page)).text, page
    clean = seed_project(web_settings, {"Beta": 3}, done={1: 3}, state=ProjectState.done)
    set_speech_qa(web_settings, clean, 1)
    assert 'data-role="flagged"' not in (await client.get(f"/projects/{clean}")).text


def set_speech_qa(settings, project_id: int, retakes: int | None) -> None:
    engine = make_engine(settings.database_url)
    try:
        with session_scope(engine) as session:
            project = repository.get_project(session, project_id)
            repository.set_speech_qa(project, retakes)
            session.add(project)
    finally:
        engine.dispose()


async def test_a_signed_in_page_changes_segments_with_its_csrf_token(tmp_path, sqlite_url):
    settings = production(tmp_path, sqlite_url)
    pid = seed_project(settings, {"One": 2}, done={1: 2}, state=ProjectState.done)
    transport = httpx.ASGITransport(app=create_app(settings))
    async with httpx.AsyncClient(transport=transport, base_url="https://voxflow.test") as client:
        login = await client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', login.text).group(1)
        await client.post(
            "/login", data={"csrf_token": token, "username": "maren", "password": "gull-point"}
        )
        page = await client.get(f"/projects/{pid}/chapters/1")
        csrf = re.search(r'data-csrf="([^"]+)"', page.text).group(1)
        url = f"/api/projects/{pid}/chapters/1/segments/0/approve"
        assert (await client.post(url)).status_code == 403
        approved = await client.post(url, headers={"X-CSRF-Token": csrf})
        assert approved.status_code == 200 and approved.json()["approved"] is True
    engine = make_engine(settings.database_url)
    with session_scope(engine) as session:
        chapter = repository.get_chapter(session, pid, 1)
        row = session.exec(select(Segment).where(Segment.chapter_id == chapter.id)).first()
        assert row.approved_key == row.audio_key
    engine.dispose()
