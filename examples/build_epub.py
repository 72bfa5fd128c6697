"""Build the EPUB 3 and Gutenberg-style TXT editions of the sample book from its Markdown.

Run from the repository root:  python examples/build_epub.py
Writes examples/the-lighthouse-keeper.epub (nav + NCX, a title page, one XHTML file per
chapter) and examples/the-lighthouse-keeper.txt. Both are byte-for-byte reproducible (fixed
identifier, modification time and ZIP timestamps), so the committed files can be checked.
"""

from __future__ import annotations

import datetime
import html
import io
import textwrap
import zipfile
from pathlib import Path

from ebooklib import epub
from markdown_it import MarkdownIt
from markdown_it.token import Token

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "the-lighthouse-keeper.md"
EPUB_OUT = HERE / "the-lighthouse-keeper.epub"
TXT_OUT = HERE / "the-lighthouse-keeper.txt"
AUTHOR = "The Voxflow authors"
FIXED_TIME = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
ROMAN = ["I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X"]


def split_book(source: str) -> tuple[str, str, list[tuple[str, str]]]:
    """(title, subtitle markdown, [(chapter title, chapter markdown)]) from `#`/`##` headings."""
    title, subtitle, chapters = "", [], []
    for line in source.splitlines():
        if line.startswith("# "):
            title = line[2:].strip()
        elif line.startswith("## "):
            chapters.append((line[3:].strip(), []))
        elif chapters:
            chapters[-1][1].append(line)
        else:
            subtitle.append(line)
    return title, "\n".join(subtitle).strip(), [(t, "\n".join(b)) for t, b in chapters]


def xhtml_page(title: str, body: str) -> str:
    return f"<h1>{html.escape(title)}</h1>\n{body}"


def build_epub(title: str, subtitle: str, chapters: list[tuple[str, str]]) -> bytes:
    md = MarkdownIt("commonmark")
    book = epub.EpubBook()
    book.set_identifier("urn:uuid:6f1c1b7e-2f0e-4d8e-9a57-1a2b3c4d5e6f")
    book.set_title(title)
    book.set_language("en")
    book.add_author(AUTHOR)

    title_page = epub.EpubHtml(title="Title page", file_name="title.xhtml", lang="en")
    title_page.content = (
        f'<div class="titlepage"><h1>{html.escape(title)}</h1>'
        f"{md.render(subtitle)}<p>{html.escape(AUTHOR)}</p></div>"
    )
    book.add_item(title_page)

    pages = []
    for number, (chapter_title, body) in enumerate(chapters, start=1):
        page = epub.EpubHtml(title=chapter_title, file_name=f"chapter-{number}.xhtml", lang="en")
        page.content = xhtml_page(chapter_title, md.render(body))
        book.add_item(page)
        pages.append(page)

    book.toc = [epub.Link(p.file_name, p.title, f"chapter-{i}") for i, p in enumerate(pages, 1)]
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    book.spine = [title_page, "nav", *pages]

    raw = io.BytesIO()
    epub.write_epub(raw, book, {"mtime": FIXED_TIME})
    return _reproducible_zip(raw.getvalue())


def _reproducible_zip(data: bytes) -> bytes:
    """Rewrite the archive with fixed timestamps; `mimetype` first and stored, as EPUB needs."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        names = sorted(source.namelist(), key=lambda name: name != "mimetype")
        for name in names:
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_STORED if name == "mimetype" else zipfile.ZIP_DEFLATED
            target.writestr(info, source.read(name))
    return out.getvalue()


def _plain_inline(token: Token) -> str:
    """Inline Markdown as Gutenberg-style text: _italics_, no other markup."""
    parts = []
    for child in token.children or []:
        if child.type == "text":
            parts.append(child.content)
        elif child.type in ("em_open", "em_close"):
            parts.append("_")
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
    return "".join(parts)


def build_txt(title: str, subtitle: str, chapters: list[tuple[str, str]]) -> str:
    md = MarkdownIt("commonmark")
    lines = [
        f"The Project Gutenberg-style eBook of {title}",
        "",
        f"Title: {title}",
        f"Author: {AUTHOR}",
        "Language: English",
        "",
        f"*** START OF THE PROJECT GUTENBERG EBOOK {title.upper()} ***",
        "",
        "",
        title.upper(),
        "",
    ]
    for token in md.parse(subtitle):
        if token.type == "inline":
            lines += [_plain_inline(token), ""]
    for number, (chapter_title, body) in enumerate(chapters):
        lines += ["", "", f"CHAPTER {ROMAN[number]}.", chapter_title.upper(), ""]
        in_item = False
        for token in md.parse(body):
            if token.type == "list_item_open":
                in_item = True
            elif token.type == "list_item_close":
                in_item = False
            elif token.type == "inline":
                text = _plain_inline(token)
                if in_item:
                    lines += textwrap.wrap(
                        text, 70, initial_indent="  - ", subsequent_indent="    "
                    )
                else:
                    lines += [*textwrap.wrap(text, 70), ""]
            elif token.type == "bullet_list_close":
                lines.append("")
    lines += ["", f"*** END OF THE PROJECT GUTENBERG EBOOK {title.upper()} ***", ""]
    return "\n".join(lines)


def main() -> None:
    title, subtitle, chapters = split_book(SOURCE.read_text(encoding="utf-8"))
    EPUB_OUT.write_bytes(build_epub(title, subtitle, chapters))
    TXT_OUT.write_text(build_txt(title, subtitle, chapters), encoding="utf-8")
    print(f"wrote {EPUB_OUT.name} ({EPUB_OUT.stat().st_size} bytes) and {TXT_OUT.name}")


if __name__ == "__main__":
    main()
