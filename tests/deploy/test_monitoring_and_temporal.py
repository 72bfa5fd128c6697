"""The Prometheus scrape config, the Grafana dashboard and the Temporal Helm values agree with
what the manifests and TorchServe really expose."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from tests.deploy.k8s import REPO, named, render, template_labels

MONITORING = REPO / "deploy" / "monitoring"
# RabbitMQ's /metrics/detailed?family=queue_coarse_metrics families (rabbitmq_prometheus plugin).
RABBITMQ_METRICS = {
    "rabbitmq_detailed_queue_messages_ready",
    "rabbitmq_detailed_queue_messages_unacked",
    "rabbitmq_detailed_queue_messages",
    "rabbitmq_detailed_queue_process_reductions_total",
}
PROMQL_WORDS = {"sum", "by", "rate", "job", "pool", "queue", "model_name", "without", "avg"}


def torchserve_metric_names() -> set[str]:
    """The metric names TorchServe itself declares (its packaged metrics.yaml)."""
    import ts

    declared = yaml.safe_load((Path(ts.__file__).parent / "configs" / "metrics.yaml").read_text())
    names = set()
    for section in declared.values():
        if isinstance(section, dict):
            for metrics in section.values():
                names |= {m["name"] for m in metrics or [] if isinstance(m, dict)}
    return names


def test_scrape_jobs_keep_the_rendered_pods():
    config = yaml.safe_load((MONITORING / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert set(jobs) == {"torchserve", "rabbitmq"}
    objects = render("overlays/oke")
    torchserve = template_labels(named(objects, "Deployment", "torchserve-gpu"))
    for job in jobs.values():
        (sd,) = job["kubernetes_sd_configs"]
        assert sd["role"] == "pod" and sd["namespaces"]["names"] == ["voxflow"]
    keep = {
        tuple(rule["source_labels"]): rule["regex"]
        for rule in jobs["torchserve"]["relabel_configs"]
        if rule.get("action") == "keep"
    }
    component = keep[("__meta_kubernetes_pod_label_app_kubernetes_io_component",)]
    assert torchserve["app.kubernetes.io/component"] == component
    port_name = keep[("__meta_kubernetes_pod_container_port_name",)]
    ports = named(objects, "Deployment", "torchserve-gpu")["spec"]["template"]["spec"]
    assert any(p.get("name") == port_name and p["containerPort"] == 8082
               for c in ports["containers"] for p in c.get("ports", []))  # fmt: skip
    cluster = named(objects, "RabbitmqCluster", "voxflow-rabbitmq")
    assert "rabbitmq_prometheus" in cluster["spec"]["rabbitmq"]["additionalPlugins"]
    rabbit_keep = {
        tuple(r["source_labels"]): r["regex"]
        for r in jobs["rabbitmq"]["relabel_configs"]
        if r.get("action") == "keep"
    }
    assert (
        rabbit_keep[("__meta_kubernetes_pod_label_app_kubernetes_io_name",)] == "voxflow-rabbitmq"
    )


def test_dashboard_has_the_key_panels_on_real_metrics():
    dashboard = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    titles = [panel["title"] for panel in dashboard["panels"]]
    assert titles == ["Segments per second", "Queue depth", "TorchServe latency", "Failures"]
    known = torchserve_metric_names() | RABBITMQ_METRICS
    assert {"ts_inference_requests_total", "Requests5XX"} <= known
    for panel in dashboard["panels"]:
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            expr = target["expr"]
            assert expr.count("(") == expr.count(")"), expr
            without_strings = re.sub(r'"[^"]*"', "", expr)
            without_labels = re.sub(r"\{[^}]*\}|\[[^\]]*\]", "", without_strings)
            words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", without_labels))
            metrics = words - PROMQL_WORDS
            assert metrics and metrics <= known, f"{panel['title']}: unknown {metrics - known}"
    queues = "".join(t["expr"] for p in dashboard["panels"] for t in p["targets"])
    assert "voxflow.dead" in queues and "voxflow\\\\.jobs" in queues


def test_temporal_values_use_postgresql_and_the_vault_secret():
    values = yaml.safe_load((REPO / "deploy" / "temporal" / "values.yaml").read_text())
    persistence = values["server"]["config"]["persistence"]
    secret = named(render("temporal-secrets"), "ExternalSecret", "temporal-postgres")
    for store in ("default", "visibility"):
        sql = persistence[store]["sql"]
        assert persistence[store]["driver"] == "sql"
        assert sql["driver"] == "postgres12"
        assert sql["existingSecret"] == secret["spec"]["target"]["name"]
        assert "password" not in sql
    assert {d["secretKey"] for d in secret["spec"]["data"]} == {"password"}
    for bundled in ("cassandra", "mysql", "postgresql", "elasticsearch", "prometheus", "grafana"):
        assert values[bundled]["enabled"] is False
    for image in (values["server"]["image"], values["admintools"]["image"], values["web"]["image"]):
        assert re.match(r"\d+\.\d+\.\d+", str(image["tag"]))
    # The workers reach the frontend Service the chart makes for release "temporal".
    config = next(
        cm for cm in render("overlays/oke") if cm["metadata"]["name"].startswith("voxflow-config-")
    )
    assert config["data"]["VOXFLOW_TEMPORAL_ADDRESS"] == (
        f"temporal-frontend.temporal.svc.cluster.local:"
        f"{values['server']['frontend']['service']['port']}"
    )
