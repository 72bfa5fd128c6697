"""Speech-recognition QA: does each synthesised segment say its text? (see docs/qa.md)."""

from voxflow.qa.pool import RecognizerPool
from voxflow.qa.recognizer import PocketsphinxRecognizer, Recognizer
from voxflow.qa.report import ChapterScores, book_report, chapter_report, render_html
from voxflow.qa.scoring import SegmentScore, check_segment, compare, normalise, score_segment

__all__ = [
    "ChapterScores",
    "PocketsphinxRecognizer",
    "Recognizer",
    "RecognizerPool",
    "SegmentScore",
    "book_report",
    "chapter_report",
    "check_segment",
    "compare",
    "normalise",
    "render_html",
    "score_segment",
]
