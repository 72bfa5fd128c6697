"""`voxflow parse`: table, --json, --max-chars and usage errors, via the real entry point."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from voxflow.cli import main
from voxflow.settings import get_settings

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
BOOK = "the-lighthouse-keeper"
TITLES = ["The Keeper of Gull Point", "The Storm", "Morning"]


@pytest.fixture(autouse=True)
def _env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("VOXFLOW_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("COLUMNS", "160")
    monkeypatch.chdir(tmp_path)  # no stray .env from the checkout
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run `voxflow ARGS` in-process via the console-script entry point."""
    old = sys.argv
    sys.argv = ["voxflow", *args]
    try:
        main()
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    finally:
        sys.argv = old
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("suffix", ["md", "epub", "txt"])
def test_parse_prints_chapter_table(suffix: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(["parse", str(EXAMPLES / f"{BOOK}.{suffix}")], capsys)
    assert code == 0, err
    assert "The Lighthouse Keeper" in out
    for index, title in enumerate(TITLES, start=1):
        row = next(line for line in out.splitlines() if title.casefold() in line.casefold())
        assert f" {index} " in row
    assert "Total" in out
    assert "segments of at most 400 characters" in out
    assert err == ""


def test_parse_json_shape(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(["parse", str(EXAMPLES / f"{BOOK}.md"), "--json"], capsys)
    assert code == 0, err
    data = json.loads(out)  # nothing but the JSON on stdout
    assert set(data) == {"title", "chapters", "skipped"}
    assert data["skipped"] == []  # only EPUB import skips sections (test_epub_structure)
    assert data["title"] == "The Lighthouse Keeper"
    assert [c["title"] for c in data["chapters"]] == TITLES
    assert [c["index"] for c in data["chapters"]] == [1, 2, 3]
    for chapter in data["chapters"]:
        assert set(chapter) == {"index", "title", "blocks"}
        for block in chapter["blocks"]:
            assert set(block) == {"index", "segments"}
            for segment in block["segments"]:
                assert set(segment) == {"index", "text", "hash"}
                assert len(segment["hash"]) == 64
                assert segment["text"] != chapter["title"]


def test_parse_max_chars_limits_segments(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(
        ["parse", str(EXAMPLES / f"{BOOK}.md"), "--json", "--max-chars", "60"], capsys
    )
    assert code == 0
    texts = [
        s["text"] for c in json.loads(out)["chapters"] for b in c["blocks"] for s in b["segments"]
    ]
    assert max(len(t) for t in texts) <= 60
    code, out, _ = run_cli(["parse", str(EXAMPLES / f"{BOOK}.md")], capsys)
    default = run_cli(["parse", str(EXAMPLES / f"{BOOK}.md"), "--max-chars", "60"], capsys)[1]
    assert "at most 60 characters" in default and "at most 400 characters" in out


def test_parse_default_max_chars_from_settings(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VOXFLOW_MAX_CHARS", "50")
    get_settings.cache_clear()
    code, out, _ = run_cli(["parse", str(EXAMPLES / f"{BOOK}.md"), "--json"], capsys)
    assert code == 0
    texts = [
        s["text"] for c in json.loads(out)["chapters"] for b in c["blocks"] for s in b["segments"]
    ]
    assert max(len(t) for t in texts) <= 50


def test_parse_reports_non_utf8_encoding(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "old.txt"
    path.write_bytes("Caf\u00e9 \u201cquotes\u201d and na\u00efve text.\n".encode("cp1252"))
    code, out, err = run_cli(["parse", str(path)], capsys)
    assert code == 0
    assert "not UTF-8; it was read as cp1252" in out
    code, out, err = run_cli(["parse", str(path), "--json"], capsys)
    assert code == 0
    assert json.loads(out)["chapters"][0]["blocks"][0]["segments"][0]["text"].startswith(
        "Caf\u00e9"
    )
    assert "read as cp1252" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["parse"], "Missing argument"),
        (["parse", "x.md", "--max-chars", "abc"], "--max-chars"),
        (["parse", "x.md", "--max-chars", "0"], "--max-chars"),
        (["parse", "x.md", "--bogus"], "No such option"),
    ],
)
def test_usage_errors_exit_non_zero_without_traceback(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(args, capsys)
    assert code == 2
    assert message in err
    assert "Traceback" not in err + out


def test_console_script_end_to_end(tmp_path: Path) -> None:
    """The installed `voxflow` command: JSON on stdout, one-line error on stderr."""
    exe = shutil.which("voxflow", path=str(Path(sys.executable).parent)) or shutil.which("voxflow")
    assert exe, "the voxflow console script is not installed (pip install -e .)"
    env = {**os.environ, "VOXFLOW_DATA_DIR": str(tmp_path)}
    ok = subprocess.run(
        [exe, "parse", str(EXAMPLES / f"{BOOK}.txt"), "--json"],
        capture_output=True, text=True, env=env, cwd=tmp_path, check=False,
    )  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert len(json.loads(ok.stdout)["chapters"]) == 3
    bad = subprocess.run(
        [exe, "parse", str(tmp_path / "missing.epub")],
        capture_output=True, text=True, env=env, cwd=tmp_path, check=False,
    )  # fmt: skip
    assert bad.returncode == 2
    assert bad.stdout == ""
    assert bad.stderr.strip().count("\n") == 0
    assert bad.stderr.startswith("error: File not found:")
