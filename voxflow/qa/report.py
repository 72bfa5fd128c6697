"""QA reports for a chapter and a book: flagged segments and the spread of word error rates."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from voxflow.qa.scoring import SegmentScore

# Histogram bucket lower edges; the last bucket holds everything from 1.0 up (WER exceeds 1
# when the recogniser hears more words than the text has).
HISTOGRAM_EDGES = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0)
P90 = 90


@dataclass(frozen=True, slots=True)
class ChapterScores:
    """A chapter's segment scores, in reading order."""

    index: int
    title: str
    segments: Sequence[SegmentScore]
    # The chapter file's ACX verdict from the manifest ({"passed": bool, "problems": [...]}),
    # shown beside its speech QA; None when the chapter has no file yet.
    acx: Mapping[str, Any] | None = field(default=None)


def distribution(wers: Sequence[float]) -> dict[str, Any]:
    """Median, 90th percentile, max and a bucketed histogram of WERs (None when empty)."""
    buckets = [
        {"low": low, "high": high, "count": 0}
        for low, high in zip(HISTOGRAM_EDGES, (*HISTOGRAM_EDGES[1:], None), strict=True)
    ]
    for wer in wers:
        bucket = next(b for b in reversed(buckets) if wer >= b["low"])
        bucket["count"] += 1
    if not wers:
        return {"count": 0, "median": None, "p90": None, "max": None, "histogram": buckets}
    values = np.asarray(wers, dtype=float)
    return {
        "count": len(wers),
        "median": float(np.median(values)),
        "p90": float(np.percentile(values, P90)),
        "max": float(values.max()),
        "histogram": buckets,
    }


def chapter_report(chapter: ChapterScores) -> dict[str, Any]:
    """One chapter: how many segments, which are flagged and why, and the WER spread."""
    flagged = [s.to_dict() for s in chapter.segments if s.flagged]
    return {
        "index": chapter.index,
        "title": chapter.title,
        "segments": len(chapter.segments),
        "flagged_count": len(flagged),
        "flagged": flagged,
        "wer": distribution([s.wer for s in chapter.segments]),
        "acx": dict(chapter.acx) if chapter.acx is not None else None,
    }


def book_report(title: str, chapters: Sequence[ChapterScores], recognizer: str) -> dict[str, Any]:
    """The whole book: per-chapter reports and the WER spread over every segment."""
    every = [s for chapter in chapters for s in chapter.segments]
    return {
        "title": title,
        "recognizer": recognizer,
        "segments": len(every),
        "flagged_count": sum(s.flagged for s in every),
        "wer": distribution([s.wer for s in every]),
        "chapters": [chapter_report(chapter) for chapter in chapters],
    }


def _number(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def _summary(wer: dict[str, Any]) -> str:
    return f"median {_number(wer['median'])}, p90 {_number(wer['p90'])}, max {_number(wer['max'])}"


def _bucket_label(bucket: dict[str, Any]) -> str:
    low, high = bucket["low"], bucket["high"]
    return f"{low:.2f}+" if high is None else f"{low:.2f}–{high:.2f}"


def _histogram(wer: dict[str, Any]) -> str:
    cells = "".join(
        f"<tr><td>{_bucket_label(b)}</td><td>{b['count']}</td></tr>" for b in wer["histogram"]
    )
    return f'<table class="histogram"><tr><th>WER</th><th>segments</th></tr>{cells}</table>'


def _acx(verdict: Mapping[str, Any] | None) -> str:
    if verdict is None:
        return "ACX: no file"
    if verdict["passed"]:
        return "ACX: passes"
    return "ACX: " + html.escape("; ".join(verdict["problems"]))


def _flagged_rows(flagged: list[dict[str, Any]]) -> str:
    if not flagged:
        return "<p>No segment flagged.</p>"
    rows = "".join(
        "<tr>"
        f"<td>{s['index']}</td><td>{s['wer']:.2f}</td>"
        f"<td>{html.escape(s['expected'])}</td><td>{html.escape(s['heard'])}</td>"
        f"<td>{html.escape(s['reason'])}</td>"
        "</tr>"
        for s in flagged
    )
    return (
        '<table class="flagged"><tr><th>segment</th><th>WER</th><th>text</th>'
        f"<th>heard</th><th>reason</th></tr>{rows}</table>"
    )


def render_html(report: dict[str, Any]) -> str:
    """A standalone HTML page of a `book_report`; every text from the book is escaped."""
    title = html.escape(report["title"])
    chapters = "".join(
        f"<section><h2>{html.escape(str(c['index'] + 1))}. {html.escape(c['title'])}</h2>"
        f"<p>{c['flagged_count']} of {c['segments']} segments flagged; "
        f"WER {_summary(c['wer'])}; {_acx(c.get('acx'))}</p>"
        f"{_histogram(c['wer'])}{_flagged_rows(c['flagged'])}"
        "</section>"
        for c in report["chapters"]
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>Speech QA: {title}</title></head><body>"
        f"<h1>Speech QA: {title}</h1>"
        f"<p>Recogniser {html.escape(report['recognizer'])}: {report['flagged_count']} of "
        f"{report['segments']} segments flagged; WER {_summary(report['wer'])}</p>"
        f"{_histogram(report['wer'])}{chapters}</body></html>"
    )
