"""SMIL 3.0 media overlay documents: a par per sentence, pairing its span with its audio clip."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from lxml import etree

from voxflow.publishing.layout import audio_href, span_id, xhtml_href
from voxflow.publishing.model import Chapter, Sentence

SMIL_NS = "http://www.w3.org/ns/SMIL"


def clock_value(seconds: float) -> str:
    """A SMIL full clock value, `h:mm:ss.fff` (what media:duration and clip times take)."""
    millis = max(0, round(seconds * 1000))
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours}:{minutes:02d}:{secs:02d}.{millis:03d}"


def parse_clock_value(value: str) -> float:
    """Seconds in a clock value written by `clock_value` (or a plain `12.5s` timecount)."""
    if value.endswith("s") and ":" not in value:
        return float(value[:-1])
    seconds = 0.0
    for part in value.split(":"):
        seconds = seconds * 60 + float(part)
    return seconds


def chapter_smil(chapter: Chapter) -> bytes:
    """The chapter's overlay: one par per sentence, in reading order."""
    ids = {sentence.index: span_id(sentence.index) for sentence in chapter.sentences}
    audio_src = audio_href(chapter.index, chapter.audio_path.suffix)
    return overlay_smil(xhtml_href(chapter.index), audio_src, chapter.sentences, ids)


def overlay_smil(
    text_href: str, audio_src: str, sentences: Sequence[Sentence], ids: Mapping[int, str]
) -> bytes:
    """An overlay for one content document: a par per sentence, pointing at `ids[index]`."""
    smil = etree.Element(f"{{{SMIL_NS}}}smil", nsmap={None: SMIL_NS})
    smil.set("version", "3.0")
    body = etree.SubElement(smil, f"{{{SMIL_NS}}}body")
    for sentence in sentences:
        par = etree.SubElement(body, f"{{{SMIL_NS}}}par", id=f"par-{span_id(sentence.index)}")
        etree.SubElement(par, f"{{{SMIL_NS}}}text", src=f"{text_href}#{ids[sentence.index]}")
        etree.SubElement(
            par,
            f"{{{SMIL_NS}}}audio",
            src=audio_src,
            clipBegin=clock_value(sentence.clip_begin_s),
            clipEnd=clock_value(sentence.clip_end_s),
        )
    return etree.tostring(smil, encoding="utf-8", xml_declaration=True, pretty_print=True)
