"""The images install this distribution with pyproject's pins and nothing else.

There is no Docker engine here; the Dockerfiles are checked as text, and the script they
use to read the pins (images/requirements.py) is run for real.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT / "images"
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


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
    for package in ("components", "pipelines"):
        assert f"COPY {package}/ {package}/" in text
    assert "COPY README.md pyproject.toml ./" in text  # pyproject names README.md
    ignore = (IMAGES / f"{dockerfile}.dockerignore").read_text().splitlines()
    assert ignore[ignore.index("*") :][:1] == ["*"]  # everything else (.venv!) stays out
    for kept in ("!pyproject.toml", "!README.md", "!images/requirements.py", "!fgsgl/"):
        assert kept in ignore


def test_gpu_image_has_cuda_torch_and_prebuilt_deepspeed_ops() -> None:
    lines = instructions("gpu.Dockerfile")
    text = "\n".join(lines)
    assert re.search(r"^FROM nvidia/cuda:\$\{CUDA\}-cudnn-devel-ubuntu22\.04 AS build$", text, re.M)
    assert re.search(r"^FROM nvidia/cuda:\$\{CUDA\}-cudnn-runtime-ubuntu22\.04$", text, re.M)
    assert "ARG TORCH_INDEX=https://download.pytorch.org/whl/cu128" in text
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
