"""`fgsgl settings`: every run setting, its default and what it does (fgsgl.settings)."""

from __future__ import annotations

import argparse

import yaml


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "settings",
        help="list every run setting with its default (or write them as a config file)",
        description="Every setting `--set KEY=VALUE` and a `--config` file may name, by its "
        "dotted key, with its default, the pipeline parameter it becomes where that name "
        "differs ([name]), and the step that reads it.",
    )
    p.add_argument(
        "only",
        nargs="?",
        metavar="SECTION|STEP",
        help="only a section's settings (extract, stage1, resources) or a step's (training)",
    )
    p.add_argument(
        "--yaml",
        action="store_true",
        help="print the defaults as a config file in sections (a start for your own)",
    )
    p.set_defaults(func=run_settings)


def run_settings(args: argparse.Namespace) -> int:
    from fgsgl.errors import UsageError
    from fgsgl.settings import REQUIRED, SECTIONS, SETTINGS, Setting, help_lines

    def wanted(s: Setting) -> bool:
        return args.only in (None, s.step) or s.key.startswith(f"{args.only}.")

    chosen = [s for s in SETTINGS if wanted(s)]
    if not chosen:
        sections = sorted(SECTIONS)
        steps = list(dict.fromkeys(s.step for s in SETTINGS))
        raise UsageError(
            f"{args.only!r}: no such section or step (sections: {', '.join(sections)}; "
            f"steps: {', '.join(steps)})"
        )
    if args.yaml:
        tree: dict = {}
        for s in chosen:
            if s.default is REQUIRED:
                continue
            section, _, name = s.key.rpartition(".")
            (tree.setdefault(section, {}) if section else tree)[name] = s.default
        print(yaml.safe_dump(tree, sort_keys=False), end="")
        return 0
    for step in dict.fromkeys(s.step for s in chosen):
        print(f"{step}:")
        print("\n".join(help_lines([s for s in chosen if s.step == step])))
    return 0
