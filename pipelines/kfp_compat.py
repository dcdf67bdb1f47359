"""Every place fgsgl reaches into kfp's internals, in one module, each written for KFP_VERSION.

kfp is pinned (pyproject: kfp==2.17.0). What is here uses names that are not kfp's public
API, so a kfp upgrade must come through this file: `require_kfp` refuses another version
with a message naming it, and tests/test_kfp_compat.py fails when one of the internals below
moves or changes its signature.

- `cheap_caller_names`: kfp.dsl.pipeline_task's resource setters call inspect.stack().
- `recording_tasks`: kfp.local.orchestrator.task_executor.execute_single_task, kfp.local's
  one entry point for a task (executed or cached), wrapped to record each task.
- `task_arguments`: kfp.local's OrchestratorUtils.make_task_arguments, a task's inputs.
- `print_restored`: kfp.local swaps builtins.print while a task runs.
- `oneof_artifacts`: kfp.local's OrchestratorUtils.get_dag_output_artifacts resolves one
  artifact selector per DAG output, so a `dsl.OneOf` of artifacts (stage 2's `init`: the
  stage-1 model or the one-stage marker) fails locally although the compiler and the KFP
  backend support it; while active it takes the one branch that produced its artifact.
"""

from __future__ import annotations

import builtins
import contextlib
import sys
from collections.abc import Callable, Iterator
from typing import Any

from fgsgl.errors import FgsglError

KFP_VERSION = "2.17.0"


def require_kfp(what: str) -> None:
    """Refuse a kfp other than the one the work-arounds were written for."""
    import kfp

    if kfp.__version__ != KFP_VERSION:
        raise FgsglError(
            f"{what} reaches into kfp {KFP_VERSION}'s internals and this is kfp "
            f"{kfp.__version__}; pin kfp=={KFP_VERSION} or port fgsgl/pipelines/kfp_compat.py"
        )


@contextlib.contextmanager
def cheap_caller_names() -> Iterator[None]:
    """kfp's PipelineTask resource setters call inspect.stack() only to name the setter in
    an error message. inspect.stack() looks up the module of every frame on the stack,
    which under pytest (deep stacks, thousands of modules) costs ~0.5 s per setter and tens
    of seconds per pipeline build. While building, kfp's module sees a stack() that reads
    only the frames' function names, which is all it uses."""
    require_kfp("building the pipeline")
    from kfp.dsl import pipeline_task

    real = pipeline_task.inspect

    class _Inspect:
        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

        @staticmethod
        def stack(context: int = 1) -> list[tuple[Any, None, None, str]]:
            frames, frame = [], sys._getframe(1)
            while frame is not None:
                frames.append((frame, None, None, frame.f_code.co_name))
                frame = frame.f_back
            return frames

    pipeline_task.inspect = _Inspect()
    try:
        yield
    finally:
        pipeline_task.inspect = real


TaskRunner = Callable[..., tuple[dict[str, Any], Any]]


@contextlib.contextmanager
def recording_tasks(wrapper: Callable[[TaskRunner, dict[str, Any]], Any]) -> Iterator[None]:
    """While active, every task kfp.local runs or takes from its cache goes through
    `wrapper(run, kw)`, which must call `run(**kw)` and return its (outputs, status). kw:
    task_name, task_spec, pipeline_resource_name, components, executors, io_store,
    pipeline_root, ... (kfp's keyword arguments of execute_single_task)."""
    require_kfp("run-local's task records")
    from kfp.local.orchestrator import task_executor

    original = task_executor.execute_single_task

    def execute(**kw: Any) -> Any:
        return wrapper(original, kw)

    task_executor.execute_single_task = execute
    try:
        yield
    finally:
        task_executor.execute_single_task = original


def task_arguments(kw: dict[str, Any]) -> dict[str, Any]:
    """The input values (parameters and artifacts) of the task that `kw` describes."""
    from kfp.local.orchestrator.orchestrator_utils import OrchestratorUtils

    return OrchestratorUtils.make_task_arguments(
        task_inputs_spec=kw["task_spec"].inputs, io_store=kw["io_store"]
    )


def is_success(status: Any) -> bool:
    from kfp.local import status as kfp_status

    return status == kfp_status.Status.SUCCESS


@contextlib.contextmanager
def oneof_artifacts() -> Iterator[None]:
    """While active, kfp.local resolves a DAG output of several artifact selectors (a
    `dsl.OneOf` over If/Else branches) to the one whose branch ran."""
    require_kfp("run-local's dsl.OneOf of artifacts")
    from kfp.local.orchestrator.orchestrator_utils import OrchestratorUtils

    original = OrchestratorUtils.__dict__["get_dag_output_artifacts"]

    def resolve(cls: Any, dag_outputs_spec: Any, io_store: Any) -> dict[str, Any]:
        outputs = {}
        for key, spec in dag_outputs_spec.artifacts.items():
            found = []
            for selector in spec.artifact_selectors:
                try:
                    found.append(
                        io_store.get_task_output(
                            selector.producer_subtask, selector.output_artifact_key
                        )
                    )
                except (KeyError, ValueError):
                    continue  # that branch did not run
            if len(found) != 1:
                raise ValueError(f"dsl.OneOf output {key!r}: {len(found)} branches produced it")
            outputs[key] = found[0]
        return outputs

    OrchestratorUtils.get_dag_output_artifacts = classmethod(resolve)
    try:
        yield
    finally:
        OrchestratorUtils.get_dag_output_artifacts = original


@contextlib.contextmanager
def print_restored() -> Iterator[None]:
    """kfp.local indents print() while a task runs by swapping builtins.print; two tasks
    running at once (the fetch steps beside extraction) restore each other's swaps in the
    wrong order and leave it indented for good: put back the one of before."""
    real = builtins.print
    try:
        yield
    finally:
        builtins.print = real
