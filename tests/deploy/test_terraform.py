"""deploy/terraform, checked offline: every .tf file parses, and it agrees with the manifests.

No Terraform provider can be downloaded here, so nothing runs `terraform init/validate/plan`.
Instead python-hcl2 parses each file, and the checkers below compare the parsed configuration
with the rendered kustomize overlays: bucket names, vault secret names, the GPU pool's taint and
label, namespaces, the Kubernetes version and the Cluster Autoscaler's node pools. Every checker
returns a list of problems; the mutation tests at the end show that each one reports a change.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.k8s import (
    KUBERNETES_VERSION,
    Obj,
    config_map_by_prefix,
    containers,
    named,
    of_kind,
    render,
    workloads,
)
from tests.deploy.terraform import TERRAFORM, parse

README = TERRAFORM / "README.md"
TF_FILES = sorted(TERRAFORM.glob("*.tf"))
SECRET_MANIFESTS = ["base/secrets.yaml", "temporal-secrets/secrets.yaml"]

INSTANCE_TYPE = "node.kubernetes.io/instance-type"
# Kinds that live outside any namespace, of those the overlays may render.
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition"}
REQUIRED_LOCALS = {
    "artifacts_bucket": "voxflow-artifacts",
    "models_bucket": "voxflow-models",
    "app_namespace": "voxflow",
    "temporal_namespace": "temporal",
    "gpu_taint_key": "nvidia.com/gpu",
    "gpu_taint_value": "present",
    "gpu_taint_effect": "NoSchedule",
    "gpu_pool_label": "gpu",
}
REQUIRED_RESOURCES = [
    ("oci_containerengine_cluster", "voxflow"),
    ("oci_kms_vault", "voxflow"),
    ("oci_objectstorage_bucket", "artifacts"),
    ("oci_objectstorage_bucket", "models"),
    ("oci_containerengine_node_pool", "cpu"),
    ("oci_containerengine_node_pool", "gpu"),
]
REQUIRED_OUTPUTS = [
    "cluster_id",
    "vault_id",
    "artifacts_bucket",
    "models_bucket",
    "object_storage_namespace",
    "web_certificate_id",
    "psql_endpoint",
]
AUTOSCALER_PERMISSIONS = [
    "manage cluster-node-pools",
    "manage instance-family",
    "use subnets",
    "read virtual-network-family",
    "use vnics",
    "inspect compartments",
]


# ------------------------------------------------------------------ parsing


@dataclass
class Config:
    """The whole configuration, merged across files as Terraform merges a module."""

    resources: dict[str, dict[str, Obj]] = field(default_factory=dict)  # type → name → body
    data: dict[str, dict[str, Obj]] = field(default_factory=dict)
    variables: dict[str, Obj] = field(default_factory=dict)
    locals: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Obj] = field(default_factory=dict)
    duplicates: list[str] = field(default_factory=list)

    def resource(self, kind: str, name: str) -> Obj:
        assert name in self.resources.get(kind, {}), f"no resource {kind}.{name}"
        return self.resources[kind][name]


def merge(parsed: dict[str, dict[str, Any]]) -> Config:
    """Parsed files (name → content) into one Config, recording names defined twice."""
    config = Config()

    def put(table: dict[str, Any], key: str, value: Any, where: str) -> None:
        if key in table:
            config.duplicates.append(f"{where} is defined twice")
        table[key] = value

    for filename, content in sorted(parsed.items()):
        for block in content.get("locals", []):
            for key, value in block.items():
                put(config.locals, key, value, f"local.{key} ({filename})")
        for block in content.get("variable", []):
            for key, value in block.items():
                put(config.variables, key, value, f"var.{key} ({filename})")
        for block in content.get("output", []):
            for key, value in block.items():
                put(config.outputs, key, value, f"output.{key} ({filename})")
        for section, table in (("resource", config.resources), ("data", config.data)):
            for block in content.get(section, []):
                for kind, by_name in block.items():
                    for name, body in by_name.items():
                        put(table.setdefault(kind, {}), name, body, f"{kind}.{name} ({filename})")
    return config


# ------------------------------------------------------------------ expressions

REF = re.compile(r"\$\{(local|var)\.(\w+)\}")


def lookup(config: Config, kind: str, name: str) -> Any:
    """local.NAME's value or var.NAME's default; an unresolvable one stays as written."""
    if kind == "local":
        if name not in config.locals:
            raise KeyError(f"local.{name} is not defined")
        return config.locals[name]
    if name not in config.variables:
        raise KeyError(f"var.{name} is not declared")
    return config.variables[name].get("default", f"${{var.{name}}}")


def resolve(config: Config, value: Any, depth: int = 0) -> Any:
    """Replace ${local.X} and ${var.X} (by its default) until none is left."""
    if not isinstance(value, str):
        return value
    if depth > 20:
        raise ValueError(f"references too deep: {value!r}")
    whole = REF.fullmatch(value)
    if whole:
        found = lookup(config, *whole.groups())
        return value if found == value else resolve(config, found, depth + 1)

    def substitute(match: re.Match[str]) -> str:
        found = lookup(config, *match.groups())
        return match.group(0) if found == match.group(0) else str(resolve(config, found, depth + 1))

    return REF.sub(substitute, value)


def strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from strings(key)
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def configurations(addon: Obj) -> dict[str, str]:
    return {item["key"]: item["value"] for item in addon.get("configurations", [])}


def addon_named(config: Config, addon_name: str) -> Obj | None:
    for body in config.resources.get("oci_containerengine_addon", {}).values():
        if body.get("addon_name") == addon_name:
            return body
    return None


def as_int(config: Config, value: Any) -> int | None:
    resolved = resolve(config, value)
    try:
        return int(resolved)
    except (TypeError, ValueError):
        return None


# ------------------------------------------------------------------ manifests


def remote_keys(objects: list[Obj]) -> set[str]:
    """Every vault secret name an ExternalSecret reads."""
    keys: set[str] = set()
    for external in of_kind(objects, "ExternalSecret"):
        for item in external["spec"].get("data", []):
            keys.add(item["remoteRef"]["key"])
        for item in external["spec"].get("dataFrom", []):
            if "extract" in item:
                keys.add(item["extract"]["key"])
    return keys


def secret_stores(objects: list[Obj]) -> list[Obj]:
    return [store["spec"]["provider"]["oracle"] for store in of_kind(objects, "SecretStore")]


def tolerates(tolerations: list[Obj], key: str, value: str, effect: str) -> bool:
    for toleration in tolerations:
        if toleration.get("effect") not in (None, "", effect):
            continue
        operator = toleration.get("operator", "Equal")
        if operator == "Exists" and toleration.get("key") in (None, "", key):
            return True
        if (
            operator == "Equal"
            and toleration.get("key") == key
            and toleration.get("value") == value
        ):
            return True
    return False


def pins_to_gpu_pool(pod: Obj, label_key: str, label_value: str, gpu_shape: str) -> bool:
    """The pod can land only on the gpu pool: by its label, or by a shape list with its shape."""
    if (pod.get("nodeSelector") or {}).get(label_key) == label_value:
        return True
    required = ((pod.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    ) or {}
    terms = required.get("nodeSelectorTerms") or []

    def pins(term: Obj) -> bool:
        for expression in term.get("matchExpressions") or []:
            if expression.get("operator") != "In":
                continue
            values = expression.get("values") or []
            if expression["key"] == label_key and values == [label_value]:
                return True
            if expression["key"] == INSTANCE_TYPE and gpu_shape in values:
                return True
        return False

    return bool(terms) and all(pins(term) for term in terms)


# ------------------------------------------------------------------ checkers


def check_required_names(config: Config) -> list[str]:
    problems = list(config.duplicates)
    for name, expected in REQUIRED_LOCALS.items():
        if config.locals.get(name) != expected:
            problems.append(f"local.{name} is {config.locals.get(name)!r}, not {expected!r}")
    for kind, name in REQUIRED_RESOURCES:
        if name not in config.resources.get(kind, {}):
            problems.append(f"resource {kind}.{name} is missing")
    for name in ("compartment_ocid", "tenancy_ocid", "region"):
        if name not in config.variables:
            problems.append(f"variable {name} is missing")
    if config.variables.get("region", {}).get("default") != "eu-frankfurt-1":
        problems.append("variable region must default to eu-frankfurt-1")
    for name in REQUIRED_OUTPUTS:
        if name not in config.outputs:
            problems.append(f"output {name} is missing")
    return problems


def check_references(config: Config) -> list[str]:
    """Every local, var, resource and data source an expression names is defined somewhere.

    `terraform validate` would catch a typo here; it cannot run offline, so this does.
    """
    everything = [
        config.resources,
        config.data,
        config.variables,
        config.locals,
        config.outputs,
    ]
    problems: set[str] = set()
    for text in strings(everything):
        if "${" not in text:
            continue
        for name in re.findall(r"(?<![\w.])local\.(\w+)", text):
            if name not in config.locals:
                problems.add(f"local.{name} is used but not defined")
        for name in re.findall(r"(?<![\w.])var\.(\w+)", text):
            if name not in config.variables:
                problems.add(f"var.{name} is used but not declared")
        for kind, name in re.findall(r"(?<![\w.])data\.(\w+)\.(\w+)", text):
            if name not in config.data.get(kind, {}):
                problems.add(f"data.{kind}.{name} is used but not defined")
        for kind, name in re.findall(r"(?<![\w.])((?:oci|random)_\w+)\.(\w+)", text):
            if name not in config.resources.get(kind, {}):
                problems.add(f"{kind}.{name} is used but not defined")
    return sorted(problems)


def check_buckets(config: Config, objects: list[Obj]) -> list[str]:
    problems = []
    artifacts = resolve(config, config.resource("oci_objectstorage_bucket", "artifacts")["name"])
    models = resolve(config, config.resource("oci_objectstorage_bucket", "models")["name"])
    for name in ("artifacts", "models"):
        bucket = config.resource("oci_objectstorage_bucket", name)
        for key, expected in (
            ("storage_tier", "Standard"),
            ("access_type", "NoPublicAccess"),
            ("versioning", "Disabled"),
        ):
            if bucket.get(key) != expected:
                problems.append(f"bucket {name}: {key} is {bucket.get(key)!r}, not {expected!r}")

    config_bucket = config_map_by_prefix(objects, "voxflow-config")["data"]["VOXFLOW_OCI_BUCKET"]
    if config_bucket != artifacts:
        problems.append(
            f"voxflow-config VOXFLOW_OCI_BUCKET={config_bucket}, Terraform: {artifacts}"
        )

    fetchers = 0
    for obj, pod in workloads(objects):
        for container in pod.get("initContainers", []):
            if container["name"] != "fetch-models":
                continue
            fetchers += 1
            env = {item["name"]: item.get("value") for item in container.get("env", [])}
            if env.get("VOXFLOW_OCI_BUCKET") != models:
                problems.append(
                    f"{obj['metadata']['name']}/fetch-models reads bucket "
                    f"{env.get('VOXFLOW_OCI_BUCKET')!r}, Terraform creates {models!r}"
                )
    if not fetchers:
        problems.append("no fetch-models init container in the overlay")
    return problems


def check_artifacts_lifecycle(config: Config) -> list[str]:
    problems = []
    policies = [
        body
        for body in config.resources.get("oci_objectstorage_object_lifecycle_policy", {}).values()
        if body.get("bucket") == "${oci_objectstorage_bucket.artifacts.name}"
    ]
    if len(policies) != 1:
        return [f"expected one lifecycle policy on the artifacts bucket, found {len(policies)}"]
    rules = policies[0].get("rules", [])
    aborts = [
        rule
        for rule in rules
        if rule.get("action") == "ABORT" and rule.get("target") == "multipart-uploads"
    ]
    if not any(
        as_int(config, rule.get("time_amount")) == 1 and rule.get("time_unit") == "DAYS"
        for rule in aborts
    ):
        problems.append("no rule aborts uncommitted multipart uploads after 1 day")
    archives = [rule for rule in rules if rule.get("action") == "ARCHIVE"]
    prefixes = [
        prefix
        for rule in archives
        for name_filter in rule.get("object_name_filter", [])
        for prefix in name_filter.get("inclusion_prefixes", [])
    ]
    if "projects/" not in prefixes:
        problems.append("no ARCHIVE rule for objects under projects/")
    days = {str(rule.get("time_amount")) for rule in archives}
    if "${var.artifacts_archive_after_days}" not in days:
        problems.append("the ARCHIVE rule's age is not var.artifacts_archive_after_days")
    elif as_int(config, "${var.artifacts_archive_after_days}") != 90:
        problems.append("var.artifacts_archive_after_days must default to 90")
    return problems


def terraform_secret_names(config: Config) -> set[str]:
    names: set[str] = set()
    for body in config.resources.get("oci_vault_secret", {}).values():
        secret_name = body.get("secret_name")
        if secret_name == "${each.key}":
            source = re.fullmatch(r"\$\{local\.(\w+)\}", str(body.get("for_each")))
            assert source, f"for_each of an oci_vault_secret is not a local: {body.get('for_each')}"
            names |= set(config.locals[source.group(1)])
        else:
            names.add(resolve(config, secret_name))
    return names


def check_vault_secrets(config: Config, objects: list[Obj]) -> list[str]:
    problems = []
    wanted = remote_keys(objects)
    have = terraform_secret_names(config)
    for key in sorted(wanted - have):
        problems.append(f"ExternalSecret remoteRef {key!r} has no oci_vault_secret")
    for name, body in config.resources.get("oci_vault_secret", {}).items():
        if body.get("vault_id") != "${oci_kms_vault.voxflow.id}":
            problems.append(f"oci_vault_secret.{name} is not in oci_kms_vault.voxflow")
    names = config.locals.get("vault_secret_names")
    values = config.locals.get("vault_secret_values")
    if isinstance(names, dict) and isinstance(values, dict) and set(names) != set(values):
        problems.append(f"secrets without a value or name: {sorted(set(names) ^ set(values))}")
    return problems


def check_vault_documented(config: Config, objects: list[Obj], readme: str) -> list[str]:
    """The SecretStores' vault placeholder is documented as the vault_id output."""
    problems = []
    output = config.outputs.get("vault_id", {})
    if output.get("value") != "${oci_kms_vault.voxflow.id}":
        problems.append("output vault_id is not oci_kms_vault.voxflow.id")
    placeholders = {store["vault"] for store in secret_stores(objects)}
    if not placeholders:
        problems.append("no SecretStore in the manifests")
    for placeholder in sorted(placeholders):
        if placeholder not in readme:
            problems.append(f"README.md does not say what replaces {placeholder}")
    if "vault_id" not in readme:
        problems.append("README.md does not name the vault_id output")
    for manifest in SECRET_MANIFESTS:
        if manifest not in readme:
            problems.append(f"README.md does not name deploy/k8s/{manifest}")
    return problems


