"""The batch-prediction pipeline: a trained model (by URI) on new footage, on the GPU pool.

    importer (model_uri) ── predict-videos ── predictions, report, metrics

`model_uri` names the model artifact of an earlier run (train-stage2's `model` output, as
the KFP UI or `fgsgl run-local` shows it: gs://, s3://, minio:// or a mounted path);
`inputs` the footage as the pods see it. Every other parameter is `fgsgl predict`'s
option of the same name (the predict-videos component's signature), and the GPU
placement is training's: the same `gpu_*` run parameters, image, requests, node pool and
pod spec (BuildOptions). `fgsgl compile --pipeline predict` writes it;
`fgsgl submit --pipeline predict --set model_uri=... --set inputs=...` runs it.
"""

# No `from __future__ import annotations`: KFP reads the pipeline function's signature.
import functools
import inspect
from pathlib import Path
from typing import Any

PREDICT_PIPELINE_NAME = "fgsgl-predict"
GPU_PARAMETERS = ("gpu_type", "gpus", "gpu_node_selector", "gpu_tolerations")
ARTIFACT_INPUTS = ("model",)


@functools.cache
def predict_signature() -> inspect.Signature:
    """model_uri, then predict-videos' own parameters, then the GPU placement settings."""
    from fgsgl.components.predict import predict_videos
    from fgsgl.settings import BY_NAME

    kinds = {"String": str, "Integer": int, "Float": float, "Boolean": bool}
    P = inspect.Parameter
    params = [P("model_uri", P.POSITIONAL_OR_KEYWORD, annotation=str)]
    inputs = predict_videos.component_spec.inputs or {}
    required = [n for n, i in inputs.items() if n not in ARTIFACT_INPUTS and not i.optional]
    optional = [n for n, i in inputs.items() if n not in ARTIFACT_INPUTS and i.optional]
    for name in [*required, *optional]:
        spec = inputs[name]
        default = P.empty if name in required else spec.default
        params.append(P(name, P.POSITIONAL_OR_KEYWORD, default=default,
                        annotation=kinds[spec.type]))  # fmt: skip
    for name in GPU_PARAMETERS:
        s = BY_NAME[name]
        params.append(P(name, P.POSITIONAL_OR_KEYWORD, default=s.default, annotation=s.base_type))
    return inspect.Signature(params, return_annotation=None)


def predict_defaults() -> dict[str, Any]:
    return {
        n: p.default for n, p in predict_signature().parameters.items() if p.default is not p.empty
    }


def build_predict_pipeline(options: Any = None) -> Any:
    from fgsgl.pipelines.pipeline import BuildOptions

    return _build(options or BuildOptions())


@functools.cache
def _build(options: Any) -> Any:
    from kfp import dsl

    from fgsgl.components.predict import predict_videos
    from fgsgl.pipelines.pipeline import _place

    signature = predict_signature()

    def fgsgl_predict(*channels: Any) -> None:
        p = dict(zip(signature.parameters, channels, strict=True))
        model = dsl.importer(artifact_uri=p["model_uri"], artifact_class=dsl.Model, reimport=False)
        model.set_display_name("model")
        names = (predict_videos.component_spec.inputs or {}).keys()
        task = predict_videos(model=model.output, **{n: p[n] for n in names if n in p})
        _place(task, "train", p=p, options=options)  # where training runs: the GPU pool
        task.set_display_name("predict")

    fgsgl_predict.__signature__ = signature  # type: ignore[attr-defined]
    return dsl.pipeline(
        name=PREDICT_PIPELINE_NAME,
        description="fgsgl batch prediction: a trained model on new videos, folders or "
        "datasets; per clip, or spotting gestures in whole videos with sliding windows.",
    )(fgsgl_predict)


def compile_predict_pipeline(
    path: str | Path, *, options: Any = None, defaults: dict[str, Any] | None = None
) -> Path:
    """Write the batch-prediction pipeline's YAML (`defaults`: parameter defaults)."""
    from kfp import compiler

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    compiler.Compiler().compile(
        build_predict_pipeline(options), package_path=str(path), pipeline_parameters=defaults
    )
    return path


def predict_arguments(
    items: list[str] | None = None, *, config: str | None = None
) -> dict[str, Any]:
    """The predict pipeline's run arguments from `--set NAME=VALUE` (its parameters by
    name: model_uri, inputs, windows, ...) and the settings it shares with training
    (resources.*, cluster.* by key, from --set or --config); every problem at once."""
    from fgsgl import settings
    from fgsgl.config_files import coerce
    from fgsgl.errors import FgsglError

    sig = predict_signature().parameters
    own: dict[str, Any] = {}
    shared: list[str] = []
    problems: list[str] = []
    for item in items or []:
        key, sep, value = (part.strip() for part in item.partition("="))
        if not sep or not key:
            problems.append(f"--set {item!r}: expected NAME=VALUE, e.g. windows=48:12")
        elif key in sig and key not in GPU_PARAMETERS:
            try:
                own[key] = coerce(value, sig[key].annotation)
            except ValueError as e:
                problems.append(f"--set {key}: {e}")
        elif key in settings.BY_KEY or key in settings.BY_NAME:
            shared.append(item)
        else:
            names = ", ".join(n for n in sig if n not in GPU_PARAMETERS)
            problems.append(
                f"--set {key}: not a parameter of the predict pipeline ({names}) nor a "
                "resources.* or cluster.* setting"
            )
    values: dict[str, Any] = {}
    try:
        values = settings.read(shared, config=config)
    except FgsglError as e:
        problems += e.problems or [e.message]
    for key in values:
        s = settings.BY_KEY[key]
        if s.parameter and s.name not in GPU_PARAMETERS:
            problems.append(f"{key}: a training setting; the predict pipeline reads the model's")
    if problems:
        raise FgsglError("bad predict pipeline arguments", problems)
    gpu = {k: v for k, v in settings.as_parameters(values).items() if k in GPU_PARAMETERS}
    return {**own, **gpu}
