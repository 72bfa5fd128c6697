"""Invariants on the rendered overlays: what must hold for every pod, secret, image and policy."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer
import yaml

from tests.deploy.k8s import (
    OVERLAYS,
    REPO,
    Obj,
    config_map_by_prefix,
    containers,
    named,
    of_kind,
    policy_peers,
    render,
    secrets_made,
    selects,
    template_labels,
    workloads,
)

APP_IMAGE = re.compile(r"(^|/)voxflow/app:|^voxflow-app:")
TORCHSERVE_IMAGE = re.compile(r"(^|/)voxflow/torchserve-(cpu|gpu):")
GPU = "nvidia.com/gpu"


@pytest.fixture(params=OVERLAYS)
def objects(request) -> list[Obj]:
    return render(f"overlays/{request.param}")


def all_containers(objects: list[Obj]):
    for obj, pod in workloads(objects):
        for container in containers(pod):
            yield obj, pod, container


# ------------------------------------------------------------------ pods


def test_every_container_has_requests_and_limits(objects):
    for obj, _, container in all_containers(objects):
        resources = container.get("resources", {})
        for part in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(resources.get(part, {})), (
                f"{obj['metadata']['name']}/{container['name']} lacks {part}"
            )


def test_every_long_running_container_has_probes(objects):
    for obj, pod, container in all_containers(objects):
        if container in pod.get("initContainers", []):
            continue  # init containers run to completion; Kubernetes forbids probes on them
        name = f"{obj['metadata']['name']}/{container['name']}"
        assert "readinessProbe" in container, f"{name} has no readiness probe"
        assert "livenessProbe" in container, f"{name} has no liveness probe"


def test_every_container_is_non_root_and_locked_down(objects):
    for obj, pod, container in all_containers(objects):
        name = f"{obj['metadata']['name']}/{container['name']}"
        pod_context = pod.get("securityContext", {})
        context = {**pod_context, **container.get("securityContext", {})}
        assert context.get("runAsNonRoot") is True, name
        assert context.get("runAsUser", 1) != 0, name
        assert context.get("allowPrivilegeEscalation") is False, name
        assert context.get("readOnlyRootFilesystem") is True, name
        assert context.get("capabilities", {}).get("drop") == ["ALL"], name
        assert pod_context.get("seccompProfile", {}).get("type") == "RuntimeDefault", name
        assert not context.get("privileged"), name
        assert not pod.get("hostNetwork") and not pod.get("hostPID"), name


def test_http_probes_hit_real_ports_and_paths(objects):
    for obj, pod, container in all_containers(objects):
        ports = {p["containerPort"] for c in pod["containers"] for p in c.get("ports", [])}
        names = {p.get("name") for c in pod["containers"] for p in c.get("ports", [])}
        for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
            http = container.get(kind, {}).get("httpGet")
            if http:
                assert http["port"] in ports | names, f"{obj['metadata']['name']} {kind}"
    web = named(objects, "Deployment", "web")["spec"]["template"]["spec"]["containers"][0]
    assert web["readinessProbe"]["httpGet"]["path"] == "/healthz"
    for torchserve in deployments_by_component(objects, "torchserve"):
        main = torchserve["spec"]["template"]["spec"]["containers"][0]
        assert main["readinessProbe"]["httpGet"]["path"] == "/ping"


def test_pod_disruption_budgets_cover_every_deployment(objects):
    budgets = of_kind(objects, "PodDisruptionBudget")
    for deployment in of_kind(objects, "Deployment"):
        labels = template_labels(deployment)
        covering = [b for b in budgets if selects(b["spec"]["selector"], labels)]
        assert len(covering) == 1, deployment["metadata"]["name"]
        (budget,) = covering
        assert "maxUnavailable" in budget["spec"] or "minAvailable" in budget["spec"]
        others = [d for d in of_kind(objects, "Deployment") if d is not deployment]
        assert not any(selects(budget["spec"]["selector"], template_labels(d)) for d in others)


def test_references_resolve(objects):
    accounts = {sa["metadata"]["name"] for sa in of_kind(objects, "ServiceAccount")}
    maps = {cm["metadata"]["name"] for cm in of_kind(objects, "ConfigMap")}
    made = secrets_made(objects)
    for obj, pod in workloads(objects):
        assert pod.get("serviceAccountName") in accounts, obj["metadata"]["name"]
        for volume in pod.get("volumes", []):
            if "configMap" in volume:
                assert volume["configMap"]["name"] in maps
            if "secret" in volume:
                assert volume["secret"]["secretName"] in made
        for container in containers(pod):
            for source in container.get("envFrom", []):
                if "configMapRef" in source:
                    assert source["configMapRef"]["name"] in maps
                if "secretRef" in source:
                    assert source["secretRef"]["name"] in made
            for env in container.get("env", []):
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["key"] in made[ref["name"]]


# ------------------------------------------------------------------ GPU


def requests_gpu(pod: Obj) -> bool:
    return any(GPU in c.get("resources", {}).get("limits", {}) for c in containers(pod))


def tolerates_gpu(pod: Obj) -> bool:
    return any(t.get("key") == GPU for t in pod.get("tolerations", []))


def test_gpu_pods_request_tolerate_and_select_gpu_shapes(objects):
    gpu_pods = [(obj, pod) for obj, pod in workloads(objects) if requests_gpu(pod)]
    is_gpu_overlay = any(o["metadata"]["name"] == "torchserve-gpu" for o in objects)
    assert bool(gpu_pods) == is_gpu_overlay
    for _, pod in gpu_pods:
        for container in containers(pod):
            resources = container.get("resources", {})
            if GPU in resources.get("limits", {}):
                assert resources["limits"][GPU] == resources["requests"][GPU] == 1
        assert any(
            t["key"] == GPU and t["effect"] == "NoSchedule" and t["operator"] == "Exists"
            for t in pod["tolerations"]
        )
        # The GPU pool by its label, whatever the shape (A10, A100, H100, H200...).
        assert pod["nodeSelector"] == {"voxflow.dev/pool": "gpu"}
    for obj in of_kind(objects, "Deployment"):
        if requests_gpu(obj["spec"]["template"]["spec"]):
            # One GPU per pod: a surge pod would wait for the GPU its predecessor holds.
            rolling = obj["spec"]["strategy"]["rollingUpdate"]
            assert rolling["maxSurge"] == 0 and rolling["maxUnavailable"] == 1
    for obj, pod in workloads(objects):
        if not requests_gpu(pod):
            assert not tolerates_gpu(pod), f"{obj['metadata']['name']} would land on GPU nodes"


# ------------------------------------------------------------------ secrets and images


def test_no_literal_secrets(objects):
    assert of_kind(objects, "Secret") == [], "Secrets come from ExternalSecrets only"
    secretish = re.compile(r"TOKEN|PASSWORD|SECRET|_KEY$|DATABASE_URL|AMQP_URL")
    for obj, _, container in all_containers(objects):
        for env in container.get("env", []):
            if secretish.search(env["name"]):
                assert "value" not in env, f"{obj['metadata']['name']}: literal {env['name']}"
    for config_map in of_kind(objects, "ConfigMap"):
        for key in config_map.get("data", {}):
            assert not secretish.search(key), f"{config_map['metadata']['name']}: {key}"
        for value in config_map.get("data", {}).values():
            assert not re.search(r"://[^/\s:@]+:[^/\s@]+@", value), "credentials in a URL"
    for external in of_kind(objects, "ExternalSecret"):
        for value in (external["spec"]["target"].get("template") or {}).get("data", {}).values():
            # A generated password holds '/', '+' or '=': in a URL it must be encoded.
            assert (
                "password" not in value.lower()
                or ("{{ .password }}" in value and "://" not in value)
                or "{{ .password | urlquery }}" in value
            ), value


def images(objects: list[Obj]) -> list[str]:
    found = [c["image"] for _, _, c in all_containers(objects)]
    found += [c["spec"]["image"] for c in of_kind(objects, "RabbitmqCluster")]
    return found


def test_every_image_is_pinned(objects):
    for image in images(objects):
        if "@sha256:" in image:
            assert re.search(r"@sha256:[0-9a-f]{64}$", image), image
            continue
        name, _, tag = image.rpartition(":")
        assert name and "/" not in tag, f"{image} has no tag"
        assert tag != "latest" and re.search(r"\d+\.\d+", tag), f"{image} is not pinned"


def test_overlay_images_point_at_a_registry(objects):
    ours = [i for i in images(objects) if "voxflow" in i and "rabbitmq" not in i]
    assert ours and all(re.match(r"[a-z0-9-]+\.ocir\.io/", image) for image in ours), ours


# ------------------------------------------------------------------ commands


def voxflow_cli():
    from voxflow.cli import app

    return typer.main.get_command(app)


def is_group(command) -> bool:
    """Typer's groups are not always click.Group subclasses; what matters is the interface."""
    return callable(getattr(command, "get_command", None)) and callable(
        getattr(command, "list_commands", None)
    )