def check_region(config: Config, objects: list[Obj]) -> list[str]:
    region = resolve(config, "${var.region}")
    problems = []
    configured = config_map_by_prefix(objects, "voxflow-config")["data"]["VOXFLOW_OCI_REGION"]
    if configured != region:
        problems.append(f"VOXFLOW_OCI_REGION={configured}, var.region defaults to {region}")
    for store in secret_stores(objects):
        if store.get("region") != region:
            problems.append(f"a SecretStore uses region {store.get('region')}, not {region}")
    return problems


def check_gpu_pool(config: Config, objects: list[Obj]) -> list[str]:
    problems = []
    pool = config.resource("oci_containerengine_node_pool", "gpu")
    key = resolve(config, "${local.gpu_taint_key}")
    value = resolve(config, "${local.gpu_taint_value}")
    effect = resolve(config, "${local.gpu_taint_effect}")
    label_key = resolve(config, "${local.pool_label_key}")
    label_value = resolve(config, "${local.gpu_pool_label}")
    shape = resolve(config, pool.get("node_shape"))

    # The taint reaches the kubelet through the pool's cloud-init (no taint argument exists).
    user_data = str((pool.get("node_metadata") or {}).get("user_data", ""))
    script = re.search(r"base64encode\(local\.(\w+)\)", user_data)
    if not script:
        problems.append("the gpu pool's node_metadata.user_data is not base64encode(local....)")
    else:
        cloud_init = str(resolve(config, config.locals.get(script.group(1), "")))
        if f"--register-with-taints={key}={value}:{effect}" not in cloud_init:
            problems.append(f"the gpu pool's cloud-init does not register {key}={value}:{effect}")
        if "oke_init_script" not in cloud_init:
            problems.append("the gpu pool's cloud-init does not run OKE's own init script")

    labels = {
        resolve(config, item.get("key")): resolve(config, item.get("value"))
        for item in pool.get("initial_node_labels", [])
    }
    if labels.get(label_key) != label_value:
        problems.append(f"the gpu pool does not label its nodes {label_key}={label_value}")

    deployment = named(objects, "Deployment", "torchserve-gpu")
    pod = deployment["spec"]["template"]["spec"]
    if not tolerates(pod.get("tolerations") or [], key, value, effect):
        problems.append(f"torchserve-gpu does not tolerate {key}={value}:{effect}")
    if not pins_to_gpu_pool(pod, label_key, label_value, shape):
        problems.append(
            f"torchserve-gpu is not held to the gpu pool ({label_key}: {label_value}, "
            f"or an instance-type list with {shape})"
        )
    cpu_labels = {
        resolve(config, item.get("key")): resolve(config, item.get("value"))
        for item in config.resource("oci_containerengine_node_pool", "cpu").get(
            "initial_node_labels", []
        )
    }
    if cpu_labels.get(label_key) == label_value:
        problems.append("the cpu pool carries the gpu pool's label")
    return problems


