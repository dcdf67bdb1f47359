"""Where the pods go and what they carry: GPU node-pool presets, secrets, pull secrets, timeouts.

No cloud is the default: a GPU pod asks for the GPU resource (`resources.gpu_type`) and
tolerates the usual `nvidia.com/gpu` taint, which schedules on any cluster whose GPU nodes
run NVIDIA's device plugin. A node pool is chosen by `resources.gpu_pool`, a preset by name
that is expanded, when planning, into the node labels of `resources.node_selector` (a run
parameter, so the KFP UI shows the labels a run asked for):

    gke:ACCELERATOR      cloud.google.com/gke-accelerator   nvidia-l4, nvidia-h100-80gb
    eks:INSTANCE_TYPE    node.kubernetes.io/instance-type   g6.xlarge, p4d.24xlarge
    karpenter:GPU_NAME   karpenter.k8s.aws/instance-gpu-name  l4, a10g, a100, h100
    aks:VM_SIZE          node.kubernetes.io/instance-type   Standard_NC24ads_A100_v4
                         (and tolerates AKS's documented GPU taint sku=gpu:NoSchedule)
    nvidia:PRODUCT       nvidia.com/gpu.product (GPU feature discovery, on-prem)  NVIDIA-L4

What is part of the pod spec rather than a run (`cluster.*`, fixed when compiling): plain
environment variables (AWS_ENDPOINT_URL for MinIO), Kubernetes secrets as environment
variables (HF_TOKEN for gated models, object-store credentials), image pull secrets of a
private registry, and a timeout per task.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class GpuPool:
    label: str  # the node label the preset's value goes to
    value: str  # what the value is, with examples
    tolerations: tuple[tuple[str, str, str], ...] = ()  # (key, value, effect) to tolerate


GPU_POOLS: dict[str, GpuPool] = {
    "gke": GpuPool("cloud.google.com/gke-accelerator", "a GKE accelerator, e.g. nvidia-l4"),
    "eks": GpuPool("node.kubernetes.io/instance-type", "an EC2 instance type, e.g. g6.xlarge"),
    "karpenter": GpuPool("karpenter.k8s.aws/instance-gpu-name", "a GPU name, e.g. l4 or a100"),
    "aks": GpuPool(
        "node.kubernetes.io/instance-type",
        "an Azure VM size, e.g. Standard_NC24ads_A100_v4",
        (("sku", "gpu", "NoSchedule"),),
    ),
    "nvidia": GpuPool("nvidia.com/gpu.product", "an NVIDIA product label, e.g. NVIDIA-L4"),
}


def gpu_pool_problem(preset: str) -> str | None:
    """Why `preset` names no GPU pool, or None."""
    name, sep, value = preset.partition(":")
    pools = ", ".join(f"{n}:..." for n in GPU_POOLS)
    if name not in GPU_POOLS:
        return f"{preset!r} is no GPU pool preset (presets: {pools})"
    if not sep or not value.strip():
        return f"{preset!r}: say which, {name}:VALUE with VALUE {GPU_POOLS[name].value}"
    return None


def expand_gpu_pool(
    preset: str, node_selector: Mapping[str, str], tolerations: list[dict[str, Any]]
) -> tuple[dict[str, str], list[dict[str, Any]]]:
    """The node selector and tolerations of `preset` added to the given ones (a label set
    explicitly in the node selector wins over the preset's)."""
    name, _, value = preset.partition(":")
    pool = GPU_POOLS[name]
    selector = {pool.label: value.strip(), **node_selector}
    added = [
        {"key": key, "operator": "Equal", "value": val, "effect": effect}
        for key, val, effect in pool.tolerations
    ]
    return selector, [*tolerations, *(t for t in added if t not in tolerations)]


# --- the pod spec --------------------------------------------------------------------

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def duration_seconds(text: str) -> int:
    """'12h' -> 43200, '90m' -> 5400, '0' -> 0 (no timeout); ValueError otherwise."""
    match = _DURATION.match(str(text))
    if match is None:
        raise ValueError(f"{text!r} is not a duration like 90m, 12h or 2d (0 = none)")
    return int(float(match.group(1)) * _SECONDS[match.group(2)])


_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def env_problems(mapping: Mapping[str, Any]) -> list[str]:
    """Problems of a `cluster.env` mapping ENV -> value."""
    return [f"{env!r} is not an environment variable name" for env in mapping
            if not _ENV_NAME.fullmatch(str(env))]  # fmt: skip


def secret_env_problems(mapping: Mapping[str, Any]) -> list[str]:
    """Problems of a `cluster.secret_env` mapping ENV -> SECRET/KEY."""
    out = []
    for env, ref in mapping.items():
        if not _ENV_NAME.fullmatch(str(env)):
            out.append(f"{env!r} is not an environment variable name")
        secret, sep, key = str(ref).partition("/")
        if not sep or not secret or not key:
            out.append(f"{env}: {ref!r} should be SECRET/KEY, e.g. hf-token/token")
    return out


def secret_env(mapping: Mapping[str, str]) -> tuple[tuple[str, str, str], ...]:
    """ENV -> SECRET/KEY as sorted (env, secret, key) triples (hashable, for BuildOptions)."""
    triples = []
    for env, ref in mapping.items():
        secret, _, key = str(ref).partition("/")
        triples.append((str(env), secret, key))
    return tuple(sorted(triples))


def describe_pod_spec(
    env: tuple[tuple[str, str], ...],
    secrets: tuple[tuple[str, str, str], ...],
    pull_secrets: tuple[str, ...],
    timeout_s: int,
) -> list[str]:
    """What the pod spec adds to every task, one line each, for `submit --dry-run`."""
    plain = ", ".join(f"{k}={v}" for k, v in env) or "none"
    from_secrets = ", ".join(f"{e} <- secret {s} key {k}" for e, s, k in secrets) or "none"
    pulls = ", ".join(pull_secrets) or "none"
    timeout = f"{timeout_s} s ({timeout_s / 3600:g} h)" if timeout_s else "none"
    return [
        f"env: {plain}",
        f"secrets as env: {from_secrets}",
        f"image pull secrets: {pulls}",
        f"timeout per task: {timeout}",
    ]
