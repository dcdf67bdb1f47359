"""The FG-SGL pipeline: one pipeline function, the ablation variants as its parameters.

    fetch-text-encoder ─┬ encode-text ─┐
    derive-attributes ──┘              │
    extract-frames ────────────────────┴ ml_co? ─ train-stage1 ─ train-stage2 ─ evaluate
    fetch-backbone ──── (training, evaluation) └─ train-stage2 (one stage) ── evaluate

The fetch steps copy a pinned checkpoint (e.g. InternVL2.5-8B's vision shards, its language
model's shards) into an artifact once per name, from the hub or `weights_mirror`; the GPU
tasks read it instead of downloading 16 GB each (fgsgl.weights). For tiny-clip and minilm
they write an empty artifact in a second.

Wiring by name: every run parameter reaches exactly the components whose signature has a
parameter of the same name (`_task`). A task's cache key therefore holds only what its step
reads: extraction gets the dataset fingerprint and the extraction settings, text encoding
the fingerprint and the encoder, stage 1 the stage-1 training settings (not fg_sa,
text_granularity, lambda_fg or stage2_*), stage 2 and evaluation everything upstream plus
their own. KFP does not hash the files behind a path, hence `dataset_fingerprint`.

What is fixed when compiling (`BuildOptions`) and what is a run parameter:
- run parameters: the switches, every training setting, the extraction and text settings,
  the GPU type and count, the GPU node selector and tolerations;
- compile time: the images, the extraction fan-out (kfp.local cannot merge conditional
  artifact outputs, dsl.OneOf, so the fan-out shape is chosen here), which steps run on
  GPUs, CPU/memory requests (as run parameters they would enter every cache key), the
  /dev/shm size, the retries, and the pod spec of `cluster.*` (secrets as environment,
  image pull secrets, a timeout per task; fgsgl.cluster).
"""

import functools
import inspect
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kfp import dsl, kubernetes

from fgsgl.components import (
    derive_attributes,
    encode_text,
    evaluate,
    extract_frames,
    fetch_backbone,
    fetch_text_encoder,
    images,
    merge_frames,
    start_one_stage,
    train_stage1,
    train_stage2,
)

PIPELINE_NAME = "fgsgl"
GPU_STEPS = ("train", "text", "evaluate")
ARTIFACT_NAMES = (
    "frames",
    "texts",
    "model",
    "init",
    "parts",
    "evaluation",
    "weights",
    "attributes",
)


# Settings whose library default is for a laptop (a random tiny backbone trains nothing
# worth a GPU): a YAML compiled for upload leaves their run parameter without a default,
# so the KFP UI asks for it and the API refuses a run without it, unless the compile was
# told a value (--config, --set). Key -> the parameter's name.
UPLOAD_REQUIRED = {"model.backbone": "backbone"}


def upload_required(chosen: Mapping[str, Any]) -> tuple[str, ...]:
    """The parameters a YAML for upload leaves without a default, given the settings
    `chosen` (by key) for the compile."""
    return tuple(name for key, name in UPLOAD_REQUIRED.items() if key not in chosen)


