"""A real browser (Debian's Chromium via Playwright) against a real running stack.

uvicorn serves the app on a free port; the Temporal dev server, the in-process worker and
TorchServe do the conversion. The sample book is uploaded with a voice that is unregistered
after chapter 1, so later chapters fail; the test re-registers it and replays them from the
page, then checks the progress reaches 100% and a chapter's <audio> has a duration.
Screenshots of every page land in test-artifacts/web/.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.plugins.services import missing
from tests.plugins.temporal import make_settings, running_worker
from tests.web.conftest import serve, wait_until
from voxflow.db import make_engine, repository, session_scope
from voxflow.settings import Settings
from web import create_app

pytestmark = pytest.mark.integration

ROOT = Path(__file__).parents[2]
SAMPLE = ROOT / "examples" / "the-lighthouse-keeper.md"
SHOTS = ROOT / "test-artifacts" / "web"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
FLAKY = "joe-webflaky"
REGISTRY = f"""voices:
  - {{name: joe, version: '1.0', handler: piper, pool: cpu, sample_rate: 22050, max_chars: 400,
     params: {{length_scale: 1.0}}, description: Piper en_US joe (medium)}}
  - {{name: {FLAKY}, version: '1.0', handler: piper, pool: cpu, sample_rate: 22050,
     max_chars: 400, params: {{length_scale: 1.0}}, description: joe under a name the test removes}}
"""
AUDIO_DURATION_JS = """async (index) => {
  const audio = document.querySelector(`audio[data-chapter="${index}"]`);
  if (audio.readyState < 1) {
    await new Promise((resolve, reject) => {
      audio.addEventListener("loadedmetadata", resolve, { once: true });
      audio.addEventListener("error", () => reject(new Error("audio failed to load")));
      audio.load();
    });
  }
  return audio.duration;
}"""


def require_chromium() -> None:
    if CHROMIUM.exists():
        return
    missing(f"{CHROMIUM} is missing (apt-get install chromium; scripts/install.sh does it)")


def chapters(settings: Settings, project_id: int) -> dict[int, object]:
    engine = make_engine(settings.database_url)
    try:
        with session_scope(engine) as session:
            return {c.index: c for c in repository.list_chapters(session, project_id)}
    except repository.NotFound:
        return {}
    finally:
        engine.dispose()


async def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


async def test_upload_convert_listen_and_replay_in_a_browser(
    tmp_path, temporal_address, torchserve
):
    require_chromium()
    from playwright.async_api import async_playwright, expect

    expect.set_options(timeout=180_000)  # a real conversion, not a timed assertion

    registry = tmp_path / "models.yaml"
    registry.write_text(REGISTRY)
    settings = make_settings(
        tmp_path / "data", temporal_address, torchserve,
        model_registry=registry, job_max_segments=2, job_window=1, max_parallel_chapters=1,
        activity_max_attempts=2, web_poll_s=0.3,
    )  # fmt: skip
    management = httpx.Client(base_url=torchserve.management_url, timeout=120)

    def register() -> None:
        params = {"url": "joe-1.0.mar", "model_name": FLAKY, "initial_workers": 1}
        response = management.post("/models", params={**params, "synchronous": "true"})
        assert response.status_code == 200, response.text

    register()
    try:
        async with (
            running_worker(settings),
            async_playwright() as playwright,
        ):
            browser = await playwright.chromium.launch(
                executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
            )
            with serve(create_app(settings)) as base:
                page = await browser.new_page(viewport={"width": 1200, "height": 900})
                page.set_default_timeout(180_000)

                # 1. Upload the sample with the voice that will go away.
                await page.goto(f"{base}/projects/new")
                await page.set_input_files("#file", str(SAMPLE))
                await page.select_option("#voice", FLAKY)
                await shot(page, "1-new-project")
                await page.click("#preview")
                await expect(page.locator("#preview-table")).to_contain_text("The Storm")
                await shot(page, "2-parse-preview")
                project_id = int(page.url.rsplit("/", 1)[-1])

                # 2. Start; once chapter 1 is done, pull the voice so chapters 2 and 3 fail.
                await page.click("#start")
                await wait_until(
                    lambda: (c := chapters(settings, project_id).get(1)) and c.state == "done",
                    timeout_s=180,
                )
                response = management.delete(f"/models/{FLAKY}/1.0")
                assert response.status_code == 200, response.text

                # The page learns of the failure live (server-sent events), without a reload.
                await expect(page.locator("#project-state")).to_have_text("attention")
                await expect(page.locator("button.replay[data-chapter='2']")).to_be_visible()
                await expect(page.locator("#toasts")).to_contain_text("failed")
                await expect(page.locator("#chapter-2 [data-role=error]")).to_contain_text(FLAKY)
                await shot(page, "3-chapters-failed")
                failed = [
                    i for i, c in chapters(settings, project_id).items() if c.state == "failed"
                ]
                assert 2 in failed and 1 not in failed

                # 3. Bring the voice back and replay each failed chapter from its button.
                register()
                for index in failed:
                    await page.click(f"button.replay[data-chapter='{index}']")
                    await page.wait_for_url(f"**/projects/{project_id}*")

                # 4. Progress reaches 100% and the project says it is finished.
                await expect(page.locator("#project-progress-label")).to_contain_text("100%")
                await expect(page.locator("#project-state")).to_have_text("done")
                await expect(page.locator("#toasts")).to_contain_text("is finished")
                await expect(page.locator("#book")).to_be_visible()

                # 5. Each chapter's <audio> loads (Range-served) with a real duration.
                rows = chapters(settings, project_id)
                for index, row in rows.items():
                    duration = await page.evaluate(AUDIO_DURATION_JS, index)
                    assert duration == pytest.approx(row.duration_s, abs=0.1), index
                await page.evaluate(
                    "document.querySelector('audio[data-chapter=\"1\"]').currentTime = 3"
                )
                await shot(page, "4-project-done")

                # 6. The chapter page lists its segments with their audio.
                await page.click("#chapter-1 a.title")
                segments = page.locator("#segments tbody tr")
                await expect(segments).to_have_count(rows[1].segment_count)
                await expect(page.locator("#segments tbody tr .badge").first).to_have_text("done")
                await shot(page, "5-chapter")
                await page.goto(f"{base}/")
                await expect(page.locator("#projects")).to_contain_text("The Lighthouse Keeper")
                await shot(page, "6-projects")
            await browser.close()
    finally:
        management.delete(f"/models/{FLAKY}/1.0")
        management.close()
