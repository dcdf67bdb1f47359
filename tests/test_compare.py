"""`compare` over evaluation folders written by the real writer: table values, pairing by
clip_id, seed noise in words, the chart, and the refusals."""

from __future__ import annotations

import functools
import io
import json
import math

import pytest
from evaluation_data import correct_on, write_eval
from PIL import Image

from fgsgl.artifacts import read_metadata
from fgsgl.errors import FgsglError
from fgsgl.evaluate.compare import build_comparison, load_runs
from fgsgl.evaluate.compare_report import compare

LABELS = [0, 1, 2, 0, 1, 2, 0, 1, 2, 0]  # 10 clips
# top-1 per run: full 0.8 and 0.6 (mean 0.7, std 0.1414), no_cp_a 0.4 and 0.4
write = functools.partial(write_eval, report=False)  # compare reads only the data files
RUNS = [("full", 0, 8), ("full", 1, 6), ("no_cp_a", 0, 4), ("no_cp_a", 1, 4)]


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    """Four evaluations written once (charts are the slow part); tests only read them."""
    tmp_path = tmp_path_factory.mktemp("compare")
    for variant, seed, right in RUNS:
        write(
            tmp_path / "runs" / f"{variant}-seed{seed}" / "evaluation",
            LABELS,
            correct_on(10, right, LABELS),
            variant=variant,
            seed=seed,
        )
    return tmp_path / "runs"


def test_table_values_match_hand_computation(root) -> None:
    runs, notes = load_runs([root])
    assert notes == []
    c = build_comparison(runs, replicates=500)
    full, ablation = c.variants
    assert (c.reference, full.variant, ablation.variant) == ("full", "full", "no_cp_a")
    assert full.values["top1"] == pytest.approx([0.8, 0.6])
    assert full.mean["top1"] == pytest.approx(0.7)
    assert full.std["top1"] == pytest.approx(math.sqrt(0.02))  # ddof=1
    assert ablation.std["top1"] == pytest.approx(0.0)
    assert ablation.diff["top1"] == pytest.approx(-0.3)
    lo, hi = ablation.ci["top1"]
    assert lo <= -0.3 <= hi and hi < 0  # the shared clips: no_cp_a is right on a subset
    # pooled seed std: sqrt((0.02 + 0) / (1 + 1)) = 0.1; se of the difference of two means
    # of two seeds each: 0.1 * sqrt(1/2 + 1/2) = 0.1; |-0.3| > 2 * 0.1
    assert c.pooled_std["top1"] == pytest.approx(0.1)
    assert ablation.seed_se["top1"] == pytest.approx(0.1)
    assert ablation.verdict["top1"] == "larger than seed noise and test-clip sampling noise"


def test_markdown_has_the_numbers_and_says_it_in_words(root, tmp_path) -> None:
    out = tmp_path / "cmp"
    summary = compare([str(root)], str(out), replicates=500)
    md = (out / "compare.md").read_text()
    assert "| full | 0, 1 | 70.00 ± 14.14 |" in md
    assert "| no_cp_a | 0, 1 | 40.00 ± 0.00 |" in md
    assert "-30.00 [" in md
    assert "It is larger than seed noise (|difference| > 2 × 10.00 points" in md
    assert "data:image/png;base64," in md
    image = Image.open(io.BytesIO((out / "compare.png").read_bytes()))
    assert image.format == "PNG" and image.width > 500
    data = json.loads((out / "compare.json").read_text())
    assert data["variants"]["no_cp_a"]["diff"]["top1"] == pytest.approx(-0.3)
    assert read_metadata(out, "fgsgl.comparison")["reference"] == "full"
    assert summary["report"] == str(out / "compare.md")


def test_without_out_nothing_is_written_and_markdown_is_returned(root) -> None:
    before = sorted(p for p in root.rglob("*"))
    summary = compare([str(root)], replicates=200)
    assert "## Chart" not in summary["markdown"]
    assert "| variant | seeds |" in summary["markdown"]
    assert sorted(p for p in root.rglob("*")) == before


