"""submit: the pipeline to a Kubeflow Pipelines server, one run per variant (and seed).

The pipeline is uploaded once as `fgsgl`, with a version named after the fgsgl version and
the compiled YAML's content hash (an unchanged pipeline reuses its version). Each planned
run becomes a KFP run of that version, named after its variant (`variant-seedN` with
seeds), in one experiment, with every run parameter set, so the KFP compare view lines up
parameters and metrics. With a namespace (multi-user Kubeflow) the pipeline and the
experiment are the namespace's own: they are looked up in it, not in the shared list
(kfp.Client.get_pipeline_id searches only the shared one, so a second submit would upload
again and be refused as a duplicate name).

Without caching (`cache=False`, `--no-cache`) the runs use a version of their own whose every
task has caching off. kfp 2.17's run_pipeline(enable_caching=False) alone does not do it: for
a run of an uploaded version it sends nothing about caching, and even with an inline spec it
rewrites only the top-level tasks, not those inside a condition (train-stage1 is one).

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
import ssl
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
from fgsgl.pipelines.predict import (
    PREDICT_PIPELINE_NAME,
    compile_predict_pipeline,
    predict_defaults,
)
from fgsgl.runtime.runs import format_table

TOKEN_ENV = "KF_PIPELINES_TOKEN"
# the pipelines submit knows: kind -> (KFP pipeline name, compile function)
PIPELINES: dict[str, tuple[str, Callable[..., Path]]] = {
    "train": (PIPELINE_NAME, compile_pipeline),
    "predict": (PREDICT_PIPELINE_NAME, compile_predict_pipeline),
}
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
    cache: bool = True,
    ssl_ca_cert: str | None = None,
    cookies: str | None = None,
    notes: Sequence[str] = (),
    echo: Callable[[str], None] | None = None,
    pipeline: str = "train",
) -> list[SubmittedRun]:
    """Create one KFP run per plan (or, with dry_run, only say which runs it would create).
    `cache=False`: every task of these runs executes. `ssl_ca_cert`: a PEM CA bundle for the
    server's TLS certificate; `cookies`: a Cookie header (e.g. a Dex session) instead of the
    kfp context's. `notes`: what the planning checks found worth saying
    (fgsgl.pipelines.preflight). `echo` defaults to the print of the moment of the call:
    kfp.local swaps builtins.print for an indenting one while it runs a task, and a module
    imported then would keep it."""
    echo = echo or print
    if ssl_ca_cert:  # refused here, not as a TLS error from the first request
        check_ca_bundle(ssl_ca_cert)
    name, build = PIPELINES[pipeline]
    with tempfile.TemporaryDirectory(prefix="fgsgl-submit-") as tmp:
        package = build(Path(tmp) / f"{name}.yaml", options=options)
        if not cache:
            disable_caching(package)
        kind = "" if cache else "nocache-"
        version = f"{name}-{__version__}-{kind}{content_hash(package)[:10]}"
        if dry_run:
            steps = pipeline_steps(package)
            pods = (options or BuildOptions()).pod_spec_lines()
            return _dry_run(
                plans, host, namespace, experiment, (name, version), cache, steps, pods, notes,
                echo,
            )  # fmt: skip
        client = _client(host, namespace, ssl_ca_cert=ssl_ca_cert, cookies=cookies)
        ui = _ui_prefix(client)
        try:
            with _quiet():
                exp = client.create_experiment(name=experiment, namespace=namespace)
                pipeline_id, version_id = _pipeline_version(
                    client, package, name, version, namespace
                )
            submitted = []
            for plan in plans:
                with _quiet():
                    run = client.run_pipeline(
                        experiment_id=exp.experiment_id,
                        job_name=plan.name,
                        pipeline_id=pipeline_id,
                        version_id=version_id,
                        params=plan.arguments,
                        # a no-op for a version in kfp 2.17 (see above): the version has it
                        enable_caching=None if cache else False,
                    )
                link = f"{ui}/#/runs/details/{run.run_id}"
                submitted.append(SubmittedRun(plan.name, run.run_id, link, plan.arguments))
        except _api_errors() as e:
            done = ", ".join(s.name for s in submitted) if "submitted" in locals() else ""
            note = f" (runs created before it: {done})" if done else ""
            raise FgsglError(f"submit to {host or 'the cluster'} failed: {_short(e)}{note}") from e
    echo(f"experiment {experiment!r} ({ui}/#/experiments/details/{exp.experiment_id})")
    echo(f"pipeline {name!r} version {version!r}")
    echo(_caching_line(cache))
    echo(format_table(["run", "run id", "link"], [[s.name, s.run_id, s.link] for s in submitted]))
    return submitted


def _dry_run(
    plans: Sequence[PlannedRun],
    host: str | None,
    namespace: str | None,
    experiment: str,
    pipeline: tuple[str, str],  # (name, version)
    cache: bool,
    steps: list[str],
    pods: list[str],
    notes: Sequence[str],
    echo: Callable[[str], None],
) -> list[SubmittedRun]:
    from fgsgl.pipelines.preflight import epoch_budget

    name, version = pipeline
    training = name == PIPELINE_NAME
    defaults = parameter_defaults() if training else predict_defaults()
    echo(f"dry run: nothing sent to {host or 'the cluster of the kube config'}")
    where = f" in namespace {namespace!r}" if namespace else ""
    echo(f"experiment {experiment!r}{where}; pipeline {name!r} version {version!r}")
    echo(_caching_line(cache))
    if plans and training:
        args = plans[0].arguments
        fingerprint = str(args.get("dataset_fingerprint", ""))[:16]
        echo(f"dataset {args.get('dataset')} (fingerprint {fingerprint})")
    echo(f"{len(plans)} run(s), each with the pipeline's defaults except:")
    shown = ("dataset", "dataset_fingerprint", "variant", "seed")
    for plan in plans:
        changed = plan.changed(defaults)
        rest = " ".join(f"{k}={json.dumps(changed[k])}" for k in sorted(changed) if k not in shown)
        head = f"variant={plan.variant} seed={plan.arguments.get('seed')} " if training else ""
        echo(f"  {plan.name}: {head}{rest}".rstrip())
        if training:
            echo(f"    training: {epoch_budget(plan.arguments)}")
    echo(f"steps: {', '.join(steps)}")
    if plans:
        args = plans[0].arguments
        gpu = f"{args.get('gpus')} x {args.get('gpu_type')}"
        echo(f"GPU pods: {gpu}, node selector {json.dumps(args.get('gpu_node_selector'))}")
        echo(f"  tolerations {json.dumps(args.get('gpu_tolerations'))}")
    for line in pods:
        echo(f"every pod: {line}")
    for note in notes:
        echo(f"weights: {note}")
    return [SubmittedRun(p.name, None, None, p.arguments) for p in plans]


def pipeline_steps(package: Path) -> list[str]:
    """The task names of a compiled pipeline (sub-DAGs opened), each after the tasks it
    depends on."""
    import yaml

    spec = next(yaml.safe_load_all(package.read_text()))
    after: dict[str, set[str]] = {}
    inside: dict[str, set[str]] = {}  # a sub-DAG's task name (a condition) -> its tasks

    def walk(dag: dict[str, Any], outer: set[str]) -> set[str]:
        tasks: set[str] = set()
        for name, task in dag.get("tasks", {}).items():
            component = spec["components"].get(task["componentRef"]["name"], {})
            needs = set(task.get("dependentTasks", [])) | outer
            if "dag" in component:
                inside[name] = walk(component["dag"], needs)
                tasks |= inside[name]
            else:
                after[name] = needs
                tasks.add(name)
        return tasks

    walk(spec["root"]["dag"], set())
    after = {n: set().union(*(inside.get(d, {d}) for d in deps)) for n, deps in after.items()}
    order: list[str] = []
    while len(order) < len(after):
        ready = sorted(n for n, deps in after.items() if n not in order and deps <= set(order))
        order += ready or sorted(set(after) - set(order))  # a cycle cannot be; never stall
    return order


def _caching_line(cache: bool) -> str:
    if cache:
        return "caching: on (a task whose inputs are unchanged reuses its cached outputs)"
    return "caching: off (--no-cache: every task executes; the version has caching off)"


def disable_caching(package: Path) -> None:
    """Turn caching off for every executed task of a compiled pipeline, inside sub-DAGs
    (conditions, loops) too, which kfp's own run-time override misses."""
    import yaml

    text = package.read_text()
    header = [line for line in text.splitlines() if line.startswith("#")]
    docs = list(yaml.safe_load_all(text))
    spec = docs[0]
    dags = [spec["root"]["dag"]] + [c["dag"] for c in spec["components"].values() if "dag" in c]
    for dag in dags:
        for task in dag.get("tasks", {}).values():
            if "dag" not in spec["components"].get(task["componentRef"]["name"], {}):
                task["cachingOptions"] = {**task.get("cachingOptions", {}), "enableCache": False}
    body = yaml.safe_dump_all(docs, sort_keys=False)
    package.write_text("\n".join([*header, body]))


