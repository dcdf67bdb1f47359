"""What a pipeline task does around a library step when it runs in a pod (no KFP here).

Resume after a retried pod. Training writes an epoch checkpoint into its output directory and
resumes from it when rerun (fgsgl.train). A retried KFP task gets the same output artifact
URI as the attempt before it: the KFP driver fixes the URIs once per task and every retry
pod receives that same executor input. So the output URI is the key under which a retry
finds the previous attempt's progress:
- a local URI (kfp.local, or a pipeline root on a mounted volume): the output directory is
  the URI itself, and the trainer resumes from `<out>/checkpoints/` on its own;
- an object-store URI (gs://, s3://): the pod writes to a local staging copy that KFP
  uploads only after success, so a preempted pod would lose it. `resumable_output` mirrors
  `<out>/checkpoints/` to `<uri>.resume/checkpoints/` while the step runs, restores it at the
  start of a retry, and deletes it after success (every FGSGL_MIRROR_INTERVAL_S, 60 s by
  default). A store the pod cannot reach costs the mirror, not the training: a warning,
  and a retry would start the step over.

Curves while training. KFP uploads a task's outputs when it ends, so TensorBoard could not
show a remote run until then. `resumable_output` therefore also mirrors each `live`
directory (the task's `tensorboard` artifact: event files, fgsgl.train.events) to its own
artifact URI while the task runs, every LIVE_INTERVAL_S: point TensorBoard, or Kubeflow's
Tensorboards app, at that URI (the task logs it) and it follows the training. A retry
first downloads what the attempt before it mirrored, so the artifact keeps the whole curve
(TensorBoard's purge marker hides the steps that attempt logged past its checkpoint).

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
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from fgsgl import storage
from fgsgl.errors import FgsglError
from fgsgl.runtime.parameters import training_overrides

log = logging.getLogger("fgsgl.runtime.tasks")

CHECKPOINTS = "checkpoints"
RESUME_SUFFIX = ".resume"
MIRROR_INTERVAL_S = 60.0
MIRROR_INTERVAL_ENV = "FGSGL_MIRROR_INTERVAL_S"
LIVE_INTERVAL_S = 30.0  # the TensorBoard events: small files, watched while they grow
LAST = "last.pt"  # the commit of an epoch (fgsgl.train.checkpoint): uploaded after the rest
DEEPSPEED_OFF, DEEPSPEED_ON = "off", "on"


def mirror_interval() -> float:
    """Seconds between checkpoint mirror passes: MIRROR_INTERVAL_S, or the environment's
    FGSGL_MIRROR_INTERVAL_S (shorter on nodes preempted often, longer for big models)."""
    text = os.environ.get(MIRROR_INTERVAL_ENV, "")
    try:
        return float(text) if text else MIRROR_INTERVAL_S
    except ValueError:
        raise FgsglError(f"{MIRROR_INTERVAL_ENV}={text!r}: expected seconds, e.g. 60") from None


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
    tensorboard: str | None = None,
    tensorboard_uri: str | None = None,
) -> dict[str, Any]:
    """Train one stage as a pipeline task: resumable across pod retries, on every local GPU.

    `params` are the component's own parameters by name; the training ones become config
    overrides (fgsgl.settings.TRAIN_KEYS), the rest are ignored. `weights`: the
    fetched backbone checkpoint (fgsgl.weights), used when it holds files. `tensorboard`:
    the local directory of the task's TensorBoard artifact, `tensorboard_uri` its URI
    (mirrored live when remote).
    """
    from fgsgl.weights import has_files

    weights = weights if has_files(weights) else None
    init = init_path(init)
    overrides = training_overrides(params)
    ds = deepspeed_argument(deepspeed)
    live = {tensorboard: tensorboard_uri} if tensorboard and tensorboard_uri else {}
    if tensorboard_uri:
        log.info("TensorBoard logs of this task: %s (live while it trains)", tensorboard_uri)
    with resumable_output(out, out_uri, live=live, interval=mirror_interval()):
        gpus = _visible_gpus()
        if gpus > 1:
            if ds is None:
                log.info("%d GPUs: training on DeepSpeed's default config (deepspeed=off)", gpus)
                ds = ""
            cmd = torchrun_command(
                gpus, stage, frames, texts, out, init, weights, overrides, ds,
                tensorboard=tensorboard,
            )  # fmt: skip
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
            tensorboard=tensorboard,
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
def resumable_output(
    out: str,
    uri: str,
    *,
    live: Mapping[str, str] | None = None,
    interval: float = MIRROR_INTERVAL_S,
    live_interval: float = LIVE_INTERVAL_S,
) -> Iterator[None]:
    """Keep `<out>/checkpoints/` recoverable by a retry of this task, and each `live`
    directory (local path -> its artifact's URI) visible at that URI while the task runs
    (see the module doc).

    Only remote URIs need (and get) mirrors; elsewhere the outputs are written in place.
    """
    if not storage.is_remote(uri):
        yield
        return
    remote = uri.rstrip("/") + RESUME_SUFFIX + "/" + CHECKPOINTS + "/"
    local = Path(out) / CHECKPOINTS
    try:
        restored = _download_prefix(remote, local)
    except FgsglError as e:  # the store unreachable from the pod: train, without the net
        log.warning("no checkpoint mirror (%s): a retried pod would start this step over", e)
        yield
        return
    if restored:
        log.info(
            "resuming from %d checkpoint file(s) of an earlier attempt at %s", restored, remote
        )
    watched = []
    for path, target in (live or {}).items():
        target = target.rstrip("/") + "/"
        _download_prefix(target, Path(path))  # the attempt before's curve, kept whole
        watched.append(_Mirror(Path(path), target, live_interval, name="fgsgl-live-mirror"))
    # a checkpoint reaches the store after the curve up to it: a retry never lacks steps
    mirror = _Mirror(local, remote, interval, before_commit=[m.sync for m in watched])
    for m in (mirror, *watched):
        m.start()
    try:
        yield
    except BaseException:
        mirror.stop(final_sync=True)  # the retry resumes from the latest epoch
        for m in watched:
            m.stop(final_sync=True)
        raise
    mirror.stop(final_sync=False)
    for m in watched:
        m.stop(final_sync=True)  # complete at its URI now, before KFP's own upload
    try:
        _delete_prefix(remote)
    except FgsglError as e:  # the step succeeded; only a leftover copy stays
        log.warning("the resume copy at %s stays (%s)", remote, e)


class _Mirror(threading.Thread):
    """Uploads files under `local` that changed since the last pass, every `interval` s."""

    def __init__(
        self,
        local: Path,
        remote: str,
        interval: float,
        *,
        name: str = "fgsgl-checkpoint-mirror",
        before_commit: Sequence[Callable[[], Any]] = (),
    ) -> None:
        super().__init__(name=name, daemon=True)
        self.local, self.remote, self.interval = local, remote, interval
        self.before_commit = before_commit  # run before LAST (an epoch's commit) goes up
        self._lock = threading.Lock()  # a pass at a time: the thread's, or another's
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
        with self._lock:
            return self._sync()

    def _sync(self) -> int:
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
            if rel == LAST:
                for sync in self.before_commit:
                    sync()
            try:
                storage.upload(path, self.remote + rel)
            except FileNotFoundError:
                continue  # replaced while we read it; the next pass sends the new one
            except FgsglError as e:  # the store failed past its retries: try next pass
                log.warning("%s: not mirrored this time (%s)", rel, e)
                continue
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
    *,
    tensorboard: str | None = None,
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
    if tensorboard:
        cmd += ["--tensorboard", tensorboard]
    for key, value in overrides.items():
        text = yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("\n...")
        cmd += ["--set", f"{key}={text}"]
    cmd += ["--deepspeed", deepspeed] if deepspeed else ["--deepspeed"]
    return cmd
