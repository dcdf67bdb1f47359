"""Linear probes of clip attributes on fixed features: how decodable is each attribute?

The mechanism check of FG-SA (docs/method.md): if aligning f_mid with the fine-grained
texts works as the paper says, a linear read-out of f_mid should recover the attributes
those texts name (initiator, receiver, direction, motion; on SynthMG also speed,
amplitude, ...) better than the same read-out of a model trained without it. This module
works on plain arrays (features, attribute values, splits, classes); the step that makes
the features from a model and writes the files is fgsgl.evaluate.probe_run.

**The probe.** Multinomial logistic regression (fgsgl.logistic) on the features
standardised with the train clips' mean and std, fitted on the train split's clips; its L2
penalty is the one of fgsgl.logistic.PENALTIES with the best val accuracy (val thus picks
one of five numbers; test is untouched, and is the headline). `chance` is the majority
rate on the same test clips: the share of their most common value.

**Which clips.** Clips without a value (an empty cell: e.g. SynthMG's amplitude of a held
gesture) are left out of that attribute's probe. So are the clips, in every split, of a
value that fewer than MIN_CLIPS (2) train clips have: a probe cannot learn a value from one
example, and a held-out clip of a value it never saw would only measure that (`dropped`
counts them; the values are named in the step's output). An attribute with fewer than 2
values left cannot be probed (ProbeError), nor one without a val clip (val picks the
penalty).

**Within class.** An attribute that is constant inside each class is decodable from the
class alone, so a high accuracy may only say "f_mid knows the class". The within-class
accuracy separates the two: the same probe, given the clip's true class as well (a
one-hot beside the standardised features, so it can learn each class's own prior over
the values), fitted and scored on the clips of the classes in which the attribute takes
at least 2 values among the train clips (`within_classes` of them). Its chance,
`within_chance`, is what the class alone gives: every test clip is guessed its class's
most common value among the train clips (ties: the first in sorted order), which is what
the probe reaches when the features add nothing (a probe on the one-hot alone). Above it,
the features show the attribute beyond the class. (The hindsight majority within each
class of the test clips would not do: with a few test clips per class it is inflated, two
even values over 6 clips giving 66 % on average.) It is NaN where no class qualifies (an
attribute constant within every class, and the class row itself).

Determinism: nothing is sampled (zero start, full batch), so the same arrays give the
same numbers.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from fgsgl.errors import FgsglError
from fgsgl.logistic import accuracy, select_penalty, standardise

MIN_CLIPS = 2  # train clips a value needs to be probed (a probe cannot learn from one)
HELD_OUT = ("test", "val")


class ProbeError(FgsglError):
    """An attribute that cannot be probed on these clips (too few values or clips)."""


@dataclass
class ProbeRow:
    """One attribute on one layer; accuracies are fractions (NaN where undefined)."""

    attribute: str
    layer: str
    n_train: int
    n_test: int
    values: int  # values probed (those with >= MIN_CLIPS train clips)
    accuracy: float  # test
    chance: float  # majority rate on the test clips
    n_val: int
    val_accuracy: float  # val picked the penalty among five
    val_chance: float
    penalty: float
    dropped: int  # clips (all splits) of values with fewer than MIN_CLIPS train clips
    within_classes: int
    within_n_train: int
    within_n_test: int
    within_accuracy: float
    within_chance: float  # the class alone: its most common train value

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


COLUMNS = tuple(ProbeRow.__dataclass_fields__)


def _present(values: np.ndarray) -> np.ndarray:
    """Which cells hold a value (not None, NaN, NA or empty text)."""
    return np.array([not pd.isna(v) and str(v).strip() != "" for v in values], dtype=bool)


def majority_rate(values: np.ndarray) -> float:
    """The share of the most common value; NaN for no values."""
    if len(values) == 0:
        return float("nan")
    return Counter(values.tolist()).most_common(1)[0][1] / len(values)


def most_common(values: np.ndarray) -> str:
    """The most common value; ties go to the first in sorted order (deterministic)."""
    counts = Counter(values.tolist())
    return min(counts, key=lambda v: (-counts[v], v))


def class_prior_rate(
    train_values: np.ndarray, train_classes: np.ndarray, values: np.ndarray, classes: np.ndarray
) -> float:
    """The accuracy of guessing each clip its class's most common train value."""
    if len(values) == 0:
        return float("nan")
    guess = {c: most_common(train_values[train_classes == c]) for c in np.unique(train_classes)}
    return float(np.mean([guess.get(c) == v for v, c in zip(values, classes, strict=True)]))