@dataclass(frozen=True)
class BuildOptions:
    """What the compiled pipeline fixes; everything else is a run parameter."""

    cpu_image: str = images.CPU_IMAGE
    gpu_image: str = images.GPU_IMAGE
    extract_shards: int = 1  # >1: a ParallelFor over "i/n" shards, then merge-frames
    extract_parallelism: int = 0  # shard tasks at once (0 = all)
    gpu_steps: tuple[str, ...] = ("train",)  # of GPU_STEPS
    cpu_request: str = "4"  # CPU steps: extraction, text (on CPU), evaluation (on CPU)
    memory_request: str = "16G"
    gpu_cpu_request: str = "8"
    gpu_memory_request: str = "64G"
    shm_size: str = "16Gi"  # memory-backed /dev/shm for the data loaders on GPU steps
    gpu_retries: int = 3  # GPU pools are often preemptible; training resumes (fgsgl.runtime.tasks)
    retry_backoff: str = "60s"
    # the pod spec of every task (settings cluster.*, fgsgl.cluster)
    env: tuple[tuple[str, str], ...] = ()  # (name, value)
    secret_env: tuple[tuple[str, str, str], ...] = ()  # (env, secret, key)
    image_pull_secrets: tuple[str, ...] = ()
    timeout_s: int = 0  # activeDeadlineSeconds of each pod; 0 = none
    required: tuple[str, ...] = ()  # run parameters compiled without a default: a run sets them

    @classmethod
    def pod_spec(cls, values: Mapping[str, Any]) -> dict[str, Any]:
        """BuildOptions fields from the settings `cluster.*` (by key) among `values`."""
        from fgsgl import cluster

        out: dict[str, Any] = {}
        if "cluster.env" in values:
            out["env"] = tuple(sorted((str(k), str(v)) for k, v in values["cluster.env"].items()))
        if "cluster.secret_env" in values:
            out["secret_env"] = cluster.secret_env(values["cluster.secret_env"])
        if "cluster.image_pull_secrets" in values:
            out["image_pull_secrets"] = tuple(str(s) for s in values["cluster.image_pull_secrets"])
        if "cluster.timeout" in values:
            out["timeout_s"] = cluster.duration_seconds(values["cluster.timeout"])
        return out

    def pod_spec_lines(self) -> list[str]:
        from fgsgl import cluster

        return cluster.describe_pod_spec(
            self.env, self.secret_env, self.image_pull_secrets, self.timeout_s
        )

    def problems(self) -> list[str]:
        out = []
        if self.extract_shards < 1:
            out.append(f"extract shards: {self.extract_shards} is not >= 1")
        not_parameters = sorted(set(self.required) - set(RUN_PARAMETERS))
        if not_parameters:
            out.append(f"required: {', '.join(not_parameters)} are no run parameters")
        unknown = sorted(set(self.gpu_steps) - set(GPU_STEPS))
        if unknown:
            out.append(f"gpu steps: {', '.join(unknown)} not among {', '.join(GPU_STEPS)}")
        if self.gpu_retries < 0:
            out.append(f"retries: {self.gpu_retries} is not >= 0")
        return out


def build_pipeline(options: BuildOptions | None = None) -> Any:
    """The pipeline (a KFP GraphComponent) built with `options`."""
    return _build(options or BuildOptions())


@functools.cache
def _build(options: BuildOptions) -> Any:
    from fgsgl.pipelines.kfp_compat import cheap_caller_names

    with cheap_caller_names():
        return _define(options)


@functools.cache
def run_signature(required: tuple[str, ...] = ()) -> inspect.Signature:
    """The pipeline's run parameters: fgsgl.settings' PARAMETERS, typed, with their
    defaults (a null default as its sentinel); those in `required` without one."""
    from fgsgl.settings import PARAMETERS, REQUIRED

    def default(s: Any) -> Any:
        if s.default is REQUIRED or s.name in required:
            return inspect.Parameter.empty
        return s.parameter_default

    parameters = [
        inspect.Parameter(
            s.name,
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
            default=default(s),
            annotation=s.base_type,
        )
        for s in PARAMETERS
    ]  # those without a default first, as Python wants
    parameters.sort(key=lambda prm: prm.default is not inspect.Parameter.empty)
    return inspect.Signature(parameters, return_annotation=None)


RUN_PARAMETERS = tuple(run_signature().parameters)


def _define(options: BuildOptions) -> Any:
    signature = run_signature(options.required)

    def fgsgl(*channels: Any) -> None:
        # the run parameters are fgsgl.settings' (`__signature__` below); KFP passes their
        # channels in that order
        p = dict(zip(signature.parameters, channels, strict=True))
        place = functools.partial(_place, p=p, options=options)

        frames = extraction(p, options)
        text_weights = place(_task(fetch_text_encoder, p), "fetch").outputs["weights"]
        backbone_weights = place(_task(fetch_backbone, p), "fetch").outputs["weights"]
        attributes = place(_task(derive_attributes, p), "attributes").outputs["attributes"]
        texts = _task(encode_text, p, text_weights=text_weights, attributes=attributes)
        texts = place(texts, "text").outputs["texts"]
        inputs = {"frames": frames, "texts": texts, "backbone_weights": backbone_weights}

        # One stage-2 task and one evaluation after the branches, whichever runs, so every
        # variant's tasks and metrics have the same names in the KFP compare view.
        with dsl.If(p["ml_co"] == True, name="two-stage"):  # noqa: E712 - a KFP condition
            stage1 = place(_task(train_stage1, p, **inputs), "train")
            stage1.set_display_name("train stage 1")
        with dsl.Else(name="one-stage"):
            start = place(start_one_stage(), "start")
            start.set_display_name("no stage 1 (ML-CO off)")
        init = dsl.OneOf(stage1.outputs["model"], start.outputs["init"])
        stage2 = place(_task(train_stage2, p, init=init, **inputs), "train")
        stage2.set_display_name("train stage 2")
        place(_task(evaluate, p, model=stage2.outputs["model"], **inputs), "evaluate")

    fgsgl.__signature__ = signature  # type: ignore[attr-defined]
    return dsl.pipeline(
        name=PIPELINE_NAME,
        description="FG-SGL micro-gesture recognition: frames, FG-Text embeddings, ML-CO "
        "training (stage 1, stage 2) and evaluation; the ablations are parameters.",
    )(fgsgl)


