"""OCI IAM policy statements, read from deploy/terraform and evaluated like Object Storage does.

Only the grammar Voxflow's policies use is understood; anything else raises, so a statement
this evaluator cannot read fails the test instead of being ignored. Verbs and permissions follow
OCI's "Details for Object Storage and Archive Storage" policy reference.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from tests.deploy.terraform import TERRAFORM, parse

_OBJECTS = ["OBJECT_INSPECT", "OBJECT_READ", "OBJECT_OVERWRITE"]
_OBJECTS_MANAGE = ["OBJECT_CREATE", "OBJECT_DELETE", "OBJECT_RESTORE", "OBJECT_UPDATE_TIER"]
_BUCKETS = ["BUCKET_INSPECT", "BUCKET_READ", "BUCKET_UPDATE"]
_BUCKETS_MANAGE = ["BUCKET_CREATE", "BUCKET_DELETE", "PAR_MANAGE", "RETENTION_RULE_MANAGE"]
VERBS = ("inspect", "read", "use", "manage")
# resource type -> verb -> permissions (cumulative: inspect < read < use < manage)
PERMISSIONS: dict[str, dict[str, set[str]]] = {
    "objects": {
        "inspect": set(_OBJECTS[:1]),
        "read": set(_OBJECTS[:2]),
        "use": set(_OBJECTS),
        "manage": set(_OBJECTS + _OBJECTS_MANAGE),
    },
    "buckets": {
        "inspect": set(_BUCKETS[:1]),
        "read": set(_BUCKETS[:2]),
        "use": set(_BUCKETS),
        "manage": set(_BUCKETS + _BUCKETS_MANAGE),
    },
    "objectstorage-namespaces": {
        "inspect": {"OBJECTSTORAGE_NAMESPACE_READ"},
        "read": {"OBJECTSTORAGE_NAMESPACE_READ"},
        "use": {"OBJECTSTORAGE_NAMESPACE_READ"},
        "manage": {"OBJECTSTORAGE_NAMESPACE_READ", "OBJECTSTORAGE_NAMESPACE_UPDATE"},
    },
}
PERMISSIONS["object-family"] = {
    verb: set().union(*(PERMISSIONS[kind][verb] for kind in list(PERMISSIONS))) for verb in VERBS
}
NAMESPACE_PERMISSIONS = {"OBJECTSTORAGE_NAMESPACE_READ", "OBJECTSTORAGE_NAMESPACE_UPDATE"}
OPAQUE = re.compile(r"^\$\{[^}]+\}$")  # a resource attribute (cluster or vault id): any value
STATEMENT = re.compile(
    r"^Allow any-user to (?P<verb>\w+) (?P<kind>[\w-]+) in "
    r"(?P<scope>tenancy|compartment id \S+) where (?P<mode>all|any) \{(?P<conditions>.*)\}$"
)
CONDITION = re.compile(r"^(?P<variable>[\w.]+) = '(?P<value>[^']*)'$")


@dataclass(frozen=True)
class Principal:
    """An OKE workload: the pod's service account in its namespace and cluster."""

    service_account: str
    namespace: str = "voxflow"
    cluster_id: str = "ocid1.cluster.oc1..voxflowtest"
    type: str = "workload"


@dataclass
class Statement:
    text: str
    verb: str
    kind: str
    tenancy: bool
    mode: str
    conditions: list[tuple[str, str]] = field(default_factory=list)

    def grants(self, principal: Principal, permission: str, bucket: str | None) -> bool:
        if permission not in PERMISSIONS.get(self.kind, {}).get(self.verb, set()):
            return False
        if permission in NAMESPACE_PERMISSIONS and not self.tenancy:
            return False  # the namespace is a tenancy-level resource
        context = {
            "request.principal.type": principal.type,
            "request.principal.namespace": principal.namespace,
            "request.principal.service_account": principal.service_account,
            "request.principal.cluster_id": principal.cluster_id,
            "request.permission": permission,
            "target.bucket.name": bucket,
        }
        results = []
        for variable, value in self.conditions:
            if variable not in context:
                raise ValueError(f"unsupported policy variable {variable!r} in: {self.text}")
            actual = context[variable]
            results.append(bool(OPAQUE.match(value)) or (actual or "").lower() == value.lower())
        return all(results) if self.mode == "all" else any(results)


def parse_statement(text: str) -> Statement:
    match = STATEMENT.match(text)
    if match is None:
        raise ValueError(f"policy statement outside the supported grammar: {text}")
    if match["verb"] not in VERBS:
        raise ValueError(f"unknown verb in: {text}")
    conditions = []
    for part in (p.strip() for p in match["conditions"].split(",")):
        condition = CONDITION.match(part)
        if condition is None:
            raise ValueError(f"unsupported condition {part!r} in: {text}")
        conditions.append((condition["variable"], condition["value"]))
    return Statement(
        text,
        match["verb"],
        match["kind"],
        match["scope"] == "tenancy",
        match["mode"],
        conditions,
    )


def terraform_locals(folder: Path = TERRAFORM) -> dict[str, object]:
    """Every `locals` block of every .tf file in the folder, merged."""
    merged: dict[str, object] = {}
    for path in sorted(folder.glob("*.tf")):
        for block in parse(path).get("locals", []):
            merged.update(block)
    return merged


def resolve(text: str, values: dict[str, object], depth: int = 0) -> str:
    """Substitute ${local.X} recursively; other interpolations stay as opaque ${...}."""
    if depth > 10:
        raise ValueError(f"locals nest too deep: {text}")

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name.startswith("local."):
            key = name.removeprefix("local.")
            if key not in values:
                raise KeyError(f"undefined local {key!r}")
            return resolve(str(values[key]), values, depth + 1)
        return match.group(0)

    return re.sub(r"\$\{([\w.]+)\}", substitute, text)


def load_policy(folder: Path = TERRAFORM) -> list[Statement]:
    """The pods' statements: workload_policy_statements and tenancy_policy_statements."""
    values = terraform_locals(folder)
    statements = []
    for name in ("workload_policy_statements", "tenancy_policy_statements"):
        for text in values.get(name, []):  # type: ignore[union-attr]
            statements.append(parse_statement(resolve(str(text), values)))
    if not statements:
        raise ValueError(f"no workload policy statements in {folder}")
    return statements


def allowed(
    statements: list[Statement], principal: Principal, permissions: set[str], bucket: str | None
) -> set[str]:
    """The permissions of `permissions` that no statement grants (empty: allowed)."""
    return {
        permission
        for permission in permissions
        if not any(s.grants(principal, permission, bucket) for s in statements)
    }