def check_namespaces(config: Config, objects: list[Obj], temporal: list[Obj]) -> list[str]:
    problems = []
    for expected, rendered in (
        (resolve(config, "${local.app_namespace}"), objects),
        (resolve(config, "${local.temporal_namespace}"), temporal),
    ):
        for obj in rendered:
            if obj["kind"] in CLUSTER_SCOPED:
                continue
            namespace = obj["metadata"].get("namespace")
            if namespace != expected:
                problems.append(
                    f"{obj['kind']}/{obj['metadata']['name']} is in {namespace!r}, "
                    f"Terraform says {expected!r}"
                )
    app_namespace = resolve(config, "${local.app_namespace}")
    if app_namespace not in {ns["metadata"]["name"] for ns in of_kind(objects, "Namespace")}:
        problems.append(f"the overlay declares no Namespace {app_namespace}")
    return problems


def check_kubernetes_version(config: Config) -> list[str]:
    problems = []
    default = resolve(config, "${var.kubernetes_version}")
    if not re.fullmatch(rf"v{re.escape(KUBERNETES_VERSION)}\.\d+", str(default)):
        problems.append(
            f"var.kubernetes_version defaults to {default}, not v{KUBERNETES_VERSION}.x"
        )
    cluster = config.resource("oci_containerengine_cluster", "voxflow")
    if cluster.get("type") != "ENHANCED_CLUSTER":
        problems.append("the cluster is not ENHANCED_CLUSTER (workload identity needs it)")
    for where, body in (
        ("cluster", cluster),
        ("cpu pool", config.resource("oci_containerengine_node_pool", "cpu")),
        ("gpu pool", config.resource("oci_containerengine_node_pool", "gpu")),
    ):
        if body.get("kubernetes_version") != "${var.kubernetes_version}":
            problems.append(f"the {where} does not use var.kubernetes_version")
    return problems


