"""fgsgl's reach into kfp's internals (fgsgl.pipelines.kfp_compat) fails here, loudly, when
kfp changes under it: the version, and each internal name and signature it relies on."""

from __future__ import annotations

import inspect

import kfp
import pytest

from fgsgl.errors import FgsglError
from fgsgl.pipelines import kfp_compat


def test_kfp_is_the_version_the_work_arounds_were_written_for() -> None:
    assert kfp.__version__ == kfp_compat.KFP_VERSION, (
        "kfp changed: port fgsgl/pipelines/kfp_compat.py, then update KFP_VERSION"
    )


def test_another_kfp_is_refused_with_what_to_do(monkeypatch) -> None:
    monkeypatch.setattr(kfp, "__version__", "2.99.0")
    with pytest.raises(FgsglError, match=r"kfp 2\.17\.0's internals and this is kfp 2\.99\.0"):
        kfp_compat.require_kfp("building the pipeline")


def test_the_resource_setters_still_call_inspect_stack() -> None:
    from kfp.dsl import pipeline_task

    assert pipeline_task.inspect is inspect  # what cheap_caller_names swaps
    assert "inspect.stack()" in inspect.getsource(pipeline_task.PipelineTask)
    with kfp_compat.cheap_caller_names():
        frames = pipeline_task.inspect.stack()
        assert frames[0][3] == "test_the_resource_setters_still_call_inspect_stack"
    assert pipeline_task.inspect is inspect


def test_the_task_entry_point_keeps_the_arguments_run_local_reads() -> None:
    from kfp.local.orchestrator import orchestrator_utils, task_executor

    params = inspect.signature(task_executor.execute_single_task).parameters
    read = {"task_name", "task_spec", "pipeline_resource_name", "components", "executors"}
    assert read | {"io_store", "pipeline_root"} <= set(params)
    made = inspect.signature(orchestrator_utils.OrchestratorUtils.make_task_arguments)
    assert {"task_inputs_spec", "io_store"} <= set(made.parameters)
    real = task_executor.execute_single_task
    with kfp_compat.recording_tasks(lambda run, kw: run(**kw)):
        assert task_executor.execute_single_task is not real
    assert task_executor.execute_single_task is real


def test_print_is_put_back() -> None:
    import builtins

    real = builtins.print
    with kfp_compat.print_restored():
        builtins.print = lambda *a, **k: None  # what kfp.local's task left behind
    assert builtins.print is real


def test_kfp_local_still_resolves_one_artifact_selector_and_the_work_around_any(tmp_path) -> None:
    """kfp 2.17's local runner refuses a DAG output of two artifact selectors (a dsl.OneOf
    of artifacts); with oneof_artifacts it takes the branch that produced one."""
    from kfp.local import io
    from kfp.local.orchestrator.orchestrator_utils import OrchestratorUtils
    from kfp.pipeline_spec import pipeline_spec_pb2

    spec = pipeline_spec_pb2.DagOutputsSpec()
    selectors = spec.artifacts["init"].artifact_selectors
    for task in ("condition-2", "condition-3"):
        selectors.add(producer_subtask=task, output_artifact_key="model")
    store = io.IOStore()
    store.put_task_output("condition-3", "model", "the marker")  # only the else branch ran
    with pytest.raises(ValueError, match="Expected 1 artifact in ArtifactSelectorSpec"):
        OrchestratorUtils.get_dag_output_artifacts(spec, store)
    with kfp_compat.oneof_artifacts():
        assert OrchestratorUtils.get_dag_output_artifacts(spec, store) == {"init": "the marker"}
    with pytest.raises(ValueError, match="Expected 1 artifact"):  # put back afterwards
        OrchestratorUtils.get_dag_output_artifacts(spec, store)
