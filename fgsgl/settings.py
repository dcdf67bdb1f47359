"""Every run setting, declared once (fgsgl.schema), and the one reader of what people type.

The training settings are the training config's fields (fgsgl.train.config, fgsgl.model
.config); the other steps' are the section dataclasses below. A person names a setting by
its dotted key, in `--set KEY=VALUE` and in config files (sections or dotted keys); the
pipeline's run parameters are the flat names, in SETTINGS' order. From SETTINGS come the
pipeline's signature, the training stage components (components/train.py is generated:
`make components`), the tables between flat names and keys, the `--help` listings and
`read`, which every command uses for `--config FILE` and `--set`.

Adding a training setting: one `setting(...)` field in the training config, then `make
components`. Adding a setting of another step: one field below and the argument in the
component that reads it (tests/test_settings.py names what is missing).
"""

from __future__ import annotations

import difflib
import logging
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fgsgl import cluster
from fgsgl.config_files import EXTENDS, coerce, config_path, load_yaml_text, read_yaml
from fgsgl.errors import FgsglError
from fgsgl.schema import NO_NULL, REQUIRED, Setting, setting, walk
from fgsgl.train.config import TrainConfig, config_problems

__all__ = ["NO_NULL", "REQUIRED", "Setting"]

log = logging.getLogger("fgsgl.settings")

RUN = "the run"
EXTRACTION = "extraction"
TEXT = "text encoding"
ATTRIBUTES = "the attributes step"
WEIGHTS = "the weights fetch steps"
TRAINING = "training"
LAUNCHER = "the training launcher (fgsgl train --deepspeed)"
EVALUATION = "evaluation"
GPU = "GPU placement"
CLUSTER = "the pods (compiled into the pipeline)"
OLD_SPELLINGS_UNTIL = "0.6"  # the release in which the flat spellings stop working


@dataclass
class RunSettings:
    dataset: str = setting(
        help="the dataset directory (local path, gs:// or s3:// URI): manifest + classes.csv."
    )
    dataset_fingerprint: str = setting(
        help="content fingerprint of the dataset (manifest, classes, video sizes and "
        "mtimes): what makes KFP's cache key change when the data does."
    )
    variant: str = setting("full", help="the ablation variant (fgsgl variants lists them).")


@dataclass
class ExtractSettings:
    num_frames: int = setting(8, help="frames per clip (T).")
    frame_size: int = setting(448, help="square side in pixels (S).")
    resize: str = setting("squash", help='"squash" or "center-crop".')
    max_failure_ratio: float = setting(
        0.05, help="fail the step when more clips than this fail to decode."
    )
    keep_partial: bool = setting(
        False,
        help="keep the clips of a partial video (a copy cut off) that need frames the file "
        "lacks, sampled over what it holds, with a note in the index; default: they fail.",
    )


@dataclass
class TextSettings:
    encoder: str = setting(
        "minilm",
        help='"minilm" (packaged, offline), a Hugging Face encoder, or InternVL\'s language '
        "model (see fgsgl.text.encoders).",
    )
    pooling: str = setting(
        "",
        help='how token states become one vector: "mean", "mean_text", "last" or "cls"; '
        '"" = the encoder\'s default.',
    )
    dtype: str = setting("", help='weights dtype; "" = automatic (bf16 on CUDA, fp32 on CPU).')
    trust_remote_code: bool = setting(
        False, help="allow the encoder's own code from its checkpoint."
    )
    paraphrases: bool = setting(
        False, help="one of four sentence templates per attribute set (default one)."
    )


@dataclass
class AttributesSettings:
    source: str = setting(
        "auto",
        name="fg_attributes",
        help="where each clip's FG-Text attributes come from: auto, annotated, derived or "
        "class (fgsgl.attributes.artifact).",
    )


@dataclass
class WeightsSettings:
    mirror: str = setting(
        "", help='"" = the Hugging Face hub, else a folder, gs:// or s3:// mirror of it.'
    )


@dataclass
class LauncherSettings:
    deepspeed: str = setting(
        "off",
        help='"off", "on" (ZeRO-2, bf16 on CUDA) or a DeepSpeed config file in the image; '
        "several GPUs in the pod always train on DeepSpeed.",
    )


@dataclass
class EvaluateSettings:
    split: str = setting(
        "test", name="eval_split", help='which split to evaluate ("test", "val" or "train").'
    )
    prototype_weight: float = setting(
        0.0,
        help="add this times the class-prototype similarity to the classifier's logits; "
        "0 = the classifier alone.",
    )


def _default_tolerations() -> list[dict[str, str]]:
    return [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]


