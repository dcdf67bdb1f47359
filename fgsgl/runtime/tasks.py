"""What a pipeline task does around a library step when it runs in a pod (no KFP here).

Resume after a retried pod. Training writes an epoch checkpoint into its output directory and
resumes from it when rerun (fgsgl.train). A retried KFP task gets the same output artifact
URI as the attempt before it: the KFP driver fixes the URIs once per task and every retry
pod receives that same executor input. So the output URI is the key under which a retry
finds the previous attempt's progress:
- a local URI (kfp.local, or a pipeline root on a mounted volume): the output directory is
  the URI itself, and the trainer resumes from `<out>/checkpoints/` on its own;
- a gs:// URI: the pod writes to a local staging copy that KFP uploads only after success,
  so a preempted pod would lose it. `resumable_output` therefore mirrors
  `<out>/checkpoints/` to `<uri>.resume/checkpoints/` while the step runs, restores it at the
  start of a retry, and deletes it after success.

Several GPUs in one pod: `train_task` launches `fgsgl train` under torchrun, one process
per visible GPU, on a DeepSpeed engine (the trainer drives several processes only through
DeepSpeed, so "off" becomes the default ZeRO-2 config there); with one GPU or none it calls
the library in this process.

The `deepspeed` parameter of the pipeline: "off", "on" (fgsgl's default ZeRO-2 config) or
the path of a DeepSpeed config file inside the image.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from fgsgl import storage
from fgsgl.runtime.parameters import training_overrides

log = logging.getLogger("fgsgl.runtime.tasks")

CHECKPOINTS = "checkpoints"
RESUME_SUFFIX = ".resume"
MIRROR_INTERVAL_S = 60.0
LAST = "last.pt"  # the commit of an epoch (fgsgl.train.checkpoint): uploaded after the rest
DEEPSPEED_OFF, DEEPSPEED_ON = "off", "on"


def train_task(
    *,
    stage: int,
    frames: str,
    texts: str,
    out: str,
    out_uri: str,
    params: Mapping[str, Any],
    init: str | None = None,
    weights: str | None = None,
    deepspeed: str = DEEPSPEED_OFF,
) -> dict[str, Any]:
    """Train one stage as a pipeline task: resumable across pod retries, on every local GPU.

    `params` are the component's own parameters by name; the training ones become config
    overrides (fgsgl.settings.TRAIN_KEYS), the rest are ignored. `weights`: the
    fetched backbone checkpoint (fgsgl.weights), used when it holds files.
    """
    from fgsgl.weights import has_files

    weights = weights if has_files(weights) else None
    init = init_path(init)
    overrides = training_overrides(params)
    ds = deepspeed_argument(deepspeed)
    with resumable_output(out, out_uri):
        gpus = _visible_gpus()
        if gpus > 1:
            if ds is None:
                log.info("%d GPUs: training on DeepSpeed's default config (deepspeed=off)", gpus)
                ds = ""
            cmd = torchrun_command(gpus, stage, frames, texts, out, init, weights, overrides, ds)
            return _torchrun(cmd, gpus, out)
        from fgsgl.train.run import train

        return train(
            frames,
            texts,
            out,
            stage=stage,
            init=init,
            weights=weights,
            overrides=overrides,
            deepspeed=ds,
        )


NO_INIT_KIND = "fgsgl.no-init"  # the one-stage branch's "init": there is no stage-1 model


def write_no_init(path: str) -> None:
    """The one-stage branch's stand-in for a stage-1 model: a marker file, so that stage 2
    is one task (one name in the KFP compare view) in both branches."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(
        json.dumps({"kind": NO_INIT_KIND, "why": "ML-CO off: one stage from the backbone"})
    )


def init_path(path: str | None) -> str | None:
    """The stage-1 model's path, or None for the one-stage branch's marker."""
    if path is None or not Path(path).is_file():
        return path
    try:
        marker = json.loads(Path(path).read_text())
    except (OSError, ValueError, UnicodeDecodeError):
        return path
    return None if isinstance(marker, dict) and marker.get("kind") == NO_INIT_KIND else path


def deepspeed_argument(value: str) -> str | None:
    """The pipeline's "off" / "on" / config path -> fgsgl.train.run.train's `deepspeed`."""
    value = value.strip()
    if value in ("", DEEPSPEED_OFF):
        return None
    return "" if value == DEEPSPEED_ON else value


