"""The handlers size their ONNX threads to the container's CPU limit, not the node's vCPUs."""

from __future__ import annotations

import os

from handlers.voice_common import available_cpus, cgroup_cpu_limit, cpu_threads


def test_cgroup_v2_quota_caps_the_cpus(tmp_path):
    (tmp_path / "cpu.max").write_text("400000 100000\n")
    assert cgroup_cpu_limit(tmp_path) == 4.0
    assert available_cpus(tmp_path) == min(4, len(os.sched_getaffinity(0)))


def test_fractional_limits_round_down_but_never_to_zero(tmp_path):
    (tmp_path / "cpu.max").write_text("50000 100000\n")  # limits.cpu: 500m
    assert available_cpus(tmp_path) == 1


def test_unlimited_v2_and_v1_quota(tmp_path):
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert cgroup_cpu_limit(tmp_path) is None
    v1 = tmp_path / "v1"
    (v1 / "cpu").mkdir(parents=True)
    (v1 / "cpu" / "cpu.cfs_quota_us").write_text("150000\n")
    (v1 / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert cgroup_cpu_limit(v1) == 1.5
    (v1 / "cpu" / "cpu.cfs_quota_us").write_text("-1\n")
    assert cgroup_cpu_limit(v1) is None
    assert cgroup_cpu_limit(tmp_path / "absent") is None


def test_threads_share_the_limit_among_workers(monkeypatch):
    monkeypatch.delenv("VOXFLOW_TTS_THREADS", raising=False)
    assert cpu_threads(workers=10**6) == 1
    monkeypatch.setenv("VOXFLOW_TTS_THREADS", "3")
    assert cpu_threads(workers=2) == 3
