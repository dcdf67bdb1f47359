"""The CPU image built for real and the pipeline's CPU steps run inside it.

images/build.py builds images/cpu.Dockerfile with buildah on a local Debian bookworm base
(no registry here; `make images` does the same where there is no Docker engine). Each step
then runs in that image exactly as KFP's launcher starts it: the lightweight component's
command and args from the compiled IR (the pipeline.yaml run-local compiles), `{{$}}`
replaced by an executor input built with kfp.local's own helpers, the inputs and outputs
in bind-mounted folders, as the image's non-root user. The inputs are the artifacts of a
run-local run of the same pipeline on this machine (kfp.local's SubprocessRunner), and each
step's outputs must equal that run's: the same frame bytes, embeddings, model weights and
metrics. Only wall-clock fields (created, seconds, .../s, TensorBoard's event stamps) and
the folders the outputs were written to may differ. estimate_pose, a pipeline of its own,
runs the same way against this machine's pose runtime; and the image holds nothing the
steps do not need, passes `pip check` and runs as uid 1000.

Skipped, with the reason, where buildah or debootstrap is missing (`make image-tools`
installs them as root), without root, or where mounting is not allowed. A cold build takes
minutes (`make test` runs it before the suite: `make cpu-image`); with the layers cached
it takes seconds (docs/images.md).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import test_pipeline_local
from test_images import build  # images/build.py
from train_fixtures import read_scalars

from fgsgl.pipelines.local import run_local
from fgsgl.runtime.runs import RunRecord

pytestmark = pytest.mark.slow

dataset = test_pipeline_local.dataset  # the run-local tests' tiny SynthMG set (a fixture)
TINY = test_pipeline_local.TINY

UID = 1000  # the image's user (images/cpu.Dockerfile)
# the CPU steps of the training pipeline, replayed in the image (train_stage1: the tiny
# training stage, on the CPU image's CPU torch)
STEPS = [
    "fetch_backbone",
    "fetch_text_encoder",
    "extract_frames",
    "derive_attributes",
    "encode_text",
    "train_stage1",
    "evaluate",
]
# what may differ between two runs of a step: when and how fast it ran
VOLATILE = re.compile(r"^(created|.*seconds|.*_per_s)$")
OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}


@pytest.fixture(scope="module")
def store() -> build.Store:
    why = build.buildah_unavailable()
    if why:
        pytest.skip(why)
    return build.Store()


@pytest.fixture(scope="module")
def image(store: build.Store) -> dict[str, Any]:
    seconds = build.build_cpu(store, log=lambda line: print(line, file=sys.stderr))
    report = build.report(store)
    print(build.format_report(report), f"\nbuilt in {seconds:.0f} s", file=sys.stderr)
    return {**report, "build_seconds": seconds}


@pytest.fixture(scope="module")
def container(store: build.Store, image: dict[str, Any]) -> Iterator[str]:
    """One working container of the image; each step is one `buildah run` in it."""
    name = store.buildah("from", "--quiet", image["image"], capture=True).stdout.strip()
    yield name
    store.buildah("rm", name, capture=True)


@pytest.fixture(scope="module")
def outside(dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> RunRecord:
    """The full variant under run-local (kfp.local's SubprocessRunner, this venv)."""
    root = tmp_path_factory.mktemp("outside")
    (run,) = run_local(dataset, "full", root, TINY, echo=lambda line: None).runs
    return run


def pipeline_spec(path: Path) -> Any:
    """The compiled IR (the first YAML document of a kfp pipeline file) as kfp's proto."""
    import yaml
    from google.protobuf import json_format
    from kfp.pipeline_spec import pipeline_spec_pb2

    doc = next(yaml.safe_load_all(path.read_text()))
    return json_format.ParseDict(doc, pipeline_spec_pb2.PipelineSpec())


def launcher_command(
    spec: Any, step: str, arguments: dict[str, Any], task_root: Path
) -> tuple[list[str], dict[str, str]]:
    """The command and environment KFP's launcher gives the step's container: the IR's
    command + args, every placeholder (`{{$}}`: the executor input) filled in."""
    from kfp.local import executor_input_utils, placeholder_utils, utils

    name = f"comp-{step.replace('_', '-')}"
    component = spec.components[name]
    executor = spec.deployment_spec["executors"][component.executor_label]
    container = utils.struct_to_executor_spec(executor).container
    executor_input = executor_input_utils.construct_executor_input(
        component_spec=component,
        arguments=arguments,
        task_root=str(task_root),
        block_input_artifact=False,
    )
    command = placeholder_utils.replace_placeholders(
        full_command=[*container.command, *container.args],
        executor_input_dict=executor_input_utils.executor_input_to_dict(executor_input, component),
        pipeline_resource_name=task_root.parent.name,
        task_resource_name=task_root.name,
        pipeline_root=str(task_root.parent.parent),
        unique_pipeline_id=placeholder_utils.make_random_id(),
    )
    return command, {e.name: e.value for e in container.env}


def task_arguments(run: RunRecord, step: str) -> dict[str, Any]:
    """The parameters and input artifacts the run gave the step (its run.json record)."""
    from kfp import dsl

    task = run.task(step)
    arguments: dict[str, Any] = dict(task.parameters)
    for name, art in task.artifacts.items():
        cls = next(
            c for c in (dsl.Dataset, dsl.Model, dsl.Artifact) if c.schema_title == art["type"]
        )
        arguments[name] = cls(name=name, uri=art["uri"], metadata=art.get("metadata") or {})
    return arguments


def run_inside(
    store: build.Store,
    container: str,
    command: list[str],
    env: dict[str, str],
    mounts: dict[Path, bool],
) -> subprocess.CompletedProcess:
    """`buildah run` as the image's own user; mounts: host folder (at the same path
    inside, as KFP's DockerRunner mounts its pipeline root) -> read-only?"""
    args = ["run", "--isolation", "chroot"]
    for path, read_only in mounts.items():
        args += ["--volume", f"{path}:{path}{':ro' if read_only else ''}"]
    for key, value in {**OFFLINE, **env}.items():
        args += ["--env", f"{key}={value}"]
    cmd = store.command(*args, container, "--", *command)
    return subprocess.run(cmd, capture_output=True, text=True, check=False)


def readable(path: Path) -> None:
    """Let the image's user read a folder mounted into it: this machine's run wrote it as
    root, with the 0700 folders and 0600 files of atomic writes (mkdtemp, mkstemp). On a
    cluster every step runs as that one user, so nothing needs this there."""
    for p in [path, *path.rglob("*")]:
        p.chmod(p.stat().st_mode | (0o755 if p.is_dir() else 0o644))


def normalized(value: Any, places: dict[str, str]) -> Any:
    """A value without its wall-clock fields, with the folders it names made relative to
    the places it was written (`places`: path -> placeholder); tensors as their bytes."""
    if isinstance(value, dict):
        return {k: normalized(v, places) for k, v in value.items() if not VOLATILE.match(str(k))}
    if isinstance(value, list | tuple):
        return [normalized(v, places) for v in value]
    if isinstance(value, str):
        for path, placeholder in places.items():
            value = value.replace(path, placeholder)
    if hasattr(value, "numpy"):  # a torch tensor
        return (str(value.dtype), tuple(value.shape), value.numpy().tobytes())
    return value


def wall_clock_lines(text: str) -> str:
    """A report without when it was written and how long it took."""
    text = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(\+00:00|Z)?", "<time>", text)
    return re.sub(r"\d+(\.\d+)? (s\b|clips/s)", r"<n> \2", text)


def content(path: Path, places: dict[str, str]) -> Any:
    """What a step wrote into one file, as comparable as two runs of it can be."""
    if path.suffix == ".pt":  # a training checkpoint: state, RNG, optimiser, history
        import torch

        return normalized(torch.load(path, map_location="cpu", weights_only=False), places)
    data = path.read_bytes()
    if path.suffix == ".json" or data[:1] in (b"{", b"["):
        return normalized(json.loads(data), places)
    if path.suffix == ".md" or data[:2] == b"# ":  # a report (KFP's Markdown: no suffix)
        return wall_clock_lines(normalized(data.decode(), places))
    if path.suffix in (".csv", ".yaml", ".txt"):
        return normalized(data.decode(), places)
    return data  # arrays, weights, images: byte for byte


def files(folder: Path) -> set[Path]:
    """The files under `folder`, relative to it, but TensorBoard's event files."""
    return {
        p.relative_to(folder)
        for p in folder.rglob("*")
        if p.is_file() and ".tfevents." not in p.name
    }


def differences(ours: Path, theirs: Path, places: dict[str, str]) -> list[str]:
    """What differs between two output artifacts (a file or a folder of files). TensorBoard's
    event files are left out: their names and every record carry the wall time."""
    if ours.is_file() or theirs.is_file():
        pairs = [(ours, theirs, ours.name)]
    else:
        a, b = files(ours), files(theirs)
        if a != b:
            return [f"files: {sorted(map(str, a ^ b))}"]
        pairs = [(ours / rel, theirs / rel, str(rel)) for rel in sorted(a)]
    return [rel for x, y, rel in pairs if content(x, places) != content(y, places)]


def test_the_image_holds_only_what_the_steps_need(
    store: build.Store, image: dict[str, Any], container: str
) -> None:
    assert 0 < image["largest"][0]["size"] <= image["size"]
    info = json.loads(store.buildah("inspect", container, capture=True).stdout)
    config = info["OCIv1"]["config"]
    assert config["User"] == str(UID)  # not root: clusters often forbid it
    assert "/opt/venv/bin" in next(e for e in config["Env"] if e.startswith("PATH="))
    script = (
        "set -e; id -u; pip check; /opt/pose/bin/pip check;"
        " python -c 'import fgsgl, torch, kfp, transformers, decord; print(torch.__version__)';"
        " touch $HOME/w /work/w /gcs/w /minio/w /s3/w; echo writable"
    )
    out = run_inside(store, container, ["sh", "-c", script], {}, {})
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        str(UID),
        "No broken requirements found.",
        "No broken requirements found.",
        "2.13.0+cpu",  # the CPU torch build
        "writable",
    ]
    # no compilers, build leftovers, caches, tests or the build's pip sources
    mount = Path(store.buildah("mount", container, capture=True).stdout.strip())
    try:
        unwanted = ["usr/bin/gcc", "usr/bin/cc", "opt/fgsgl/src/build", "root/pip-sources"]
        unwanted += ["opt/fgsgl/src/fgsgl.egg-info", "opt/fgsgl/src/tests", "etc/pip.conf"]
        assert [p for p in unwanted if (mount / p).exists()] == []
        caches = [p for p in ("root/.cache", "home/fgsgl/.cache") if (mount / p).exists()]
        assert caches == []
        assert list((mount / "var/lib/apt/lists").iterdir()) == []
        assert list((mount / "var/cache/apt/archives").glob("*.deb")) == []
    finally:
        store.buildah("unmount", container, capture=True)