def _task(component: Any, p: dict[str, Any], **artifacts: Any) -> dsl.PipelineTask:
    """Call `component` with the run parameters its signature names, plus `artifacts`."""
    names = component.component_spec.inputs or {}
    return component(**{n: p[n] for n in names if n in p}, **artifacts)


def extraction(p: dict[str, Any], options: BuildOptions) -> Any:
    """The frames artifact: one extraction task, or a fan-out over shards and a merge."""
    n = options.extract_shards
    if n == 1:
        return _place(_task(extract_frames, p), "extract", p=p, options=options).outputs["frames"]
    shards = [f"{i}/{n}" for i in range(n)]
    with dsl.ParallelFor(
        shards, name="extract-shards", parallelism=options.extract_parallelism or None
    ) as shard:
        part = _place(_task(extract_frames, p, shard=shard), "extract", p=p, options=options)
    merged = _place(
        merge_frames(parts=dsl.Collected(part.outputs["frames"])), "extract", p=p, options=options
    )
    return merged.outputs["frames"]


def _place(task: dsl.PipelineTask, step: str, *, p: dict[str, Any], options: BuildOptions) -> Any:
    """Image, resources and node pool of a task: the GPU pool for `options.gpu_steps`."""
    _pod_spec(task, options)
    if step not in options.gpu_steps:
        task.set_container_image(options.cpu_image)
        task.set_cpu_request(options.cpu_request).set_memory_request(options.memory_request)
        return task
    task.set_container_image(options.gpu_image)
    task.set_cpu_request(options.gpu_cpu_request).set_memory_request(options.gpu_memory_request)
    task.set_accelerator_type(p["gpu_type"]).set_accelerator_limit(p["gpus"])
    # kfp 2.17 does not carry channels used only in resources into a dsl.If sub-DAG's inputs
    # (the task then fails to resolve them); registering them makes the compiler pass them.
    task.register_pipeline_channels([p["gpu_type"], p["gpus"]])
    kubernetes.add_node_selector_json(task, p["gpu_node_selector"])
    kubernetes.add_toleration_json(task, p["gpu_tolerations"])
    kubernetes.empty_dir_mount(
        task,
        volume_name="dshm",
        mount_path="/dev/shm",
        medium="Memory",
        size_limit=options.shm_size,
    )
    if options.gpu_retries:
        task.set_retry(
            num_retries=options.gpu_retries,
            backoff_duration=options.retry_backoff,
            backoff_factor=2,
        )
    return task


def _pod_spec(task: dsl.PipelineTask, options: BuildOptions) -> None:
    """What every pod carries: environment, secrets as environment, image pull secrets, a
    timeout."""
    for name, value in options.env:
        task.set_env_variable(name, value)
    for env, secret, key in options.secret_env:
        kubernetes.use_secret_as_env(task, secret_name=secret, secret_key_to_env={key: env})
    if options.image_pull_secrets:
        kubernetes.set_image_pull_secrets(task, list(options.image_pull_secrets))
    if options.timeout_s:
        kubernetes.set_timeout(task, options.timeout_s)


def parameters() -> dict[str, inspect.Parameter]:
    """The pipeline's run parameters (name -> inspect.Parameter with type and default),
    without building the pipeline."""
    return dict(run_signature().parameters)


def parameter_types() -> dict[str, type]:
    return {name: prm.annotation for name, prm in parameters().items()}


def parameter_defaults() -> dict[str, Any]:
    """Defaults of the parameters that have one (all but dataset and its fingerprint)."""
    return {
        name: prm.default
        for name, prm in parameters().items()
        if prm.default is not inspect.Parameter.empty
    }


def compile_pipeline(
    path: str | Path,
    *,
    options: BuildOptions | None = None,
    defaults: dict[str, Any] | None = None,
    description: str | None = None,
) -> Path:
    """Write the pipeline YAML, with `defaults` as the parameters' defaults."""
    from kfp import compiler

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    required = options.required if options else ()
    defaults = {k: v for k, v in (defaults or {}).items() if k not in required}
    compiler.Compiler().compile(
        build_pipeline(options),
        package_path=str(path),
        pipeline_parameters=defaults or None,
    )
    if description:  # the variant, for a person reading the YAML or the KFP UI
        text = path.read_text()
        path.write_text(f"# {description}\n{text}")
    return path
