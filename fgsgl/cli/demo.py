"""`fgsgl demo`: the whole system on the embedded default, on one CPU machine.

What a user runs before spending GPU hours: generate SynthMG, validate it, draw its contact
sheet, then run the full FG-SGL variant through the real pipeline (`fgsgl run-local`:
kfp.local, cached) with the tiny backbone and the packaged MiniLM text encoder, and end with
the metrics and the path of the report. Each part is an ordinary command as well; the demo
only strings them together and says which one it is running.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

DEMO_CONFIG = "cpu-tiny"

DESCRIPTION = f"""\
Run fgsgl end to end on this machine, no GPU needed:
  1. fgsgl synth      a SynthMG dataset (OUT/synthmg) and its contact sheet
  2. fgsgl validate   the dataset contract
  3. fgsgl run-local  the full variant of the pipeline (extract, encode-text, train stage 1,
                      train stage 2, evaluate) with the tiny backbone and MiniLM, settings
                      from the packaged config `{DEMO_CONFIG}` (OUT/runs)
It ends with the test metrics and the path of the evaluation report. Rerunning it reuses
the dataset and every cached step."""


def register(sub: argparse._SubParsersAction) -> None:
    from fgsgl.synth.config import PRESETS

    p = sub.add_parser(
        "demo",
        help="the whole pipeline on SynthMG with the tiny backbone, on CPU",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--out", metavar="DIR", default="demo-out", help="where everything goes (%(default)s)"
    )
    p.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default="default",
        help="SynthMG size (%(default)s: 360 clips; mini: 36 clips, a smoke test that "
        "cannot learn much)",
    )
    p.add_argument(
        "--config",
        metavar="NAME_OR_FILE",
        default=DEMO_CONFIG,
        help="pipeline settings (%(default)s)",
    )
    p.add_argument(
        "--set",
        dest="settings",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one setting, e.g. --set stage2.epochs=2 (repeatable)",
    )
    p.set_defaults(func=run)


def _say(text: str) -> None:
    print(f"\n== {text}", flush=True)


def run(args: argparse.Namespace) -> int:
    from fgsgl.dataset import load_dataset
    from fgsgl.dataset.summary import summarise
    from fgsgl.pipelines.local import run_local
    from fgsgl.synth.config import PRESETS
    from fgsgl.synth.contact_sheet import make_contact_sheet
    from fgsgl.synth.generate import generate

    started = time.perf_counter()
    out = Path(args.out)
    dataset = out / "synthmg"
    sheet = out / "contact_sheet.png"

    if (dataset / "manifest.csv").is_file():
        _say(f"fgsgl synth: reusing {dataset}")
    else:
        _say(f"fgsgl synth {dataset} --preset {args.preset} --keypoints")
        generate(dataset, dataclasses.replace(PRESETS[args.preset], keypoints=True))
    make_contact_sheet(dataset, sheet)
    print(f"contact sheet: {sheet}")

    _say(f"fgsgl validate {dataset} --need-fg-text")
    ds = load_dataset(dataset, need_fg_text=True)
    print(summarise(ds))

    _say(f"fgsgl run-local --dataset {dataset} --variant full --config {args.config}")
    result = run_local(
        dataset,
        "full",
        out / "runs",
        cache=True,
        settings=args.settings,
        config=args.config,
    )
    print(result.report())

    run_record = result.runs[0]
    metrics = run_record.metrics() or {}
    _say("result")
    print(
        "test top-1 {top1:.3f}  top-5 {top5:.3f}  macro-F1 {macro_f1:.3f}  "
        "(chance {chance:.3f})".format(chance=1 / ds.num_classes, **_headline(metrics))
    )
    print(f"report: {run_record.report}")
    print(f"demo finished in {time.perf_counter() - started:.0f}s")
    return 0


def _headline(metrics: dict[str, float]) -> dict[str, float]:
    return {k: float(metrics.get(k, float("nan"))) for k in ("top1", "top5", "macro_f1")}
