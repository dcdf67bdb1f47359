"""The library's import graph: no cycles (lazy imports inside functions included), and the
library (fgsgl/, without the KFP components and pipelines) never loads kfp."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {"fgsgl": ROOT / "fgsgl", "fgsgl.components": ROOT / "components"}
PACKAGES["fgsgl.pipelines"] = ROOT / "pipelines"


def modules() -> dict[str, Path]:
    out = {}
    for package, folder in PACKAGES.items():
        for path in folder.rglob("*.py"):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join([package, *parts])] = path
    return out


def imports(path: Path, known: dict[str, Path]) -> set[str]:
    """The fgsgl modules `path` imports anywhere in it (`from fgsgl.a import b` names the
    module fgsgl.a.b where that is one, else fgsgl.a)."""

    def module_of(name: str) -> str | None:
        while name and name not in known:
            name = name.rpartition(".")[0]
        return name or None

    found: set[str | None] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {module_of(a.name) for a in node.names if a.name.startswith("fgsgl")}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("fgsgl"):
            for a in node.names:
                sub = f"{node.module}.{a.name}"
                found.add(sub if sub in known else module_of(str(node.module)))
    return {m for m in found if m is not None}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while (w := stack.pop()) != v:
                component.append(w)
            if component:
                out.append(sorted([v, *component]))

    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_cycles_are_found_when_there_are_some() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert cycles(graph) == [["a", "b", "c"]]


def test_the_library_has_no_import_cycles() -> None:
    known = modules()
    graph = {name: imports(path, known) - {name} for name, path in known.items()}
    assert len(graph) > 100
    assert cycles(graph) == []


def test_no_library_module_loads_kfp() -> None:
    code = (
        "import importlib, pkgutil, sys\n"
        "import fgsgl\n"
        "skip = ('fgsgl.components', 'fgsgl.pipelines', 'fgsgl.configs', 'fgsgl.__main__')\n"
        "names = [m.name for m in pkgutil.walk_packages(fgsgl.__path__, 'fgsgl.')\n"
        "         if not m.name.startswith(skip)]\n"
        "for name in names:\n"
        "    importlib.import_module(name)\n"
        "print(len(names), sorted(m for m in sys.modules if m.split('.')[0] == 'kfp'))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    count, loaded = out.stdout.strip().split(" ", 1)
    assert int(count) > 100 and loaded == "[]"


def test_planning_commands_do_not_load_torch(tmp_path: Path) -> None:
    """`fgsgl compile --config --set`, `fgsgl settings` and `fgsgl train --help` plan and
    check settings without torch (the training config is plain data)."""
    code = (
        "import sys\n"
        "from fgsgl.cli import main\n"
        f"assert main(['compile', '--out', {str(tmp_path)!r}, '--config', 'paper-smg',\n"
        "             '--set', 'stage1.lr=2e-5', '--set', 'resources.gpus=4']) == 0\n"
        "assert main(['settings', 'stage1']) == 0\n"
        "try:\n"
        "    main(['train', '--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "False"
    assert list(tmp_path.glob("*.yaml"))