def resolve_voxflow(args: list[str]):
    """Walk the voxflow command groups as the shell would; parse what is left like a run would."""
    command = voxflow_cli()
    assert is_group(command) and "worker" in command.list_commands(command.context_class(command))
    path = ["voxflow"]
    rest = list(args)
    while is_group(command) and rest and not rest[0].startswith("-"):
        name = rest.pop(0)
        sub = command.get_command(command.context_class(command), name)
        assert sub is not None, f"`{' '.join(path)} {name}` is not a voxflow command"
        command, path = sub, [*path, name]
    assert not is_group(command), f"`{' '.join(path)}` needs a subcommand"
    command.make_context(" ".join(path), rest)  # raises on unknown options or bad values
    return command


def test_resolver_refuses_what_does_not_exist():
    with pytest.raises(AssertionError, match="not a voxflow command"):
        resolve_voxflow(["worker", "nonexistent"])
    with pytest.raises(Exception, match="No such option: --no-such-option"):
        resolve_voxflow(["worker", "temporal", "--no-such-option"])
    with pytest.raises(Exception, match="No such option: --pool"):
        resolve_voxflow(["worker", "relay", "--pool", "cpu"])
    with pytest.raises(AssertionError, match="needs a subcommand"):
        resolve_voxflow(["worker"])


