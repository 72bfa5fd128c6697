"""Books the benchmarks and tests read: the bundled sample told several times, and a real EPUB
(Standard Ebooks' Sherlock Holmes) with its stories cut short and its structure untouched."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

from lxml import etree

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "examples" / "the-lighthouse-keeper.md"
# The Standard Ebooks "Adventures of Sherlock Holmes" (CC0), built by
# tests/assets/build_standard_ebooks_epub.py.
SHERLOCK = ROOT / "tests" / "assets" / "standardebooks-sherlock-holmes.epub"
_XHTML = "{http://www.w3.org/1999/xhtml}"
_FRONT = {"titlepage", "imprint", "colophon", "uncopyright", "toc"}
TELLINGS = ["", "Once more, ", "And later still, ", "In the end, ", "Years after, "]


def sample_book(copies: int) -> str:
    """The sample book `copies` times; chapters of later tellings get distinct sentences, so
    nothing is reused from the content-addressed store."""
    text = SAMPLE.read_text(encoding="utf-8")
    title, _, body = text.partition("\n")
    parts = [title]
    for n in range(copies):
        prefix = TELLINGS[n % len(TELLINGS)]
        telling = body.replace("## ", f"## Telling {n + 1}: ")
        if prefix:
            paragraphs = [
                p
                if p.startswith(("#", "-", "*")) or not p.strip()
                else prefix + p[0].lower() + p[1:]
                for p in telling.split("\n\n")
            ]
            telling = "\n\n".join(paragraphs)
        parts.append(telling)
    return "\n".join(parts)


def _short_story(xhtml: bytes, paragraphs: int, sentences: int | None) -> bytes:
    """The story's headings and its first `paragraphs` paragraphs (the first cut to `sentences`
    sentences and its inline markup, when given)."""
    root = etree.fromstring(xhtml)
    kept = list(root.iter(f"{_XHTML}p"))
    for extra in kept[paragraphs:]:
        extra.getparent().remove(extra)
    if sentences is not None:
        first = kept[0]
        text = "".join(first.itertext())
        for child in list(first):
            first.remove(child)
        first.text = " ".join(re.split(r"(?<=[.!?])\s+", text)[:sentences])
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")


def short_sherlock(paragraphs: int = 1, sentences: int | None = None) -> bytes:
    """The Sherlock EPUB with each story cut to its first paragraphs; front matter untouched."""
    source, out = zipfile.ZipFile(SHERLOCK), io.BytesIO()
    with zipfile.ZipFile(out, "w") as book:
        for item in source.infolist():
            data = source.read(item)
            if item.filename.startswith("epub/text/") and Path(item.filename).stem not in _FRONT:
                data = _short_story(data, paragraphs, sentences)
            kind = zipfile.ZIP_STORED if item.filename == "mimetype" else zipfile.ZIP_DEFLATED
            book.writestr(item, data, compress_type=kind)
    return out.getvalue()
