"""CPU counting from cgroup files: a pod's limit, not the node's cores."""

from __future__ import annotations

from fgsgl.runtime.cpus import available_cpus, cgroup_cpu_limit


def test_cgroup_v2_quota(tmp_path):
    (tmp_path / "cpu.max").write_text("150000 100000\n")
    assert cgroup_cpu_limit(tmp_path / "cpu.max", tmp_path / "none", tmp_path / "none") == 1.5


def test_cgroup_v2_unlimited(tmp_path):
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert cgroup_cpu_limit(tmp_path / "cpu.max", tmp_path / "q", tmp_path / "p") is None


def test_cgroup_v1_quota(tmp_path):
    (tmp_path / "q").write_text("300000\n")
    (tmp_path / "p").write_text("100000\n")
    assert cgroup_cpu_limit(tmp_path / "none", tmp_path / "q", tmp_path / "p") == 3.0
    (tmp_path / "q").write_text("-1\n")
    assert cgroup_cpu_limit(tmp_path / "none", tmp_path / "q", tmp_path / "p") is None


def test_available_cpus_is_within_the_affinity_mask():
    import os

    assert 1 <= available_cpus() <= len(os.sched_getaffinity(0))
