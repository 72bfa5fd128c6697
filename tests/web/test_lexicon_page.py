"""The lexicon page: preview the segments an entry touches, save it, and ask for a re-render."""

from __future__ import annotations

import re

from tests.web.seeding import seed_project
from voxflow.db.models import ProjectState


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


async def test_preview_save_and_rerender_from_the_page(client, web_settings):
    pid = seed_project(
        web_settings, {"Alpha": 3, "Beta": 2}, finished=True, state=ProjectState.done
    )
    project = await client.get(f"/projects/{pid}")
    assert f'href="/projects/{pid}/lexicon"' in project.text
    page = await client.get(f"/projects/{pid}/lexicon")
    assert page.status_code == 200 and "No entries yet." in page.text
    token = csrf_of(page.text)
    entry = {"csrf_token": token, "term": "beta", "replacement": "bay-tuh"}

    preview = await client.post(f"/projects/{pid}/lexicon", data={**entry, "action": "preview"})
    assert "Touches 2 segments" in preview.text and "bay-tuh sentence 1." in preview.text
    assert "No entries yet." in preview.text, "a preview saves nothing"

    saved = await client.post(f"/projects/{pid}/lexicon", data={**entry, "action": "save"})
    assert "Saved: touches 2 segments" in saved.text
    assert "<td>beta</td><td>bay-tuh</td><td>respell</td><td>any</td><td>project</td>" in saved.text

    refused = await client.post(f"/projects/{pid}/lexicon", data={**entry, "csrf_token": ""})
    assert refused.status_code == 403
    rerender = await client.post(f"/projects/{pid}/rerender", data={"csrf_token": token})
    assert rerender.status_code == 503 and "Temporal" in rerender.text
