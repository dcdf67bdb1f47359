"""submit: the pipeline to a Kubeflow Pipelines server, one run per variant (and seed).

The pipeline is uploaded once as `fgsgl`, with a version named after the fgsgl version and
the compiled YAML's content hash (an unchanged pipeline reuses its version). Each planned
run becomes a KFP run of that version, named after its variant (`variant-seedN` with
seeds), in one experiment, with every run parameter set, so the KFP compare view lines up
parameters and metrics.

Authentication is the KFP client's own: `existing_token` from KF_PIPELINES_TOKEN when set,
otherwise what kfp.Client finds itself (its IAP / OAuth environment variables, the cookies
of ~/.config/kfp/context.json, in-cluster service-account credentials, or the kube config
when no host is given). Tokens are neither printed nor written anywhere; the compiled YAML
holds only the pipeline and its parameter defaults.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fgsgl import __version__
from fgsgl.errors import FgsglError
from fgsgl.hashing import sha256_bytes
from fgsgl.pipelines.pipeline import (
    PIPELINE_NAME,
    BuildOptions,
    compile_pipeline,
    parameter_defaults,
)
from fgsgl.pipelines.plan import PlannedRun
from fgsgl.runtime.runs import format_table

TOKEN_ENV = "KF_PIPELINES_TOKEN"
DEFAULT_EXPERIMENT = "fgsgl"


@dataclass
class SubmittedRun:
    name: str
    run_id: str | None  # None in a dry run
    link: str | None
    arguments: dict[str, Any]


def submit(
    plans: Sequence[PlannedRun],
    *,
    host: str | None,
    namespace: str | None = None,
    experiment: str = DEFAULT_EXPERIMENT,
    options: BuildOptions | None = None,
    dry_run: bool = False,
    notes: Sequence[str] = (),
    echo: Callable[[str], None] | None = None,
) -> list[SubmittedRun]:
    """Create one KFP run per plan (or, with dry_run, only say which runs it would create).
    `notes`: what the planning checks found worth saying (fgsgl.pipelines.preflight).
    `echo` defaults to the print of the moment of the call: kfp.local swaps builtins.print
    for an indenting one while it runs a task, and a module imported then would keep it."""
    echo = echo or print
    with tempfile.TemporaryDirectory(prefix="fgsgl-submit-") as tmp:
        package = compile_pipeline(Path(tmp) / f"{PIPELINE_NAME}.yaml", options=options)
        version = f"{PIPELINE_NAME}-{__version__}-{content_hash(package)[:10]}"
        if dry_run:
            steps = pipeline_steps(package)
            return _dry_run(plans, host, namespace, experiment, version, steps, notes, echo)
        client = _client(host, namespace)
        ui = _ui_prefix(client)
        try:
            with _quiet():
                exp = client.create_experiment(name=experiment, namespace=namespace)
                pipeline_id, version_id = _pipeline_version(client, package, version, namespace)
            submitted = []
            for plan in plans:
                with _quiet():
                    run = client.run_pipeline(
                        experiment_id=exp.experiment_id,
                        job_name=plan.name,
                        pipeline_id=pipeline_id,
                        version_id=version_id,
                        params=plan.arguments,
                    )
                link = f"{ui}/#/runs/details/{run.run_id}"
                submitted.append(SubmittedRun(plan.name, run.run_id, link, plan.arguments))
        except _api_errors() as e:
            done = ", ".join(s.name for s in submitted) if "submitted" in locals() else ""
            note = f" (runs created before it: {done})" if done else ""
            raise FgsglError(f"submit to {host or 'the cluster'} failed: {_short(e)}{note}") from e
    echo(f"experiment {experiment!r} ({ui}/#/experiments/details/{exp.experiment_id})")
    echo(f"pipeline {PIPELINE_NAME!r} version {version!r}")
    echo(format_table(["run", "run id", "link"], [[s.name, s.run_id, s.link] for s in submitted]))
    return submitted


def _dry_run(
    plans: Sequence[PlannedRun],
    host: str | None,
    namespace: str | None,
    experiment: str,
    version: str,
    steps: list[str],
    notes: Sequence[str],
    echo: Callable[[str], None],
) -> list[SubmittedRun]:
    from fgsgl.pipelines.preflight import epoch_budget

    defaults = parameter_defaults()
    echo(f"dry run: nothing sent to {host or 'the cluster of the kube config'}")
    where = f" in namespace {namespace!r}" if namespace else ""
    echo(f"experiment {experiment!r}{where}; pipeline {PIPELINE_NAME!r} version {version!r}")
    if plans:
        args = plans[0].arguments
        fingerprint = str(args.get("dataset_fingerprint", ""))[:16]
        echo(f"dataset {args.get('dataset')} (fingerprint {fingerprint})")
    echo(f"{len(plans)} run(s), each with the pipeline's defaults except:")
    shown = ("dataset", "dataset_fingerprint", "variant", "seed")
    for plan in plans:
        changed = plan.changed(defaults)
        rest = " ".join(f"{k}={json.dumps(changed[k])}" for k in sorted(changed) if k not in shown)
        head = f"variant={plan.variant} seed={plan.arguments.get('seed')}"
        echo(f"  {plan.name}: {head} {rest}".rstrip())
        echo(f"    training: {epoch_budget(plan.arguments)}")
    echo(f"steps: {', '.join(steps)}")
    for note in notes:
        echo(f"weights: {note}")
    return [SubmittedRun(p.name, None, None, p.arguments) for p in plans]


def pipeline_steps(package: Path) -> list[str]:
    """The task names of a compiled pipeline (sub-DAGs opened), each after the tasks it
    depends on."""
    import yaml

    spec = next(yaml.safe_load_all(package.read_text()))
    after: dict[str, set[str]] = {}

    def walk(dag: dict[str, Any], outer: set[str]) -> None:
        for name, task in dag.get("tasks", {}).items():
            component = spec["components"].get(task["componentRef"]["name"], {})
            needs = set(task.get("dependentTasks", [])) | outer
            if "dag" in component:
                walk(component["dag"], needs)
            else:
                after[name] = needs

    walk(spec["root"]["dag"], set())
    order: list[str] = []
    while len(order) < len(after):
        ready = sorted(n for n, deps in after.items() if n not in order and deps <= set(order))
        order += ready or sorted(set(after) - set(order))  # a condition's own name: no task
    return order


def content_hash(package: Path) -> str:
    """Hash of the compiled pipeline without its comment header (kfp writes the defaults
    there in an order that changes from process to process)."""
    lines = [line for line in package.read_text().splitlines() if not line.startswith("#")]
    return sha256_bytes("\n".join(lines).encode())


def _api_errors() -> tuple[type[BaseException], ...]:
    """What a KFP server, the network or a refused request raise (not our bugs)."""
    import kfp_server_api
    import urllib3

    return (kfp_server_api.ApiException, urllib3.exceptions.HTTPError, OSError, ValueError)


def _client(host: str | None, namespace: str | None) -> Any:
    import kfp

    kwargs: dict[str, Any] = {"host": host or None}
    if namespace:
        kwargs["namespace"] = namespace
    token = os.environ.get(TOKEN_ENV)
    if token:
        kwargs["existing_token"] = token
    try:
        with _quiet(), warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # "only works with KFP v2..."
            return kfp.Client(**kwargs)
    except (*_api_errors(), TimeoutError) as e:  # refused, TLS, auth: where, never the secret
        raise FgsglError(f"cannot reach Kubeflow Pipelines at {host}: {_short(e)}") from e


def _pipeline_version(
    client: Any, package: Path, version: str, namespace: str | None
) -> tuple[str, str]:
    """(pipeline id, version id) of `version`: uploaded unless it is there already."""
    pipeline_id = client.get_pipeline_id(PIPELINE_NAME)
    if pipeline_id is None:
        pipeline = client.upload_pipeline(
            str(package),
            pipeline_name=PIPELINE_NAME,
            description="FG-SGL micro-gesture recognition (fgsgl)",
            namespace=namespace,
        )
        pipeline_id = pipeline.pipeline_id
    wanted = json.dumps(
        {"predicates": [{"operation": "EQUALS", "key": "display_name", "stringValue": version}]}
    )
    found = client.list_pipeline_versions(pipeline_id=pipeline_id, filter=wanted)
    for v in found.pipeline_versions or []:
        if v.display_name == version:
            return pipeline_id, v.pipeline_version_id
    uploaded = client.upload_pipeline_version(
        str(package), pipeline_version_name=version, pipeline_id=pipeline_id
    )
    return pipeline_id, uploaded.pipeline_version_id


def _ui_prefix(client: Any) -> str:
    return client._get_url_prefix().rstrip("/")  # the client's own rule for UI links


@contextlib.contextmanager
def _quiet() -> Any:
    """kfp.Client prints its own links and notes; submit prints one table instead."""
    with contextlib.redirect_stdout(io.StringIO()):
        yield


def _short(e: Exception) -> str:
    text = str(e).strip().splitlines()
    return text[0][:300] if text else type(e).__name__
