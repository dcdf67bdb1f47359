"""The settings schema: each run setting is one dataclass field whose metadata says the rest.

A person names a setting by its dotted key (`stage1.lr`, `extract.frame_size`: the field's
path through section dataclasses); KFP parameters are flat, so each setting also has a flat
name (`stage1_lr`, `frame_size`), the pipeline's run parameter and the component argument.
`setting(...)` declares a field with its help text, flat name, the training stages whose
component receives it and its null sentinel; `section(...)` nests a dataclass under a key.
`walk` reads a dataclass tree into `Setting` records; fgsgl.settings assembles the run's.
This module imports nothing of fgsgl's.
"""

from __future__ import annotations

import types
import typing
from dataclasses import MISSING, dataclass, field, fields, is_dataclass
from typing import Any

REQUIRED: Any = object()  # the default of a parameter every run must give
NO_NULL: Any = object()  # the null sentinel of a setting that is never null
STAGES = (1, 2)  # the training stages (ML-CO)

_META = "fgsgl.setting"
_SECTION = "fgsgl.section"


@dataclass(frozen=True)
class Setting:
    key: str  # what a person types (dotted)
    name: str  # the flat pipeline / component parameter (the KFP UI lines runs up by it)
    type: Any  # the field's type (an optional one for a nullable setting)
    default: Any
    help: str
    step: str  # the step or part of the run that reads it
    stages: tuple[int, ...] = ()  # training settings: the stage components receiving it
    null: Any = NO_NULL  # the parameter value that stands for null (KFP passes no null)
    stage2_help: str | None = None  # the help as the one-stage run (stage 2 component) reads
    parameter: bool = True  # False: a config key that is deliberately no run parameter
    why_not_parameter: str = ""

    @property
    def base_type(self) -> type:
        """The value type without its optional (`int | None` -> int)."""
        options = typing.get_args(self.type) if isinstance(self.type, types.UnionType) else ()
        return next((t for t in options if t is not type(None)), self.type)

    @property
    def parameter_default(self) -> Any:
        """The default as a run parameter: null as its sentinel."""
        if self.default is None and self.null is not NO_NULL:
            return self.null
        return self.default


def setting(
    default: Any = REQUIRED,
    *,
    help: str,
    name: str | None = None,
    stages: tuple[int, ...] = STAGES,
    null: Any = NO_NULL,
    factory: Any = None,
    stage2_help: str | None = None,
    not_parameter: str = "",
) -> Any:
    """A dataclass field declaring one setting (`name`: its flat name when it is not the
    section's prefix + the field's name; `not_parameter`: why it is no run parameter)."""
    meta = {
        _META: {
            "help": help,
            "name": name,
            "stages": stages,
            "null": null,
            "stage2_help": stage2_help,
            "not_parameter": not_parameter,
        }
    }
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


def section(
    cls: type,
    *,
    name_prefix: str = "",
    stages: tuple[int, ...] | None = None,
    help: dict[str, str] | None = None,
    stage2_help: dict[str, str] | None = None,
) -> Any:
    """A field holding a section dataclass: its settings' keys are `FIELD.member`, their
    flat names `name_prefix + member`. A section used twice (stage1, stage2) gives its
    members' help and stages here."""
    meta = {
        _SECTION: {
            "name_prefix": name_prefix,
            "stages": stages,
            "help": help or {},
            "stage2_help": stage2_help or {},
        }
    }
    return field(default_factory=cls, metadata=meta)


def walk(cls: type, step: str, prefix: str = "", name_prefix: str = "") -> list[Setting]:
    """The settings of dataclass `cls` and its sections, in declaration order (a section's
    keys are prefixed by its field's name; `prefix` puts the whole tree under one, and
    `name_prefix` its flat names)."""
    return _walk(cls, step, prefix, name_prefix, {})


def _walk(cls: type, step: str, prefix: str, name_prefix: str, sec: dict) -> list[Setting]:
    hints = typing.get_type_hints(cls)
    out: list[Setting] = []
    for f in fields(cls):
        typ = hints[f.name]
        if _SECTION in f.metadata:
            inner = f.metadata[_SECTION]
            out += _walk(typ, step, f"{prefix}{f.name}.", inner["name_prefix"], inner)
            continue
        if is_dataclass(typ):
            raise TypeError(f"{cls.__name__}.{f.name}: a section needs section(...)")
        meta = f.metadata.get(_META)
        if meta is None:
            raise TypeError(f"{cls.__name__}.{f.name}: a setting needs setting(help=...)")
        default = f.default_factory() if f.default_factory is not MISSING else f.default
        help_ = sec.get("help", {}).get(f.name, meta["help"])
        stage2 = sec.get("stage2_help", {}).get(f.name, meta["stage2_help"])
        stages = sec.get("stages") or meta["stages"]
        out.append(
            Setting(
                key=f"{prefix}{f.name}",
                name=meta["name"] or f"{name_prefix}{f.name}",
                type=typ,
                default=default,
                help=help_,
                step=step,
                stages=stages,
                null=meta["null"],
                stage2_help=stage2,
                parameter=not meta["not_parameter"],
                why_not_parameter=meta["not_parameter"],
            )
        )
    return out
