"""Every kind of bad input is refused with one clear line, by the API and by `voxflow parse`."""

from __future__ import annotations

import io
import re
import sys
import zipfile
from pathlib import Path

import docx
import pytest

from voxflow.cli import main
from voxflow.errors import InputError
from voxflow.importers import load_document, load_document_bytes
from voxflow.settings import Settings, get_settings

SUPPORTED = ".txt, .text, .md, .markdown, .epub, .docx"


def _zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


def _docx_bytes() -> bytes:
    document = docx.Document()
    document.add_paragraph("Hello there.")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


# (file name, content, regex the one-line message must match)
CASES: dict[str, tuple[str, bytes, str]] = {
    "empty": ("empty.txt", b"", r"^empty\.txt is empty; choose a file that contains text\.$"),
    "whitespace": ("blank.md", b"  \n\t\r\n  ", r"^blank\.md is empty; "),
    "unicode whitespace": (
        "blank.txt",
        "\ufeff\u00a0\u200b\u3000\n".encode(),
        r"^blank\.txt is empty; ",
    ),
    "nul bytes": (
        "image.txt",
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 4,
        r"^image\.txt looks like a binary file, not text \(it contains NUL bytes\); upload a "
        + SUPPORTED.replace(".", r"\."),
    ),
    "control characters": (
        "noise.md",
        bytes(range(1, 32)) * 20 + b"some text",
        r"^noise\.md looks like a binary file, not text \(it is full of control characters\)",
    ),
    "zip named txt": (
        "book.txt",
        _zip({"a.txt": b"hello"}),
        r"^book\.txt is a binary \(ZIP\) file, not text; save the document as plain text",
    ),
    "unknown extension": (
        "book.pdf",
        b"%PDF-1.7",
        r"^book\.pdf: unsupported file type \('\.pdf'\); supported types are "
        + SUPPORTED.replace(".", r"\.")
        + r"\.$",
    ),
    "no extension": ("README", b"text", r"^README: unsupported file type \(no extension\)"),
    "not utf-8 or cp1252": (
        "old.txt",
        b"Bad bytes \x81\x8d\x8f\x90\x9d here and \xff\xfe in the middle",
        r"^old\.txt is not UTF-8 or Windows-1252 text; save it as UTF-8 and try again\.$",
    ),
    "epub not a zip": (
        "book.epub",
        b"<html>not an epub</html>",
        r"^book\.epub is not a valid EPUB file \(it is not a readable ZIP archive\); export",
    ),
    "epub zip without parts": (
        "book.epub",
        _zip({"random.txt": b"x"}),
        r"^book\.epub is a ZIP archive but not a valid EPUB file \(required parts are missing\)",
    ),
    "epub with broken container": (
        "book.epub",
        _zip({"mimetype": b"application/epub+zip", "META-INF/container.xml": b"<oops"}),
        r"^book\.epub is not a valid EPUB file \(.+\); export or download it again\.$",
    ),
    "truncated epub": (
        "book.epub",
        (Path(__file__).resolve().parents[2] / "examples/the-lighthouse-keeper.epub").read_bytes()[
            :2000
        ],
        r"^book\.epub is not a valid EPUB file \(it is not a readable ZIP archive\)",
    ),
    "docx not a zip": (
        "report.docx",
        b"plain text pretending",
        r"^report\.docx is not a valid DOCX file \(it is not a readable ZIP archive\)",
    ),
    "docx with broken xml": (
        "report.docx",
        _zip({"[Content_Types].xml": b"<broken", "word/document.xml": b"<also broken"}),
        r"^report\.docx is not a valid DOCX file \(.+\); save it again from your word processor\.$",
    ),
    "docx named epub": (
        "report.epub",
        _docx_bytes(),
        r"^report\.epub is named \.epub but its content is DOCX; rename it to \.docx",
    ),
    "no text after import": (
        "code.md",
        b"# Title\n\n```\nprint('hi')\n```\n\n![image](a.png)\n\n<div>only html</div>\n",
        r"^code\.md has no readable text after import \(only headings, images, code or markup\)",
    ),
    "only punctuation": (
        "dots.txt",
        b"* * *\n\n---\n\n...\n",
        r"^dots\.txt has no readable text after import",
    ),
}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


