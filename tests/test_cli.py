"""The `fgsgl` entry point: help, version, usage errors, and user errors without tracebacks."""

from __future__ import annotations

import subprocess
import sys

import pytest

from fgsgl import __version__
from fgsgl.cli import main


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "fgsgl", *args], capture_output=True, text=True, timeout=120
    )


def test_help_lists_the_steps():
    result = run("--help")
    assert result.returncode == 0
    assert "extract -> encode-text -> train" in result.stdout


def test_version(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0
    assert capsys.readouterr().out.strip() == f"fgsgl {__version__}"


def test_unknown_command_is_a_usage_error():
    result = run("no-such-command")
    assert result.returncode == 2
    assert "invalid choice: 'no-such-command'" in result.stderr


def test_help_does_not_import_torch():
    code = (
        "import sys; from fgsgl.cli import build_parser; build_parser(); "
        "print('torch' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False", result.stderr
