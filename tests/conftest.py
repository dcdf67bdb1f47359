"""Shared pytest setup: offline by construction, GPU tests skipped where there is no GPU,
and a temp dir of its own for each test process."""

from __future__ import annotations

import os
import tempfile

import pytest
from tmpfs import small_tmpfs  # noqa: F401  (a fixture: a real small tmpfs)

# Tests never download anything: make any attempt by transformers/huggingface_hub fail fast.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")


@pytest.fixture(scope="session", autouse=True)
def own_temp_dir(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The tests run in parallel processes (pytest-xdist, `make test`); tests that check
    that a step left no temp folder behind look at the temp dir, so each process gets one
    of its own, inside its pytest base folder (short enough for loader workers' sockets)."""
    own = tmp_path_factory.getbasetemp() / "tmp"  # the base is fixed before TMPDIR moves
    own.mkdir(exist_ok=True)
    os.environ["TMPDIR"] = str(own)
    tempfile.tempdir = None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not any("gpu" in item.keywords for item in items):
        return
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
