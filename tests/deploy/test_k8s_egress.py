"""Egress NetworkPolicies: each pod may reach what its code calls, and nothing else.

These are evaluated here like the ingress rules in test_k8s_invariants.py; on a cluster they are
enforced only where a policy engine runs (Calico on OKE; flannel ignores them).
"""

from __future__ import annotations

import pytest

from tests.deploy.k8s import (
    OVERLAYS,
    REPO,
    Obj,
    deployments_labels,
    policy_peers,
    render,
    selects,
)
from tests.deploy.terraform import parse

TERRAFORM = REPO / "deploy" / "terraform"


@pytest.fixture(params=OVERLAYS)
def objects(request) -> list[Obj]:
    return render(f"overlays/{request.param}")


def egress(objects: list[Obj], labels: dict[str, str], port: int) -> list[Obj] | None:
    """Destinations a pod with `labels` may reach on `port`; None means anywhere."""
    return policy_peers(objects, labels, port, "Egress")


def component(objects: list[Obj], name: str) -> list[dict[str, str]]:
    found = [
        labels
        for labels in deployments_labels(objects)
        if labels.get("app.kubernetes.io/component") == name
    ]
    assert found, name
    return found


def terraform_defaults() -> dict[str, object]:
    return {
        name: spec.get("default")
        for block in parse(TERRAFORM / "variables.tf").get("variable", [])
        for name, spec in block.items()
    }


def ip_blocks(peers: list[Obj] | None) -> set[str]:
    assert peers is not None, "open to anywhere"
    return {p["ipBlock"]["cidr"] for p in peers if "ipBlock" in p}


def test_every_pod_is_egress_isolated_and_resolves_dns(objects):
    for labels in deployments_labels(objects):
        peers = egress(objects, labels, 53)
        assert peers is not None, labels
        assert any(
            p.get("podSelector", {}).get("matchLabels") == {"k8s-app": "kube-dns"} for p in peers
        )
        assert egress(objects, labels, 22) == [], f"{labels} may reach port 22"


def test_only_inference_workers_call_torchserve(objects):
    torchserve = component(objects, "torchserve")[0]
    for labels in deployments_labels(objects):
        peers = egress(objects, labels, 8080) or []
        reaches = any("podSelector" in p and selects(p["podSelector"], torchserve) for p in peers)
        is_worker = labels.get("app.kubernetes.io/component") == "inference-worker"
        assert reaches == is_worker, labels


def test_clients_reach_the_broker_temporal_and_the_database(objects):
    database = terraform_defaults()["subnet_cidrs"]["database"]
    for name in ("web", "temporal-worker", "relay", "inference-worker"):
        for labels in component(objects, name):
            assert egress(objects, labels, 5672), f"{name} cannot reach RabbitMQ"
            assert egress(objects, labels, 7233), f"{name} cannot reach Temporal"
    for name in ("web", "temporal-worker", "relay"):
        for labels in component(objects, name):
            assert ip_blocks(egress(objects, labels, 5432)) == {database}
    for labels in component(objects, "inference-worker"):
        assert egress(objects, labels, 5432) == [], "workers have no database access"


def test_only_bucket_users_reach_oci_services(objects):
    api = terraform_defaults()["subnet_cidrs"]["api_endpoint"]
    for name in ("web", "temporal-worker", "inference-worker", "torchserve"):
        for labels in component(objects, name):
            assert "0.0.0.0/0" in ip_blocks(egress(objects, labels, 443)), name
            assert ip_blocks(egress(objects, labels, 12250)) == {api}, name
    (relay,) = component(objects, "relay")
    assert egress(objects, relay, 443) == [] and egress(objects, relay, 12250) == []


def test_the_evaluator_sees_an_open_rule():
    objects = render("overlays/oke")
    opened = [
        *objects,
        {
            "kind": "NetworkPolicy",
            "metadata": {"name": "oops"},
            "spec": {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{}]},
        },
    ]
    (relay,) = component(opened, "relay")
    assert egress(opened, relay, 22) is None