def test_every_app_container_runs_a_real_command(objects):
    seen = set()
    for _, _, container in all_containers(objects):
        if not APP_IMAGE.search(container["image"]):
            continue
        command = container.get("command", []) + container.get("args", [])
        assert command[0] == "voxflow", command
        resolve_voxflow(command[1:])
        seen.add(" ".join(command[1:3]))
        # Exec probes run the probe script the app image carries.
        for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
            exec_probe = container.get(kind, {}).get("exec")
            if exec_probe:
                assert exec_probe["command"][:2] == ["python", "/opt/voxflow/tcp_probe.py"]
    assert {
        "web --host",
        "worker temporal",
        "worker inference",
        "worker relay",
        "db upgrade",
        "store pull",
    } <= seen


def test_torchserve_containers_start_torchserve_with_the_config(objects):
    config = config_map_by_prefix(objects, "torchserve-config")
    for deployment in deployments_by_component(objects, "torchserve"):
        pod = deployment["spec"]["template"]["spec"]
        (main,) = [c for c in pod["containers"] if TORCHSERVE_IMAGE.search(c["image"])]
        assert main["command"] == ["torchserve"]
        assert "--foreground" in main["args"]
        mounts = {m["name"]: m["mountPath"] for m in main["volumeMounts"]}
        volumes = {v["name"]: v for v in pod["volumes"]}
        ts_config = next(a for a in main["args"] if a.startswith("--ts-config="))
        config_name = config["metadata"]["name"]
        config_volume = next(
            n for n, v in volumes.items() if v.get("configMap", {}).get("name") == config_name
        )
        assert ts_config.split("=", 1)[1] == f"{mounts[config_volume]}/config.properties"
        store = next(a for a in main["args"] if a.startswith("--model-store=")).split("=", 1)[1]
        assert mounts["model-store"] == store
        (fetch,) = pod["initContainers"]
        assert store in fetch["args"]
        pool = deployment["metadata"]["labels"]["voxflow.dev/pool"]
        assert f"models/{pool}/" in fetch["args"]