def check_autoscaler(config: Config) -> list[str]:
    addon = addon_named(config, "ClusterAutoscaler")
    if addon is None:
        return ["no oci_containerengine_addon with addon_name ClusterAutoscaler"]
    problems = []
    if addon_named(config, "NvidiaGpuPlugin") is None:
        problems.append("no NvidiaGpuPlugin add-on")
    settings = configurations(addon)
    if settings.get("authType") != "workload":
        problems.append("the autoscaler add-on does not use workload identity (authType)")
    entries = {}
    for entry in str(settings.get("nodes", "")).split(","):
        match = re.fullmatch(
            r"(?P<min>[^:]+):(?P<max>[^:]+):\$\{oci_containerengine_node_pool\.(?P<pool>\w+)\.id\}",
            entry.strip(),
        )
        if match:
            entries[match["pool"]] = (match["min"], match["max"])
    for pool_name in ("gpu", "cpu"):
        if pool_name not in entries:
            problems.append(f"the autoscaler's nodes do not name the {pool_name} pool")
            continue
        low, high = entries[pool_name]
        pool = config.resource("oci_containerengine_node_pool", pool_name)
        details = (pool.get("node_config_details") or [{}])[0]
        size = details.get("size")
        if low != size:
            problems.append(
                f"{pool_name}: autoscaler minimum {low} is not the pool's initial size {size}"
            )
        if not re.fullmatch(r"\$\{var\.\w+\}", high):
            problems.append(f"{pool_name}: autoscaler maximum {high} is not a variable")
        low_n, high_n = as_int(config, low), as_int(config, high)
        if low_n is None or high_n is None or low_n > high_n:
            problems.append(f"{pool_name}: autoscaler range {low_n}..{high_n} is not a range")
        ignored = [
            item
            for lifecycle in pool.get("lifecycle", [])
            for item in lifecycle.get("ignore_changes", [])
        ]
        if "${node_config_details[0].size}" not in ignored:
            problems.append(f"{pool_name}: Terraform would fight the autoscaler over the size")
    if "gpu" in entries:
        low, high = (as_int(config, bound) for bound in entries["gpu"])
        if (low, high) != (1, 4):
            problems.append(f"the gpu pool scales {low}..{high} by default, not 1..4")
    return problems


