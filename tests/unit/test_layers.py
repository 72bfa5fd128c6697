"""Which folder may import which (docs/architecture.md): checked on every import statement."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROJECT = {"voxflow", "workflows", "activities", "handlers", "web", "tests", "bench"}

# folder -> the project folders its modules may import (its own always allowed).
ALLOWED = {
    "voxflow": set(),
    "activities": {"voxflow"},
    "workflows": {"voxflow", "activities"},
    "handlers": set(),
    "web": {"voxflow"},
}
# Entry points that wire the layers together, each with what it may import besides.
ENTRY_POINTS = {
    "voxflow/cli": {"activities", "web"},  # `voxflow worker temporal` and `voxflow web` start them
    "activities/worker.py": {"workflows"},  # the Temporal worker registers workflows too
}


def allowed(path: Path, folder: str) -> set[str]:
    relative = path.relative_to(ROOT).as_posix()
    extra = [more for entry, more in ENTRY_POINTS.items() if relative.startswith(entry)]
    return ALLOWED[folder] | {folder} | set().union(*extra)


def project_imports(path: Path) -> set[str]:
    """The top-level project packages a module imports, at any depth (lazy imports count)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found |= {name.split(".")[0] for name in names} & PROJECT
    return found


@pytest.mark.parametrize("folder", sorted(ALLOWED))
def test_folder_imports_only_what_it_may(folder):
    modules = sorted((ROOT / folder).rglob("*.py"))
    assert modules, f"{folder}/ has no modules"
    breaches = {
        str(path.relative_to(ROOT)): sorted(bad)
        for path in modules
        if (bad := project_imports(path) - allowed(path, folder))
    }
    assert not breaches, f"{folder}/ may import only {sorted(ALLOWED[folder])}: {breaches}"


def test_the_check_sees_lazy_imports(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from web.app import create_app\n    import activities.x\n")
    assert project_imports(module) == {"web", "activities"}
