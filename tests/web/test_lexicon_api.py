"""The lexicon API: preview what an entry touches, save, list, export, import, remove, and the
rerender action's refusal while a project runs (Temporal is down in these tests)."""

from __future__ import annotations

from tests.web.seeding import seed_project
from voxflow.db.models import ProjectState
from voxflow.lexicon import Entry, to_pls


async def test_preview_then_save_a_project_entry(client, web_settings):
    pid = seed_project(web_settings, {"Alpha": 3, "Beta": 2}, state=ProjectState.done)
    entry = [{"term": "beta", "replacement": "bay-tuh"}]
    preview = await client.post(f"/api/lexicon/preview?project_id={pid}", json=entry)
    assert preview.status_code == 200, preview.text
    body = preview.json()
    assert body["touched"] == 2
    assert body["segments"][0] == {
        "chapter_index": 2,
        "segment_index": 0,
        "text": "Beta sentence 0.",
        "spoken": "bay-tuh sentence 0.",
    }
    assert (await client.get(f"/api/lexicon?project_id={pid}")).json() == []

    saved = await client.put(f"/api/lexicon?project_id={pid}", json=entry)
    assert saved.json()["touched"] == 2
    listed = (await client.get(f"/api/lexicon?project_id={pid}")).json()
    assert [(e["term"], e["kind"]) for e in listed] == [("beta", "respell")]
    again = await client.post(f"/api/lexicon/preview?project_id={pid}", json=entry)
    assert again.json()["touched"] == 0, "saved already: nothing more would change"


async def test_import_export_and_remove_in_the_shared_lexicon(client, web_settings):
    seed_project(web_settings, {"Alpha": 2}, state=ProjectState.done)
    pls = to_pls([Entry("Alpha", "Al-fa"), Entry("sentence", "sen-tence")])
    imported = await client.post(
        "/api/lexicon/import", files={"file": ("names.pls", pls, "application/pls+xml")}
    )
    assert imported.status_code == 200, imported.text
    assert imported.json()["touched"] == 2
    exported = await client.get("/api/lexicon/export?format=csv")
    assert exported.text.splitlines()[1:] == [
        "Alpha,Al-fa,respell,no",
        "sentence,sen-tence,respell,no",
    ]
    assert (await client.delete("/api/lexicon/Alpha")).json() == {"removed": 1}
    assert [e["term"] for e in (await client.get("/api/lexicon")).json()] == ["sentence"]


async def test_a_bad_lexicon_file_is_refused_with_the_reason(client):
    response = await client.post(
        "/api/lexicon/import", files={"file": ("names.csv", b"a,b\n", "text/csv")}
    )
    assert response.status_code == 400 and "header row" in response.json()["detail"]


async def test_rerender_needs_temporal(client, web_settings):
    pid = seed_project(web_settings, {"Alpha": 2}, state=ProjectState.done)
    response = await client.post(f"/api/projects/{pid}/rerender")
    assert response.status_code == 503


async def test_approve_and_unlock_a_segment(client, web_settings):
    pid = seed_project(web_settings, {"Alpha": 3}, done={1: 2}, state=ProjectState.running)
    base = f"/api/projects/{pid}/chapters/1/segments"
    approved = await client.post(f"{base}/1/approve")
    assert approved.status_code == 200 and approved.json()["approved"] is True
    page = (await client.get(f"/api/projects/{pid}/chapters/1/segments")).json()
    assert [s["approved"] for s in page["items"]] == [False, True, False]
    assert (await client.post(f"{base}/1/unlock")).json()["approved"] is False
    pending = await client.post(f"{base}/2/approve")
    assert pending.status_code == 400 and "no audio yet" in pending.json()["detail"]


async def test_edit_retake_and_takes_over_the_api(client, web_settings):
    pid = seed_project(web_settings, {"Alpha": 3}, done={1: 3}, state=ProjectState.done)
    base = f"/api/projects/{pid}/chapters/1/segments"
    edited = await client.post(f"{base}/0/text", json={"text": "  Alpha, said   again. "})
    assert edited.status_code == 200 and edited.json()["text"] == "Alpha, said again."
    too_long = await client.post(f"{base}/0/text", json={"text": "word " * 100})
    assert too_long.status_code == 400 and "at most 400" in too_long.json()["detail"]
    assert (await client.get(f"{base}/1/takes")).json() == []
    no_take = await client.post(f"{base}/1/takes/1/use")
    assert no_take.status_code == 400 and "has 0 takes" in no_take.json()["detail"]
    await client.post(f"{base}/2/approve")
    locked = await client.post(f"{base}/2/retake")
    assert locked.status_code == 400 and "unlock it" in locked.json()["detail"]
    assert (await client.post(f"{base}/1/retake")).status_code == 200
