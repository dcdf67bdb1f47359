"""Label Studio's own SDK, in the environment Label Studio lives in.

label-studio 1.23.2 pins numpy 2.2.x and its SDK pulls opencv and nltk, so neither shares
fgsgl's environment: `make labelstudio-venv` builds .venv/labelstudio, and fgsgl runs
sdk_check.py there to validate a project before writing it (the server accepts a choice
outside a project's vocabulary; the SDK does not). Which Python: the one given
(`--label-studio-python`), else $FGSGL_LABEL_STUDIO_PYTHON, else
`<sys.prefix>/labelstudio/bin/python`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from fgsgl.errors import FgsglError

ENV = "FGSGL_LABEL_STUDIO_PYTHON"
SCRIPT = Path(__file__).with_name("sdk_check.py")


def find_python(python: str | None = None) -> str:
    """The Python that has label-studio-sdk; FgsglError saying how to get one."""
    for candidate in (
        python,
        os.environ.get(ENV),
        str(Path(sys.prefix) / "labelstudio/bin/python"),
    ):
        if candidate and Path(candidate).is_file():
            return candidate
    raise FgsglError(
        "no Label Studio environment to validate the project with: run `make "
        f"labelstudio-venv`, or set ${ENV} (or --label-studio-python) to a Python that has "
        "label-studio-sdk; --no-validate skips the check"
    )


def validate_project(
    config: str, tasks: list[dict[str, Any]], *, python: str | None = None
) -> list[str]:
    """The SDK's problems with the labeling config and every prediction (empty: valid)."""
    exe = find_python(python)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump({"config": config, "tasks": tasks}, f)
    try:
        done = subprocess.run(
            [exe, str(SCRIPT), f.name], capture_output=True, text=True, timeout=600
        )
    finally:
        os.unlink(f.name)
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-3:]
        raise FgsglError(f"{exe}: the Label Studio SDK check failed", tail)
    return json.loads(done.stdout.strip().splitlines()[-1])
