"""Fuzzed config files and `--set` values through `fgsgl train --config FILE --set ...`:
any input is either a config whose every value is exactly what was meant (010 is ten, 1e-4
a float, `yes` true), or one error naming every bad key, exit 1 or 2, no traceback and no
OUT. Numbers YAML 1.1 or Python would read otherwise (0x10, 1:30, 1_000, "٣", nan, inf)
are refused, not changed.

The config is read first, so a valid one gets as far as the (missing) frames artifact:
the next error, and nothing written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fuzz_strategies import BAD, assert_one_error, fuzz, run_cli
from hypothesis import event, given
from hypothesis import strategies as st

from fgsgl import settings


def _ints(v: int) -> list[tuple[str, Any]]:
    good = [(str(v), v), (f"+{v}", v), (f"0{v}", v), (f" {v} ", v)]
    bad = ["0x10", "1:30", "1_000", "0b11", "1e3", f"{v}.0", "\u0663", "nan", "true", "[3]"]
    return good + [(b, BAD) for b in bad]


def _floats(v: float) -> list[tuple[str, Any]]:
    good = [(repr(v), v), (f"{v:e}", v), (f"+{v}", v), (f" {v} ", v)]
    bad = ["nan", ".nan", "inf", "-.inf", "1e999", "1_0.5", "1:30", "0x1p-3", "\u0663", "true"]
    return good + [(b, BAD) for b in bad]


BOOLS = [
    ("true", True),
    ("True", True),
    ("yes", True),
    ("on", True),
    ("false", False),
    ("no", False),
    ("off", False),
    ("1", BAD),
    ("tru", BAD),
    ("null", BAD),
]
# (key, spellings, whether training reads it)
KEYS: list[tuple[str, list[tuple[str, Any]], bool]] = [
    ("stage1.epochs", [*_ints(3), ("", BAD), ("-1", BAD)], True),
    ("seed", [*_ints(7), ("4294967296", BAD)], True),
    ("stage1.lr", [*_floats(0.0001), ("0", BAD)], True),
    ("optim.warmup_ratio", _floats(0.03), True),
    ("ablation.fg_sa", BOOLS, True),
    ("model.mid_layer", [("2", 2), ("null", None), ("~", None), ("", None), ("2.5", BAD)], True),
    ("extract.frame_size", _ints(64), False),
    ("evaluate.prototype_weight", _floats(0.25), False),
    ("text.pooling", [("mean", "mean"), (" last ", "last")], False),
    (
        "resources.node_selector",
        [
            ("{pool: gpu}", {"pool": "gpu"}),
            ("{pool: 'true'}", {"pool": "true"}),
            ("{pool: 1}", BAD),
            ("{pool: yes}", BAD),
            ("[pool]", BAD),
            ("{pool: [a]}", BAD),
        ],
        False,
    ),
]
PLACES = ("set", "section", "dotted", "base")


@dataclass
class Config:
    sets: list[str] = field(default_factory=list)
    file: dict[str, str] = field(default_factory=dict)  # dotted key -> YAML value text
    base: dict[str, str] = field(default_factory=dict)
    sections: bool = True
    expected: dict[str, Any] = field(default_factory=dict)
    bad_keys: set[str] = field(default_factory=set)
    broken: str | None = None  # a file-level problem, and the words its error must hold


# A file-level problem: bytes added at the end of the file (or, for "a list", the whole
# file), and what its one error says.
BROKEN = {
    "latin1": ("caf\u00e9: 1\n".encode("latin-1"), "not UTF-8"),
    "unclosed": (b"stage1: {epochs: [3\n", "not valid YAML"),
    "a list": (b"- stage1.epochs: 3\n", "expected a mapping"),
    "bad date": (b"seed: 2024-13-45\n", "not valid YAML"),
    "explicit tag": (b"seed: !!int 0x10\n", "not valid YAML"),
    "section scalar": (b"stage1: 5\n", "expected a section"),
}


@st.composite
def configs(draw: st.DrawFn) -> Config:
    cfg = Config(sections=draw(st.booleans()))
    chosen = draw(st.lists(st.sampled_from(KEYS), min_size=1, max_size=5, unique_by=lambda k: k[0]))
    clean = draw(st.booleans())
    for key, spellings, _ in chosen:
        options = [s for s in spellings if not clean or s[1] is not BAD]
        text, value = draw(st.sampled_from(options))
        place = draw(st.sampled_from(PLACES))
        if place == "set":
            cfg.sets.append(f"{key}={text}")
        elif place == "base":
            cfg.base[key] = text
        else:
            cfg.file[key] = text
        if value is BAD:
            cfg.bad_keys.add(key)
        else:
            cfg.expected[key] = value
    if not clean and draw(st.integers(0, 3)) == 0:
        typo = draw(st.sampled_from(["stage1.epoch", "sed", "--set-no-equals"]))
        if typo == "--set-no-equals":
            cfg.sets.append("stage1.epochs")
            cfg.bad_keys.add("expected KEY=VALUE")
        else:
            cfg.sets.append(f"{typo}=3")
            cfg.bad_keys.add(f"unknown setting {typo!r}")
    if not clean and draw(st.integers(0, 4)) == 0:
        cfg.broken = draw(st.sampled_from(sorted(BROKEN)))
    return cfg


def _yaml(values: dict[str, str], sections: bool) -> str:
    lines, grouped = [], {}
    for key, text in values.items():
        section, _, name = key.rpartition(".")
        if sections and section:
            grouped.setdefault(section, []).append(f"  {name}: {text}")
        else:
            lines.append(f"{key}: {text}")
    for section, inner in grouped.items():
        lines += [f"{section}:", *inner]
    return "\n".join(lines) + "\n"


@fuzz(60)
@given(cfg=configs())
def test_fuzzed_config_files_and_set_values(tmp_path: Path, cfg: Config):
    base, config, out = tmp_path / "base.yaml", tmp_path / "run.yaml", tmp_path / "out"
    base.write_text(_yaml(cfg.base, cfg.sections))
    text = f"extends: {base.name}\n" + _yaml(cfg.file, cfg.sections)
    if cfg.broken:
        start = b"" if cfg.broken == "a list" else text.encode()
        config.write_bytes(start + BROKEN[cfg.broken][0])
    else:
        config.write_text(text)
    sets = [f"--set={item}" for item in cfg.sets]
    argv = ["train", str(tmp_path / "frames"), str(tmp_path / "texts"), str(out), "--stage", "1"]
    outcome = run_cli([*argv, "--config", str(config), *sets])
    assert not out.exists()
    if cfg.broken:
        event("broken file")
        assert_one_error(outcome, "train", str(config), BROKEN[cfg.broken][1])
        return
    if cfg.bad_keys:
        event("refused")
        assert_one_error(outcome, "train", *sorted(cfg.bad_keys))
        return
    event("read")
    assert_one_error(outcome, "train", "not a fgsgl.frames artifact")  # the config passed
    train = settings.load_config(config, cfg.sets)
    values = settings.read(cfg.sets, config=config)
    for key, want in cfg.expected.items():
        if settings.BY_KEY[key].step == settings.TRAINING:
            section, _, name = key.rpartition(".")
            got = getattr(getattr(train, section) if section else train, name)
        else:
            got = values[key]
        assert got == want and type(got) is type(want), (key, got, want)
