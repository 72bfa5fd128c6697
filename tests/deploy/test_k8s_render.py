"""Every overlay renders with kustomize and validates against the Kubernetes schemas.

Core kinds go through kubernetes-validate (strict: unknown fields are errors). The operators'
custom resources have no schema there; they are listed explicitly and their shape and
cross-references are checked here instead. A kind that is neither fails the test.
"""

from __future__ import annotations

import re

import kubernetes_validate
import pytest

from tests.deploy.k8s import (
    KUBERNETES_VERSION,
    OVERLAYS,
    Obj,
    named,
    of_kind,
    render,
    secrets_made,
    template_labels,
)

CUSTOM_KINDS = {
    ("cert-manager.io/v1", "Certificate"),
    ("cert-manager.io/v1", "ClusterIssuer"),
    ("external-secrets.io/v1", "SecretStore"),
    ("external-secrets.io/v1", "ExternalSecret"),
    ("keda.sh/v1alpha1", "ScaledObject"),
    ("keda.sh/v1alpha1", "TriggerAuthentication"),
    ("rabbitmq.com/v1beta1", "RabbitmqCluster"),
    ("rabbitmq.com/v1beta1", "User"),
    ("rabbitmq.com/v1beta1", "Permission"),
    # components/monitoring: checked against their CRDs' fields in test_monitoring.py
    ("monitoring.coreos.com/v1", "PodMonitor"),
    ("monitoring.coreos.com/v1", "PrometheusRule"),
    ("monitoring.coreos.com/v1alpha1", "PrometheusAgent"),
}
FOLDERS = [f"overlays/{name}" for name in OVERLAYS] + ["base", "temporal-secrets"]


@pytest.fixture(params=FOLDERS)
def objects(request) -> list[Obj]:
    return render(request.param)


def test_overlays_render_what_they_should():
    oke, cpu = render("overlays/oke"), render("overlays/oke-cpu")
    names = {(o["kind"], o["metadata"]["name"]) for o in oke}
    cpu_names = {(o["kind"], o["metadata"]["name"]) for o in cpu}
    gpu_only = {
        ("Deployment", "torchserve-gpu"),
        ("Deployment", "inference-worker-gpu"),
        ("ScaledObject", "inference-worker-gpu"),
        ("PodDisruptionBudget", "torchserve-gpu"),
    }
    assert gpu_only <= names
    assert not gpu_only & cpu_names
    gpu_extras = {
        ("Service", "torchserve-gpu"),
        ("PodDisruptionBudget", "inference-worker-gpu"),
        ("ScaledObject", "torchserve-gpu"),
    }

    def unhashed(found: set[tuple[str, str]]) -> set[tuple[str, str]]:
        """Generated ConfigMaps by name only: the registry differs (no gpu voices in oke-cpu)."""
        return {(k, n.rsplit("-", 1)[0] if k == "ConfigMap" else n) for k, n in found}

    assert unhashed(names - gpu_only - gpu_extras) == unhashed(cpu_names)
    for obj in oke + cpu:
        if obj["kind"] != "Namespace":
            assert obj["metadata"].get("namespace") == "voxflow", obj["metadata"]["name"]
    assert named(cpu, "Deployment", "torchserve-cpu")["spec"]["replicas"] == 4


def test_every_object_validates(objects):
    custom = 0
    for obj in objects:
        key = (obj["apiVersion"], obj["kind"])
        if key in CUSTOM_KINDS:
            with pytest.raises(kubernetes_validate.utils.SchemaNotFoundError):
                kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
            custom += 1
            continue
        try:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.utils.SchemaNotFoundError:
            pytest.fail(f"{key} has no Kubernetes schema and is not a known custom resource")
        except kubernetes_validate.utils.ValidationError as error:
            where = "/".join(str(p) for p in error.absolute_path)
            pytest.fail(f"{obj['kind']}/{obj['metadata']['name']} at {where}: {error.message}")
    assert custom < len(objects)