def test_the_cpu_steps_inside_the_image_give_the_outputs_they_give_outside(
    store: build.Store,
    container: str,
    outside: RunRecord,
    dataset: Path,
    tmp_path: Path,
) -> None:
    run_dir = Path(outside.directory)
    spec = pipeline_spec(Path(outside.root) / "pipeline.yaml")
    inside = tmp_path / "inside" / run_dir.name
    inside.mkdir(parents=True)
    for path in (dataset, run_dir, inside):
        readable(path)
    os.chown(inside, UID, 0)
    places = {str(run_dir): "<run>", str(inside): "<run>", sys.prefix: "<venv>"}
    places["/opt/venv"] = "<venv>"
    mounts = {dataset: True, run_dir: True, inside: False}
    failed = {}
    for step in STEPS:
        task = outside.task(step)
        command, env = launcher_command(
            spec, step, task_arguments(outside, step), inside / task.task
        )
        out = run_inside(store, container, command, env, mounts)
        assert out.returncode == 0, (step, out.stderr[-3000:])
        for name, uri in task.outputs.items():
            found = differences(Path(uri), inside / task.task / name, places)
            if found:
                failed[f"{step}.{name}"] = found
    assert failed == {}
    # TensorBoard's curves: the same steps and values (the event files' names and records
    # carry the wall time, so differences() leaves them out)
    board = Path(outside.task("train_stage1").outputs["tensorboard"])
    assert read_scalars(inside / "train-stage1" / "tensorboard") == read_scalars(board) != {}
    # what each comparison above covered, by value
    frames = inside / "extract-frames" / "frames"
    assert sorted(p.name for p in (frames / "shards").iterdir()) == ["00000.json", "00000.npy"]
    metrics = json.loads((inside / "evaluate" / "metrics").read_text())
    assert set(metrics) == {"top1", "top5", "macro_f1", "mean_class_acc"}
    assert metrics == json.loads(Path(outside.task("evaluate").outputs["metrics"]).read_text())


