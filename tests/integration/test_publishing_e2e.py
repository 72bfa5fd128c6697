"""A real EPUB through the real stack into a publishable audiobook (issue: read-along and
publishing): front matter skipped by structure, ACX credits, tags and cover, the read-along
EPUB 3 passing EPUBCheck, and the ACX deliverable folder.

The book is the Standard Ebooks "Adventures of Sherlock Holmes", each story cut to the first
two sentences of its first paragraph so the run stays short; its structure is untouched.
"""

from __future__ import annotations

import base64
import json
import subprocess
import zipfile
from pathlib import Path

import pytest

from bench.books import SHERLOCK, short_sherlock
from tests.helpers.conversions import project_result
from tests.plugins.temporal import make_settings, running_worker
from voxflow.artifacts import open_store
from voxflow.cli.convert import export_outputs
from voxflow.conversion import connect, start_conversion_bytes
from voxflow.cover import Cover
from voxflow.db import make_engine
from voxflow.publishing import run_epubcheck

# A 1x1 PNG: the cover the user gives (the asset's own cover is an SVG, which is skipped).
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
)
pytestmark = pytest.mark.integration


def _tags(path: Path) -> tuple[dict, list[dict]]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_format", "-show_streams", "-of", "json", str(path)],
        capture_output=True,
        check=True,
        text=True,
    ).stdout
    probe = json.loads(out)
    tags = {k.lower(): v for k, v in probe["format"].get("tags", {}).items()}
    return tags, probe["streams"]


@pytest.fixture(scope="module")
async def published(tmp_path_factory, temporal_address, torchserve):
    """The short Sherlock converted with ACX credits and a cover, exported with `acx/`."""
    root = tmp_path_factory.mktemp("publishing")
    settings = make_settings(root / "data", temporal_address, torchserve)
    async with running_worker(settings):
        client = await connect(settings)
        started = await start_conversion_bytes(
            settings,
            short_sherlock(sentences=2),
            SHERLOCK.name,
            client=client,
            cover=Cover(PNG, "image/png"),
            acx_credits=True,
        )
        result = await project_result(client, started.workflow_id, 600)
        assert result.state == "done", result
    engine = make_engine(settings.database_url)
    try:
        files = export_outputs(settings, engine, started.project_id, root / "out", acx=True)
    finally:
        engine.dispose()
    manifest = json.loads(open_store(settings).get(f"projects/{started.project_id}/manifest.json"))
    return root / "out", files, manifest


async def test_front_matter_is_skipped_and_the_credits_frame_the_stories(published):
    _, _, manifest = published
    titles = [c["title"] for c in manifest["chapters"]]
    assert titles[0] == "Opening Credits" and titles[-1] == "Closing Credits"
    assert titles[1] == "A Scandal in Bohemia" and len(titles) == 14
    assert not {"Imprint", "Colophon", "Uncopyright"} & set(titles)
    opening = manifest["chapters"][0]["segments"]
    assert any("Arthur Conan Doyle" in s["text"] for s in opening)


async def test_the_m4b_and_mp3s_carry_tags_and_the_cover(published):
    out, _, manifest = published
    tags, streams = _tags(out / manifest["book"]["file"])
    assert tags["artist"] == "Arthur Conan Doyle" and tags["genre"] == "Audiobook"
    assert "joe" in tags["composer"]
    assert any(s.get("disposition", {}).get("attached_pic") for s in streams)
    second = out / manifest["chapters"][1]["audio_file"]
    chapter_tags, chapter_streams = _tags(second)
    assert chapter_tags["track"] == "2/14" and chapter_tags["title"] == "A Scandal in Bohemia"
    assert any(s["codec_type"] == "video" for s in chapter_streams)  # the APIC cover


async def test_the_read_along_epub_passes_epubcheck(published):
    out, _, manifest = published
    epub = out / manifest["read_along"]["file"]
    report = run_epubcheck(epub)
    assert report.ok, report.messages
    with zipfile.ZipFile(epub) as archive:
        names = archive.namelist()
        story = archive.read("EPUB/source/epub/text/a-scandal-in-bohemia.xhtml").decode()
    assert sum(n.endswith(".smil") for n in names) == 14
    # The stories are the source's own pages (its markup and CSS kept), with sentence spans.
    assert '<span id="s0">To Sherlock Holmes she is always the woman.</span>' in story, story
    assert '<h2 epub:type="title">A Scandal in Bohemia</h2>' in story
    assert any(n.startswith("EPUB/source/") and n.endswith(".css") for n in names)


async def test_the_acx_folder_numbers_the_files_and_holds_the_report(published):
    out, _, manifest = published
    acx = sorted(p.name for p in (out / "acx").iterdir())
    assert acx[0] == "01_Opening_Credits.mp3" and acx[1] == "02_A_Scandal_in_Bohemia.mp3"
    assert "14_Closing_Credits.mp3" in acx and "acx-report.html" in acx
    report = (out / "acx" / "acx-report.html").read_text(encoding="utf-8")
    passed = sum(c["loudness"]["acx_passed"] for c in manifest["chapters"])
    assert report.count('<tr class="pass">') == passed > 0
    assert (out / "acx-report.html").is_file()
