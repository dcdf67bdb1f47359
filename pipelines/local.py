"""run-local: the pipeline on this machine under kfp.local, with local caching.

One kfp.local pipeline run per variant (and seed), one after the other, all sharing one
cache (`local.init(..., enable_caching=True, cache_root=ROOT/cache)`). A task whose
component, image, command and arguments were seen before is a cache hit: kfp.local hands
back the earlier task's artifacts, which live under the earlier run's folder. Variants
therefore share what they can: every variant reuses the first one's extraction and text
encoding; full, no_fg_sa and class_text share stage 1 (its signature does not include the
switches it does not read); a changed stage-2 setting reruns only stage 2 and evaluation.

The runner is `SubprocessRunner(use_venv=False)`: each task is a subprocess of this Python
environment. kfp.local's temp folders go to ROOT/tmp (TMPDIR), not /tmp (unless ROOT is
too deep for the training loader's sockets: fgsgl.runtime.workers).

    ROOT/cache/                  one JSON entry per task cache key
    ROOT/runs/RUN/fgsgl-TIME/    the outputs of the tasks a run executed, and run.json
    ROOT/logs/RUN.log            everything the run's tasks printed
    ROOT/runs/RUN/fgsgl-TIME/train-stage*/tensorboard/
                                 each training task's TensorBoard events, written as it
                                 trains: `tensorboard --logdir ROOT/runs` shows every run
    ROOT/compare/                `fgsgl compare` over the runs, when there are several
    ROOT/summary.json            the runs, their tasks and metrics
    ROOT/pipeline.yaml           the compiled pipeline that ran (loaded back from this file)
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import sys
import tempfile
import threading
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from fgsgl import storage
from fgsgl.artifacts import write_json
from fgsgl.errors import FgsglError
from fgsgl.locks import locks_output
from fgsgl.pipelines.kfp_compat import (
    TaskRunner,
    is_success,
    oneof_artifacts,
    print_restored,
    recording_tasks,
    task_arguments,
)
from fgsgl.pipelines.pipeline import BuildOptions, compile_pipeline
from fgsgl.pipelines.plan import PlannedRun, plan_runs, read_settings
from fgsgl.runtime.runs import (
    RunRecord,
    TaskRecord,
    metrics_table,
    tasks_table,
    tensorboard_table,
)
from fgsgl.runtime.workers import fits_worker_sockets

# A local failure is not a preempted node: no retries (kfp.local would honour them).
LOCAL_OPTIONS = BuildOptions(gpu_retries=0)
LOG_TAIL = 30


@dataclass
class LocalResult:
    root: Path
    runs: list[RunRecord]
    compare: str | None = None  # the compare report, with several runs
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def executions(self) -> list[TaskRecord]:
        return [t for r in self.runs for t in r.executed]

    def executed_steps(self) -> Counter[str]:
        """How many tasks of each step ran (not cached), over all runs."""
        return Counter(t.step for t in self.executions)

    def metrics(self) -> dict[str, dict[str, float] | None]:
        return {r.name: r.metrics() for r in self.runs}

    def report(self) -> str:
        n = len(self.executions)
        total = sum(len(r.tasks) for r in self.runs)
        lines = [
            tasks_table(self.runs, self.root),
            "",
            f"{n} of {total} tasks executed, {total - n} from the cache; {self.seconds:.1f}s "
            f"(root: {self.root})",
            "",
            metrics_table(self.runs, self.root),
        ]
        if any(r.tensorboard for r in self.runs):
            lines += [
                "",
                f"TensorBoard (tensorboard --logdir {self.root / 'runs'}: every run's training, "
                "live while it trains):",
                tensorboard_table(self.runs, self.root),
            ]
        if self.compare:
            lines += ["", f"comparison: {self.compare}"]
        return "\n".join(lines + self.notes)

    def to_json(self) -> dict[str, Any]:
        return {
            "root": str(self.root),
            "seconds": round(self.seconds, 3),
            "executions": len(self.executions),
            "compare": self.compare,
            "runs": [
                {
                    "name": r.name,
                    "variant": r.variant,
                    "seed": r.seed,
                    "status": r.status,
                    "directory": r.directory,
                    "seconds": r.seconds,
                    "metrics": r.metrics(),
                    "evaluation": r.evaluation,
                    "tensorboard": r.tensorboard,
                    "tasks": [
                        {"task": t.label, "status": t.status, "seconds": t.seconds} for t in r.tasks
                    ],
                }
                for r in self.runs
            ],
        }


@locks_output("root")
def run_local(
    dataset: str | os.PathLike,
    variants: str | Sequence[str] = "full",
    root: str | os.PathLike = "runs",
    overrides: Mapping[str, Any] | None = None,
    cache: bool = True,
    *,
    seeds: Sequence[int] | None = None,
    settings: list[str] | None = None,
    config: str | os.PathLike | None = None,
    options: BuildOptions | None = None,
    show_logs: bool = False,
    echo: Callable[[str], None] | None = None,
) -> LocalResult:
    """Run the pipeline for `variants` ("full", "all", "a,b" or a list) on `dataset`.

    overrides: run parameters by name or training key, e.g. {"stage1.epochs": 1};
    settings: the same as `--set KEY=VALUE` strings; config: a `--config` YAML file.
    Returns the runs with every task (executed or cached), metrics and the comparison.
    """
    from fgsgl.dataset import load_dataset

    started = time.perf_counter()
    echo = echo or stderr_echo()
    dataset_path = str(dataset) if storage.is_remote(dataset) else str(Path(dataset).resolve())
    ds = load_dataset(dataset_path)
    fingerprint = ds.fingerprint(videos=True)
    chosen = read_settings(settings, config=config, values=overrides)
    plans = plan_runs(
        variants, settings=chosen, seeds=seeds, dataset=dataset_path, fingerprint=fingerprint
    )
    from fgsgl.pipelines.preflight import check_runs

    notes = check_runs(plans, ds)
    root = Path(root).resolve()
    for sub in ("cache", "runs", "logs", "tmp"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    pipeline = compiled_pipeline(root / "pipeline.yaml", options or LOCAL_OPTIONS)

    result = LocalResult(root=root, runs=[], notes=[f"note: {n}" for n in notes])
    with task_environment(root / "tmp"):
        for i, plan in enumerate(plans, 1):
            echo(f"run-local: {plan.name} ({i}/{len(plans)})")
            record = _run_one(pipeline, plan, root, cache, show_logs, echo)
            result.runs.append(record)
            if record.status != "succeeded":
                _write_summary(result, started)
                raise failure(record)
    evaluations = [r.evaluation for r in result.runs if r.evaluation]
    if len(evaluations) > 1:
        result.compare = _compare(evaluations, root / "compare")
    _write_summary(result, started)
    return result


def _compare(evaluations: list[str], out: Path) -> str:
    """`fgsgl compare` over the runs' evaluations, unless `out` already compares exactly
    these evaluation artifacts (a warm rerun: same artifacts, same deterministic result)."""
    from fgsgl.artifacts import read_metadata
    from fgsgl.evaluate.compare import COMPARISON_KIND
    from fgsgl.evaluate.compare_report import REPORT, compare

    wanted = sorted(str(Path(e).resolve()) for e in evaluations)
    try:
        done = sorted(read_metadata(out, COMPARISON_KIND).get("runs", []))
    except FgsglError:
        done = None
    if done == wanted and (out / REPORT).is_file():
        return str(out / REPORT)
    return compare(evaluations, out=str(out))["report"]


def compiled_pipeline(path: Path, options: BuildOptions) -> Any:
    """The pipeline as a cluster gets it: compiled to YAML, then loaded back. What runs here
    is exactly what `fgsgl compile` writes and `fgsgl submit` uploads."""
    from kfp import components

    compile_pipeline(path, options=options)
    return components.load_component_from_file(str(path))


def _run_one(
    pipeline: Any,
    plan: PlannedRun,
    root: Path,
    cache: bool,
    show_logs: bool,
    echo: Callable[[str], None],
) -> RunRecord:
    record = RunRecord(
        name=plan.name,
        variant=plan.variant,
        seed=plan.seed,
        directory="",
        arguments=plan.arguments,
        root=str(root),
        log=str(root / "logs" / f"{plan.name}.log"),
    )
    return execute(
        lambda: pipeline(**plan.arguments),
        record,
        pipeline_root=root / "runs" / plan.name,
        cache=cache,
        show_logs=show_logs,
        echo=echo,
    )


def execute(
    call: Callable[[], Any],
    record: RunRecord,
    *,
    pipeline_root: Path,
    cache: bool,
    show_logs: bool,
    echo: Callable[[str], None],
) -> RunRecord:
    """Run one kfp.local pipeline run (`call`) into `record`: every task, its status, time
    and outputs; the output of the tasks goes to `record.log`. Saves run.json."""
    from kfp import local

    root = Path(record.root)
    workspace = root / "tmp" / f"workspace-{record.name}"
    workspace.mkdir(parents=True, exist_ok=True)
    Path(record.log).parent.mkdir(parents=True, exist_ok=True)
    local.init(
        runner=local.SubprocessRunner(use_venv=False),
        pipeline_root=str(pipeline_root),
        workspace_root=str(workspace),
        raise_on_error=True,
        enable_caching=cache,
        cache_root=str(root / "cache"),
    )
    started = time.perf_counter()
    recorder = TaskRecorder(record, lambda t: echo(_progress_line(record.name, t)))
    try:
        with (
            print_restored(),
            oneof_artifacts(),
            recorder,
            _captured_output(Path(record.log), show_logs),
        ):
            call()
        record.status = "succeeded"
    except RuntimeError as e:  # kfp.local: "Pipeline ... finished with status FAILURE ..."
        record.status = "failed"
        echo(f"run-local: {record.name} failed: {_plain(str(e))}")
    record.seconds = round(time.perf_counter() - started, 3)
    record.directory = recorder.directory or str(pipeline_root)
    record.save()
    n = len(record.executed)
    echo(
        f"run-local: {record.name} {record.status} in {record.seconds:.1f}s "
        f"({n} executed, {len(record.tasks) - n} from the cache or imported)"
    )
    return record


class TaskRecorder:
    """Records every task kfp.local runs or takes from its cache, while active.

    kfp.local reports tasks only in its logs, so this wraps its one entry point for a task
    (fgsgl.pipelines.kfp_compat.recording_tasks). A task executed in this run wrote its
    outputs under this run's folder; a cache hit returns artifacts from an earlier run's
    folder.
    """

    def __init__(self, record: RunRecord, on_task: Callable[[TaskRecord], None]) -> None:
        self.record = record
        self.on_task = on_task
        self.directory: str | None = None
        self._lock = threading.Lock()
        self._active: contextlib.AbstractContextManager[None] | None = None

    def __enter__(self) -> TaskRecorder:
        self._active = recording_tasks(self._execute)
        self._active.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._active is not None
        self._active.__exit__(*exc)

    def _execute(self, run: TaskRunner, kw: dict[str, Any]) -> tuple[dict[str, Any], Any]:
        started = time.perf_counter()
        outputs, task_status = run(**kw)
        seconds = time.perf_counter() - started
        resource = kw["pipeline_resource_name"]
        run_dir = os.path.join(kw["pipeline_root"], resource.split("/")[0])
        here = os.path.join(kw["pipeline_root"], resource) + os.sep
        uris = {k: v.uri for k, v in outputs.items() if hasattr(v, "uri")}
        if not is_success(task_status):
            state = "failed"
        elif any(u.startswith(here) for u in uris.values()):
            state = "executed"
        else:
            state = "cached"
        step, params, artifacts = _task_inputs(kw)
        if step == "importer" and state != "failed":
            state = "imported"
        task = TaskRecord(
            task=kw["task_name"],
            step=step,
            status=state,
            seconds=round(seconds, 3),
            outputs=uris,
            parameters=params,
            artifacts=artifacts,
            shard=_iteration(resource),
        )
        with self._lock:
            self.directory = self.directory or run_dir
            self.record.tasks.append(task)
            self.on_task(task)
        return outputs, task_status


def _task_inputs(kw: dict[str, Any]) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """(component function, parameter values, input artifacts) of the task being run."""
    spec = kw["task_spec"]
    component = kw["components"][spec.component_ref.name]
    executor = kw["executors"][component.executor_label]
    step = "importer"
    if executor.WhichOneof("spec") == "container":
        args = list(executor.container.args)
        if "--function_to_execute" in args:
            step = args[args.index("--function_to_execute") + 1]
    try:
        values = task_arguments(kw)
    except Exception:  # a record without inputs is still a record
        values = {}
    declared = component.input_definitions
    params = {k: v for k, v in values.items() if k in declared.parameters}
    artifacts = {k: _artifact(v) for k, v in values.items() if k in declared.artifacts}
    return step, params, artifacts


def _artifact(value: Any) -> Any:
    if isinstance(value, list):
        return [_artifact(v) for v in value]
    if value is None:
        return None
    return {
        "uri": value.uri,
        "type": type(value).schema_title,
        "metadata": json.loads(json.dumps(dict(value.metadata), default=str)),
    }


def _iteration(resource: str) -> int | None:
    last = resource.rsplit("/", 1)[-1]
    _head, sep, index = last.rpartition("-iteration-")
    return int(index) if sep and index.isdigit() else None


def _progress_line(run: str, task: TaskRecord) -> str:
    where = ", ".join(task.outputs.values())
    if task.executed:
        return f"  {run}: {task.label} executed in {task.seconds:.1f}s -> {where}"
    return f"  {run}: {task.label} {task.status}" + (f" -> {where}" if where else "")


def failure(record: RunRecord) -> FgsglError:
    failed = [t.label for t in record.tasks if t.status == "failed"]
    tail = _tail(Path(record.log), LOG_TAIL)
    what = f"task {', '.join(failed)}" if failed else "a task"
    return FgsglError(
        f"run {record.name}: {what} failed; full log: {record.log}; "
        f"its last lines:\n" + "\n".join(f"    {line}" for line in tail)
    )


def _tail(path: Path, n: int) -> list[str]:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return []
    lines = [_plain(line) for line in lines if line.strip()]
    return lines[-n:]


def _plain(text: str) -> str:
    """Without kfp's terminal colours."""
    import re

    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def _write_summary(result: LocalResult, started: float) -> None:
    result.seconds = time.perf_counter() - started
    write_json(result.root / "summary.json", result.to_json())