@dataclass
class Target:
    """One attribute ready to probe: the clips probed (`keep`, over all clips given), their
    values, splits and classes, the values probed, and those left out (value -> clips)."""

    attribute: str
    keep: np.ndarray  # (N,) bool
    values: np.ndarray  # (n,) str, the kept clips'
    split: np.ndarray  # (n,)
    labels: np.ndarray | None  # (n,) classes, for the within-class probe
    vocab: list[str]
    dropped: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        attribute: str,
        values: np.ndarray,
        split: np.ndarray,
        labels: np.ndarray | None = None,
    ) -> Target:
        """The clips of `values` (one per clip, empty = not applicable) to probe; ProbeError
        when fewer than 2 values have MIN_CLIPS train clips, or no val clip is left."""
        values, split = np.asarray(values, dtype=object), np.asarray(split, dtype=object)
        if len(values) != len(split):
            raise ValueError(f"{len(values)} values, {len(split)} splits")
        present = _present(values) & np.isin(split, ("train", *HELD_OUT))
        text = np.where(present, values.astype(str), "")
        counts = Counter(text[present & (split == "train")].tolist())
        vocab = sorted(v for v, n in counts.items() if n >= MIN_CLIPS)
        if len(vocab) < 2:
            shown = ", ".join(f"{v!r} ({n})" for v, n in counts.most_common(5)) or "none"
            raise ProbeError(
                f"{attribute}: {len(vocab)} value(s) with at least {MIN_CLIPS} train clips "
                f"(train clips by value: {shown}{' ...' if len(counts) > 5 else ''}); a "
                "probe needs 2"
            )
        keep = present & np.isin(text, vocab)
        dropped = dict(sorted(Counter(text[present & ~keep].tolist()).items()))
        if not (keep & (split == "val")).any():
            raise ProbeError(f"{attribute}: no val clip has a value (val chooses the penalty)")
        c = None if labels is None else np.asarray(labels)[keep]
        return cls(
            attribute, keep, text[keep], split[keep], c, vocab, dict(sorted(dropped.items()))
        )

    def codes(self, vocab: list[str], values: np.ndarray) -> np.ndarray:
        """Indices into `vocab`; -1 for a value not in it (never predicted: wrong)."""
        code = {name: i for i, name in enumerate(vocab)}
        return np.array([code.get(name, -1) for name in values])


def _fit(
    x: np.ndarray, y: np.ndarray, split: np.ndarray, classes: int, extra: np.ndarray | None
) -> tuple[float, dict[str, float]]:
    """(penalty, {split: accuracy}) of a probe fitted on the train rows."""
    train = split == "train"
    _, x = standardise(x[train], x)
    if extra is not None:
        x = np.concatenate([x, extra], axis=1)
    val = split == "val"
    penalty, model, _ = select_penalty(x[train], y[train], x[val], y[val], classes)
    return penalty, {s: accuracy(x[split == s], y[split == s], model) for s in HELD_OUT}


def probe_attribute(target: Target, layer: str, features: np.ndarray) -> ProbeRow:
    """Probe `target` from `features` (N, D, one row per clip, as the values given to
    Target.of): fitted on train, the penalty chosen on val, scored on test and val; with
    the target's labels also the within-class accuracy (see the module docstring)."""
    if len(features) != len(target.keep):
        raise ValueError(f"{len(features)} feature rows for {len(target.keep)} clips")
    x, v, s = np.asarray(features)[target.keep], target.values, target.split
    penalty, acc = _fit(x, target.codes(target.vocab, v), s, len(target.vocab), None)
    test, val = s == "test", s == "val"
    row = ProbeRow(
        attribute=target.attribute,
        layer=layer,
        n_train=int((s == "train").sum()),
        n_test=int(test.sum()),
        values=len(target.vocab),
        accuracy=acc["test"],
        chance=majority_rate(v[test]),
        n_val=int(val.sum()),
        val_accuracy=acc["val"],
        val_chance=majority_rate(v[val]),
        penalty=penalty,
        dropped=sum(target.dropped.values()),
        within_classes=0,
        within_n_train=0,
        within_n_test=0,
        within_accuracy=float("nan"),
        within_chance=float("nan"),
    )
    if target.labels is not None:
        _within(row, target, x)
    return row


def _within(row: ProbeRow, target: Target, x: np.ndarray) -> None:
    """Fill the within-class fields of `row` (module docstring), in place."""
    v, s, c = target.values, target.split, target.labels
    assert c is not None
    train = s == "train"
    varied = [k for k in np.unique(c[train]) if len(set(v[train & (c == k)])) >= 2]
    rows = np.isin(c, varied)
    if not varied or not (rows & (s == "val")).any():
        return
    x, v, s, c = x[rows], v[rows], s[rows], c[rows]
    train, test = s == "train", s == "test"
    vocab = sorted(set(v[train]))
    onehot = (c[:, None] == np.array(varied)[None, :]).astype(np.float64)
    _, acc = _fit(x, target.codes(vocab, v), s, len(vocab), onehot)
    row.within_classes = len(varied)
    row.within_n_train = int(train.sum())
    row.within_n_test = int(test.sum())
    row.within_accuracy = acc["test"]
    row.within_chance = class_prior_rate(v[train], c[train], v[test], c[test])