def check_autoscaler_policy(config: Config) -> list[str]:
    for body in config.resources.get("oci_identity_policy", {}).values():
        text = str(resolve(config, str(body.get("statements", ""))))
        if "'cluster-autoscaler'" not in text:
            continue
        problems = [
            f"the autoscaler policy lacks '{permission}'"
            for permission in AUTOSCALER_PERMISSIONS
            if permission not in text
        ]
        if "'kube-system'" not in text or "'workload'" not in text:
            problems.append("the autoscaler policy is not for kube-system's workload identity")
        return problems
    return ["no policy for the workload identity kube-system/cluster-autoscaler"]


def check_readme(readme: str) -> list[str]:
    problems = []
    for needle in (
        "terraform.tfvars.example",
        "terraform init",
        "terraform plan",
        "terraform apply",
        "web_certificate_id",
        "psql_endpoint",
        "deploy/temporal/values.yaml",
        "python-hcl2",
    ):
        if needle not in readme:
            problems.append(f"README.md does not mention {needle}")
    if not re.search(r"terraform init`?[^.]*\b(have|has|was|were) not been run", readme):
        problems.append("README.md does not say that terraform init/plan/apply never ran here")
    return problems


# ------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def config() -> Config:
    assert TF_FILES, f"no .tf files in {TERRAFORM}"
    return merge({path.name: parse(path) for path in TF_FILES})