@pytest.mark.parametrize("case", list(CASES))
def test_bad_bytes_are_refused_with_one_line(case: str, settings: Settings) -> None:
    name, data, pattern = CASES[case]
    with pytest.raises(InputError, match=pattern) as error:
        load_document_bytes(data, name, settings)
    assert "\n" not in str(error.value)


def test_missing_file(tmp_path: Path, settings: Settings) -> None:
    with pytest.raises(InputError, match=r"^File not found: .*nope\.md; check the path"):
        load_document(tmp_path / "nope.md", settings)


def test_directory_is_not_a_file(tmp_path: Path, settings: Settings) -> None:
    folder = tmp_path / "folder.md"
    folder.mkdir()
    with pytest.raises(InputError, match=r"folder\.md is not a file; give the path of a document"):
        load_document(folder, settings)


def test_oversized_file_is_refused_before_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "big.txt"
    path.write_bytes(b"word " * 1000)

    def no_read(self: Path) -> bytes:
        raise AssertionError("the file was read before its size was checked")

    monkeypatch.setattr(Path, "read_bytes", no_read)
    small = Settings(data_dir=tmp_path, max_upload_bytes=1024)
    with pytest.raises(
        InputError,
        match=r"^big\.txt is 4\.9 KiB, over the 1\.0 KiB upload limit; split the document or "
        r"raise VOXFLOW_MAX_UPLOAD_BYTES\.$",
    ):
        load_document(path, small)
    with pytest.raises(InputError, match="upload limit"):
        load_document_bytes(b"word " * 1000, "big.txt", small)


def test_unknown_extension_is_refused_before_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    path = tmp_path / "slides.pptx"
    path.write_bytes(b"x")
    monkeypatch.setattr(Path, "read_bytes", lambda self: pytest.fail("read"))
    with pytest.raises(InputError, match=r"unsupported file type \('\.pptx'\)"):
        load_document(path, settings)


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        ("Caf\u00e9 na\u00efve.".encode(), "utf-8"),
        ("\ufeffCaf\u00e9 na\u00efve.".encode(), "utf-8-sig"),
        ("Caf\u00e9 na\u00efve.".encode("cp1252"), "cp1252"),
        ("Caf\u00e9 na\u00efve.".encode("utf-16"), "utf-16"),
    ],
)
def test_encodings_are_detected_and_recorded(
    data: bytes, encoding: str, settings: Settings
) -> None:
    document = load_document_bytes(data, "notes.txt", settings)
    assert document.encoding == encoding
    assert document.chapters[0].segments[0].text == "Caf\u00e9 na\u00efve."


# --- the same cases through `voxflow parse` ---------------------------------------------------


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    old = sys.argv
    sys.argv = ["voxflow", *args]
    try:
        main()
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    finally:
        sys.argv = old
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("VOXFLOW_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("VOXFLOW_MAX_UPLOAD_BYTES", "200000")
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


@pytest.mark.parametrize("case", [*CASES, "missing", "too big"])
def test_parse_cli_bad_input_one_line_on_stderr(
    case: str, cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if case == "missing":
        path, pattern = cli_env / "missing.txt", r"File not found: "
    elif case == "too big":
        path, pattern = cli_env / "huge.txt", r"huge\.txt is 244\.1 KiB, over the 195\.3 KiB upload"
        path.write_bytes(b"a" * 250_000)
    else:
        name, data, pattern = CASES[case]
        path = cli_env / name
        path.write_bytes(data)
        pattern = pattern.lstrip("^")
    code, out, err = _run(["parse", str(path)], capsys)
    assert code == 2
    assert out == ""
    assert err.startswith("error: ")
    assert err.count("\n") == 1, err
    assert "Traceback" not in err
    assert re.search(pattern.rstrip("$"), err), err
