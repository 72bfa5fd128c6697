"""The autoscaling arithmetic of deploy/README.md, checked against the rendered objects.

A TorchServe pod is busy when every model worker has a full batch; the inference workers must
keep that many requests in flight, and KEDA must add workers before the queue backs up.
"""

from __future__ import annotations

import yaml

from tests.deploy.k8s import REPO, config_map_by_prefix, named, render
from voxflow.qa import RecognizerPool
from voxflow.registry import parse_registry
from voxflow.settings import Settings

CONFIGS = REPO / "model_store" / "configs"


def worker_settings(objects, name: str) -> Settings:
    (container,) = named(objects, "Deployment", name)["spec"]["template"]["spec"]["containers"]
    env = {e["name"].removeprefix("VOXFLOW_").lower(): e["value"] for e in container["env"]}
    return Settings(**{k: v for k, v in env.items() if k in Settings.model_fields})


def model_config(voice) -> dict:
    path = CONFIGS / f"{voice.name}.yaml"
    return yaml.safe_load(
        (path if path.exists() else CONFIGS / f"{voice.handler}.yaml").read_text()
    )


def queue_trigger(objects, name: str) -> dict:
    (trigger,) = named(objects, "ScaledObject", name)["spec"]["triggers"]
    return trigger["metadata"]


def test_a_worker_fills_a_torchserve_pod_and_keda_scales_before_it_waits():
    objects = render("overlays/oke")
    registry = parse_registry(
        config_map_by_prefix(objects, "voxflow-models")["data"]["models.yaml"]
    )
    for pool in ("cpu", "gpu"):
        settings = worker_settings(objects, f"inference-worker-{pool}")
        for voice in registry.in_pool(pool):
            config = model_config(voice)
            slots = int(config["minWorkers"]) * int(config["batchSize"])
            if pool == "gpu":  # a GPU is filled only by full batches on every model worker
                assert settings.torchserve_concurrency >= slots, (voice.name, slots)
            held = settings.inference_prefetch * settings.job_max_segments
            assert held >= settings.torchserve_concurrency, "jobs held cover the requests sent"
        # KEDA counts ready + unacknowledged jobs: one worker's worth per replica.
        value = int(queue_trigger(objects, f"inference-worker-{pool}")["value"])
        assert value <= 2 * settings.inference_prefetch
        workers = named(objects, "ScaledObject", f"inference-worker-{pool}")["spec"]
        torchserve = named(objects, "ScaledObject", f"torchserve-{pool}")["spec"]
        assert workers["maxReplicaCount"] >= torchserve["maxReplicaCount"], pool


def test_the_temporal_worker_runs_one_qa_decoder_per_cpu_of_its_limit():
    """Settings.qa_processes 0 counts the node's cores (os.cpu_count), not the pod's quota."""
    objects = render("overlays/oke")
    settings = worker_settings(objects, "temporal-worker")
    (container,) = named(objects, "Deployment", "temporal-worker")["spec"]["template"]["spec"][
        "containers"
    ]
    limit = float(str(container["resources"]["limits"]["cpu"]).removesuffix("m"))
    cores = limit / 1000 if str(container["resources"]["limits"]["cpu"]).endswith("m") else limit
    assert settings.qa_processes == max(1, int(cores)), (settings.qa_processes, cores)
    assert RecognizerPool(settings.qa_processes).concurrency == settings.qa_processes