@pytest.fixture(scope="module")
def oke() -> list[Obj]:
    return render("overlays/oke")


@pytest.fixture(scope="module")
def temporal() -> list[Obj]:
    return render("temporal-secrets")


@pytest.fixture(scope="module")
def readme() -> str:
    return README.read_text(encoding="utf-8")


# ------------------------------------------------------------------ the checks


@pytest.mark.parametrize("path", TF_FILES, ids=[path.name for path in TF_FILES])
def test_every_tf_file_parses(path: Path):
    parsed = parse(path)
    assert parsed, f"{path.name} parsed to nothing"


def test_the_example_tfvars_sets_only_declared_variables(config):
    parsed = parse(TERRAFORM / "terraform.tfvars.example")
    assert parsed, "terraform.tfvars.example is empty"
    unknown = sorted(set(parsed) - set(config.variables))
    assert not unknown, f"terraform.tfvars.example sets undeclared variables: {unknown}"
    required = sorted(name for name, body in config.variables.items() if "default" not in body)
    assert set(required) <= set(parsed), f"the example leaves out required {required}"


def test_required_names(config):
    assert check_required_names(config) == []


def test_every_reference_is_defined(config):
    assert check_references(config) == []


def test_buckets_match_the_manifests(config, oke):
    assert check_buckets(config, oke) == []


def test_artifacts_lifecycle(config):
    assert check_artifacts_lifecycle(config) == []


def test_every_external_secret_key_has_a_vault_secret(config, oke, temporal):
    assert check_vault_secrets(config, oke + temporal) == []


def test_the_vault_placeholder_is_documented_as_vault_id(config, oke, temporal, readme):
    assert check_vault_documented(config, oke + temporal, readme) == []


def test_region_matches_the_manifests(config, oke, temporal):
    assert check_region(config, oke + temporal) == []


def test_gpu_pool_taint_and_label_match_torchserve_gpu(config, oke):
    assert check_gpu_pool(config, oke) == []


def test_namespaces_match_the_rendered_objects(config, oke, temporal):
    assert check_namespaces(config, oke, temporal) == []


