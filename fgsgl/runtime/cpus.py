"""How many CPUs this process may really use.

In a Kubernetes pod `os.cpu_count()` is the node's core count, not the pod's CPU limit;
torch then starts one thread per node core and, squeezed into the limit, runs several
times slower (measured here: a MiniLM forward 620 ms with 2 threads on 2 busy cores,
75 ms with 1). Worker pools and torch's thread count follow `available_cpus()` instead:
the smallest of the affinity mask and the cgroup CPU quota.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

_CGROUP_V2 = Path("/sys/fs/cgroup/cpu.max")
_CGROUP_V1_QUOTA = Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us")
_CGROUP_V1_PERIOD = Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us")


def cgroup_cpu_limit(
    v2: Path = _CGROUP_V2, v1_quota: Path = _CGROUP_V1_QUOTA, v1_period: Path = _CGROUP_V1_PERIOD
) -> float | None:
    """The cgroup CPU quota in CPUs (e.g. 1.5), or None when there is none."""
    try:
        quota, period = v2.read_text().split()[:2]
        if quota != "max":
            return int(quota) / int(period)
        return None
    except (OSError, ValueError):
        pass
    try:
        quota_us = int(v1_quota.read_text())
        period_us = int(v1_period.read_text())
        return quota_us / period_us if quota_us > 0 and period_us > 0 else None
    except (OSError, ValueError):
        return None


def available_cpus() -> int:
    """CPUs this process can use: affinity mask, capped by the cgroup quota (at least 1)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    limit = cgroup_cpu_limit()
    if limit is not None:
        cpus = min(cpus, max(1, math.floor(limit)))
    return max(1, cpus)


def loader_workers(workers: int | None) -> int:
    """`workers` as asked, or by default up to 4 data loader processes, one CPU left for
    the model's own threads (0, decoding in the main process, on a single CPU)."""
    return max(0, min(4, available_cpus() - 1)) if workers is None else workers


def configure_torch_threads(threads: int | None = None) -> int:
    """Set torch's intra-op threads to `threads` or to the CPUs really available."""
    import torch

    n = threads or available_cpus()
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n
