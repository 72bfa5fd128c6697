"""Books the benchmarks and the chaos test read: the bundled sample told several times."""

from __future__ import annotations

from pathlib import Path

SAMPLE = Path(__file__).resolve().parents[1] / "examples" / "the-lighthouse-keeper.md"
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
