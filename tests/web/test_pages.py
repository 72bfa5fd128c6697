"""The HTML pages and their forms (CSRF-protected), on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from pathlib import Path

from tests.web.seeding import seed_project
from voxflow.db.models import ProjectState

SAMPLE = Path(__file__).parents[2] / "examples" / "the-lighthouse-keeper.md"


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


async def test_pages_render_database_state(client, web_settings):
    done = seed_project(web_settings, {"One": 3, "Two": 2}, finished=True, state=ProjectState.done)
    broken = seed_project(
        web_settings,
        {"One": 3, "Two": 300},
        done={1: 3, 2: 10},
        failed={2: "segment 10: Model not found"},
        state=ProjectState.attention,
    )

    listing = await client.get("/")
    assert listing.status_code == 200
    assert f'href="/projects/{done}"' in listing.text and "attention" in listing.text

    project = (await client.get(f"/projects/{done}")).text
    assert 'id="book"' in project and 'id="manifest"' in project
    assert f'<audio controls preload="metadata" src="/api/projects/{done}/chapters/1/audio"' in (
        project
    )
    assert f'<track kind="subtitles" src="/api/projects/{done}/chapters/1/subtitles"' in project
    assert f"workflows/project-{done}%2Fchapter-2" in project

    attention = (await client.get(f"/projects/{broken}")).text
    assert "Replay chapter 2" in attention and "Replay chapter 1" not in attention
    assert "segment 10: Model not found" in attention

    chapter = await client.get(f"/projects/{broken}/chapters/2", params={"start": 100, "limit": 50})
    assert chapter.status_code == 200
    rows = re.findall(r'<tr id="segment-(\d+)"', chapter.text)
    assert rows == [str(i) for i in range(100, 150)]
    assert 'href="?start=150&amp;limit=50" rel="next"' in chapter.text
    assert 'href="?start=50&amp;limit=50" rel="prev"' in chapter.text
    assert 'href="?start=250&amp;limit=50">Last' in chapter.text
    failed_only = await client.get(f"/projects/{broken}/chapters/2?status=failed&limit=500")
    assert len(re.findall(r'class="status-failed"', failed_only.text)) == 290

    assert (await client.get("/projects/12345")).status_code == 404
    assert "does not exist" in (await client.get("/projects/12345")).text


async def test_new_project_form_previews_then_starts(client, web_settings):
    form = await client.get("/projects/new")
    assert '<option value="joe"' in form.text
    token = csrf_of(form.text)

    refused = await client.post("/projects/new", data={"text": "Hello."})
    assert refused.status_code == 403 and "security token" in refused.text

    created = await client.post(
        "/projects/new",
        data={"csrf_token": token, "voice": "joe", "output_format": "mp3"},
        files={"file": (SAMPLE.name, SAMPLE.read_bytes(), "text/markdown")},
    )
    assert created.status_code == 303
    page = await client.get(created.headers["location"])
    assert "Parse preview" in page.text and "The Storm" in page.text
    assert 'id="start"' in page.text

    bad = await client.post(
        "/projects/new",
        data={"csrf_token": token},
        files={"file": ("x.pdf", b"%PDF-1.4")},
    )
    assert bad.status_code == 415 and "unsupported file type" in bad.text
    assert 'id="new-project"' in bad.text, "the form is shown again with the reason"

    project_id = created.headers["location"].rsplit("/", 1)[-1]
    start = await client.post(f"/projects/{project_id}/start", data={"csrf_token": token})
    assert start.status_code == 503 and "Temporal is unavailable" in start.text
    discard = await client.post(f"/projects/{project_id}/cancel", data={"csrf_token": token})
    assert discard.status_code == 303
    assert "cancelled" in (await client.get(f"/projects/{project_id}")).text


async def test_fragments_for_live_updates(client, web_settings):
    pid = seed_project(web_settings, {"One": 3}, done={1: 1})
    card = await client.get(f"/projects/{pid}/_chapters/1")
    assert card.text.lstrip().startswith('<article class="chapter card state-running"')
    summary = await client.get(f"/projects/{pid}/_summary")
    assert 'id="project-progress"' in summary.text and "33.3%" in summary.text
