"""Records of local pipeline runs: which task ran or came from the cache, how long it took,
where its outputs are; saved as run.json next to the outputs and printed as tables.

No KFP here: `fgsgl.pipelines.local` fills these records while kfp.local runs the pipeline,
and `fgsgl rerun` reads them back to find a step's inputs.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from fgsgl.artifacts import write_json
from fgsgl.errors import FgsglError
from fgsgl.evaluate.metrics import METRIC_KEYS

RUN_FILE = "run.json"
TENSORBOARD = "tensorboard"  # the training components' output of TensorBoard event files


@dataclass
class TaskRecord:
    """One task of one run. `status`: executed, cached or failed."""

    task: str  # the KFP task name, e.g. "train-stage2"
    step: str  # the component function, e.g. "train_stage2"
    status: str
    seconds: float
    outputs: dict[str, str] = field(default_factory=dict)  # artifact name -> URI
    parameters: dict[str, Any] = field(default_factory=dict)  # parameter name -> value
    artifacts: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> uri, type
    shard: int | None = None  # loop iteration, for fanned-out tasks

    @property
    def executed(self) -> bool:
        return self.status == "executed"

    @property
    def label(self) -> str:
        name = self.step.replace("_", "-")
        return name if self.shard is None else f"{name}[{self.shard}]"


@dataclass
class RunRecord:
    """One pipeline run (one variant, one seed) under kfp.local."""

    name: str  # variant, or variant-seedN
    variant: str
    seed: int | None
    directory: str  # where this run's executed tasks wrote their outputs
    arguments: dict[str, Any]  # every run parameter
    tasks: list[TaskRecord] = field(default_factory=list)
    seconds: float = 0.0
    status: str = "running"  # running, succeeded, failed
    root: str = ""  # the run-local root (cache, logs, other runs)
    log: str = ""

    @property
    def executed(self) -> list[TaskRecord]:
        return [t for t in self.tasks if t.executed]

    def task(self, step: str) -> TaskRecord:
        """The one task of `step` (a component function name, - or _ alike)."""
        step = step.replace("-", "_")
        found = [t for t in self.tasks if t.step == step]
        if not found:
            steps = sorted({t.step.replace("_", "-") for t in self.tasks})
            raise FgsglError(f"run {self.name}: no {step.replace('_', '-')} task; it has {steps}")
        if len(found) > 1:
            raise FgsglError(
                f"run {self.name}: {len(found)} {step.replace('_', '-')} tasks (a fan-out); "
                "rerun the step after it instead"
            )
        return found[0]

    @property
    def evaluation(self) -> str | None:
        ev = [t for t in self.tasks if t.step == "evaluate" and "evaluation" in t.outputs]
        return ev[0].outputs["evaluation"] if ev else None

    @property
    def tensorboard(self) -> dict[str, str]:
        """The TensorBoard log directory of each training task (task label -> URI)."""
        return {t.label: t.outputs[TENSORBOARD] for t in self.tasks if TENSORBOARD in t.outputs}

    @property
    def report(self) -> str | None:
        """The evaluation's Markdown report (per-class table, confusions, curves)."""
        from fgsgl.evaluate.artifact import REPORT

        return str(Path(self.evaluation) / REPORT) if self.evaluation else None

    def metrics(self) -> dict[str, float] | None:
        """The headline metrics of this run's evaluation (None before it exists)."""
        from fgsgl.evaluate.artifact import METRICS

        path = self.evaluation
        if path is None or not (Path(path) / METRICS).is_file():
            return None
        values = json.loads((Path(path) / METRICS).read_text())
        return {k: float(values[k]) for k in METRIC_KEYS if k in values}

    def save(self) -> Path:
        path = Path(self.directory) / RUN_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json(path, asdict(self))
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> RunRecord:
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise FgsglError(f"{path}: cannot read the run record ({e})") from e
        data["tasks"] = [TaskRecord(**t) for t in data.get("tasks", [])]
        return cls(**data)


def find_run(path: str | os.PathLike) -> RunRecord:
    """The run record at `path`: a run directory, a run's folder of attempts (the newest
    attempt), or a run-local root holding exactly one run."""
    path = Path(path)
    if (path / RUN_FILE).is_file():
        return RunRecord.load(path / RUN_FILE)
    if path.is_file() and path.name == RUN_FILE:
        return RunRecord.load(path)
    if not path.is_dir():
        raise FgsglError(f"{path}: not a run directory (no {RUN_FILE})")
    found = sorted(path.glob(f"*/{RUN_FILE}"), key=lambda p: p.stat().st_mtime)
    if found:
        return RunRecord.load(found[-1])
    runs = sorted({p.parent.parent.name for p in path.glob(f"runs/*/*/{RUN_FILE}")})
    if len(runs) == 1:
        return find_run(path / "runs" / runs[0])
    if runs:
        raise FgsglError(
            f"{path}: a run-local root with several runs; name one",
            [str(path / "runs" / r) for r in runs],
        )
    raise FgsglError(f"{path}: no {RUN_FILE} in it or below (is it a run-local output?)")


def format_table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A plain aligned text table (numbers right-aligned)."""
    rows = [[_cell(v) for v in row] for row in rows]
    widths = [max(len(str(h)), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]

    def line(cells: Sequence[str], raw: Sequence[Any] | None = None) -> str:
        out = []
        for i, c in enumerate(cells):
            numeric = raw is not None and isinstance(raw[i], int | float)
            out.append(c.rjust(widths[i]) if numeric else c.ljust(widths[i]))
        return "  ".join(out).rstrip()

    lines = [line([str(h) for h in header]), line(["-" * w for w in widths])]
    return "\n".join(lines + [line(r) for r in rows])


def tasks_table(runs: Sequence[RunRecord], base: str | os.PathLike | None = None) -> str:
    """Every task of every run: executed or cached, its time, where its outputs are."""
    rows = []
    for run in runs:
        for t in run.tasks:
            where = ", ".join(_relative(u, base) for u in t.outputs.values())
            secs = f"{t.seconds:.1f}s" if t.executed or t.status == "failed" else "-"
            rows.append([run.name, t.label, t.status, secs, where])
    return format_table(["run", "task", "status", "time", "outputs"], rows)


def tensorboard_table(runs: Sequence[RunRecord], base: str | os.PathLike | None = None) -> str:
    """Where each training task's TensorBoard event files are (a cached task's lie in the
    run that trained it)."""
    rows = [
        [run.name, label, _relative(logdir, base)]
        for run in runs
        for label, logdir in run.tensorboard.items()
    ]
    return format_table(["run", "task", "tensorboard logdir"], rows)


def metrics_table(runs: Sequence[RunRecord], base: str | os.PathLike | None = None) -> str:
    rows = []
    for run in runs:
        m = run.metrics() or {}
        report = _relative(run.report, base) if run.report else "-"
        rows.append([run.name, *(m.get(k, math.nan) for k in METRIC_KEYS), report])
    return format_table(["run", *METRIC_KEYS, "report"], rows)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return "-" if math.isnan(value) else f"{value:.4f}"
    return str(value)


def _relative(uri: str, base: str | os.PathLike | None) -> str:
    if base is None:
        return uri
    try:
        return os.path.relpath(uri, base)
    except ValueError:
        return uri
