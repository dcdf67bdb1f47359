"""The distribution ships every package, including components/ and pipelines/.

An editable install hides a package missing from pyproject's list; a wheel does not.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_package_is_listed_in_pyproject():
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    on_disk = {
        ".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "fgsgl").rglob("__init__.py")
    }
    on_disk |= {"fgsgl.components", "fgsgl.pipelines", "fgsgl.configs"}
    assert set(setuptools["packages"]) == on_disk
    assert setuptools["package-dir"]["fgsgl.components"] == "components"
    assert setuptools["package-dir"]["fgsgl.pipelines"] == "pipelines"
    assert setuptools["package-dir"]["fgsgl.configs"] == "configs"
