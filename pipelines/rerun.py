"""rerun: one step of an earlier local run, again, on that run's artifacts.

kfp.local refuses input artifacts to a component run alone, so the step runs in a small
pipeline of its own: a `dsl.importer` per input artifact (the URIs the earlier run's
run.json recorded for that task), then the step's component with the recorded parameters
and the `--set` changes. Nothing is taken from the cache: the point is to run it again.
Its outputs go to ROOT/reruns/RUN/, beside the earlier runs.
"""

# No `from __future__ import annotations`: KFP reads the annotations of the pipeline
# function defined below at run time.
import datetime as _dt
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from fgsgl.errors import FgsglError, UsageError
from fgsgl.runtime.parameters import resolve_settings
from fgsgl.runtime.runs import RunRecord, find_run

KFP_TYPES: dict[str, type] = {
    "String": str,
    "Integer": int,
    "Float": float,
    "Boolean": bool,
    "Struct": dict,
    "List": list,
}


def rerun(
    step: str,
    run_dir: str | os.PathLike,
    *,
    settings: Sequence[str] | None = None,
    config: str | os.PathLike | None = None,
    root: str | os.PathLike | None = None,
    show_logs: bool = False,
    echo: Callable[[str], None] | None = None,
) -> RunRecord:
    """Run `step` (e.g. "evaluate", "train-stage2") of the run at `run_dir` again."""
    from kfp import dsl

    from fgsgl.components import STEPS
    from fgsgl.pipelines.local import execute, failure, stderr_echo, task_environment

    echo = echo or stderr_echo()
    earlier = find_run(run_dir)
    key = step.replace("-", "_")
    if key not in STEPS:
        known = ", ".join(s.replace("_", "-") for s in STEPS)
        raise UsageError(f"unknown step {step!r}; steps: {known}")
    task = earlier.task(key)
    component = STEPS[key]
    params = _parameters(component, task.parameters, settings, config)
    artifacts = _input_artifacts(task.artifacts, step)

    @dsl.pipeline(name=f"rerun-{key.replace('_', '-')}")
    def single_step() -> None:
        imported = {
            name: dsl.importer(
                artifact_uri=art["uri"],
                artifact_class=_artifact_class(art["type"]),
                reimport=True,
                metadata=art.get("metadata") or {},
            ).output
            for name, art in artifacts.items()
        }
        component(**params, **imported)

    root_dir = Path(root or earlier.root or Path(run_dir).parent).resolve()
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    name = f"{earlier.name}.rerun-{key.replace('_', '-')}-{stamp}"
    record = RunRecord(
        name=name,
        variant=earlier.variant,
        seed=earlier.seed,
        directory="",
        arguments={**earlier.arguments, **params},
        root=str(root_dir),
        log=str(root_dir / "logs" / f"{name}.log"),
    )
    (root_dir / "tmp").mkdir(parents=True, exist_ok=True)
    echo(f"rerun: {key.replace('_', '-')} of {earlier.name} ({earlier.directory})")
    with task_environment(root_dir / "tmp"):
        execute(
            single_step,
            record,
            pipeline_root=root_dir / "reruns" / earlier.name,
            cache=False,
            show_logs=show_logs,
            echo=echo,
        )
    if record.status != "succeeded":
        raise failure(record)
    return record


def _parameters(
    component: Any,
    recorded: dict[str, Any],
    settings: Sequence[str] | None,
    config: str | os.PathLike | None,
) -> dict[str, Any]:
    """The recorded parameters of the task with `--config` / `--set` applied (only the
    step's own parameters can be set)."""
    inputs = component.component_spec.inputs or {}
    types = {n: KFP_TYPES[i.type] for n, i in inputs.items() if i.type in KFP_TYPES}
    changes = resolve_settings(list(settings or []), types, config=config)
    params = {n: v for n, v in recorded.items() if n in types}
    params.update(changes)
    missing = sorted(
        n for n, i in inputs.items() if n in types and not i.optional and n not in params
    )
    if missing:
        raise FgsglError(f"the earlier run recorded no value for {', '.join(missing)}")
    return params


def _input_artifacts(recorded: dict[str, Any], step: str) -> dict[str, dict[str, Any]]:
    out, problems = {}, []
    for name, art in recorded.items():
        if art is None:
            continue
        if isinstance(art, list):
            problems.append(f"{name}: a list of artifacts (a fan-in); {step} cannot be rerun alone")
            continue
        if not os.path.exists(art["uri"]):
            problems.append(f"{name}: {art['uri']} no longer exists")
            continue
        out[name] = art
    if problems:
        raise FgsglError(f"cannot rerun {step}", problems)
    return out


def _artifact_class(schema_title: str) -> type:
    from kfp import dsl

    for cls in (
        dsl.Dataset,
        dsl.Model,
        dsl.Metrics,
        dsl.ClassificationMetrics,
        dsl.Markdown,
        dsl.HTML,
        dsl.Artifact,
    ):
        if cls.schema_title == schema_title:
            return cls
    raise FgsglError(f"unknown artifact type {schema_title!r} in the run record")
