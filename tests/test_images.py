"""The images install this distribution with pyproject's pins and nothing else.

The Dockerfiles are checked as text here, and the scripts around them are run for real:
images/requirements.py (the pins) and images/build.py (`make images`: Docker where an engine
answers, else buildah). tests/test_images_build.py builds the CPU image with buildah and
runs the steps inside it.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT / "images"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]
_spec = importlib.util.spec_from_file_location("images_build", IMAGES / "build.py")
assert _spec and _spec.loader
build = sys.modules["images_build"] = importlib.util.module_from_spec(_spec)  # images/build.py
_spec.loader.exec_module(build)


def requirements(*args: str) -> list[str]:
    cmd = [sys.executable, str(IMAGES / "requirements.py"), str(ROOT / "pyproject.toml"), *args]
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.splitlines()


def instructions(dockerfile: str) -> list[str]:
    """The Dockerfile's instructions, continuation lines joined, comments dropped."""
    text = (IMAGES / dockerfile).read_text()
    text = re.sub(r"\\\n", " ", text)
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def index_of(lines: list[str], pattern: str) -> int:
    found = [i for i, line in enumerate(lines) if re.search(pattern, line)]
    assert found, pattern
    return found[0]


def test_requirements_are_pyprojects_pins() -> None:
    deps = PROJECT["dependencies"]
    assert requirements() == deps
    assert (
        requirements("--only", "torch")
        == ["torch==2.13.0"]
        == [d for d in deps if d.startswith("torch==")]
    )
    assert requirements("--without", "torch") == [d for d in deps if not d.startswith("torch==")]
    gpu = requirements("--extra", "gpu", "--without", "torch")
    assert gpu[-len(PROJECT["optional-dependencies"]["gpu"]) :] == ["deepspeed==0.19.8"]
    assert all(
        re.fullmatch(r"[A-Za-z0-9_.\-]+==[0-9][^ ]*", r) for r in requirements("--extra", "gpu")
    )


@pytest.mark.parametrize("dockerfile", ["cpu.Dockerfile", "gpu.Dockerfile"])
def test_image_installs_the_pins_then_the_source(dockerfile: str) -> None:
    lines = instructions(dockerfile)
    text = "\n".join(lines)
    # no version pinned in the Dockerfile itself: every pin comes from pyproject
    assert not re.search(r"\b[a-z0-9_.\-]+==[0-9]", text, re.IGNORECASE), text
    torch = index_of(
        lines,
        r"requirements\.py --only torch .*pip install --index-url \"\$TORCH_INDEX\" -r torch\.txt",
    )
    rest = index_of(
        lines,
        r"--without torch > requirements\.txt .*pip install .*-r requirements\.txt",
    )
    source = index_of(lines, r"^COPY fgsgl/ fgsgl/")
    install = index_of(lines, r"pip install --no-deps \. && pip check")
    # torch first, then the other pins, then the source: code changes keep the deps layers
    assert index_of(lines, r"^COPY pyproject\.toml images/requirements\.py") < torch < rest
    assert rest < source < install
    # every folder pyproject ships a package from (fgsgl, components, pipelines, configs)
    folders = {d.split("/")[0] for d in PYPROJECT["tool"]["setuptools"]["package-dir"].values()}
    for folder in sorted(folders):
        assert f"COPY {folder}/ {folder}/" in text
    assert "COPY README.md pyproject.toml ./" in text  # pyproject names README.md
    ignore = (IMAGES / f"{dockerfile}.dockerignore").read_text().splitlines()
    assert ignore[ignore.index("*") :][:1] == ["*"]  # everything else (.venv!) stays out
    for kept in ("!pyproject.toml", "!README.md", "!images/requirements.py"):
        assert kept in ignore
    assert {f"!{folder}/" for folder in folders} <= set(ignore)


@pytest.mark.parametrize("dockerfile", ["cpu.Dockerfile", "gpu.Dockerfile"])
def test_image_runs_as_uid_1000_in_group_0_who_may_write_what_the_steps_write(
    dockerfile: str,
) -> None:
    """Clusters often forbid root; OpenShift runs an arbitrary uid in group 0. KFP's
    launcher puts artifacts under /gcs, /minio and /s3 (older backends mount nothing there)."""
    lines = instructions(dockerfile)
    user = index_of(lines, r"^USER ")
    assert lines[user] == "USER 1000" and user > index_of(lines, r"pip install --no-deps \.")
    add = lines[index_of(lines, r"^RUN useradd ")]
    assert "--uid 1000 --gid 0 --create-home --home-dir /home/fgsgl fgsgl" in add
    for path in ("/home/fgsgl", "/work", "/gcs", "/minio", "/s3"):
        assert re.search(rf"chown 1000:0 [^&]*{path}\b", add), path
        assert re.search(rf"chmod 0775 [^&]*{path}\b", add), path
    assert "ENV HOME=/home/fgsgl" in lines[user - 1 :: -1][:2]


