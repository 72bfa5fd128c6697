"""EPUB front and back matter over the API: the preview says what is skipped, the flag keeps it,
and the project row remembers the choice for the workflow's import."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session

from voxflow.db import make_engine
from voxflow.db.models import Project

SHERLOCK = Path(__file__).parents[1] / "assets" / "standardebooks-sherlock-holmes.epub"
EPUB_TYPE = "application/epub+zip"


def _upload() -> dict:
    return {"file": (SHERLOCK.name, SHERLOCK.read_bytes(), EPUB_TYPE)}


async def test_parse_lists_the_skipped_sections_and_the_flag_brings_them_back(client):
    preview = (await client.post("/api/parse", files=_upload())).json()
    assert len(preview["chapters"]) == 12
    assert preview["chapters"][0]["title"] == "A Scandal in Bohemia"
    reasons = {s["title"]: s["reason"] for s in preview["skipped"]}
    assert any("imprint" in r for r in reasons.values()), reasons
    assert any("colophon" in r for r in reasons.values()), reasons

    data = {"include_front_matter": "true"}
    kept = (await client.post("/api/parse", files=_upload(), data=data)).json()
    assert len(kept["chapters"]) == 16
    assert not any("imprint" in s["reason"] for s in kept["skipped"])


async def test_the_project_remembers_the_choice_for_its_import(client, web_settings):
    default = (await client.post("/api/projects", files=_upload())).json()
    flagged = await client.post(
        "/api/projects", files=_upload(), data={"include_front_matter": "true"}
    )
    assert flagged.status_code == 201, flagged.text
    engine = make_engine(web_settings.database_url)
    try:
        with Session(engine) as session:
            assert session.get(Project, default["id"]).include_front_matter is False
            assert session.get(Project, flagged.json()["id"]).include_front_matter is True
    finally:
        engine.dispose()