# ------------------------------------------------------------------ TorchServe configuration


def properties(text: str) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in text.splitlines() if "=" in line and line[0] != "#")
    return {key.strip(): value.strip() for key, value in pairs}


def test_torchserve_config_keeps_apis_where_policies_expect(objects):
    config = properties(
        config_map_by_prefix(objects, "torchserve-config")["data"]["config.properties"]
    )
    assert config["management_address"].startswith("http://127.0.0.1:")
    assert config["inference_address"].startswith("http://127.0.0.1:")
    assert config["metrics_address"] == "http://0.0.0.0:8082"
    assert config["enable_model_api"] == "false"
    assert config["metrics_mode"] == "prometheus"
    assert config["model_store"] == "/home/model-server/model-store"
    proxy = config_map_by_prefix(objects, "torchserve-token-proxy")["data"]["default.conf.template"]
    inference_port = config["inference_address"].rsplit(":", 1)[1]
    upstreams = set(re.findall(r"proxy_pass http://127\.0\.0\.1:(\d+);", proxy))
    assert upstreams == {inference_port}
    assert "listen 8080;" in proxy
    assert '$http_authorization != "Bearer ${TORCHSERVE_TOKEN}"' in proxy


def test_model_registry_config_map_is_the_packaged_registry(objects):
    """The packaged registry, less the gpu voices in an overlay with no GPU pool."""
    packaged = yaml.safe_load((REPO / "voxflow" / "models.yaml").read_text(encoding="utf-8"))
    shipped = yaml.safe_load(config_map_by_prefix(objects, "voxflow-models")["data"]["models.yaml"])
    has_gpu = any(d["metadata"]["name"] == "torchserve-gpu" for d in of_kind(objects, "Deployment"))
    expected = [v for v in packaged["voices"] if has_gpu or v["pool"] == "cpu"]
    assert shipped["voices"] == expected


def test_every_registry_pool_has_workers_and_torchserve(objects):
    registry = yaml.safe_load(
        config_map_by_prefix(objects, "voxflow-models")["data"]["models.yaml"]
    )
    pools = {voice["pool"] for voice in registry["voices"]}
    for pool in pools:
        for component in ("inference-worker", "torchserve"):
            assert any(
                template_labels(d).get("voxflow.dev/pool") == pool
                for d in deployments_by_component(objects, component)
            ), f"no {component} for pool {pool}"


# ------------------------------------------------------------------ autoscaling


def deployments_by_component(objects: list[Obj], component: str) -> list[Obj]:
    return [
        d
        for d in of_kind(objects, "Deployment")
        if template_labels(d).get("app.kubernetes.io/component") == component
    ]


def test_inference_workers_scale_on_their_queue_over_http(objects):
    from voxflow.queue.broker import Names

    scaled = {s["spec"]["scaleTargetRef"]["name"]: s for s in of_kind(objects, "ScaledObject")}
    workers = deployments_by_component(objects, "inference-worker")
    assert workers
    for worker in workers:
        args = worker["spec"]["template"]["spec"]["containers"][0]["args"]
        pool = args[args.index("--pool") + 1]
        (trigger,) = scaled[worker["metadata"]["name"]]["spec"]["triggers"]
        assert trigger["type"] == "rabbitmq"
        assert trigger["metadata"]["protocol"] == "http"
        assert trigger["metadata"]["mode"] == "QueueLength"
        assert trigger["metadata"]["queueName"] == Names("voxflow").jobs_queue(pool)
    config = config_map_by_prefix(objects, "voxflow-config")["data"]
    assert config["VOXFLOW_QUEUE_PREFIX"] == "voxflow"


# ------------------------------------------------------------------ network policies