@dataclass
class ResourceSettings:
    gpu_type: str = setting("nvidia.com/gpu", help="the GPU resource name of the node pool.")
    gpus: int = setting(1, help="GPUs per training pod (more than one: DeepSpeed).")
    gpu_pool: str = setting(
        "",
        not_parameter="expanded into gpu_node_selector and gpu_tolerations when planning",
        help="the GPU node pool by preset (fgsgl.cluster): gke:ACCELERATOR, "
        "eks:INSTANCE_TYPE, karpenter:GPU_NAME, aks:VM_SIZE or nvidia:PRODUCT, e.g. "
        'gke:nvidia-l4; "" = any node that has the GPU resource.',
    )
    node_selector: dict = setting(
        name="gpu_node_selector",
        factory=dict,
        help="node labels the GPU pods need, beside gpu_pool's (none: any cloud).",
    )
    tolerations: list = setting(
        name="gpu_tolerations",
        factory=_default_tolerations,
        help="taints of the GPU node pool the training pods tolerate.",
    )


POD_SPEC = "part of the pod spec, fixed when compiling (fgsgl compile / submit)"


@dataclass
class ClusterSettings:
    env: dict = setting(
        factory=dict,
        not_parameter=POD_SPEC,
        help="plain environment variables in every task's pod, e.g. "
        "{AWS_ENDPOINT_URL: 'http://minio-service.kubeflow:9000'} for MinIO.",
    )
    secret_env: dict = setting(
        factory=dict,
        not_parameter=POD_SPEC,
        help="environment variables from Kubernetes secrets in every task's pod, "
        "ENV: SECRET/KEY, e.g. {HF_TOKEN: hf-token/token, AWS_ACCESS_KEY_ID: s3/access-key}.",
    )
    image_pull_secrets: list = setting(
        factory=list,
        not_parameter=POD_SPEC,
        help="secrets of the private registry the images come from, e.g. [regcred].",
    )
    timeout: str = setting(
        "0",
        not_parameter=POD_SPEC,
        help="the longest one task's pod may run, e.g. 12h or 90m (0 = no limit); "
        "each retry gets its own.",
    )


SETTINGS: tuple[Setting, ...] = (
    *walk(RunSettings, RUN),
    *walk(ExtractSettings, EXTRACTION, "extract."),
    *walk(TextSettings, TEXT, "text.", "text_"),
    *walk(AttributesSettings, ATTRIBUTES, "attributes."),
    *walk(WeightsSettings, WEIGHTS, "weights.", "weights_"),
    *walk(TrainConfig, TRAINING),
    *walk(LauncherSettings, LAUNCHER),
    *walk(EvaluateSettings, EVALUATION, "evaluate."),
    *walk(ResourceSettings, GPU, "resources."),
    *walk(ClusterSettings, CLUSTER, "cluster."),
)
PARAMETERS: tuple[Setting, ...] = tuple(s for s in SETTINGS if s.parameter)
BY_NAME: dict[str, Setting] = {s.name: s for s in PARAMETERS}
BY_KEY: dict[str, Setting] = {s.key: s for s in SETTINGS}
# flat pipeline / component parameter -> training config key
TRAIN_KEYS: dict[str, str] = {s.name: s.key for s in PARAMETERS if s.step == TRAINING}
# the run parameters that are not training settings -> the step each configures
OTHER_PARAMETERS: dict[str, str] = {s.name: s.step for s in PARAMETERS if s.step != TRAINING}
# parameters whose library value may be null -> the value that stands for null
NULL_SENTINELS: dict[str, Any] = {s.name: s.null for s in PARAMETERS if s.null is not NO_NULL}
# settings that are deliberately not run parameters (training config keys, the pod spec), and why
NOT_PARAMETERS: dict[str, str] = {s.key: s.why_not_parameter for s in SETTINGS if not s.parameter}
# the flat spellings people used before the dotted keys (kept until OLD_SPELLINGS_UNTIL)
OLD_SPELLINGS: dict[str, str] = {s.name: s.key for s in PARAMETERS if s.name != s.key}
SECTIONS: frozenset[str] = frozenset(s.key.rpartition(".")[0] for s in SETTINGS if "." in s.key)


def of_step(step: str) -> list[Setting]:
    return [s for s in SETTINGS if s.step == step]


def training_stage_settings(stage: int) -> list[Setting]:
    """The training settings stage `stage`'s component receives, in declaration order."""
    return [s for s in PARAMETERS if s.step == TRAINING and stage in s.stages]


# --- reading what people type -------------------------------------------------------