def test_gpu_image_has_cuda_torch_and_prebuilt_deepspeed_ops() -> None:
    lines = instructions("gpu.Dockerfile")
    text = "\n".join(lines)
    assert re.search(r"^FROM nvidia/cuda:\$\{CUDA\}-cudnn-devel-ubuntu22\.04 AS build$", text, re.M)
    assert re.search(r"^FROM nvidia/cuda:\$\{CUDA\}-cudnn-runtime-ubuntu22\.04$", text, re.M)
    assert "ARG TORCH_INDEX=https://download.pytorch.org/whl/cu126" in text
    assert "--extra gpu --without torch" in text
    assert re.search(
        r"DS_BUILD_OPS=1 .*pip install --no-build-isolation -r requirements\.txt", text
    )
    assert 'python -c "import deepspeed, decord, torch' in text
    assert "requirements.py --extra gpu" not in "\n".join(instructions("cpu.Dockerfile"))


def test_component_images_default_to_the_tags_make_images_builds() -> None:
    from fgsgl import __version__
    from fgsgl.components import images

    assert f"fgsgl-cpu:{__version__}" == images.DEFAULT_CPU_IMAGE
    assert f"fgsgl-gpu:{__version__}" == images.DEFAULT_GPU_IMAGE


def fake_docker(bin_dir: Path, engine: bool) -> Path:
    """A docker client that logs its calls; `docker info` answers only with an engine."""
    bin_dir.mkdir()
    log = bin_dir / "calls"
    script = bin_dir / "docker"
    script.write_text(
        "#!/bin/sh\n"
        f'echo "BUILDKIT=$DOCKER_BUILDKIT $*" >> {log}\n'
        f'[ "$1" != info ] || exit {0 if engine else 1}\n'
    )
    script.chmod(0o755)
    return log


def run_build(bin_dir: Path) -> subprocess.CompletedProcess:
    """images/build.py with PATH = bin_dir alone: this machine's buildah out of sight."""
    env = {**os.environ, "PATH": str(bin_dir)}
    cmd = [sys.executable, str(IMAGES / "build.py")]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)


def test_make_images_with_a_docker_engine_builds_both_images_as_before(tmp_path: Path) -> None:
    log = fake_docker(tmp_path / "bin", engine=True)
    out = run_build(tmp_path / "bin")
    assert out.returncode == 0, out.stderr
    version = PROJECT["version"]
    assert log.read_text().splitlines() == [
        "BUILDKIT= info",
        f"BUILDKIT=1 build -f images/cpu.Dockerfile -t fgsgl-cpu:{version} .",
        f"BUILDKIT=1 build -f images/gpu.Dockerfile -t fgsgl-gpu:{version} .",
    ]


def test_make_images_with_a_docker_client_but_no_engine_nor_buildah_says_so_in_one_line(
    tmp_path: Path,
) -> None:
    log = fake_docker(tmp_path / "bin", engine=False)  # this machine: a client, no engine
    out = run_build(tmp_path / "bin")
    assert out.returncode == 1
    assert out.stdout == "" and out.stderr.count("\n") == 1, out.stderr
    assert "no Docker engine (`docker info` fails) and no buildah either" in out.stderr
    assert log.read_text().splitlines() == ["BUILDKIT= info"]  # no build tried


def test_the_debootstrap_mirror_is_this_machines_apt_source(tmp_path: Path) -> None:
    etc = tmp_path / "apt"
    (etc / "sources.list.d").mkdir(parents=True)
    (etc / "sources.list.d" / "other.sources").write_text(
        "Types: deb\nURIs: https://deb.nodesource.com/node_20.x\nSuites: nodistro\n"
    )
    (etc / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\n# a comment: URIs: http://wrong/\nURIs: http://mirror.example/debian\n"
        "Suites: bookworm bookworm-updates\nComponents: main\n\n"
        "Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\n"
    )
    assert build.apt_mirror(etc) == "http://mirror.example/debian"
    (etc / "sources.list").write_text(
        "deb [arch=amd64] http://one-line.example/debian bookworm main\n"
    )
    assert build.apt_mirror(etc) == "http://one-line.example/debian"
    (etc / "sources.list").unlink()
    (etc / "sources.list.d" / "debian.sources").unlink()
    with pytest.raises(SystemExit, match="no 'deb' source for Debian bookworm"):
        build.apt_mirror(etc)