def check_ca_bundle(path: str) -> None:
    """A CA bundle that exists and holds PEM certificates, or one clear error naming it."""
    if not Path(path).is_file():
        raise FgsglError(f"--ssl-ca-cert {path}: no such file")
    try:
        ssl.create_default_context(cafile=path)
    except (ssl.SSLError, OSError) as e:
        raise FgsglError(f"--ssl-ca-cert {path}: not a PEM CA certificate bundle ({e})") from e


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


def _client(
    host: str | None,
    namespace: str | None,
    *,
    ssl_ca_cert: str | None = None,
    cookies: str | None = None,
) -> Any:
    import kfp

    kwargs: dict[str, Any] = {"host": host or None}
    if namespace:
        kwargs["namespace"] = namespace
    if ssl_ca_cert:
        kwargs["ssl_ca_cert"] = ssl_ca_cert
    if cookies:
        kwargs["cookies"] = cookies
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
    client: Any, package: Path, name: str, version: str, namespace: str | None
) -> tuple[str, str]:
    """(pipeline id, version id) of `version` of pipeline `name`: uploaded unless it is
    there already."""
    pipeline_id = _pipeline_id(client, name, namespace)
    if pipeline_id is None:
        pipeline = client.upload_pipeline(
            str(package),
            pipeline_name=name,
            description="FG-SGL micro-gesture recognition (fgsgl)",
            namespace=namespace,
        )
        pipeline_id = pipeline.pipeline_id
    found = client.list_pipeline_versions(pipeline_id=pipeline_id, filter=_named(version))
    for v in found.pipeline_versions or []:
        if v.display_name == version:
            return pipeline_id, v.pipeline_version_id
    uploaded = client.upload_pipeline_version(
        str(package), pipeline_version_name=version, pipeline_id=pipeline_id
    )
    return pipeline_id, uploaded.pipeline_version_id