def flatten(values: Mapping[str, Any], where: str) -> dict[str, Any]:
    """Sections (`stage1: {lr: ...}`) and dotted keys to dotted keys; a dict-valued
    setting (a node selector) stays whole."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        key = str(key)
        if key in SECTIONS and isinstance(value, Mapping):
            for inner, v in value.items():
                out[f"{key}.{inner}"] = v
        elif key in SECTIONS:
            raise FgsglError(f"{where}: {key}: expected a section of settings (KEY: VALUE)")
        else:
            out[key] = value
    return out


def read_file(path: str | Path, _seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """A config file's settings by (dotted) key as written, `extends:` resolved: the file
    it names (relative to this one, or a shipped name) is read first and this one's values
    set over it, setting by setting."""
    path = config_path(path)
    if path.resolve() in _seen:
        chain = " -> ".join(str(p) for p in (*_seen, path.resolve()))
        raise FgsglError(f"{path}: `{EXTENDS}` goes round in a circle ({chain})")
    values = read_yaml(path)
    base_name = values.pop(EXTENDS, None)
    own = flatten(values, str(path))
    if base_name is None:
        return own
    local = path.parent / str(base_name)
    base = read_file(local if local.is_file() else str(base_name), (*_seen, path.resolve()))
    return {**base, **own}


def read(
    items: Sequence[str] | None = None,
    *,
    config: str | Path | None = None,
    values: Mapping[str, Any] | None = None,
    source: str = "--set",
) -> dict[str, Any]:
    """Setting values by dotted key: a `--config` file, then `values` (from code: keys or
    flat names), then `--set KEY=VALUE` items; each value coerced to its setting's type.
    Old flat spellings typed by a person work with a warning; every unknown key and bad
    value is reported at once."""
    out, problems = read_values(items, config=config, values=values, source=source)
    if problems:
        raise FgsglError("bad settings", with_key_list(problems))
    return out


def read_values(
    items: Sequence[str] | None = None,
    *,
    config: str | Path | None = None,
    values: Mapping[str, Any] | None = None,
    source: str = "--set",
    values_source: str = "settings",
) -> tuple[dict[str, Any], list[str]]:
    """`read`'s values and the problems found, for a caller that adds its own checks."""
    raw: list[tuple[str, str, Any, bool]] = []  # (where, key, value, typed by a person)
    problems: list[str] = []
    if config is not None:
        raw += [(str(config), k, v, True) for k, v in read_file(config).items()]
    raw += [(values_source, k, v, False) for k, v in flatten(values or {}, "settings").items()]
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            problems.append(f"{source} {item!r}: expected KEY=VALUE, e.g. stage2.epochs=3")
            continue
        raw.append((source, key.strip(), value.strip(), True))

    out: dict[str, Any] = {}
    for where, key, value, by_person in raw:
        s = BY_KEY.get(key) or BY_NAME.get(key)
        if s is None:
            problems.append(f"{where}: {UNKNOWN} {key!r}{_hint(key)}")
            continue
        if by_person and key != s.key:
            log.warning(
                "%s: %r is the old spelling of %r (it stops working in %s)",
                where,
                key,
                s.key,
                OLD_SPELLINGS_UNTIL,
            )
        try:
            value = coerce_setting(value, s)
        except ValueError as e:
            problems.append(f"{where}: {s.key}: {e}")
            continue
        if key == s.name != s.key and s.null is not NO_NULL and value == s.null:
            value = None  # a parameter's null sentinel (mid_layer=0), spelt as parameter
        problem = CHECKS[s.key](value) if s.key in CHECKS else None
        if problem:
            problems.append(f"{where}: {s.key}: {problem}")
            continue
        out[s.key] = value
    return _with_gpu_pool(out), problems


def _timeout_problem(value: str) -> str | None:
    try:
        cluster.duration_seconds(value)
    except ValueError as e:
        return str(e)
    return None


def _not_strings(values: Any, what: str = "a string") -> list[str]:
    """A mapping's values (or a list's items) that are not text: Kubernetes reads text, and
    str() would turn an unquoted YAML `yes` into 'True' and `null` into 'None'."""
    if isinstance(values, Mapping):
        return [
            f"{k}: {v!r} is not a string (quote it in YAML)"
            for k, v in values.items()
            if not isinstance(v, str)
        ]
    return [f"{v!r} is not {what}" for v in values if not isinstance(v, str) or not v]


TOLERATION_FIELDS = {"key", "operator", "value", "effect", "tolerationSeconds"}


def _tolerations_problem(value: list) -> str | None:
    for item in value:
        if not isinstance(item, Mapping) or not item or set(map(str, item)) - TOLERATION_FIELDS:
            return f"{item!r} is not a toleration ({', '.join(sorted(TOLERATION_FIELDS))})"
        seconds = item.get("tolerationSeconds")
        if seconds is not None and (not isinstance(seconds, int) or isinstance(seconds, bool)):
            return f"tolerationSeconds {seconds!r} is not an integer"
        if bad := _not_strings({k: v for k, v in item.items() if k != "tolerationSeconds"}):
            return "; ".join(bad)
    return None


