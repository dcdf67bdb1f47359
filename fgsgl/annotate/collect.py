"""`fgsgl annotate import`: Label Studio exports in, consensus FG-Text and agreement out.

    OUT/consensus.csv      clip_id,initiator,receiver,direction,motion (for `fgsgl import
                           ... --fg-annotations`), and per attribute A_decided (unanimous,
                           majority, adjudicated, single annotator, derived, disputed) and
                           A_other (the free text of an "other" answer)
    OUT/disagreements.csv  clip_id,attribute,annotator,value of every disputed attribute
                           (`fgsgl annotate export --review` makes a review project of it)
    OUT/agreement.csv      per attribute: Krippendorff's alpha, percent agreement, 95 % CIs
    OUT/raters.csv         each annotator's and the derived suggestions' agreement with the
                           consensus
    OUT/answers.csv        every answer read; OUT/problems.csv what could not be used, by
                           file, task and annotator
    OUT/report.md, OUT/agreement.png   what a person reads

The consensus covers the annotated clips only; the pipeline's attributes step fills the
others from their keypoints (fg_attributes auto) and says per clip which source it used.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from fgsgl.annotate.agreement import against_consensus, agreement
from fgsgl.annotate.consensus import consensus, disagreements
from fgsgl.annotate.exports import read_exports
from fgsgl.annotate.report import write_report
from fgsgl.dataset import load_dataset
from fgsgl.text.templates import ATTRIBUTES

CONSENSUS_CSV = "consensus.csv"
DISAGREEMENTS_CSV = "disagreements.csv"


def import_annotations(
    exports: Sequence[str | Path], out: str | Path, *, dataset: str | Path | None = None
) -> dict[str, Any]:
    """Read `exports`, decide each clip's attributes, measure agreement, write OUT."""
    known = set(load_dataset(dataset).manifest["clip_id"]) if dataset is not None else None
    read = read_exports(list(exports), known)
    decided = consensus(read.answers, read.suggestions)
    disputes = disagreements(read.answers, decided)
    agree = agreement(read.answers)
    raters = against_consensus(read.answers, read.suggestions, decided)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    decided.to_csv(out / CONSENSUS_CSV, index=False)
    disputes.to_csv(out / DISAGREEMENTS_CSV, index=False)
    agree.to_csv(out / "agreement.csv", index=False)
    raters.to_csv(out / "raters.csv", index=False)
    read.answers.to_csv(out / "answers.csv", index=False)
    read.problem_table().to_csv(out / "problems.csv", index=False)
    decisions = {
        a: {str(k): int(v) for k, v in decided[f"{a}_decided"].value_counts().items()}
        for a in ATTRIBUTES
    }
    summary = {
        "out": str(out),
        "tasks": read.tasks,
        "clips": len(decided),
        "annotators": int(read.answers.loc[~read.answers["review"], "annotator"].nunique()),
        "answers": len(read.answers),
        "problems": len(read.problems),
        "disputed": len(disputes.drop_duplicates(["clip_id", "attribute"])),
        "decisions": decisions,
        "alpha": {r.attribute: _round(r.alpha) for r in agree.itertuples()},
    }
    write_report(out, summary, agree, raters, read.answers, decided, read.problem_table())
    return summary


def _round(x: float) -> float | None:
    return None if pd.isna(x) else round(float(x), 3)
