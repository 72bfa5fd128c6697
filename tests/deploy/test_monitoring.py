"""The monitoring component (deploy/k8s/components/monitoring) and deploy/monitoring, checked
against what really runs.

- Metric names in the alert rules, the Grafana dashboard and prometheus.yml come from a real
  scrape: TorchServe (the session fixture, after one prediction), RabbitMQ's prometheus plugin
  (after declaring Voxflow's real topology), and a Temporal dev server with its /metrics on
  (after a workflow fails on purpose). DCGM's names are NOT scraped (no GPU here): they are
  checked against the exporter's pinned default counters.
- The rules go through `promtool check rules` and `promtool test rules` with
  deploy/monitoring/alerts.test.yaml, where every alert must fire once and stay quiet once.
- The PodMonitors select the rendered pods (or the pods the RabbitMQ operator makes) on a port
  they have; the agent selects the PodMonitors and may reach those ports.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import httpx
import pytest
import yaml
from temporalio import workflow
from temporalio.exceptions import ApplicationError

from tests.deploy.k8s import (
    K8S,
    OVERLAYS,
    REPO,
    Obj,
    containers,
    named,
    of_kind,
    render,
    selects,
    template_labels,
)
from tests.deploy.test_k8s_invariants import allowed_peers
from tests.plugins.services import AMQP_URL, free_port, missing, require_service
from voxflow.processes import port_open

MONITORING = REPO / "deploy" / "monitoring"
COMPONENT = K8S / "components" / "monitoring"
KPS_RELEASE = "kube-prometheus-stack"  # the helm release name deploy/monitoring/README.md uses
MONITORING_KINDS = {"PodMonitor", "PrometheusRule", "PrometheusAgent"}

# ------------------------------------------------------------------ pinned upstream facts


def words(text: str) -> set[str]:
    return set(text.split())


# NVIDIA/dcgm-exporter tag 4.5.3-4.8.2 (commit 691c92762eb551313c825f6efe4ceeee20982801):
# the uncommented fields of deployment/templates/metrics-configmap.yaml, the default counters of
# chart 4.8.2 (as etc/default-counters.csv). Not scraped here: there is no GPU.
DCGM_DEFAULT_COUNTERS = words(
    """DCGM_FI_DEV_SM_CLOCK DCGM_FI_DEV_MEM_CLOCK DCGM_FI_DEV_MEMORY_TEMP DCGM_FI_DEV_GPU_TEMP
    DCGM_FI_DEV_POWER_USAGE DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION DCGM_FI_DEV_PCIE_REPLAY_COUNTER
    DCGM_FI_DEV_GPU_UTIL DCGM_FI_DEV_MEM_COPY_UTIL DCGM_FI_DEV_ENC_UTIL DCGM_FI_DEV_DEC_UTIL
    DCGM_FI_DEV_XID_ERRORS DCGM_FI_DEV_FB_FREE DCGM_FI_DEV_FB_USED
    DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL DCGM_FI_DEV_VGPU_LICENSE_STATUS
    DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS
    DCGM_FI_DEV_ROW_REMAP_FAILURE DCGM_FI_PROF_GR_ENGINE_ACTIVE DCGM_FI_PROF_PIPE_TENSOR_ACTIVE
    DCGM_FI_PROF_DRAM_ACTIVE DCGM_FI_PROF_PCIE_TX_BYTES DCGM_FI_PROF_PCIE_RX_BYTES"""
)
DCGM_CHART_VERSION = "4.8.2"
# The same chart's values.yaml top-level keys, and customMetrics, which its metrics ConfigMap
# reads (helm ignores a misspelt key without a word).
DCGM_CHART_VALUES = words(
    """image arguments imagePullSecrets nameOverride fullnameOverride namespaceOverride hostPID
    runtimeClassName priorityClassName hostNetwork serviceAccount rollingUpdate podLabels
    podAnnotations podSecurityContext securityContext service resources serviceMonitor
    nodeSelector tolerations affinity extraHostVolumes extraConfigMapVolumes extraVolumeMounts
    extraEnv kubeletPath tlsServerConfig basicAuth kubernetes debugDump kubernetesDRA
    livenessProbe readinessProbe customMetrics"""
)
# temporalio/temporal v1.28.1 (commit bc2433d037b163568ed4420f70023dde1a4ae5b5), the server
# deploy/temporal/values.yaml runs: common/metrics/metric_defs.go, the workflow close counters.
# The dev server scraped below embeds a newer server; this pins the production version.
TEMPORAL_WORKFLOW_COUNTERS = {
    "workflow_success",
    "workflow_cancel",
    "workflow_failed",
    "workflow_timeout",
    "workflow_terminate",
    "workflow_continued_as_new",
}
PROMETHEUS_SYNTHETIC = {"up"}  # written by Prometheus itself for every target

# rabbitmq/cluster-operator v2.22.x: the pods of a RabbitmqCluster (internal/metadata/label.go,
# Label) and their ports without TLS (internal/resource/statefulset.go, updateContainerPorts).
RABBITMQ_OPERATOR_PORTS = {"epmd": 4369, "amqp": 5672, "management": 15672, "prometheus": 15692}


def rabbitmq_operator_pod_labels(cluster: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": cluster,
        "app.kubernetes.io/component": "rabbitmq",
        "app.kubernetes.io/part-of": "rabbitmq",
    }


# prometheus-operator v0.93.0 (kube-prometheus-stack 88.5.3): the pod labels of a
# PrometheusAgent (pkg/prometheus/agent/operator.go makeSelectorLabels, plus the shard label),
# on top of spec.podMetadata.labels.
def agent_pod_labels(agent: Obj) -> dict[str, str]:
    name = agent["metadata"]["name"]
    return {
        **(agent["spec"].get("podMetadata", {}).get("labels") or {}),
        "app.kubernetes.io/name": "prometheus-agent",
        "app.kubernetes.io/managed-by": "prometheus-operator",
        "app.kubernetes.io/instance": name,
        "operator.prometheus.io/name": name,
        "operator.prometheus.io/shard": "0",
    }


# The same operator's CRD schemas (example/prometheus-operator-crd/*.yaml at v0.93.0): the
# fields allowed where ours are. The API server would drop an unknown field without a word.
CRD_FIELDS = {
    ("PodMonitor", "spec"): """attachMetadata bodySizeLimit convertClassicHistogramsToNHCB
        fallbackScrapeProtocol jobLabel keepDroppedTargets labelLimit labelNameLengthLimit
        labelValueLengthLimit namespaceSelector nativeHistogramBucketLimit
        nativeHistogramMinBucketFactor podMetricsEndpoints podTargetLabels sampleLimit
        scrapeClass scrapeClassicHistograms scrapeNativeHistograms scrapeProtocols selector
        selectorMechanism targetLimit""",
    ("PodMonitor", "endpoint"): """authorization basicAuth bearerTokenSecret enableHttp2
        filterRunning followRedirects honorLabels honorTimestamps interval metricRelabelings
        noProxy oauth2 params path port portNumber proxyConnectHeader proxyFromEnvironment
        proxyUrl relabelings scheme scrapeTimeout targetPort tlsConfig
        trackTimestampsStaleness""",
    (
        "PodMonitor",
        "relabeling",
    ): "action modulus regex replacement separator sourceLabels targetLabel",
    ("PrometheusRule", "spec"): "groups",
    (
        "PrometheusRule",
        "group",
    ): "interval labels limit name partial_response_strategy query_offset rules",
    ("PrometheusRule", "rule"): "alert annotations expr for keep_firing_for labels record",
    ("PrometheusAgent", "spec"): """additionalArgs additionalScrapeConfigs affinity
        apiserverConfig arbitraryFSAccessThroughSMs automountServiceAccountToken bodySizeLimit
        configMaps containers convertClassicHistogramsToNHCB dnsConfig dnsPolicy enableFeatures
        enableOTLPReceiver enableRemoteWriteReceiver enableServiceLinks enforcedBodySizeLimit
        enforcedKeepDroppedTargets enforcedLabelLimit enforcedLabelNameLengthLimit
        enforcedLabelValueLengthLimit enforcedNamespaceLabel enforcedSampleLimit
        enforcedTargetLimit excludedFromEnforcement externalLabels externalUrl hostAliases
        hostNetwork hostUsers ignoreNamespaceSelectors image imagePullPolicy imagePullSecrets
        initContainers keepDroppedTargets labelLimit labelNameLengthLimit labelValueLengthLimit
        listenLocal logFormat logLevel maximumStartupDurationSeconds minReadySeconds mode
        nameEscapingScheme nameValidationScheme nodeSelector otlp overrideHonorLabels
        overrideHonorTimestamps paused persistentVolumeClaimRetentionPolicy podManagementPolicy
        podMetadata podMonitorNamespaceSelector podMonitorSelector podTargetLabels portName
        priorityClassName probeNamespaceSelector probeSelector prometheusExternalLabelName
        reloadStrategy remoteWrite remoteWriteReceiverMessageVersions replicaExternalLabelName
        replicas resources routePrefix runtime sampleLimit schedulerName scrapeClasses
        scrapeClassicHistograms scrapeConfigNamespaceSelector scrapeConfigSelector
        scrapeFailureLogFile scrapeInterval scrapeNativeHistograms scrapeProtocols scrapeTimeout
        secrets securityContext serviceAccountName serviceDiscoveryRole
        serviceMonitorNamespaceSelector serviceMonitorSelector serviceName shardingStrategy
        shards storage targetLimit terminationGracePeriodSeconds tolerations
        topologySpreadConstraints tracingConfig tsdb updateStrategy version volumeMounts volumes
        walCompression web""",
    ("PrometheusAgent", "remoteWrite"): """authorization azureAd basicAuth bearerToken
        bearerTokenFile enableHTTP2 followRedirects headers messageVersion metadataConfig name
        noProxy oauth2 proxyConnectHeader proxyFromEnvironment proxyUrl queueConfig
        remoteTimeout roundRobinDNS sendExemplars sendNativeHistograms sigv4 tlsConfig url
        writeRelabelConfigs""",
    ("PrometheusAgent", "podMetadata"): "annotations labels name",
}


def allowed(kind: str, where: str) -> set[str]:
    return words(CRD_FIELDS[(kind, where)])


# ------------------------------------------------------------------ the objects


def monitoring_objects(overlay: str = "oke") -> list[Obj]:
    return [o for o in render(f"overlays/{overlay}") if o["kind"] in MONITORING_KINDS]


def pod_monitor(name: str, overlay: str = "oke") -> Obj:
    return named(render(f"overlays/{overlay}"), "PodMonitor", name)


def the_rule() -> Obj:
    (rule,) = of_kind(render("overlays/oke"), "PrometheusRule")
    return rule


def alerts() -> list[Obj]:
    return [r for g in the_rule()["spec"]["groups"] for r in g["rules"] if "alert" in r]


def dashboard_exprs() -> list[str]:
    import json

    dashboard = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    return [t["expr"] for p in dashboard["panels"] for t in p["targets"]]


def keda_prometheus_triggers() -> list[Obj]:
    """KEDA triggers that query the central Prometheus (TorchServe GPU scales on its metrics)."""
    scaled = of_kind(render("overlays/oke"), "ScaledObject")
    return [t for s in scaled for t in s["spec"]["triggers"] if t["type"] == "prometheus"]


def all_exprs() -> list[str]:
    keda = [t["metadata"]["query"] for t in keda_prometheus_triggers()]
    return [a["expr"] for a in alerts()] + dashboard_exprs() + keda


# ------------------------------------------------------------------ PromQL, lightly

PROMQL_KEYWORDS = {"and", "or", "unless", "offset", "bool"}
PROMQL_FUNCTIONS = {
    "sum",
    "max",
    "min",
    "avg",
    "count",
    "group",
    "topk",
    "bottomk",
    "quantile",
    "stddev",
    "rate",
    "irate",
    "increase",
    "delta",
    "idelta",
    "deriv",
    "changes",
    "resets",
    "absent",
    "absent_over_time",
    "avg_over_time",
    "max_over_time",
    "min_over_time",
    "sum_over_time",
    "vector",
    "scalar",
    "time",
    "abs",
    "clamp_min",
    "clamp_max",
    "histogram_quantile",
    "label_replace",
    "predict_linear",
}
STRING = r'"(?:[^"\\]|\\.)*"|`[^`]*`'
GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")


def metric_names(expr: str) -> set[str]:
    """The series names an expression reads (not its functions, keywords or label names)."""
    text = re.sub(STRING, '""', expr)
    text = re.sub(r"\{[^}]*\}|\[[^\]]*\]", " ", text)
    text = GROUPING.sub(" ", text)
    names = set()
    for word, call in re.findall(r"(?<![\w.:])([A-Za-z_:][\w:]*)(\s*\()?", text):
        if word in PROMQL_KEYWORDS:
            continue
        if call:
            assert word in PROMQL_FUNCTIONS, f"{word}( in {expr!r}: not a PromQL function"
            continue
        names.add(word)
    return names


def grouping_labels(expr: str) -> set[str]:
    return {
        label.strip()
        for _, labels in GROUPING.findall(re.sub(STRING, '""', expr))
        for label in labels.split(",")
        if label.strip()
    }


def matcher_labels(expr: str) -> set[str]:
    """Label names inside {...} selectors."""
    text = re.sub(STRING, '""', expr)
    return {n for sel in re.findall(r"\{([^}]*)\}", text) for n in re.findall(r"(\w+)\s*[=!]", sel)}


def matchers(expr: str, label: str) -> list[tuple[str, str]]:
    """(operator, value) of every matcher on `label`, string escapes undone."""
    found = []
    for op, value in re.findall(rf"\b{label}\s*(=~|!~|!=|=)\s*({STRING})", expr):
        inner = value[1:-1]
        found.append((op, inner if value[0] == "`" else re.sub(r"\\(.)", r"\1", inner)))
    return found


def test_promql_helpers_see_names_labels_and_functions():
    expr = (
        'sum by (pool, model_name) (rate(foo_total{job="x", queue=~`a\\.b`}[5m])) '
        '/ on (queue) bar offset 15m > 1e3 and absent(baz{queue="voxflow.dead"})'
    )
    assert metric_names(expr) == {"foo_total", "bar", "baz"}
    assert grouping_labels(expr) == {"pool", "model_name", "queue"}
    assert matcher_labels(expr) == {"job", "queue"}
    assert matchers(expr, "queue") == [("=~", "a\\.b"), ("=", "voxflow.dead")]
    assert matchers('x{queue=~"voxflow\\\\.jobs"}', "queue") == [("=~", "voxflow\\.jobs")]
    with pytest.raises(AssertionError, match="not a PromQL function"):
        metric_names("summ(foo)")


def source_of(name: str) -> str:
    if name in DCGM_DEFAULT_COUNTERS or name.startswith("DCGM_"):
        return "dcgm"
    if name.startswith("rabbitmq_"):
        return "rabbitmq"
    if name.startswith("workflow_"):
        return "temporal"
    if name in PROMETHEUS_SYNTHETIC:
        return "prometheus"
    return "torchserve"


def names_from(source: str) -> set[str]:
    return {n for e in all_exprs() for n in metric_names(e) if source_of(n) == source}


# ------------------------------------------------------------------ Prometheus text format

SAMPLE = re.compile(r"^([A-Za-z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)")
LABEL = re.compile(r'([A-Za-z_]\w*)="((?:[^"\\]|\\.)*)"')


def parse_exposition(text: str) -> tuple[set[str], list[tuple[str, dict[str, str], float]]]:
    """Declared families (# TYPE) and the samples of a /metrics page."""
    families, samples = set(), []
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            families.add(line.split()[2])
        elif line and not line.startswith("#"):
            match = SAMPLE.match(line)
            assert match, f"unparsable sample line {line!r}"
            name, labels, value = match.groups()
            samples.append((name, dict(LABEL.findall(labels or "")), float(value)))
    return families, samples


def test_exposition_parser():
    families, samples = parse_exposition(
        '# TYPE a_total counter\na_total{model_name="joe",hostname="vm",} 1.0\n'
        "# TYPE b gauge\nb 2\n"
    )
    assert families == {"a_total", "b"}
    assert samples == [("a_total", {"model_name": "joe", "hostname": "vm"}, 1.0), ("b", {}, 2.0)]


def target_labels(monitor: Obj) -> set[str]:
    """The labels a PodMonitor's targets carry (operator defaults plus its relabelings)."""
    labels = {"job", "instance", "namespace", "pod", "container", "endpoint"}
    for endpoint in monitor["spec"]["podMetricsEndpoints"]:
        labels |= {r["targetLabel"] for r in endpoint.get("relabelings", []) if "targetLabel" in r}
    return labels


# ------------------------------------------------------------------ the component's shape


def test_component_is_a_component_in_both_overlays():
    component = yaml.safe_load((COMPONENT / "kustomization.yaml").read_text())
    assert component["kind"] == "Component"
    assert not set(component) - {"apiVersion", "kind", "resources"}, "no transformers"
    for overlay in OVERLAYS:
        kustomization = yaml.safe_load(
            (K8S / "overlays" / overlay / "kustomization.yaml").read_text()
        )
        assert "../../components/monitoring" in kustomization.get("components", []), overlay
    oke, cpu = (monitoring_objects(o) for o in OVERLAYS)
    assert {(o["kind"], o["metadata"]["name"]) for o in oke} == {
        ("PodMonitor", "torchserve"),
        ("PodMonitor", "rabbitmq"),
        ("PrometheusRule", "voxflow"),
        ("PrometheusAgent", "voxflow"),
    }
    assert oke == cpu  # one monitoring for both: GPU alerts stay quiet without GPU series
    assert all(o["metadata"]["namespace"] == "voxflow" for o in oke)


def check_fields(obj: Obj, kind: str, where: str) -> None:
    unknown = set(obj) - allowed(kind, where)
    assert not unknown, f"{kind} {where}: {unknown} not in the CRD schema"


def test_custom_resources_use_only_fields_of_their_crds():
    for obj in monitoring_objects():
        kind, spec = obj["kind"], obj["spec"]
        check_fields(spec, kind, "spec")
        if kind == "PodMonitor":
            for endpoint in spec["podMetricsEndpoints"]:
                check_fields(endpoint, kind, "endpoint")
                for relabeling in endpoint.get("relabelings", []):
                    check_fields(relabeling, kind, "relabeling")
        if kind == "PrometheusRule":
            for group in spec["groups"]:
                check_fields(group, kind, "group")
                for rule in group["rules"]:
                    check_fields(rule, kind, "rule")
        if kind == "PrometheusAgent":
            for remote in spec["remoteWrite"]:
                check_fields(remote, kind, "remoteWrite")
            check_fields(spec["podMetadata"], kind, "podMetadata")
    with pytest.raises(AssertionError, match="not in the CRD schema"):
        check_fields({"podMetricEndpoints": []}, "PodMonitor", "spec")


# ------------------------------------------------------------------ who scrapes what


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_torchserve_pod_monitor_selects_every_torchserve_pod_and_its_metrics_port(overlay):
    objects = render(f"overlays/{overlay}")
    monitor = pod_monitor("torchserve", overlay)
    spec = monitor["spec"]
    assert "namespaceSelector" not in spec  # its own namespace, voxflow
    deployments = of_kind(objects, "Deployment")
    selected = [d for d in deployments if selects(spec["selector"], template_labels(d))]
    torchserve = [d for d in deployments if d["metadata"]["name"].startswith("torchserve-")]
    assert selected == torchserve and selected
    pools = set()
    for deployment in selected:
        labels = template_labels(deployment)
        pod = deployment["spec"]["template"]
        ports = {
            p["name"]: p["containerPort"]
            for c in containers(pod["spec"])
            for p in c.get("ports", [])
        }
        (endpoint,) = spec["podMetricsEndpoints"]
        assert ports[endpoint["port"]] == 8082
        annotations = pod["metadata"]["annotations"]
        assert annotations["prometheus.io/port"] == "8082"
        assert annotations["prometheus.io/path"] == endpoint["path"]
        assert labels[spec["jobLabel"]] == "torchserve"  # job="torchserve" in rules and dashboard
        for relabeling in endpoint["relabelings"]:
            for source in relabeling["sourceLabels"]:
                assert source in pod_meta_labels(labels), source
        pools.add(labels["voxflow.dev/pool"])
    assert pools == ({"cpu", "gpu"} if overlay == "oke" else {"cpu"})


def pod_meta_labels(labels: dict[str, str]) -> set[str]:
    """Kubernetes SD's __meta_kubernetes_pod_label_* names for a pod's labels."""
    return {"__meta_kubernetes_pod_label_" + re.sub(r"[^\w]", "_", key) for key in labels}


def test_rabbitmq_pod_monitor_selects_the_operators_pods_on_the_prometheus_port():
    objects = render("overlays/oke")
    cluster = named(objects, "RabbitmqCluster", "voxflow-rabbitmq")
    assert "rabbitmq_prometheus" in cluster["spec"]["rabbitmq"]["additionalPlugins"]
    assert "tls" not in cluster["spec"]  # else the operator names the port prometheus-tls
    pods = rabbitmq_operator_pod_labels(cluster["metadata"]["name"])
    spec = pod_monitor("rabbitmq")["spec"]
    assert selects(spec["selector"], pods)
    assert not any(
        selects(spec["selector"], template_labels(d)) for d in of_kind(objects, "Deployment")
    )
    assert pods[spec["jobLabel"]] == "rabbitmq"
    (endpoint,) = spec["podMetricsEndpoints"]
    assert RABBITMQ_OPERATOR_PORTS[endpoint["port"]] == 15692
    assert endpoint["path"] == "/metrics/detailed"
    assert set(endpoint["params"]["family"]) == {"queue_coarse_metrics", "queue_consumer_count"}


def test_plain_prometheus_config_relabels_on_labels_the_pods_have():
    config = yaml.safe_load((MONITORING / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    objects = render("overlays/oke")
    torchserve = [
        template_labels(named(objects, "Deployment", f"torchserve-{p}")) for p in ("cpu", "gpu")
    ]
    rabbitmq = rabbitmq_operator_pod_labels("voxflow-rabbitmq")
    for job, pods in (("torchserve", torchserve), ("rabbitmq", [rabbitmq])):
        for rule in jobs[job]["relabel_configs"]:
            for source in rule["source_labels"]:
                if source.startswith("__meta_kubernetes_pod_label_"):
                    assert all(source in pod_meta_labels(labels) for labels in pods), source
    podmonitor = pod_monitor("rabbitmq")["spec"]["podMetricsEndpoints"][0]
    assert jobs["rabbitmq"]["metrics_path"] == podmonitor["path"]
    assert jobs["rabbitmq"]["params"] == podmonitor["params"]  # the same families either way


def test_agent_scrapes_the_pod_monitors_and_the_central_prometheus_does_not():
    objects = render("overlays/oke")
    (agent,) = of_kind(objects, "PrometheusAgent")
    spec = agent["spec"]
    monitors = of_kind(objects, "PodMonitor")
    for monitor in monitors:
        labels = monitor["metadata"]["labels"]
        assert selects(spec["podMonitorSelector"], labels), monitor["metadata"]["name"]
        assert "release" not in labels  # the central one could not reach these ports anyway
    # null selectors: own namespace only; no ServiceMonitors, Probes or ScrapeConfigs
    for absent in (
        "podMonitorNamespaceSelector",
        "serviceMonitorSelector",
        "probeSelector",
        "scrapeConfigSelector",
        "additionalScrapeConfigs",
    ):
        assert absent not in spec
    assert the_rule()["metadata"]["labels"]["release"] == KPS_RELEASE
    (remote,) = spec["remoteWrite"]
    assert remote["url"] == (
        f"http://{KPS_RELEASE}-prometheus.monitoring.svc.cluster.local:9090/api/v1/write"
    )
    assert spec["image"].endswith(":" + spec["version"]) and re.fullmatch(
        r"v\d+\.\d+\.\d+", spec["version"]
    )
    # Pod Security "restricted" on the namespace; the operator drops capabilities itself.
    context = spec["securityContext"]
    assert context["runAsNonRoot"] is True and context["runAsUser"] != 0
    assert context["seccompProfile"] == {"type": "RuntimeDefault"}
    assert {"cpu", "memory"} <= set(spec["resources"]["requests"]) & set(
        spec["resources"]["limits"]
    )


def test_keda_queries_the_prometheus_the_agent_writes_to():
    (agent,) = of_kind(render("overlays/oke"), "PrometheusAgent")
    written = httpx.URL(agent["spec"]["remoteWrite"][0]["url"]).host.split(".")[1]
    for trigger in keda_prometheus_triggers():
        host = httpx.URL(trigger["metadata"]["serverAddress"]).host
        assert host.split(".")[1] == written, f"{host}: the agent writes to namespace {written}"


def test_agent_may_discover_pods_and_reach_the_metrics_ports():
    objects = render("overlays/oke")
    (agent,) = of_kind(objects, "PrometheusAgent")
    account = named(objects, "ServiceAccount", agent["spec"]["serviceAccountName"])
    bindings = [
        b
        for b in of_kind(objects, "RoleBinding")
        if {"kind": "ServiceAccount", "name": account["metadata"]["name"], "namespace": "voxflow"}
        in b["subjects"]
    ]
    (binding,) = bindings
    role = named(objects, "Role", binding["roleRef"]["name"])
    assert any(
        "" in r["apiGroups"]
        and "pods" in r["resources"]
        and {"get", "list", "watch"} <= set(r["verbs"])
        for r in role["rules"]
    )
    assert not of_kind(objects, "ClusterRole")  # nothing beyond the namespace
    agent_pod = agent_pod_labels(agent)
    for deployment in of_kind(objects, "Deployment"):
        if deployment["metadata"]["name"].startswith("torchserve-"):
            peers = allowed_peers(objects, template_labels(deployment), 8082)
            assert peers is not None and any(selects(p["podSelector"], agent_pod) for p in peers)
    broker = rabbitmq_operator_pod_labels("voxflow-rabbitmq")
    peers = allowed_peers(objects, broker, 15692)
    assert peers is not None and any(
        "podSelector" in p and "namespaceSelector" not in p and selects(p["podSelector"], agent_pod)
        for p in peers
    )


# ------------------------------------------------------------------ the rules with promtool


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        missing("promtool is not installed (apt-get install prometheus provides /usr/bin/promtool)")
    return found


def write_rules(folder: Path, groups: list[Obj]) -> Path:
    """The PrometheusRule's spec.groups as a plain rules file, beside a copy of the unit tests."""
    (folder / "voxflow-rules.yaml").write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
    shutil.copy(MONITORING / "alerts.test.yaml", folder / "alerts.test.yaml")
    return folder


def run_promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [promtool(), *args], cwd=cwd, capture_output=True, text=True, check=False, timeout=120
    )


def test_promtool_checks_the_rules(tmp_path):
    folder = write_rules(tmp_path, the_rule()["spec"]["groups"])
    result = run_promtool("check", "rules", "voxflow-rules.yaml", cwd=folder)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(alerts())} rules found" in result.stdout


def test_promtool_refuses_a_broken_rule(tmp_path):
    groups = [{"name": "broken", "rules": [{"alert": "Broken", "expr": "sum(rate(x[5m])"}]}]
    write_rules(tmp_path, groups)
    assert run_promtool("check", "rules", "voxflow-rules.yaml", cwd=tmp_path).returncode != 0


def test_every_alert_fires_in_the_unit_tests(tmp_path):
    folder = write_rules(tmp_path, the_rule()["spec"]["groups"])
    result = run_promtool("test", "rules", "alerts.test.yaml", cwd=folder)
    assert result.returncode == 0, result.stdout + result.stderr
    cases = yaml.safe_load((MONITORING / "alerts.test.yaml").read_text())["tests"]
    checks = [check for case in cases for check in case["alert_rule_test"]]
    names = {a["alert"] for a in alerts()}
    fired = {c["alertname"] for c in checks if c["exp_alerts"]}
    quiet = {c["alertname"] for c in checks if not c["exp_alerts"]}
    assert fired == names, f"never seen firing: {names - fired}; unknown: {fired - names}"
    assert quiet == names, f"never seen quiet: {names - quiet}"


def test_the_unit_tests_fail_when_an_alert_cannot_fire(tmp_path):
    groups = the_rule()["spec"]["groups"]
    for alert in alerts():
        broken = [
            {
                **g,
                "rules": [
                    {**r, "expr": "vector(0) > 1"} if r.get("alert") == alert["alert"] else r
                    for r in g["rules"]
                ],
            }
            for g in groups
        ]
        folder = tmp_path / alert["alert"]
        folder.mkdir()
        result = run_promtool("test", "rules", "alerts.test.yaml", cwd=write_rules(folder, broken))
        assert result.returncode != 0, f"{alert['alert']}: the tests pass without it firing"
        assert alert["alert"] in result.stdout + result.stderr


def test_every_alert_has_severity_summary_and_a_readme_entry():
    readme = (MONITORING / "README.md").read_text()
    for alert in alerts():
        assert alert["labels"]["severity"] in {"warning", "critical"}, alert["alert"]
        assert alert["annotations"]["summary"] and alert["annotations"]["description"]
        assert f"`{alert['alert']}`" in readme, f"{alert['alert']} is not explained in README.md"


# ------------------------------------------------------------------ names: the pure checks


def test_queue_matchers_name_the_real_queues():
    from voxflow.queue.broker import POOLS, Names

    names = Names("voxflow")
    queues = {*(names.jobs_queue(p) for p in POOLS), names.results_queue, names.dead_queue}
    seen = set()
    for expr in all_exprs():
        for op, value in matchers(expr, "queue"):
            if op == "=":
                assert value in queues, f"{value} in {expr!r}"
                seen.add(value)
            elif op == "=~":
                matched = {q for q in queues if re.fullmatch(value, q)}
                assert matched, f"{value} matches no queue in {expr!r}"
                seen |= matched
    assert seen == queues


def test_job_matchers_name_the_scrape_jobs():
    config = yaml.safe_load((MONITORING / "prometheus.yml").read_text())
    plain = {job["job_name"] for job in config["scrape_configs"]}
    objects = render("overlays/oke")
    operator = {
        "torchserve": template_labels(named(objects, "Deployment", "torchserve-cpu")),
        "rabbitmq": rabbitmq_operator_pod_labels("voxflow-rabbitmq"),
    }
    from_monitors = {
        operator[m["metadata"]["name"]][m["spec"]["jobLabel"]]
        for m in of_kind(objects, "PodMonitor")
    }
    assert from_monitors == {"torchserve", "rabbitmq"}
    for expr in all_exprs():
        for op, value in matchers(expr, "job"):
            assert op == "=" and value in plain & from_monitors, f"job {value} in {expr!r}"


def test_dcgm_names_are_default_counters_and_the_values_keep_them():
    used = names_from("dcgm")
    assert "DCGM_FI_DEV_GPU_UTIL" in used
    assert used <= DCGM_DEFAULT_COUNTERS, used - DCGM_DEFAULT_COUNTERS
    values = yaml.safe_load((MONITORING / "dcgm-exporter-values.yaml").read_text())
    assert set(values) <= DCGM_CHART_VALUES, set(values) - DCGM_CHART_VALUES
    if "customMetrics" in values:  # a custom list replaces the defaults
        assert used <= set(re.findall(r"^\s*(DCGM_FI_\w+)", values["customMetrics"], re.M))
    assert "arguments" not in values  # the chart's: -f with its counters file


def test_temporal_names_are_server_metrics_of_the_deployed_version():
    used = names_from("temporal")
    assert "workflow_failed" in used
    assert used <= TEMPORAL_WORKFLOW_COUNTERS
    values = yaml.safe_load((REPO / "deploy" / "temporal" / "values.yaml").read_text())
    assert values["server"]["image"]["tag"] == "1.28.1", "re-pin TEMPORAL_WORKFLOW_COUNTERS"


def test_dcgm_exporter_values_land_on_gpu_nodes_only():
    values = yaml.safe_load((MONITORING / "dcgm-exporter-values.yaml").read_text())
    # The GPU pool's taint (deploy/README.md, section 1): nvidia.com/gpu=present:NoSchedule.
    taint = {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}
    assert any(tolerates(t, taint) for t in values["tolerations"])
    assert values["nodeSelector"] == {"voxflow.dev/pool": "gpu"}
    gpu = named(render("overlays/oke"), "Deployment", "torchserve-gpu")
    assert template_labels(gpu)["voxflow.dev/pool"] == "gpu"
    monitor = values["serviceMonitor"]
    assert monitor["enabled"] is True and monitor["additionalLabels"] == {"release": KPS_RELEASE}
    assert re.fullmatch(
        rf"\d+\.\d+\.\d+-{re.escape(DCGM_CHART_VERSION)}-[a-z0-9.]+", values["image"]["tag"]
    )
    readme = (MONITORING / "README.md").read_text()
    assert f"nvidia-dcgm/dcgm-exporter --version {DCGM_CHART_VERSION}" in readme
    assert f"helm upgrade --install {KPS_RELEASE} " in readme


def tolerates(toleration: Obj, taint: Obj) -> bool:
    if toleration.get("key") not in (None, taint["key"]):
        return False
    if toleration.get("effect") not in (None, "", taint["effect"]):
        return False
    if toleration.get("operator", "Equal") == "Exists":
        return True
    return toleration.get("value") == taint["value"]


def test_toleration_check_refuses_the_wrong_taint():
    taint = {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}
    assert tolerates({"key": "nvidia.com/gpu", "operator": "Exists"}, taint)
    assert not tolerates({"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}, taint)
    assert not tolerates(
        {"key": "node-role.kubernetes.io/control-plane", "operator": "Exists"}, taint
    )


# ------------------------------------------------------------------ names: real scrapes


def test_torchserve_exposes_the_names_and_labels_used(torchserve):
    deployed = properties((REPO / "deploy/k8s/base/files/torchserve.properties").read_text())
    assert properties(torchserve.config_properties())["metrics_mode"] == deployed["metrics_mode"]
    response = httpx.post(
        f"{torchserve.inference_url}/predictions/joe",
        content="Hello there.",
        headers={"Content-Type": "text/plain"},
        timeout=120,
    )
    assert response.status_code == 200, response.text
    path = pod_monitor("torchserve")["spec"]["podMetricsEndpoints"][0]["path"]
    families, samples = parse_exposition(httpx.get(torchserve.metrics_url + path, timeout=30).text)
    used = names_from("torchserve")
    assert {"ts_inference_requests_total", "Requests5XX"} <= used
    assert used <= families, f"not exposed by TorchServe: {used - families}"
    joe = [
        s
        for s in samples
        if s[0] == "ts_inference_requests_total" and s[1].get("model_name") == "joe"
    ]
    assert joe and joe[0][2] >= 1
    labels = {key for _, sample_labels, _ in samples for key in sample_labels}
    labels |= target_labels(pod_monitor("torchserve"))
    for expr in all_exprs():
        if metric_names(expr) and all(source_of(n) == "torchserve" for n in metric_names(expr)):
            used_labels = grouping_labels(expr) | matcher_labels(expr)
            assert used_labels <= labels, f"{used_labels - labels} in {expr!r}"


def properties(text: str) -> dict[str, str]:
    return dict(
        line.split("=", 1) for line in text.splitlines() if "=" in line and not line.startswith("#")
    )


@pytest.fixture(scope="module")
async def rabbitmq_scrape():
    """Voxflow's real topology under a test prefix: one job waiting on gpu, one consumer on cpu,
    one dead letter; then the PodMonitor's /metrics/detailed scrape once the broker shows them."""
    import aio_pika

    from tests.plugins.queue import delete_topology
    from voxflow.queue import broker
    from voxflow.settings import Settings

    require_service("RabbitMQ", "127.0.0.1", 5672)
    if not port_open("127.0.0.1", 15692):
        missing(
            "RabbitMQ's Prometheus endpoint does not answer on 127.0.0.1:15692 "
            "(rabbitmq-plugins enable rabbitmq_prometheus)"
        )
    settings = Settings(amqp_url=AMQP_URL, queue_prefix=f"montest-{uuid.uuid4().hex[:8]}")
    names = broker.Names(settings.queue_prefix)
    endpoint = pod_monitor("rabbitmq")["spec"]["podMetricsEndpoints"][0]
    params = [(key, value) for key, values in endpoint["params"].items() for value in values]
    connection = await broker.connect(settings)
    try:
        channel = await connection.channel()
        topology = await broker.declare(channel, settings)
        await topology.jobs.publish(aio_pika.Message(b"{}"), routing_key="gpu")
        await topology.dead.publish(aio_pika.Message(b"{}"), routing_key="")

        async def leave_it(message) -> None:
            pass

        await topology.job_queues["cpu"].consume(leave_it)
        deadline = time.monotonic() + 60
        async with httpx.AsyncClient(timeout=10) as http:
            while True:
                text = (
                    await http.get(f"http://127.0.0.1:15692{endpoint['path']}", params=params)
                ).text
                families, samples = parse_exposition(text)
                value = {(n, s.get("queue")): v for n, s, v in samples}
                if (
                    value.get(("rabbitmq_detailed_queue_messages_ready", names.jobs_queue("gpu")))
                    == 1
                    and value.get(("rabbitmq_detailed_queue_consumers", names.jobs_queue("cpu")))
                    == 1
                    and value.get(("rabbitmq_detailed_queue_messages", names.dead_queue)) == 1
                ):
                    break
                assert time.monotonic() < deadline, f"the broker never reported the queues:\n{text}"
                await asyncio.sleep(1)
        yield names, families, samples
    finally:
        await connection.close()
        await delete_topology(settings)


async def test_rabbitmq_exposes_the_queue_metrics_used(rabbitmq_scrape):
    names, families, samples = rabbitmq_scrape
    used = names_from("rabbitmq")
    assert {"rabbitmq_detailed_queue_messages_ready", "rabbitmq_detailed_queue_consumers"} <= used
    assert used <= families, f"not in RabbitMQ's /metrics/detailed: {used - families}"
    ours = [names.jobs_queue("cpu"), names.jobs_queue("gpu"), names.results_queue, names.dead_queue]
    for queue in ours:  # every queue of the topology is reported, with the labels the rules use
        for name in used:
            assert any(n == name and s.get("queue") == queue for n, s, _ in samples), (name, queue)
    labels = {key for _, sample_labels, _ in samples for key in sample_labels}
    labels |= target_labels(pod_monitor("rabbitmq"))
    for expr in all_exprs():
        if metric_names(expr) and all(source_of(n) == "rabbitmq" for n in metric_names(expr)):
            used_labels = grouping_labels(expr) | matcher_labels(expr)
            assert used_labels <= labels, f"{used_labels - labels} in {expr!r}"


async def test_rabbitmq_metrics_mean_what_the_rules_assume(rabbitmq_scrape):
    """A waiting job is 'ready', a consumer counts on its own queue only, a dead letter counts in
    voxflow.dead's messages: what the growth, no-consumer and dead-letter alerts read."""
    names, _, samples = rabbitmq_scrape
    value = {(n, s["queue"]): v for n, s, v in samples if "queue" in s}
    assert value[("rabbitmq_detailed_queue_messages_ready", names.jobs_queue("gpu"))] == 1
    assert value[("rabbitmq_detailed_queue_consumers", names.jobs_queue("gpu"))] == 0
    assert value[("rabbitmq_detailed_queue_consumers", names.jobs_queue("cpu"))] == 1
    assert value[("rabbitmq_detailed_queue_messages", names.dead_queue)] == 1
    assert value[("rabbitmq_detailed_queue_messages_ready", names.jobs_queue("cpu"))] == 0


@pytest.fixture(scope="module")
def temporal_metrics_url(tmp_path_factory):
    """A Temporal dev server of its own with the server's Prometheus endpoint on."""
    from voxflow.errors import ServiceUnavailable
    from voxflow.settings import Settings
    from voxflow.stack import TemporalDevServer

    settings = Settings(
        data_dir=tmp_path_factory.mktemp("temporal-metrics"),
        temporal_address=f"127.0.0.1:{free_port()}",
        temporal_ui_url=f"http://127.0.0.1:{free_port()}",
    )
    metrics_port = free_port()
    try:
        server = TemporalDevServer(settings, extra_args=["--metrics-port", str(metrics_port)])
        server.start()
    except ServiceUnavailable as error:
        missing(f"Temporal dev server did not start: {error}")
    try:
        yield settings.temporal_address, f"http://127.0.0.1:{metrics_port}/metrics"
    finally:
        server.stop()


@workflow.defn(name="MonitoringFailsOnPurpose")
class FailsOnPurpose:
    """Fails at once, for good: Temporal counts it in workflow_failed."""

    @workflow.run
    async def run(self) -> None:
        raise ApplicationError("on purpose", non_retryable=True)


async def test_temporal_server_counts_failed_workflows_as_the_rule_reads(temporal_metrics_url):
    from temporalio.client import Client, WorkflowFailureError
    from temporalio.worker import UnsandboxedWorkflowRunner, Worker

    address, url = temporal_metrics_url
    client = await Client.connect(address)
    queue = f"monitoring_{uuid.uuid4().hex[:8]}"  # tally's sanitizer would turn - into _
    async with Worker(
        client,
        task_queue=queue,
        workflows=[FailsOnPurpose],
        workflow_runner=UnsandboxedWorkflowRunner(),
    ):
        with pytest.raises(WorkflowFailureError):
            await client.execute_workflow(FailsOnPurpose.run, id=queue, task_queue=queue)
    async with httpx.AsyncClient(timeout=10) as http:
        for _ in range(30):
            families, samples = parse_exposition((await http.get(url)).text)
            failed = [
                s
                for n, s, v in samples
                if n == "workflow_failed" and s.get("taskqueue") == queue and v >= 1
            ]
            if failed:
                break
            await asyncio.sleep(1)
    used = names_from("temporal")
    assert used <= families, f"not exposed by the Temporal server: {used - families}"
    assert failed, f"not counted: {[s for s in samples if s[0] == 'workflow_failed']}"
    assert failed[0]["namespace"] == "default"  # exported_namespace once scraped (README)