def test_runs_pair_by_clip_id_not_by_row(tmp_path) -> None:
    ids = [f"c{i:03d}" for i in range(10)]
    preds = correct_on(10, 7, LABELS)
    write(tmp_path / "a", LABELS, preds, variant="full", clip_ids=ids)
    order = list(reversed(range(10)))
    write(
        tmp_path / "b",
        [LABELS[i] for i in order],
        [preds[i] for i in order],
        variant="same",
        clip_ids=[ids[i] for i in order],
    )
    c = build_comparison(load_runs([tmp_path / "a", tmp_path / "b"])[0], replicates=300)
    same = c.variants[1]
    assert same.diff["top1"] == 0.0
    assert same.ci["top1"] == (0.0, 0.0)  # paired: identical per clip in every resample


def test_one_seed_per_variant_says_seed_noise_is_unknown(tmp_path) -> None:
    write(tmp_path / "a", LABELS, correct_on(10, 9, LABELS), variant="full", seed=0)
    write(tmp_path / "b", LABELS, correct_on(10, 5, LABELS), variant="no_ml_co", seed=0)
    summary = compare([str(tmp_path)], replicates=200)
    assert summary["variants"]["no_ml_co"]["seed_se"]["top1"] is None
    assert "Seed noise is unknown (one seed per variant)" in summary["markdown"]
    assert "90.00 (1 seed)" in summary["markdown"]


def test_runs_without_variant_are_named_by_path_and_reference_defaults_to_first(
    tmp_path,
) -> None:
    write(tmp_path / "x" / "eval", LABELS, correct_on(10, 9, LABELS))
    write(tmp_path / "y" / "eval", LABELS, correct_on(10, 5, LABELS))
    summary = compare([str(tmp_path / "x" / "eval"), str(tmp_path / "y" / "eval")], replicates=100)
    assert summary["reference"] == "x/eval"
    assert list(summary["variants"]) == ["x/eval", "y/eval"]
    with pytest.raises(FgsglError, match="reference variant 'full' is not among the runs"):
        compare([str(tmp_path)], reference="full", replicates=100)


def test_different_test_sets_are_refused(tmp_path) -> None:
    write(tmp_path / "a", LABELS, LABELS, variant="full")
    write(tmp_path / "b", LABELS[:8], LABELS[:8], variant="no_fg_sa")
    write(tmp_path / "c", LABELS, LABELS, variant="no_cp_a", split="val")
    relabelled = [(x + 1) % 3 for x in LABELS]
    write(tmp_path / "d", relabelled, relabelled, variant="class_text")
    with pytest.raises(FgsglError, match="different test sets") as e:
        compare([str(tmp_path / p) for p in "abcd"])
    problems = e.value.problems
    assert len(problems) == 3
    assert "8 clips, 0 not in the first run, 2 of the first run's missing" in problems[0]
    assert "split 'val'" in problems[1]
    assert "10 clips with another label" in problems[2]


def test_duplicates_counted_once_and_conflicts_refused(root, tmp_path) -> None:
    copy = tmp_path / "copy"
    write(copy, LABELS, correct_on(10, 8, LABELS), variant="full", seed=0)
    runs, notes = load_runs([root, copy])
    assert len(runs) == 4
    assert len(notes) == 1 and "counted once" in notes[0]
    write(copy, LABELS, correct_on(10, 2, LABELS), variant="full", seed=0)
    with pytest.raises(FgsglError, match="ambiguous runs") as e:
        load_runs([root, copy])
    assert "both variant 'full' seed 0" in e.value.problems[0]


def test_prototype_scoring_is_its_own_variant(tmp_path) -> None:
    write(tmp_path / "a", LABELS, correct_on(10, 6, LABELS), variant="full", seed=0)
    write(
        tmp_path / "b",
        LABELS,
        correct_on(10, 7, LABELS),
        variant="full",
        seed=0,
        with_prototypes=0.5,
    )
    runs, _ = load_runs([tmp_path])
    assert [r.variant for r in runs] == ["full", "full+proto0.5"]


def test_bad_paths_are_listed_together(tmp_path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(FgsglError) as e:
        compare([str(tmp_path / "missing"), str(tmp_path / "empty")])
    assert len(e.value.problems) == 2
    assert "does not exist" in e.value.problems[0]
    assert "no evaluation artifact" in e.value.problems[1]
