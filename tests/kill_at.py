"""Run `fgsgl` commands that SIGKILL themselves at a named file event: the driver of the
torn-write tests (tests/test_train_torn.py).

    python tests/kill_at.py PLAN.json

PLAN.json: {"argv": [fgsgl arguments, "{out}" where each run's OUT goes],
            "runs": {NAME: {"out": DIR, "steps": [STEP, ...]}, ...}}

The driver imports fgsgl once, then forks one child process per run, one after the other
(the imports are most of a tiny training's time). Each child writes its stderr to DIR.log,
installs the hooks and runs `fgsgl ARGV`; it SIGKILLs itself (no cleanup of any kind) when
the last of its steps happens, steps being matched in order. The driver prints one JSON
object: NAME -> the child's exit status (-9: killed by SIGKILL). A step is `KIND:NAME:TEXT`:

    audit:EVENT:TEXT   a Python audit event (sys.addaudithook) whose first argument holds
                       TEXT, before its operation runs: os.rename (os.replace too), open,
                       tempfile.mkdtemp, shutil.rmtree, shutil.copyfile, ...
    call:FUNC:TEXT     a call of the C function FUNC (sys.setprofile, set only once the
    return:FUNC:TEXT   steps before it matched), TEXT in the `name` of the object it is
                       bound to ("" for any): just before / just after it runs

Audit and profile hooks are Python's own instrumentation: the code under test runs as it
is. A child prints `kill_at: SIGKILL at STEP` to its log before it kills itself.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import traceback
from typing import Any

KINDS = ("audit", "call", "return")
WARM = (
    "fgsgl.cli",
    "fgsgl.train.run",
    "fgsgl.train.optim",
    "fgsgl.train.card",
    "fgsgl.model.families",
    "fgsgl.model.fgsgl_model",
    "fgsgl.model.clip_mg",
    "fgsgl.model.lora",
    "fgsgl.text.bank",
    "fgsgl.video.frames",
    "torch.utils.tensorboard",
    "transformers.models.clip.modeling_clip",
    "peft",
)


def parse(step: str) -> tuple[str, str, str]:
    kind, name, text = [*step.split(":", 2), "", ""][:3]
    if kind not in KINDS or not name:
        raise SystemExit(f"kill_at: bad step {step!r} (KIND:NAME:TEXT, KIND one of {KINDS})")
    return kind, name, text


class Killer:
    """Matches the steps in order; SIGKILLs this process at the last one."""

    def __init__(self, steps: list[tuple[str, str, str]]) -> None:
        self.steps = steps
        self.at = 0
        self.busy = False  # the hook's own work raises audit events too

    def install(self) -> None:
        sys.addaudithook(self.audit)
        self._arm()

    def _arm(self) -> None:
        if self.steps[self.at][0] != "audit":
            sys.setprofile(self.profile)  # this thread's: the one that writes checkpoints

    def _advance(self) -> None:
        self.at += 1
        if self.at == len(self.steps):
            sys.stderr.write(f"kill_at: SIGKILL at {':'.join(self.steps[-1])}\n")
            sys.stderr.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        self._arm()

    def audit(self, event: str, args: tuple[Any, ...]) -> None:
        if self.busy or self.at >= len(self.steps):
            return
        kind, name, text = self.steps[self.at]
        if kind == "audit" and event == name and args and text in str(args[0]):
            self.busy = True
            self._advance()
            self.busy = False

    def profile(self, frame: Any, event: str, arg: Any) -> None:
        kind, name, text = self.steps[self.at]
        if event != f"c_{kind}" or getattr(arg, "__name__", None) != name:
            return
        if text in str(getattr(getattr(arg, "__self__", None), "name", "")):
            sys.setprofile(None)
            self._advance()


def run_child(argv: list[str], out: str, steps: list[str]) -> None:
    """In the forked child: log to OUT.log, hook, run fgsgl; never returns."""
    from fgsgl.cli import main as fgsgl

    log = os.open(f"{out}.log", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    code = 1
    try:
        Killer([parse(s) for s in steps]).install()
        code = fgsgl([a.replace("{out}", out) for a in argv])
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def warm_up() -> None:
    """Import, before the forks, what a tiny training imports (most of its time); nothing
    runs a torch operation here, so no thread pool is forked."""
    import importlib

    for name in WARM:
        importlib.import_module(name)


def main(plan_file: str) -> int:
    with open(plan_file) as f:
        plan = json.load(f)
    warm_up()
    status = {}
    for name, run in plan["runs"].items():
        pid = os.fork()
        if pid == 0:
            run_child(plan["argv"], run["out"], run["steps"])
        status[name] = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    print(json.dumps(status))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
