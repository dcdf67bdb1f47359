"""Spotting scored against labelled segments: temporal IoU matching, precision/recall/F1.

The matching rule (written into the report as MATCHING_RULE): within each video and
class, predicted segments are taken in order of falling score, and each is matched to the
still-unmatched labelled segment of the same class with the highest temporal IoU, if that
IoU is at least the threshold. A matched prediction is a true positive; an unmatched
prediction a false positive; an unmatched labelled segment a false negative. Temporal IoU
counts frames: |A ∩ B| / |A ∪ B| over inclusive ranges. Per class: precision TP/(TP+FP),
recall TP/(TP+FN), F1 their harmonic mean; overall: the same over all classes' counts
(micro), beside the mean of the per-class F1 (macro, over classes with labelled segments).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from fgsgl.predict.spotting import Segment

MATCHING_RULE = (
    "per video and class, predictions in order of falling score each take the unmatched "
    "labelled segment of the same class with the highest temporal IoU (frames, inclusive "
    "ranges), if it is >= {iou:g}; matched = true positive, unmatched prediction = false "
    "positive, unmatched labelled segment = false negative"
)


def temporal_iou(a: tuple[int, int], b: tuple[int, int]) -> float:
    """IoU of two inclusive frame ranges."""
    inter = min(a[1], b[1]) - max(a[0], b[0]) + 1
    if inter <= 0:
        return 0.0
    union = (a[1] - a[0] + 1) + (b[1] - b[0] + 1) - inter
    return inter / union


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass(frozen=True)
class Match:
    predicted: Segment
    truth: Segment | None
    iou: float


def match(
    predicted: Iterable[Segment], truth: Iterable[Segment], *, iou: float = 0.5
) -> tuple[list[Match], list[Segment]]:
    """Matches (one per prediction; truth None when unmatched) and the missed truths."""
    groups: dict[tuple[str, int], list[Segment]] = defaultdict(list)
    for t in truth:
        groups[(t.video, t.label)].append(t)
    taken: set[int] = set()
    matches = []
    for p in sorted(predicted, key=lambda s: (-s.score, s.video, s.start)):
        best, best_iou = None, 0.0
        for t in groups.get((p.video, p.label), []):
            if id(t) in taken:
                continue
            value = temporal_iou((p.start, p.end), (t.start, t.end))
            if value > best_iou:
                best, best_iou = t, value
        if best is not None and best_iou >= iou:
            taken.add(id(best))
            matches.append(Match(p, best, best_iou))
        else:
            matches.append(Match(p, None, best_iou))
    missed = [t for ts in groups.values() for t in ts if id(t) not in taken]
    return matches, missed


def score(
    predicted: Sequence[Segment], truth: Sequence[Segment], *, iou: float = 0.5
) -> dict[str, object]:
    """{per_class: {id: Counts}, overall: Counts, macro_f1, rule} of spotting."""
    matches, missed = match(predicted, truth, iou=iou)
    per_class: dict[int, Counts] = defaultdict(Counts)
    for t in truth:
        per_class[t.label]  # every labelled class has a row, found or not
    for m in matches:
        if m.truth is not None:
            per_class[m.predicted.label].tp += 1
        else:
            per_class[m.predicted.label].fp += 1
    for t in missed:
        per_class[t.label].fn += 1
    overall = Counts(
        sum(c.tp for c in per_class.values()),
        sum(c.fp for c in per_class.values()),
        sum(c.fn for c in per_class.values()),
    )
    labelled = {t.label for t in truth}
    macro = sum(per_class[c].f1 for c in labelled) / len(labelled) if labelled else 0.0
    return {
        "per_class": dict(sorted(per_class.items())),
        "overall": overall,
        "macro_f1": macro,
        "rule": MATCHING_RULE.format(iou=iou),
        "matches": matches,
        "missed": missed,
    }