def test_validation_would_catch_a_mistake():
    deployment = named(render("overlays/oke"), "Deployment", "web")
    broken = {**deployment, "spec": {**deployment["spec"], "replica": 2}}
    with pytest.raises(kubernetes_validate.utils.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


# ------------------------------------------------------------------ custom resources' shape


def test_secret_store_uses_vault_and_workload_identity(objects):
    accounts = {sa["metadata"]["name"] for sa in of_kind(objects, "ServiceAccount")}
    for store in of_kind(objects, "SecretStore"):
        oracle = store["spec"]["provider"]["oracle"]
        assert oracle["vault"].startswith("ocid1.vault.")
        assert re.fullmatch(r"[a-z]+-[a-z]+-\d", oracle["region"])
        assert oracle["principalType"] == "Workload"
        assert oracle["serviceAccountRef"]["name"] in accounts


def test_external_secrets_reference_the_store_and_vault_keys(objects):
    stores = {s["metadata"]["name"] for s in of_kind(objects, "SecretStore")}
    externals = of_kind(objects, "ExternalSecret")
    for external in externals:
        spec = external["spec"]
        assert spec["secretStoreRef"] == {
            "kind": "SecretStore",
            "name": spec["secretStoreRef"]["name"],
        }
        assert spec["secretStoreRef"]["name"] in stores
        assert spec["target"]["creationPolicy"] == "Owner"
        assert spec["refreshInterval"]
        assert spec["data"], external["metadata"]["name"]
        for item in spec["data"]:
            assert set(item) == {"secretKey", "remoteRef"}
            assert re.fullmatch(r"[a-z0-9-]+", item["remoteRef"]["key"])
        template = (spec["target"].get("template") or {}).get("data", {})
        for value in template.values():  # templates only combine the fetched keys
            used = set(re.findall(r"\{\{\s*\.(\w+)\s*(?:\|\s*urlquery\s*)?\}\}", value))
            assert used and used <= {i["secretKey"] for i in spec["data"]}


def test_scaled_objects_and_trigger_auth(objects):
    deployments = {d["metadata"]["name"] for d in of_kind(objects, "Deployment")}
    auths = {a["metadata"]["name"]: a for a in of_kind(objects, "TriggerAuthentication")}
    made = secrets_made(objects)
    for auth in auths.values():
        for ref in auth["spec"]["secretTargetRef"]:
            assert ref["key"] in made.get(ref["name"], set())
    for scaled in of_kind(objects, "ScaledObject"):
        spec = scaled["spec"]
        assert spec["scaleTargetRef"]["name"] in deployments
        assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"]
        for trigger in spec["triggers"]:
            if trigger["type"] == "rabbitmq":
                assert trigger["authenticationRef"]["name"] in auths
            else:  # TorchServe scales on its own metrics, read from the in-cluster Prometheus
                assert trigger["type"] == "prometheus", trigger
                assert trigger["metadata"]["serverAddress"].startswith("http://prometheus")
                assert float(trigger["metadata"]["threshold"]) > 0


def test_rabbitmq_resources(objects):
    clusters = of_kind(objects, "RabbitmqCluster")
    if not clusters:
        return
    (cluster,) = clusters
    spec = cluster["spec"]
    assert spec["replicas"] >= 3 and spec["replicas"] % 2 == 1  # quorum queues need a majority
    assert spec["resources"]["requests"] and spec["resources"]["limits"]
    assert spec["persistence"]["storageClassName"] == "oci-bv"
    made = secrets_made(objects)
    users = {u["metadata"]["name"]: u for u in of_kind(objects, "User")}
    for user in users.values():
        assert user["spec"]["rabbitmqClusterReference"]["name"] == cluster["metadata"]["name"]
        assert {"username", "password"} <= made[user["spec"]["importCredentialsSecret"]["name"]]
    for permission in of_kind(objects, "Permission"):
        assert permission["spec"]["userReference"]["name"] in users
        assert permission["spec"]["rabbitmqClusterReference"]["name"] == cluster["metadata"]["name"]
    # The app's AMQP URL and the broker user come from the same vault secrets.
    amqp = named(objects, "ExternalSecret", "voxflow-amqp")["spec"]["target"]["template"]["data"]
    assert (
        "{{ .username | urlquery }}:{{ .password | urlquery }}@voxflow-rabbitmq."
        in amqp["VOXFLOW_AMQP_URL"]
    ), "credentials in a URL are URL-encoded"
    assert users["voxflow-app"]["spec"]["importCredentialsSecret"]["name"] == "voxflow-amqp"


def test_services_select_pods(objects):
    pods = [template_labels(d) for d in of_kind(objects, "Deployment")]
    for service in of_kind(objects, "Service"):
        selector = service["spec"]["selector"]
        assert any(all(labels.get(k) == v for k, v in selector.items()) for labels in pods)