def allowed_peers(objects: list[Obj], labels: dict[str, str], port: int) -> list[Obj] | None:
    """Peers allowed to reach `port` on a pod with `labels`; None means 'from anywhere'."""
    return policy_peers(objects, labels, port, "Ingress")


def test_default_deny_covers_every_pod(objects):
    denies = [
        p
        for p in of_kind(objects, "NetworkPolicy")
        if p["spec"]["podSelector"] == {} and not p["spec"].get("ingress")
    ]
    assert denies


def test_torchserve_inference_only_from_workers(objects):
    pods = [template_labels(d) for d in of_kind(objects, "Deployment")]
    for torchserve in deployments_by_component(objects, "torchserve"):
        labels = template_labels(torchserve)
        peers = allowed_peers(objects, labels, 8080)
        assert peers, "inference must be reachable by the workers"
        for peer in peers:
            assert set(peer) == {"podSelector"}, f"inference open beyond the namespace: {peer}"
            reached = [p for p in pods if selects(peer["podSelector"], p)]
            assert reached
            assert all(p["app.kubernetes.io/component"] == "inference-worker" for p in reached)


def test_torchserve_metrics_and_management_stay_inside(objects):
    for torchserve in deployments_by_component(objects, "torchserve"):
        labels = template_labels(torchserve)
        metrics = allowed_peers(objects, labels, 8082)
        assert metrics is not None and all(set(p) == {"podSelector"} for p in metrics)
        assert allowed_peers(objects, labels, 8081) == []
        for port in (7070, 7071, 8085):
            assert allowed_peers(objects, labels, port) == []
    for service in of_kind(objects, "Service"):
        ports = {p["port"] for p in service["spec"]["ports"]}
        if service["metadata"]["name"].startswith("torchserve"):
            assert service["spec"]["type"] == "ClusterIP"
            assert ports == {8080, 8082}


def test_only_the_web_app_faces_the_internet(objects):
    balancers = [s for s in of_kind(objects, "Service") if s["spec"].get("type") == "LoadBalancer"]
    assert [s["metadata"]["name"] for s in balancers] == ["web"]
    annotations = balancers[0]["metadata"]["annotations"]
    assert annotations["service.beta.kubernetes.io/oci-load-balancer-shape"] == "flexible"
    # HTTPS only, with a certificate that an ExternalSecret makes as a kubernetes.io/tls Secret.
    assert [p["port"] for p in balancers[0]["spec"]["ports"]] == [443]
    assert annotations["service.beta.kubernetes.io/oci-load-balancer-ssl-ports"] == "443"
    tls_secret = annotations["service.beta.kubernetes.io/oci-load-balancer-tls-secret"]
    assert secrets_made(objects)[tls_secret] >= {"tls.crt", "tls.key"}
    (external,) = [
        e for e in of_kind(objects, "ExternalSecret") if e["spec"]["target"]["name"] == tls_secret
    ]
    assert external["spec"]["target"]["template"]["type"] == "kubernetes.io/tls"
    web = template_labels(named(objects, "Deployment", "web"))
    assert allowed_peers(objects, web, 8000) is None
    for deployment in of_kind(objects, "Deployment"):
        if deployment["metadata"]["name"] != "web":
            labels = template_labels(deployment)
            assert allowed_peers(objects, labels, 8000) == []


def test_policy_evaluator_sees_an_open_rule():
    objects = render("overlays/oke")
    opened = [*objects, {
        "kind": "NetworkPolicy",
        "metadata": {"name": "oops"},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{}]},
    }]  # fmt: skip
    labels = template_labels(named(objects, "Deployment", "torchserve-gpu"))
    assert allowed_peers(opened, labels, 8081) is None


def test_manifests_are_plain_files():
    for path in (REPO / "deploy" / "k8s").rglob("*"):
        assert not path.is_symlink(), f"{path}: kustomize's load restrictor refuses links"
    assert Path(REPO / "deploy" / "k8s" / "base" / "files" / "models.yaml").is_file()


def test_base_images_are_pinned_before_overlays_retag_them():
    test_every_image_is_pinned(render("base"))
