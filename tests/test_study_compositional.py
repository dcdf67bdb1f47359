"""The compositional study's own arithmetic and page: a claim's reading from its paired
difference, the shortcut gap per run, the probe table, the kept hand-written reading."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import pytest
from evaluation_data import correct_on, write_eval

from fgsgl.evaluate.compare import load_runs
from fgsgl.evaluate.paired import paired_per_clip
from fgsgl.pipelines.study_compositional import shortcut_reliance
from fgsgl.pipelines.study_page import CLAIMS, backbone_line, claim_reading, probe_table

write = functools.partial(write_eval, report=False)


def seeds_right(rights: list[int], n: int = 200) -> np.ndarray:
    """(seeds, clips) 1/0 hits: right on the first k clips of each seed."""
    return np.array([[1.0 if i < k else 0.0 for i in range(n)] for k in rights])


def test_a_claim_is_supported_contradicted_or_undecided_by_its_interval() -> None:
    full = seeds_right([120, 122, 121, 119])
    # the ablation is 20 clips (10 points) worse on every seed: full's component helps
    worse = paired_per_clip(full, seeds_right([100, 102, 101, 99]), replicates=300)
    assert worse.mean == pytest.approx(-0.10)
    assert claim_reading(worse) == "**supports** (10.00 points in favour of full)"
    better = paired_per_clip(full, seeds_right([140, 142, 141, 139]), replicates=300)
    assert claim_reading(better) == "**contradicts** (10.00 points in favour of the ablation)"
    noisy = paired_per_clip(full, seeds_right([110, 132, 121, 119]), replicates=300)
    low, high = noisy.interval
    assert low < 0 < high
    assert claim_reading(noisy) == (
        f"cannot decide: no difference found; one of {100 * noisy.mde:.2f} points or more "
        "would have been detected with 80 % power"
    )
    one = paired_per_clip(full[:1], seeds_right([100]), replicates=300)
    assert claim_reading(one) == "cannot decide: one seed, seed noise unknown"
    assert claim_reading(None) == "not run"


def test_every_claim_is_an_ablation_against_full() -> None:
    from fgsgl.pipelines.variants import load_variants

    variants = load_variants()
    assert [c[0] for c in CLAIMS] == ["no_fg_sa", "no_cp_a", "no_ml_co", "class_text"]
    assert all(v in variants for v, _, _ in CLAIMS)


def test_the_shortcut_gap_is_top1_where_the_cue_agrees_minus_elsewhere(tmp_path) -> None:
    labels = [0, 1, 2, 0, 1, 2, 0, 1, 2, 0]
    ids = [f"c{i:03d}" for i in range(10)]
    # clips 0-3 show their own class's cue
    manifest = pd.DataFrame({"clip_id": ids, "shortcut_agrees": [1, 1, 1, 1, 0, 0, 0, 0, 0, 0]})
    write(tmp_path / "a", labels, correct_on(10, 4, labels), variant="full", seed=0)
    write(tmp_path / "b", labels, correct_on(10, 7, labels), variant="full", seed=1)
    runs, _ = load_runs([tmp_path])
    got = shortcut_reliance(sorted(runs, key=lambda r: r.seed), manifest)
    # seed 0: right on clips 0-3: 4/4 where it agrees, 0/6 elsewhere; seed 1: 4/4, 3/6
    assert got["full"]["agrees"] == [1.0, 1.0]
    assert got["full"]["disagrees"] == pytest.approx([0.0, 0.5])
    assert got["full"]["clips"] == [4, 6]


def test_the_probe_table_averages_seeds_and_shows_the_within_class_rate() -> None:
    def row(attribute, layer, acc, within=None, chance=0.5, within_chance=None):
        return {
            "attribute": attribute,
            "layer": layer,
            "accuracy": acc,
            "chance": chance,
            "within_accuracy": within,
            "within_chance": within_chance,
        }

    probes = [
        {"variant": "full", "seed": 0, "rows": [row("initiator", "f_mid", 0.8, 0.7, 0.5, 0.55)]},
        {"variant": "full", "seed": 1, "rows": [row("initiator", "f_mid", 0.6, 0.5, 0.5, 0.55)]},
        {"variant": "no_fg_sa", "seed": 0, "rows": [row("initiator", "f_mid", 0.55)]},
        {"variant": "full", "seed": 0, "rows": [row("class", "fused", 0.9)]},
    ]
    lines = probe_table(probes)
    assert lines[0] == "| attribute | layer | chance (class alone) | full | no_fg_sa |"
    assert lines[2] == "| initiator | f_mid | 50.0 (55.0) | 70.0 (60.0) | 55.0 |"
    assert len(lines) == 3  # the "fused" layer is not one of the probed layers shown


def test_low_shot_classes_no_run_predicts_get_a_sentence_not_a_null(tmp_path) -> None:
    from fgsgl.evaluate.paired import analyse_runs
    from fgsgl.pipelines.study_page import low_shot_section

    labels = [0, 1, 2, 0, 1, 2, 0, 1, 2, 0]
    for seed, right in enumerate((6, 7)):
        for variant in ("full", "no_fg_sa"):
            preds = correct_on(10, right, labels)
            for i in (2, 5, 8):  # class 2's clips: never right
                preds[i] = 0
            write(tmp_path / f"{variant}{seed}", labels, preds, variant=variant, seed=seed)
    runs, _ = load_runs([tmp_path])
    low = analyse_runs(runs, classes=[2], metrics=("top1",), replicates=100)
    assert all(v == 0 for values in low.values.values() for v in values["top1"])
    lines = low_shot_section(low)
    assert lines[0] == "## Paired by seed and clip: top-1 on the low-shot classes"
    assert lines[2].startswith("No run got any of the 3 test clips of the low-shot classes")
    some = analyse_runs(runs, classes=[1], metrics=("top1",), replicates=100)
    assert low_shot_section(some)[0] == lines[0] and "| variant |" in "\n".join(
        low_shot_section(some)
    )


def test_the_page_names_the_backbone_regime_of_its_config(tmp_path) -> None:
    assert backbone_line("cpu-compositional") == (
        "`tiny-clip:image=64,patch=8,width=64`, random init, trained fully (from scratch)"
    )
    assert backbone_line("cpu-compositional-pretrained") == (
        "`clip:build/pretrained/tiny-clip-synthmg`, pretrained, adapted with LoRA "
        "(its tower frozen)"
    )
    own = tmp_path / "own.yaml"
    own.write_text("extends: cpu-compositional\nmodel:\n  backbone: clip:/models/tower\n")
    assert backbone_line(str(own)).startswith("`clip:/models/tower`, pretrained")