def test_the_build_gets_this_machines_pip_sources_as_mounts_not_layers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in [k for k in os.environ if k.startswith("PIP_")]:
        monkeypatch.delenv(key)
    (tmp_path / "index" / "simple").mkdir(parents=True)
    (tmp_path / "wheels").mkdir()
    (tmp_path / "ca.pem").write_text("")
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)  # these variables, no config files
    monkeypatch.setenv("PIP_INDEX_URL", "https://mirror.example/simple")
    monkeypatch.setenv(
        "PIP_EXTRA_INDEX_URL", f"file://{tmp_path}/index/simple file://{tmp_path}/missing/simple"
    )
    monkeypatch.setenv("PIP_FIND_LINKS", f"{tmp_path}/wheels")
    monkeypatch.setenv("PIP_CERT", f"{tmp_path}/ca.pem")
    monkeypatch.setenv("PIP_DEFAULT_TIMEOUT", "60")
    sources = build.pip_sources()
    inside = f"{build.SOURCES}{tmp_path}"
    assert sources.index_url == "https://mirror.example/simple"
    assert sources.conf.splitlines() == [
        "[global]",
        "index-url = https://mirror.example/simple",
        f"extra-index-url = file://{inside}/index/simple",  # the missing folder dropped
        f"find-links = {inside}/wheels",
        f"cert = {inside}/ca.pem",
        "timeout = 60",
    ]
    # an index folder's parent (its pages link to ../../files/), the others as they are
    assert sources.mounts == {
        str(tmp_path / "index"): f"{inside}/index",
        str(tmp_path / "wheels"): f"{inside}/wheels",
        str(tmp_path / "ca.pem"): f"{inside}/ca.pem",
    }
    assert build.SOURCES.startswith(build.BUILD_HOME + "/")  # inside the build's own HOME


def test_gpu_image_names_one_cuda_release_and_one_python_in_both_stages() -> None:
    """What the GPU image's build would need that a CPU can check: the CUDA release of its
    base images is the one of its torch index (12.6 <-> cu126), and the runtime stage
    installs the very Python the build stage made /opt/venv with (the venv's
    bin/python links to it: deadsnakes' /usr/bin/python3.11, on the same Ubuntu)."""
    text = (IMAGES / "gpu.Dockerfile").read_text()
    cuda = re.search(r"^ARG CUDA=(\d+)\.(\d+)\.\d+$", text, re.M)
    index = re.search(r"^ARG TORCH_INDEX=https://download\.pytorch\.org/whl/cu(\d+)$", text, re.M)
    assert cuda and index
    assert index.group(1) == cuda.group(1) + cuda.group(2)
    build_stage, runtime_stage = re.split(r"^FROM .*$", text, flags=re.M)[1:]
    venv = re.search(r"(python3\.\d+) -m venv /opt/venv", build_stage)
    assert venv
    installs = rf"apt-get install -y --no-install-recommends {re.escape(venv.group(1))}[ \\\n]"
    assert re.search(installs, runtime_stage)
    assert "ppa:deadsnakes/ppa" in build_stage and "ppa:deadsnakes/ppa" in runtime_stage
    bases = re.findall(r"^FROM nvidia/cuda:\$\{CUDA\}-cudnn-\w+-(ubuntu[\d.]+)", text, re.M)
    assert len(bases) == 2 and len(set(bases)) == 1
    assert "COPY --from=build /opt/venv /opt/venv" in runtime_stage


@pytest.mark.slow
def test_gpu_requirements_install_in_a_clean_venv_in_the_dockerfiles_order(tmp_path: Path) -> None:
    """gpu.Dockerfile's install sequence, in a clean venv, without CUDA: torch first (here
    the CPU build this machine's pip finds), setuptools and wheel, then everything else of
    `requirements.py --extra gpu --without torch` with no build isolation (DeepSpeed's
    sdist builds against the torch installed; its CUDA ops not, DS_BUILD_OPS=0), this
    distribution with --no-deps, and pip check."""
    import venv

    venv.create(tmp_path / "venv", with_pip=True)
    python = str(tmp_path / "venv" / "bin" / "python")
    pip = [python, "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    (tmp_path / "torch.txt").write_text("\n".join(requirements("--only", "torch")) + "\n")
    rest = requirements("--extra", "gpu", "--without", "torch")
    (tmp_path / "requirements.txt").write_text("\n".join(rest) + "\n")
    env = {**os.environ, "DS_BUILD_OPS": "0"}
    for step in (
        [*pip, "-r", str(tmp_path / "torch.txt")],
        [*pip, "setuptools", "wheel"],
        [*pip, "--no-build-isolation", "-r", str(tmp_path / "requirements.txt")],
        [*pip, "--no-deps", str(ROOT)],
        [python, "-m", "pip", "check"],
    ):
        out = subprocess.run(step, capture_output=True, text=True, env=env, check=False)
        assert out.returncode == 0, (step[4:], out.stdout[-2000:], out.stderr[-3000:])
    code = "import deepspeed, decord, fgsgl, torch; print(torch.__version__, deepspeed.__version__)"
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[-2:] == [requirements("--only", "torch")[0][7:] + "+cpu", "0.19.8"]