def test_kubernetes_version_matches_the_schemas(config):
    assert check_kubernetes_version(config) == []


def test_autoscaler_names_both_pools_with_their_sizes(config):
    assert check_autoscaler(config) == []


def test_autoscaler_workload_identity_policy(config):
    assert check_autoscaler_policy(config) == []


def test_readme_walks_the_operator(readme):
    assert check_readme(readme) == []


def test_database_is_postgresql_16_in_the_private_subnet(config):
    database = config.resource("oci_psql_db_system", "voxflow")
    assert database["db_version"] == "16"
    assert database["network_details"][0]["subnet_id"] == "${oci_core_subnet.database.id}"
    assert config.resource("oci_core_subnet", "database")["prohibit_public_ip_on_vnic"] is True


# ------------------------------------------------------------------ each check can fail


def _set_local(name: str, value: Any) -> Callable[[Config, list[Obj]], None]:
    def mutate(config: Config, objects: list[Obj]) -> None:
        config.locals[name] = value

    return mutate


def _set_default(name: str, value: Any) -> Callable[[Config, list[Obj]], None]:
    def mutate(config: Config, objects: list[Obj]) -> None:
        config.variables[name]["default"] = value

    return mutate


def _drop_vault_secret(config: Config, objects: list[Obj]) -> None:
    del config.locals["vault_secret_names"]["temporal-postgres-password"]


def _public_bucket(config: Config, objects: list[Obj]) -> None:
    config.resources["oci_objectstorage_bucket"]["models"]["access_type"] = "ObjectRead"


def _no_archive_prefix(config: Config, objects: list[Obj]) -> None:
    policy = config.resources["oci_objectstorage_object_lifecycle_policy"]["artifacts"]
    for rule in policy["rules"]:
        rule.pop("object_name_filter", None)


def _no_toleration(config: Config, objects: list[Obj]) -> None:
    named(objects, "Deployment", "torchserve-gpu")["spec"]["template"]["spec"]["tolerations"] = []


def _unpinned_torchserve_gpu(config: Config, objects: list[Obj]) -> None:
    pod = named(objects, "Deployment", "torchserve-gpu")["spec"]["template"]["spec"]
    pod.pop("nodeSelector", None)
    pod.pop("affinity", None)


def _no_gpu_user_data(config: Config, objects: list[Obj]) -> None:
    config.resources["oci_containerengine_node_pool"]["gpu"].pop("node_metadata")


def _autoscaler_without_gpu(config: Config, objects: list[Obj]) -> None:
    addon = addon_named(config, "ClusterAutoscaler")
    for item in addon["configurations"]:
        if item["key"] == "nodes":
            item["value"] = ",".join(
                entry for entry in item["value"].split(",") if "node_pool.gpu." not in entry
            )


def _autoscaler_fixed_minimum(config: Config, objects: list[Obj]) -> None:
    addon = addon_named(config, "ClusterAutoscaler")
    for item in addon["configurations"]:
        if item["key"] == "nodes":
            item["value"] = item["value"].replace("${var.gpu_pool_min_size}:", "2:", 1)


def _autoscaler_policy_without_vnics(config: Config, objects: list[Obj]) -> None:
    for body in config.resources["oci_identity_policy"].values():
        body["statements"] = str(body["statements"]).replace("use vnics", "read vnics")


def _undefined_reference(config: Config, objects: list[Obj]) -> None:
    config.resources["oci_objectstorage_bucket"]["models"]["namespace"] = "${local.object_nmspace}"


def _basic_cluster(config: Config, objects: list[Obj]) -> None:
    config.resources["oci_containerengine_cluster"]["voxflow"]["type"] = "BASIC_CLUSTER"


def _other_namespace(config: Config, objects: list[Obj]) -> None:
    objects[-1]["metadata"]["namespace"] = "default"


def _other_region(config: Config, objects: list[Obj]) -> None:
    for store in of_kind(objects, "SecretStore"):
        store["spec"]["provider"]["oracle"]["region"] = "us-ashburn-1"


def _duplicate_definition(config: Config, objects: list[Obj]) -> None:
    config.duplicates.append("local.models_bucket (iam.tf) is defined twice")