def _pipeline_id(client: Any, name: str, namespace: str | None) -> str | None:
    """The id of the pipeline called `name` in `namespace` (None: the shared list)."""
    found = client.list_pipelines(filter=_named(name), namespace=namespace)
    ids = [p.pipeline_id for p in found.pipelines or [] if p.display_name == name]
    if len(ids) > 1:
        where = f"namespace {namespace!r}" if namespace else "the shared pipelines"
        raise FgsglError(f"{len(ids)} pipelines named {name!r} in {where}: keep one")
    return ids[0] if ids else None


def _named(name: str) -> str:
    """A KFP API filter (a JSON-encoded Filter message) for this display name."""
    predicate = {"operation": "EQUALS", "key": "display_name", "stringValue": name}
    return json.dumps({"predicates": [predicate]})


def _ui_prefix(client: Any) -> str:
    return client._get_url_prefix().rstrip("/")  # the client's own rule for UI links


@contextlib.contextmanager
def _quiet() -> Any:
    """kfp.Client prints its own links and notes; submit prints one table instead."""
    with contextlib.redirect_stdout(io.StringIO()):
        yield


def _short(e: Exception) -> str:
    """One line: for a refused request its status and the server's own message (the
    exception's text would start with a bare "(409)")."""
    import kfp_server_api

    if isinstance(e, kfp_server_api.ApiException) and e.status:
        said = _server_message(e.body)
        line = f"HTTP {e.status} {e.reason or ''}".rstrip() + (f": {said}" if said else "")
        if e.status in (401, 403):
            line += f" (credentials: ${TOKEN_ENV} as a bearer token, or --cookies)"
        return line[:400]
    import urllib3

    if isinstance(e, urllib3.exceptions.MaxRetryError) and e.reason is not None:
        reason = str(e.reason)  # not the URL, whose filter would fill the line
        if "CERTIFICATE_VERIFY_FAILED" in reason:
            reason += " (a private or self-signed CA: --ssl-ca-cert PEM)"
        return reason[:400]
    text = str(e).strip().splitlines()
    return text[0][:300] if text else type(e).__name__


def _server_message(body: Any) -> str:
    """The message of a KFP API error body ({"error", "code", "message", "details"})."""
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    try:
        data = json.loads(body) if body else {}
    except ValueError:
        return str(body).strip().splitlines()[0][:200] if str(body).strip() else ""
    if not isinstance(data, dict):
        return ""
    return str(data.get("message") or data.get("error") or "").strip()[:300]