@contextlib.contextmanager
def resumable_output(out: str, uri: str, *, interval: float = MIRROR_INTERVAL_S) -> Iterator[None]:
    """Keep `<out>/checkpoints/` recoverable by a retry of this task (see the module doc).

    Only gs:// URIs need (and get) a mirror; elsewhere this does nothing.
    """
    if not storage.is_gcs(uri):
        yield
        return
    remote = uri.rstrip("/") + RESUME_SUFFIX + "/" + CHECKPOINTS + "/"
    local = Path(out) / CHECKPOINTS
    restored = _download_prefix(remote, local)
    if restored:
        log.info(
            "resuming from %d checkpoint file(s) of an earlier attempt at %s", restored, remote
        )
    mirror = _Mirror(local, remote, interval)
    mirror.start()
    try:
        yield
    except BaseException:
        mirror.stop(final_sync=True)  # the retry resumes from the latest epoch
        raise
    mirror.stop(final_sync=False)
    _delete_prefix(remote)


class _Mirror(threading.Thread):
    """Uploads files under `local` that changed since the last pass, every `interval` s."""

    def __init__(self, local: Path, remote: str, interval: float) -> None:
        super().__init__(name="fgsgl-checkpoint-mirror", daemon=True)
        self.local, self.remote, self.interval = local, remote, interval
        self._halt = threading.Event()
        self._seen: dict[str, tuple[int, int]] = {}

    def run(self) -> None:
        while not self._halt.wait(self.interval):
            self.sync()

    def stop(self, *, final_sync: bool) -> None:
        self._halt.set()
        self.join()
        if final_sync:
            self.sync()

    def sync(self) -> int:
        if not self.local.is_dir():
            return 0
        sent = 0
        files = sorted(p for p in self.local.rglob("*") if p.is_file())
        files.sort(key=lambda p: p.name == LAST and p.parent == self.local)  # commit last
        for path in files:
            rel = path.relative_to(self.local).as_posix()
            if rel.startswith(".") or ".tmp" in rel:
                continue  # a checkpoint being written; its rename comes later
            try:
                st = path.stat()
            except FileNotFoundError:
                continue
            stamp = (st.st_size, st.st_mtime_ns)
            if self._seen.get(rel) == stamp:
                continue
            try:
                storage.upload(path, self.remote + rel)
            except FileNotFoundError:
                continue  # replaced while we read it; the next pass sends the new one
            self._seen[rel] = stamp
            sent += 1
        return sent


def _download_prefix(remote: str, local: Path) -> int:
    names = storage.list_files(remote)
    for name in names:
        storage.download(storage.join(remote, name), local / name)
    return len(names)


def _delete_prefix(remote: str) -> None:
    for name in storage.list_files(remote):
        storage.delete(storage.join(remote, name))


def _visible_gpus() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def _torchrun(cmd: list[str], gpus: int, out: str) -> dict[str, Any]:
    """Run `fgsgl train --deepspeed` under torchrun, one process per GPU of this pod."""
    from fgsgl.artifacts import read_metadata

    log.info("training on %d GPUs: %s", gpus, " ".join(cmd))
    subprocess.run(cmd, check=True, env=os.environ.copy())
    return read_metadata(out, "fgsgl.model")


def torchrun_command(
    gpus: int,
    stage: int,
    frames: str,
    texts: str,
    out: str,
    init: str | None,
    weights: str | None,
    overrides: Mapping[str, Any],
    deepspeed: str,
) -> list[str]:
    """The `fgsgl train` command line of one stage under torchrun (values as YAML, which
    `fgsgl train --set` reads back to the same values)."""
    import yaml

    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--standalone",
        f"--nproc_per_node={gpus}", "-m", "fgsgl", "train", frames, texts, out,
        "--stage", str(stage),
    ]  # fmt: skip
    if init:
        cmd += ["--init", init]
    if weights:
        cmd += ["--weights", weights]
    for key, value in overrides.items():
        text = yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("\n...")
        cmd += ["--set", f"{key}={text}"]
    cmd += ["--deepspeed", deepspeed] if deepspeed else ["--deepspeed"]
    return cmd