def _wrong_fetch_bucket(config: Config, objects: list[Obj]) -> None:
    for _, pod in workloads(objects):
        for container in containers(pod):
            for item in container.get("env", []):
                if item["name"] == "VOXFLOW_OCI_BUCKET":
                    item["value"] = "voxflow-model"


def _undocumented_vault(config: Config, objects: list[Obj]) -> None:
    for store in of_kind(objects, "SecretStore"):
        store["spec"]["provider"]["oracle"]["vault"] = "ocid1.vault.oc1..another-placeholder"


MUTATIONS: list[tuple[str, Callable[..., None], Callable[..., list[str]]]] = [
    ("renamed artifacts bucket", _set_local("artifacts_bucket", "voxflow-renders"), check_buckets),
    ("renamed models bucket", _set_local("models_bucket", "voxflow-archives"), check_buckets),
    ("fetch-models reads another bucket", _wrong_fetch_bucket, check_buckets),
    ("public models bucket", _public_bucket, check_buckets),
    ("archive rule for every object", _no_archive_prefix, check_artifacts_lifecycle),
    (
        "archive after 30 days",
        _set_default("artifacts_archive_after_days", 30),
        check_artifacts_lifecycle,
    ),
    ("a vault secret dropped", _drop_vault_secret, check_vault_secrets),
    ("vault placeholder changed", _undocumented_vault, check_vault_documented),
    ("region changed", _other_region, check_region),
    ("taint key changed", _set_local("gpu_taint_key", "nvidia.com/accelerator"), check_gpu_pool),
    (
        "cloud-init registers another taint",
        _set_local("gpu_node_taint", "nvidia.com/gpu=true:NoSchedule"),
        check_gpu_pool,
    ),
    ("taint effect changed", _set_local("gpu_taint_effect", "NoExecute"), check_gpu_pool),
    ("pool label changed", _set_local("gpu_pool_label", "accelerated"), check_gpu_pool),
    ("no taint cloud-init", _no_gpu_user_data, check_gpu_pool),
    ("toleration removed", _no_toleration, check_gpu_pool),
    ("torchserve-gpu not pinned", _unpinned_torchserve_gpu, check_gpu_pool),
    ("namespace renamed", _set_local("app_namespace", "voxflow-prod"), check_namespaces),
    ("object in another namespace", _other_namespace, check_namespaces),
    ("Kubernetes 1.32", _set_default("kubernetes_version", "v1.32.1"), check_kubernetes_version),
    ("basic cluster", _basic_cluster, check_kubernetes_version),
    ("autoscaler without the gpu pool", _autoscaler_without_gpu, check_autoscaler),
    ("autoscaler minimum not the pool size", _autoscaler_fixed_minimum, check_autoscaler),
    ("gpu pool max 8", _set_default("gpu_pool_max_size", 8), check_autoscaler),
    ("autoscaler policy narrowed", _autoscaler_policy_without_vnics, check_autoscaler_policy),
    ("typo in a reference", _undefined_reference, check_references),
    ("a name defined twice", _duplicate_definition, check_required_names),
    ("required local changed", _set_local("gpu_taint_key", "gpu"), check_required_names),
]


def _arguments(checker, config, oke, temporal, readme) -> tuple:
    if checker in (check_buckets, check_gpu_pool):
        return (config, oke)
    if checker in (check_vault_secrets, check_region):
        return (config, oke + temporal)
    if checker is check_vault_documented:
        return (config, oke + temporal, readme)
    if checker is check_namespaces:
        return (config, oke, temporal)
    return (config,)


@pytest.mark.parametrize(
    ("mutate", "checker"),
    [(mutate, checker) for _, mutate, checker in MUTATIONS],
    ids=[label for label, _, _ in MUTATIONS],
)
def test_each_check_reports_a_change(config, oke, temporal, readme, mutate, checker):
    config, oke, temporal = copy.deepcopy(config), copy.deepcopy(oke), copy.deepcopy(temporal)
    assert checker(*_arguments(checker, config, oke, temporal, readme)) == [], "unchanged: clean"
    mutate(config, oke + temporal)  # the same objects: a change shows in oke or temporal
    assert checker(*_arguments(checker, config, oke, temporal, readme)), "the change went unseen"


def test_the_readme_check_reports_a_missing_disclaimer(readme):
    assert check_readme(readme) == []
    changed = re.sub(r"terraform init", "terraform setup", readme)
    assert check_readme(changed)
