"""The `fgsgl` command: one subcommand per step and tool.

Each module in COMMAND_MODULES adds its subcommands with `register(subparsers)` and imports
its heavy dependencies (torch, decord, kfp) only inside the handler, so that `fgsgl --help`
and steps that only move files stay fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from fgsgl import __version__
from fgsgl.errors import FgsglError

# Order is the order of `fgsgl --help`.
COMMAND_MODULES: list[str] = [
    "fgsgl.cli.synth",
    "fgsgl.cli.dataset",
    "fgsgl.cli.pose",
    "fgsgl.cli.attributes",
    "fgsgl.cli.annotate",
    "fgsgl.cli.extract",
    "fgsgl.cli.text",
    "fgsgl.cli.weights",
    "fgsgl.cli.train",
    "fgsgl.cli.pretrain",
    "fgsgl.cli.evaluate",
    "fgsgl.cli.probe",
    "fgsgl.cli.predict",
    "fgsgl.cli.pipeline",
    "fgsgl.cli.demo",
    "fgsgl.cli.settings",
]

EPILOG = """\
steps:   extract -> encode-text -> train --stage 1 -> train --stage 2 -> evaluate
use:     predict (a trained model on new videos, folders, datasets or frames)
check:   probe (linear probes of the attributes on a model's f_mid / f_high)
data:    synth, import, validate, pose, attributes, annotate (FG-Text by people), fetch-weights
try it:  demo (the whole pipeline on SynthMG, on CPU); settings lists what --set takes
Run `fgsgl COMMAND --help` for the options of each command."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fgsgl",
        description="Micro-gesture recognition with fine-grained semantic guidance (FG-SGL): "
        "the steps of the Kubeflow pipeline, runnable one by one.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"fgsgl {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="[fgsgl] %(message)s",
        stream=sys.stderr,
    )


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(args.verbose)
    try:
        result = args.func(args)
    except FgsglError as e:
        print(f"fgsgl {args.command}: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print(f"fgsgl {args.command}: interrupted", file=sys.stderr)
        return 130
    return int(result or 0)