def test_pose_estimation_inside_the_image_matches_the_pose_venv_here(
    store: build.Store,
    container: str,
    dataset: Path,
    tmp_path: Path,
) -> None:
    """estimate_pose (its own pipeline, not run-local's) through its own compiled IR: the
    image's MediaPipe runtime (/opt/pose) against this machine's (.venv/pose)."""
    from kfp import compiler
    from kfp.local import SubprocessRunner, subprocess_task_handler

    from fgsgl.components import estimate_pose
    from fgsgl.dataset import load_dataset
    from fgsgl.pose.runtime import find_pose_python

    try:
        host_pose = find_pose_python()
    except Exception as e:  # no pose runtime on this machine: make pose-venv
        pytest.skip(str(e))
    compiler.Compiler().compile(estimate_pose, str(tmp_path / "pose.yaml"))
    spec = pipeline_spec(tmp_path / "pose.yaml")
    arguments = {
        "dataset": str(dataset),
        "dataset_fingerprint": load_dataset(str(dataset)).fingerprint(videos=True),
        "model": "pose",
    }
    here, inside = tmp_path / "here" / "pose", tmp_path / "inside" / "pose"
    command, env = launcher_command(spec, "estimate_pose", arguments, here / "estimate-pose")
    (tmp_path / "tmp").mkdir()  # the component's own temp folder, left behind by kfp
    handler = subprocess_task_handler.SubprocessTaskHandler(
        image="python",  # the subprocess runner ignores it
        full_command=command,
        pipeline_root=str(here.parent),
        runner=SubprocessRunner(use_venv=False),
        env_vars={**env, "FGSGL_POSE_PYTHON": host_pose, "TMPDIR": str(tmp_path / "tmp")},
    )
    assert handler.run().name == "SUCCESS"
    inside.mkdir(parents=True)
    for path in (dataset, inside):
        readable(path)
    os.chown(inside, UID, 0)
    command, env = launcher_command(spec, "estimate_pose", arguments, inside / "estimate-pose")
    out = run_inside(store, container, command, env, {dataset: True, inside: False})
    assert out.returncode == 0, out.stderr[-3000:]
    places = {str(here): "<run>", str(inside): "<run>"}
    theirs, ours = here / "estimate-pose" / "keypoints", inside / "estimate-pose" / "keypoints"
    assert pose_output(ours, places) == pose_output(theirs, places)
    assert len(list((ours / "keypoints").glob("*.npy"))) == 12  # one per video


def pose_output(folder: Path, places: dict[str, str]) -> dict[str, Any]:
    """A pose dataset as comparable across pose runtimes: keypoints/<video>-<key>.npy by
    video, since the key hashes the runtime's versions too, and its Python differs (the
    image: Debian's 3.11.2; here: this machine's)."""

    def unkeyed(text: str) -> str:
        text = re.sub(r"-[0-9a-f]{12}\.npy", ".npy", text)
        return re.sub(r'"python": "3\.11\.\d+"', '"python": "3.11"', text)

    out = {unkeyed(p.name): p.read_bytes() for p in sorted((folder / "keypoints").glob("*.npy"))}
    for name in sorted(files(folder)):
        if name.parent != Path("keypoints"):
            value = content(folder / name, places)
            out[str(name)] = unkeyed(value if isinstance(value, str) else json.dumps(value))
    return out
