"""The chapter editor in a real browser (Debian's Chromium via Playwright) on the real stack.

uvicorn serves the app, the Temporal dev server, the in-process worker and TorchServe convert a
short pasted story. On the chapter page the test edits one sentence and saves it: the page
starts the re-render itself and follows it over server-sent events, so the row gets its new
audio without a reload; only that sentence is synthesised again. Then it approves the row.
Screenshots land in test-artifacts/web/ (studio-*.png).
"""

from __future__ import annotations

import pytest

from tests.helpers.conversions import snapshot
from tests.plugins.temporal import make_settings, running_worker
from tests.web.conftest import serve, wait_until
from tests.web.test_browser import CHROMIUM, CHROMIUM_ARGS, require_chromium, shot
from voxflow import takes
from voxflow.db import make_engine, session_scope
from voxflow.registry import load_registry
from voxflow.synthesis import audio_key_for
from web import create_app

pytestmark = pytest.mark.integration

STORY = """# The Harbour

## Morning

The boats came in at dawn. Gulls circled over the quay. Maren counted the nets twice.
The bell rang for breakfast.
"""
NEW_TEXT = "Seabirds wheeled above the quiet harbour wall."
# Load the row's audio and play it: its duration, and where playback got to.
PLAY_JS = """async (index) => {
  const audio = document.querySelector(`#segment-${index} audio`);
  if (audio.readyState < 1) {
    await new Promise((resolve, reject) => {
      audio.addEventListener("loadedmetadata", resolve, { once: true });
      audio.addEventListener("error", () => reject(new Error("audio failed to load")));
      audio.load();
    });
  }
  await audio.play();
  await new Promise((resolve, reject) => {
    const check = () => audio.currentTime > 0 ? resolve() : null;
    audio.addEventListener("timeupdate", check);
    setTimeout(() => reject(new Error("playback did not advance in 20 s")), 20000);
  });
  audio.pause();
  return { src: audio.getAttribute("src"), duration: audio.duration, played: audio.currentTime };
}"""


def history(settings, project_id: int, chapter: int) -> dict[int, list[str]]:
    """Each segment's take history (audio keys, oldest first)."""
    engine = make_engine(settings.database_url)
    try:
        with session_scope(engine) as session:
            rows = snapshot(settings, project_id)[2][chapter]
            return {
                s.index: [t.audio_key for t in takes.history(session, project_id, chapter, s.index)]
                for s in rows
            }
    finally:
        engine.dispose()


def project_state(settings, project_id: int) -> str:
    return snapshot(settings, project_id)[0].state.value


async def test_edit_a_sentence_and_hear_it_rerendered_live(tmp_path, temporal_address, torchserve):
    require_chromium()
    from playwright.async_api import async_playwright, expect

    expect.set_options(timeout=180_000)  # real conversions, not timed assertions
    settings = make_settings(
        tmp_path / "data", temporal_address, torchserve, job_max_segments=2, web_poll_s=0.3
    )
    async with running_worker(settings), async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[*CHROMIUM_ARGS, "--autoplay-policy=no-user-gesture-required"],
        )
        with serve(create_app(settings)) as base:
            page = await browser.new_page(viewport={"width": 1400, "height": 900})
            page.set_default_timeout(180_000)

            # 1. Paste the story, start it, wait for the first conversion to finish.
            await page.goto(f"{base}/projects/new")
            await page.fill("#text", STORY)
            await page.click("#preview")
            await page.click("#start")
            project_id = int(page.url.rsplit("/", 1)[-1])
            await expect(page.locator("#project-state")).to_have_text("done")
            before = snapshot(settings, project_id)[2][1]
            target = next(s for s in before if s.text.startswith("Gulls"))
            takes_before = history(settings, project_id, 1)
            assert all(len(keys) == 1 for keys in takes_before.values()), takes_before

            # 2. The chapter page lists the sentences with their audio.
            await page.goto(f"{base}/projects/{project_id}/chapters/1")
            row = page.locator(f"#segment-{target.index}")
            await expect(page.locator("#segments tbody tr")).to_have_count(len(before))
            await expect(row.locator(".badge").first).to_have_text("done")
            old_src = await row.locator("audio").get_attribute("src")
            await page.evaluate("window.studioPage = 'not reloaded'")
            await shot(page, "studio-1-chapter")

            # 3. Edit the sentence inline and save: the page starts the re-render itself.
            await row.get_by_role("button", name="Edit").click()
            editor = row.get_by_label(f"New text for segment {target.index}")
            await editor.fill(NEW_TEXT)
            await shot(page, "studio-2-editing")
            await row.get_by_role("button", name="Save").click()
            await expect(row.locator("[data-role=text]")).to_have_text(NEW_TEXT)
            await expect(row.locator("[data-flag=edited]")).to_be_visible()

            # 4. The row follows the render live: new audio, nothing left to render, done.
            await expect(row.locator("audio")).not_to_have_attribute("src", old_src)
            await expect(row.locator("[data-flag=stale]")).to_have_count(0)
            await expect(row.locator(".badge").first).to_have_text("done")
            await wait_until(lambda: project_state(settings, project_id) == "done", timeout_s=180)
            await expect(page.locator("#studio")).to_have_attribute("data-project-state", "done")
            assert await page.evaluate("window.studioPage") == "not reloaded"
            played = await page.evaluate(PLAY_JS, target.index)
            assert played["src"] != old_src and played["played"] > 0
            await shot(page, "studio-3-rerendered")

            # Only that sentence was synthesised again: its history has a second take, every
            # other segment kept its audio and its single take.
            after = {s.index: s for s in snapshot(settings, project_id)[2][1]}
            voice = load_registry(settings).get("joe")
            edited = after[target.index]
            assert edited.text == NEW_TEXT and edited.audio_key == audio_key_for(voice, NEW_TEXT)
            assert played["duration"] == pytest.approx(edited.duration_s, abs=0.1)
            takes_after = history(settings, project_id, 1)
            assert takes_after[target.index] == [target.audio_key, edited.audio_key]
            for s in before:
                if s.index != target.index:
                    assert after[s.index].audio_key == s.audio_key, s.index
                    assert takes_after[s.index] == takes_before[s.index], s.index

            # 5. The take history lists both renderings, the new one in use.
            await row.locator("details.takes summary").click()
            entries = row.locator("[data-role=take-list] li")
            await expect(entries).to_have_count(2)
            await expect(entries.nth(1)).to_contain_text("in use")
            await expect(entries.nth(0).get_by_role("button", name="Use")).to_be_visible()

            # 6. Approve the new take: the row says so and the database locks its audio.
            await row.get_by_role("button", name="Approve").click()
            await expect(row.locator("[data-flag=approved]")).to_be_visible()
            await expect(row.get_by_role("button", name="Unlock")).to_be_visible()
            await expect(row.get_by_role("button", name="Edit")).to_be_disabled()
            approved = snapshot(settings, project_id)[2][1][target.index]
            assert approved.approved_key == edited.audio_key
            await shot(page, "studio-4-approved")
        await browser.close()
