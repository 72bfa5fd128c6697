"""`voxflow lexicon ...` and `voxflow segment ...` against a real database: what a user types."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from tests.web.seeding import seed_project
from voxflow.cli import app
from voxflow.db.models import ProjectState
from voxflow.settings import Settings, get_settings


@pytest.fixture
def project(sqlite_url, monkeypatch, tmp_path) -> int:
    monkeypatch.setenv("VOXFLOW_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("VOXFLOW_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    settings = Settings(data_dir=tmp_path, database_url=sqlite_url)
    pid = seed_project(settings, {"Alpha": 3, "Beta": 2}, done={1: 3}, state=ProjectState.done)
    yield pid
    get_settings.cache_clear()


def run(*args: object) -> tuple[int, str]:
    """Exit code and what the user reads: the output, or the error `voxflow`'s main prints."""
    result = CliRunner().invoke(app, [str(a) for a in args])
    return result.exit_code, result.output + (
        str(result.exception or "") if result.exit_code else ""
    )


def test_lexicon_preview_add_list_export_and_import(project, tmp_path):
    code, out = run("lexicon", "preview", "beta", "bay-tuh", "--project", project)
    assert code == 0 and f"project {project}: touches 2 segments" in out
    assert "chapter 2 segment 0: bay-tuh sentence 0." in out
    code, out = run("lexicon", "add", "beta", "bay-tuh", "--project", project)
    assert code == 0 and "1 entry saved" in out
    assert f"re-render the 2 segments with: voxflow rerender {project}" in out
    code, out = run("lexicon", "list", "--project", project)
    assert code == 0 and "bay-tuh" in out
    pls = tmp_path / "names.pls"
    assert run("lexicon", "export", pls, "--project", project)[0] == 0
    code, out = run("lexicon", "import", pls)  # into the shared lexicon
    assert code == 0 and f"project {project}: touches 0 segments" in out, out
    code, out = run("lexicon", "preview", "beta", "bay-tuh", "--project", 999)
    assert code != 0 and "999" in out


def test_segment_approve_edit_and_retake(project):
    code, out = run("segment", "approve", project, 1, 0)
    assert code == 0 and "approved" in out
    code, out = run("segment", "edit", project, 1, 0, "Alpha, said again.")
    assert code != 0 and "unlock it" in out
    assert run("segment", "unlock", project, 1, 0)[0] == 0
    code, out = run("segment", "edit", project, 1, 0, "Alpha, said again.")
    assert code == 0 and "edited" in out
    code, out = run("segment", "retake", project, 1, 1)
    assert code == 0 and "take 1" in out
    code, out = run("segment", "takes", project, 1, 1)
    assert code == 0 and "chapter 1, segment 1" in out