def stderr_echo() -> Callable[[str], None]:
    stream = sys.stderr

    def echo(line: str) -> None:
        print(line, file=stream, flush=True)

    return echo


@contextlib.contextmanager
def task_environment(tmp: Path) -> Iterator[None]:
    """TMPDIR under the root for the tasks (and kfp's temp folders); kfp.local's notes that
    do not apply here silenced: the image is not used by the SubprocessRunner, and resource
    settings are for the cluster. A root too deep for the loader workers' Unix sockets
    (fgsgl.runtime.workers) gets a short folder of the system's temp dir instead, removed
    at the end."""
    own = None
    if not fits_worker_sockets(tmp):
        own = tmp = Path(tempfile.mkdtemp(prefix="fgsgl-run-local-"))
    old = os.environ.get("TMPDIR")
    os.environ["TMPDIR"] = str(tmp)
    tempfile.tempdir = None
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*non-Python base image.*")
            warnings.filterwarnings("ignore", message=".*no effect in the current local runner.*")
            warnings.filterwarnings("ignore", message=".*kfp.*", category=FutureWarning)
            yield
    finally:
        if old is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = old
        tempfile.tempdir = None
        for leftover in tmp.glob("tmp.*"):  # kfp's `mktemp -d` folders of task programs
            shutil.rmtree(leftover, ignore_errors=True)
        if own is not None:
            shutil.rmtree(own, ignore_errors=True)


class _Tee:
    def __init__(self, *streams: TextIO) -> None:
        self.streams = streams

    def write(self, text: str) -> int:
        for s in self.streams:
            s.write(text)
        return len(text)

    def flush(self) -> None:
        for s in self.streams:
            s.flush()


@contextlib.contextmanager
def _captured_output(path: Path, show: bool) -> Iterator[None]:
    """Everything kfp.local and the tasks print goes to `path` (and the terminal if `show`)."""
    with open(path, "a", buffering=1) as log_file:
        target: Any = _Tee(log_file, sys.stdout) if show else log_file
        root_logger = logging.getLogger()
        handlers = root_logger.handlers[:]
        handler = logging.StreamHandler(target)
        root_logger.handlers[:] = [handler]
        try:
            with contextlib.redirect_stdout(target), contextlib.redirect_stderr(target):
                yield
        finally:
            root_logger.handlers[:] = handlers
