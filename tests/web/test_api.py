"""The JSON API on SQLite and PostgreSQL, with projects seeded straight into the database.

Temporal points at a dead port here, which is also the "Temporal is down" case: the app must
keep serving database state and answer 503 only for what needs Temporal.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

from tests.web.seeding import FAKE_AUDIO, seed_project
from voxflow.artifacts import open_store
from voxflow.db.models import ProjectState
from web.service import safe_filename

SAMPLE = Path(__file__).parents[2] / "examples" / "the-lighthouse-keeper.md"


async def test_list_and_status_come_from_the_database(client, web_settings):
    done_id = seed_project(
        web_settings, {"One": 4, "Two": 6}, finished=True, state=ProjectState.done
    )
    busy_id = seed_project(web_settings, {"One": 4, "Two": 6, "Three": 2}, done={1: 4, 2: 3})

    listing = (await client.get("/api/projects")).json()
    assert [p["id"] for p in listing["items"]] == [busy_id, done_id]
    busy = listing["items"][0]
    assert (busy["done"], busy["segment_count"], busy["percent"]) == (7, 12, 58.3)

    status = await client.get(f"/api/projects/{busy_id}")
    assert status.status_code == 200
    body = status.json()
    assert body["state"] == "running" and body["started"] is True
    assert body["temporal"]["available"] is False
    assert "Temporal is unavailable" in body["temporal"]["message"]
    assert [(c["index"], c["state"], c["done"]) for c in body["chapters"]] == [
        (1, "running", 4),
        (2, "running", 3),
        (3, "pending", 0),
    ]
    assert body["temporal_url"].endswith(f"/workflows/project-{busy_id}")
    assert body["chapters"][1]["temporal_url"].endswith(f"/workflows/project-{busy_id}%2Fchapter-2")
    assert body["book_url"] is None

    done = (await client.get(f"/api/projects/{done_id}")).json()
    assert done["book_url"] == f"/api/projects/{done_id}/book"
    assert done["chapters"][0]["audio_url"] == f"/api/projects/{done_id}/chapters/1/audio"

    page = await client.get(f"/api/projects?limit=1&before={busy_id}")
    assert [p["id"] for p in page.json()["items"]] == [done_id]


async def test_segments_are_paged_by_key(client, web_settings):
    pid = seed_project(web_settings, {"Long": 250}, done={1: 120}, failed={1: "model refused"})
    url = f"/api/projects/{pid}/chapters/1/segments"

    first = (await client.get(url, params={"limit": 100})).json()
    assert [s["index"] for s in first["items"]] == list(range(100))
    assert (first["next_start"], first["prev_start"], first["last_start"]) == (100, None, 150)
    assert first["total"] == 250
    # The audio URL names the take (a digest of its key), so browsers never replay a cached one.
    assert "/chapters/1/segments/0/audio?v=" in first["items"][0]["audio_url"]

    second = (await client.get(url, params={"limit": 100, "start": 100})).json()
    assert second["items"][0]["index"] == 100 and second["prev_start"] == 0
    last = (await client.get(url, params={"limit": 100, "start": 200})).json()
    assert [s["index"] for s in last["items"]] == list(range(200, 250))
    assert last["next_start"] is None

    failed = (await client.get(url, params={"status": "failed", "limit": 500})).json()
    assert [s["index"] for s in failed["items"]] == list(range(120, 250))
    assert failed["items"][0]["error"] == "boom" and failed["items"][0]["audio_url"] is None

    assert (await client.get(url, params={"status": "nonsense"})).status_code == 422
    assert (await client.get(url, params={"limit": 501})).status_code == 422


async def test_downloads_stream_with_range(client, web_settings):
    pid = seed_project(web_settings, {"One": 3}, finished=True, state=ProjectState.done)
    audio = f"/api/projects/{pid}/chapters/1/audio"

    whole = await client.get(audio)
    assert whole.status_code == 200 and whole.content == FAKE_AUDIO
    assert whole.headers["content-type"] == "audio/mpeg"
    assert whole.headers["accept-ranges"] == "bytes"
    assert whole.headers["content-disposition"].startswith("inline")

    part = await client.get(audio, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206
    assert part.headers["content-range"] == f"bytes 100-199/{len(FAKE_AUDIO)}"
    assert part.content == FAKE_AUDIO[100:200]
    tail = await client.get(audio, headers={"Range": "bytes=-10"})
    assert tail.status_code == 206 and tail.content == FAKE_AUDIO[-10:]

    beyond = await client.get(audio, headers={"Range": f"bytes={len(FAKE_AUDIO) + 5}-"})
    assert beyond.status_code == 416
    assert beyond.headers["content-range"] == f"bytes */{len(FAKE_AUDIO)}"
    assert (await client.get(audio, headers={"Range": "pages=1-2"})).status_code == 400

    vtt = await client.get(f"/api/projects/{pid}/chapters/1/subtitles")
    assert vtt.headers["content-type"].startswith("text/vtt") and vtt.text.startswith("WEBVTT")
    book = await client.get(f"/api/projects/{pid}/book")
    assert book.status_code == 200 and book.headers["content-type"] == "audio/mp4"
    assert book.headers["content-disposition"].startswith("attachment")
    manifest = await client.get(f"/api/projects/{pid}/manifest")
    assert manifest.json() == {"schema_version": 1}
    segment = await client.get(f"/api/projects/{pid}/chapters/1/segments/2/audio")
    assert segment.status_code == 200 and segment.headers["content-type"] == "audio/wav"

    busy = seed_project(web_settings, {"One": 3})
    missing = await client.get(f"/api/projects/{busy}/chapters/1/audio")
    assert missing.status_code == 404 and "not available yet" in missing.json()["detail"]
    assert (await client.get(f"/api/projects/{busy}/book")).status_code == 404
    assert (
        await client.get(f"/api/projects/{pid}/chapters/1/segments/99/audio")
    ).status_code == 404


async def test_create_from_upload_and_paste_shows_the_parse_preview(client, web_settings):
    response = await client.post(
        "/api/projects",
        files={"file": (SAMPLE.name, SAMPLE.read_bytes(), "text/markdown")},
        data={"voice": "joe", "output_format": "ogg"},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["state"] == "pending" and body["started"] is False
    assert body["title"] == "The Lighthouse Keeper" and body["output_format"] == "ogg"
    preview = body["preview"]
    assert [c["title"] for c in preview["chapters"]] == [
        "The Keeper of Gull Point",
        "The Storm",
        "Morning",
    ]
    assert preview["segments"] == sum(c["segments"] for c in preview["chapters"]) > 50
    store = open_store(web_settings)
    assert store.get(f"projects/{body['id']}/source/the-lighthouse-keeper.md") == (
        SAMPLE.read_bytes()
    )
    again = (await client.get(f"/api/projects/{body['id']}")).json()
    assert again["preview"] == preview

    pasted = await client.post(
        "/api/projects",
        data={"text": "Hello there. This is pasted.", "text_format": "text", "title": "My Note"},
    )
    assert pasted.status_code == 201, pasted.text
    assert pasted.json()["source_name"] == "my-note.txt"

    parsed = await client.post(
        "/api/parse", data={"text": "# A\n\n## B\n\nOne. Two.\n\n## C\n\nThree."}
    )
    assert parsed.status_code == 200
    assert [c["segments"] for c in parsed.json()["chapters"]] == [2, 1]


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("name", "data", "status", "words"),
    [
        ("empty.md", b"", 400, "empty"),
        ("blank.txt", b"   \n\n  ", 400, "empty"),
        ("binary.txt", bytes(range(256)) * 20, 400, "binary"),
        ("archive.txt", _zip({"a.txt": b"x"}), 415, "ZIP"),
        ("book.epub", b"not a zip at all", 415, "not a valid EPUB"),
        ("report.epub", _zip({"word/document.xml": b"<x/>"}), 415, "rename it to .docx"),
        ("program.exe", b"MZ\x90\x00", 415, "unsupported file type"),
        ("noextension", b"hello", 415, "unsupported file type"),
        ("only-code.md", b"```\ncode only\n```\n", 400, "no readable text"),
    ],
)
async def test_bad_uploads_get_a_clear_4xx(client, name, data, status, words):
    response = await client.post("/api/projects", files={"file": (name, data)})
    assert response.status_code == status, response.text
    assert words in response.json()["detail"]
    assert (await client.get("/api/projects")).json()["items"] == []


async def test_bad_form_fields_get_a_clear_4xx(client, web_settings):
    nothing = await client.post("/api/projects", data={"voice": "joe"})
    assert nothing.status_code == 400 and "paste some text" in nothing.json()["detail"]
    both = await client.post(
        "/api/projects", files={"file": ("a.md", b"# A\n\nText.")}, data={"text": "Text."}
    )
    assert both.status_code == 400 and "not both" in both.json()["detail"]
    voice = await client.post("/api/projects", data={"text": "Text.", "voice": "nobody"})
    assert voice.status_code == 400 and "known voices: joe" in voice.json()["detail"]
    fmt = await client.post("/api/projects", data={"text": "Text.", "output_format": "flac"})
    assert fmt.status_code == 422 and "output_format" in fmt.json()["detail"]


async def test_upload_over_the_limit_is_refused_with_413(tmp_path, sqlite_url):
    import httpx

    from tests.web.conftest import dead_temporal
    from voxflow.settings import Settings
    from web import create_app

    settings = Settings(
        data_dir=tmp_path / "d",
        database_url=sqlite_url,
        temporal_address=dead_temporal(),
        max_upload_bytes=2000,
    )
    transport = httpx.ASGITransport(app=create_app(settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        small_over = await client.post("/api/projects", files={"file": ("a.txt", b"word " * 500)})
        assert small_over.status_code == 413, small_over.text
        assert "limit" in small_over.json()["detail"]
        huge = await client.post("/api/projects", files={"file": ("a.txt", b"x" * 3_000_000)})
        assert huge.status_code == 413 and "VOXFLOW_MAX_UPLOAD_BYTES" in huge.json()["detail"]

        async def chunked():  # no Content-Length: counted while it is read
            yield b"--b\r\nContent-Disposition: form-data; name=file; filename=a.txt\r\n\r\n"
            for _ in range(40):
                yield b"y" * 65536

        streamed = await client.post(
            "/api/projects",
            content=chunked(),
            headers={"content-type": "multipart/form-data; boundary=b"},
        )
        assert streamed.status_code == 413, streamed.text
        assert "limit" in streamed.json()["detail"]


async def test_file_names_cannot_escape(client, web_settings):
    response = await client.post(
        "/api/projects", files={"file": ("../../../etc/..passwd.md", b"# T\n\nSome text.")}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["source_name"] == "passwd.md"
    root = Path(web_settings.artifacts_dir)
    stored = [p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()]
    assert sorted(stored) == [
        f"projects/{body['id']}/preview.json",
        f"projects/{body['id']}/source/passwd.md",
    ]
    assert safe_filename("..\\..\\a\x00b\x07c.md") == "abc.md"
    assert safe_filename("x" * 300 + ".epub") == "x" * 115 + ".epub"
    assert safe_filename("../..") == "upload.txt"


async def test_temporal_down_keeps_serving_and_says_so(client, web_settings):
    pending = (await client.post("/api/projects", data={"text": "# T\n\nOne. Two."})).json()
    failed = seed_project(
        web_settings, {"A": 2, "B": 2}, done={1: 2}, failed={2: "x"}, state=ProjectState.attention
    )

    start = await client.post(f"/api/projects/{pending['id']}/start")
    assert start.status_code == 503 and "Temporal is unavailable" in start.json()["detail"]
    assert (await client.get(f"/api/projects/{pending['id']}")).json()["state"] == "pending"
    assert (await client.post(f"/api/projects/{failed}/chapters/2/replay")).status_code == 503
    assert (await client.post(f"/api/projects/{failed}/cancel")).status_code == 503

    started_now = await client.post("/api/projects", data={"text": "Hi.", "start": "true"})
    assert started_now.status_code == 503
    assert len((await client.get("/api/projects")).json()["items"]) == 2, "nothing was stored"

    health = (await client.get("/api/health")).json()
    assert health == {"database": True, "temporal": health["temporal"]}
    assert health["temporal"]["available"] is False

    page = await client.get(f"/projects/{failed}")
    assert page.status_code == 200
    assert "Temporal is unavailable" in page.text and "Replay chapter 2" in page.text


async def test_state_rules_give_409_and_404(client, web_settings):
    pid = seed_project(web_settings, {"A": 2, "B": 2}, done={1: 2})
    replay = await client.post(f"/api/projects/{pid}/chapters/1/replay")
    assert replay.status_code == 409 and "only failed chapters" in replay.json()["detail"]
    assert (await client.post(f"/api/projects/{pid}/start")).status_code == 409
    assert (await client.post(f"/api/projects/{pid}/chapters/9/replay")).status_code == 404
    assert (await client.get(f"/api/projects/{pid}/chapters/9")).status_code == 404
    assert (await client.get("/api/projects/77/chapters")).status_code == 404

    pending = (await client.post("/api/projects", data={"text": "One. Two."})).json()["id"]
    cancelled = await client.post(f"/api/projects/{pending}/cancel")
    assert cancelled.status_code == 202 and cancelled.json()["state"] == "cancelled"
    assert (await client.post(f"/api/projects/{pending}/cancel")).status_code == 409
    assert (await client.post(f"/api/projects/{pending}/start")).status_code == 409


@pytest.mark.parametrize(
    "url",
    [
        "/api/projects/0",
        "/api/projects/-1",
        "/api/projects/99999999999999999999",
        "/api/projects/abc",
        "/api/projects/1/chapters/0",
        "/api/projects?limit=0",
        "/api/projects?before=99999999999999999999",
        "/projects/99999999999999999999",
    ],
)
async def test_out_of_range_ids_are_422(client, url):
    response = await client.get(url)
    assert response.status_code == 422, response.text


async def test_cross_site_posts_are_refused(client):
    response = await client.post(
        "/api/projects", data={"text": "Hi."}, headers={"Origin": "https://evil.example"}
    )
    assert response.status_code == 403 and "cross-site" in response.json()["detail"]
    same = await client.post(
        "/api/projects", data={"text": "Hi."}, headers={"Origin": "http://testserver"}
    )
    assert same.status_code == 201


async def test_openapi_documents_the_api(client):
    schema = (await client.get("/openapi.json")).json()
    paths = schema["paths"]
    assert "multipart/form-data" in paths["/api/projects"]["post"]["requestBody"]["content"]
    for path in (
        "/api/projects/{project_id}/start",
        "/api/projects/{project_id}/cancel",
        "/api/projects/{project_id}/chapters/{index}/replay",
        "/api/projects/{project_id}/chapters/{index}/segments",
        "/api/projects/{project_id}/chapters/{index}/audio",
        "/api/projects/{project_id}/events",
    ):
        assert path in paths, path
    assert "206" in paths["/api/projects/{project_id}/chapters/{index}/audio"]["get"]["responses"]
    json.dumps(schema)