# checks of a value beyond its type, by key
CHECKS: dict[str, Any] = {
    "resources.gpu_pool": lambda v: cluster.gpu_pool_problem(v) if v else None,
    "resources.node_selector": lambda v: "; ".join(_not_strings(v)) or None,
    "resources.tolerations": _tolerations_problem,
    "cluster.env": lambda v: "; ".join(cluster.env_problems(v) + _not_strings(v)) or None,
    "cluster.secret_env": lambda v: "; ".join(cluster.secret_env_problems(v)) or None,
    "cluster.image_pull_secrets": lambda v: "; ".join(_not_strings(v, "a secret name")) or None,
    "cluster.timeout": _timeout_problem,
}


def _with_gpu_pool(values: dict[str, Any]) -> dict[str, Any]:
    """`resources.gpu_pool`'s labels and tolerations added to the node selector and tolerations
    (the run parameters a pod spec is made from)."""
    if not values.get("resources.gpu_pool"):
        return values
    selector, tolerations = cluster.expand_gpu_pool(
        values["resources.gpu_pool"],
        values.get("resources.node_selector", BY_KEY["resources.node_selector"].default),
        values.get("resources.tolerations", BY_KEY["resources.tolerations"].default),
    )
    return {**values, "resources.node_selector": selector, "resources.tolerations": tolerations}


UNKNOWN = "unknown setting"


def with_key_list(problems: list[str]) -> list[str]:
    """`problems`, and the list of every setting's key when one of them is unknown."""
    if any(UNKNOWN in p for p in problems):
        return [*problems, "settings: " + ", ".join(s.key for s in SETTINGS)]
    return problems


def coerce_setting(raw: Any, s: Setting) -> Any:
    """`raw` (a YAML value or a command-line string) as a value of setting `s`."""
    import yaml

    if s.base_type in (dict, list):
        if isinstance(raw, str):
            try:
                raw = load_yaml_text(raw)  # numbers in it as a config file reads them
            except yaml.YAMLError as e:
                raise ValueError(f"not valid YAML/JSON ({e})") from e
        if not isinstance(raw, s.base_type):
            raise ValueError(f"{raw!r} is not a {s.base_type.__name__}")
        return raw
    return coerce(raw, s.type)


def as_parameters(values: Mapping[str, Any]) -> dict[str, Any]:
    """Setting values by key -> run parameter values by flat name (null as its sentinel);
    config keys that are no run parameter (data.workers) are left out."""
    out = {}
    for key, value in values.items():
        s = BY_KEY[key]
        if s.parameter:
            out[s.name] = s.null if value is None and s.null is not NO_NULL else value
    return out


def training_values(values: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The training settings among `values` (by key); the others are left out, saying so."""
    other = [k for k in values if BY_KEY[k].step != TRAINING]
    if other:
        log.info("%s: %s set other steps than training; left out", where, ", ".join(other))
    return {k: v for k, v in values.items() if BY_KEY[k].step == TRAINING}


def load_config(
    path: str | Path | None = None,
    overrides: Mapping[str, Any] | Sequence[str] | None = None,
) -> TrainConfig:
    """The training config: defaults, then the config file at `path`, then `overrides`
    (`--set` items, or a mapping by key or flat name). Settings of other steps
    (`extract.frame_size`) are left out, so one file configures `fgsgl run-local` and
    `fgsgl train` alike. Raises one FgsglError listing every problem."""
    items = overrides if isinstance(overrides, Sequence) else None
    mapping = None if isinstance(overrides, Sequence) else overrides
    values, problems = read_values(items, config=path, values=mapping, values_source="--set")
    cfg = TrainConfig()
    problems += config_problems(cfg, training_values(values, str(path or "--set")))
    if problems:
        raise FgsglError("invalid training config", with_key_list(problems))
    return cfg


def help_lines(settings: Sequence[Setting] = SETTINGS, width: int = 88) -> list[str]:
    """`KEY [flat name] = DEFAULT` and the help of each setting, as --help lists them."""
    out = []
    for s in settings:
        default = "(required)" if s.default is REQUIRED else repr(s.default)
        name = "" if s.name == s.key or not s.parameter else f" [{s.name}]"
        out.append(f"  {s.key}{name} = {default}")
        text = " ".join(s.help.split())
        out += textwrap.wrap(text, width, initial_indent=" " * 6, subsequent_indent=" " * 6)
    return out


def _hint(key: str) -> str:
    close = difflib.get_close_matches(key, [*BY_KEY, *BY_NAME], n=1)
    return f" (did you mean {close[0]}?)" if close else ""
