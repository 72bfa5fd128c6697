"""The ACX deliverable: chapter files named and numbered in reading order, and a readable report.

ACX takes one file per chapter, with the opening and closing credits as files of their own, and
checks each against its levels (RMS, peak, noise floor, room tone, MP3 at 44.1 kHz / 192 kbps).
The report shows each file's figures and verdict from the manifest, which the chapter assembly
measured on what it encoded.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping

from voxflow.audio.acx import (
    MP3_MIN_BITRATE,
    MP3_SAMPLE_RATE,
    NOISE_FLOOR_MAX_DB,
    PEAK_MAX_DB,
    RMS_RANGE_DB,
)


def acx_file_name(position: int, title: str, ext: str) -> str:
    """`01_Opening_Credits.mp3`: the position in reading order, then the title's words."""
    words = re.findall(r"[A-Za-z0-9]+", title)
    return f"{position:02d}_{'_'.join(words) or 'Chapter'}.{ext}"


def acx_file_names(manifest: Mapping) -> dict[int, str]:
    """Manifest chapter index → its ACX file name, numbered from 1 in reading order."""
    ext = manifest.get("format", "mp3")
    return {
        chapter["index"]: acx_file_name(position, chapter["title"], ext)
        for position, chapter in enumerate(manifest["chapters"], start=1)
    }


def _figure(value: float | None, unit: str) -> str:
    return "–" if value is None else f"{value:.1f} {unit}"


def _row(name: str, chapter: Mapping) -> str:
    levels = chapter["loudness"]
    passed = levels["acx_passed"]
    verdict = "passes" if passed else "; ".join(levels["acx_problems"])
    cells = [
        name,
        chapter["title"],
        f"{chapter['duration_s'] / 60:.1f} min",
        _figure(levels["rms_db"], "dB"),
        _figure(levels["peak_db"], "dB"),
        _figure(levels["noise_floor_db"], "dB"),
        verdict,
    ]
    status = "pass" if passed else "fail"
    return f'<tr class="{status}">' + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>"


def acx_report_html(manifest: Mapping) -> str:
    """A standalone HTML page: the ACX requirements, then one row per chapter file."""
    names = acx_file_names(manifest)
    chapters = manifest["chapters"]
    failing = [c for c in chapters if not c["loudness"]["acx_passed"]]
    title = html.escape(manifest["project"]["title"])
    summary = (
        f"All {len(chapters)} files pass the ACX checks."
        if not failing
        else f"{len(failing)} of {len(chapters)} files fail an ACX check: see below."
    )
    low, high = RMS_RANGE_DB
    rows = "\n".join(_row(names[c["index"]], c) for c in chapters)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>ACX report: {title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; }}
table {{ border-collapse: collapse; }} td, th {{ border: 1px solid #ccc; padding: .3rem .6rem; }}
tr.fail td {{ background: #fde8e8; }} tr.pass td:last-child {{ color: #1a7f37; }}
</style></head><body>
<h1>ACX report: {title}</h1>
<p id="summary">{html.escape(summary)}</p>
<p>ACX asks for: RMS between {low:.0f} and {high:.0f} dB, peaks at most {PEAK_MAX_DB:.0f} dB,
a noise floor at most {NOISE_FLOOR_MAX_DB:.0f} dB, 0.5–1 s of room tone at the head and 1–5 s
at the tail, and MP3 at {MP3_SAMPLE_RATE} Hz and at least {MP3_MIN_BITRATE // 1000} kbps,
one file per chapter with the credits as files of their own. Figures are of the audio as
encoded.</p>
<table>
<thead><tr><th>File</th><th>Chapter</th><th>Length</th><th>RMS</th><th>Peak</th>
<th>Noise floor</th><th>ACX</th></tr></thead>
<tbody>
{rows}
</tbody></table>
</body></html>
"""
