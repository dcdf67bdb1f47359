"""The compiled pipeline against its committed record (tests/golden/): a change of
structure, parameters, defaults, images' resources or any component's code shows up here.

KFP's cache key of a task is its component name, image, full command (the component's
embedded source) and its arguments, so an unchanged record means unchanged cache keys for
unchanged settings. Each executor's command is recorded as its SHA-256; a change that is
meant (a new setting, a component edit) is recorded again with

    FGSGL_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_pipeline_golden.py

and the diff of tests/golden/pipeline.json says what changed.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import yaml

from fgsgl.pipelines.pipeline import BuildOptions, compile_pipeline
from fgsgl.pipelines.plan import plan_runs

GOLDEN = Path(__file__).with_name("golden") / "pipeline.json"
OPTIONS = BuildOptions(cpu_image="fgsgl-cpu:golden", gpu_image="fgsgl-gpu:golden")


def record(path: Path) -> dict[str, Any]:
    """The compiled spec with each executor's command and args replaced by their hash."""
    spec, platforms = yaml.safe_load_all(path.read_text())
    for executor in spec["deploymentSpec"]["executors"].values():
        container = executor["container"]
        code = json.dumps([container.pop("command", []), container.pop("args", [])])
        container["command_sha256"] = hashlib.sha256(code.encode()).hexdigest()
    spec.pop("sdkVersion")
    return {"spec": spec, "platforms": platforms}


def compiled(tmp_path: Path) -> dict[str, Any]:
    runs = plan_runs("all")
    out: dict[str, Any] = {}
    for run in runs:
        path = compile_pipeline(
            tmp_path / f"{run.name}.yaml", options=OPTIONS, defaults=run.arguments
        )
        rec = record(path)
        if not out:
            out["pipeline"] = rec  # the first variant's whole record
        params = rec["spec"]["root"]["inputDefinitions"]["parameters"]
        out.setdefault("defaults", {})[run.name] = {
            k: v.get("defaultValue") for k, v in sorted(params.items())
        }
        rec["spec"]["root"]["inputDefinitions"] = out["pipeline"]["spec"]["root"][
            "inputDefinitions"
        ]
        assert rec == out["pipeline"], f"{run.name}: differs from the others beyond defaults"
    return out


def test_the_compiled_pipeline_is_the_recorded_one(tmp_path: Path) -> None:
    now = json.dumps(compiled(tmp_path), indent=1, sort_keys=True) + "\n"
    if os.environ.get("FGSGL_UPDATE_GOLDEN") == "1":
        GOLDEN.write_text(now)
    before = GOLDEN.read_text()
    diff = "".join(
        difflib.unified_diff(
            before.splitlines(True), now.splitlines(True), "recorded", "compiled", n=2
        )
    )
    assert not diff, f"the compiled pipeline changed (see this test's docstring):\n{diff[:6000]}"
