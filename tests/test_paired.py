"""The paired analysis (fgsgl.evaluate.paired) against hand computations and simulations
whose noise is known: per-seed differences and their t interval, the variance components,
the MDE and its scaling, the two-way bootstrap, pairing by seed, group accuracy, and the
section `fgsgl compare` writes."""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest
from evaluation_data import correct_on, write_eval

from fgsgl.errors import FgsglError
from fgsgl.evaluate.compare import load_runs
from fgsgl.evaluate.compare_report import compare, paired_section
from fgsgl.evaluate.paired import Components, analyse_runs, factor, paired_per_clip
from fgsgl.evaluate.quantiles import t_cdf, t_quantile, z_quantile

write = functools.partial(write_eval, report=False)
LABELS = [0, 1, 2, 0, 1, 2, 0, 1, 2, 0]  # 10 clips
# right on the first k clips: full 6, 7, 5 of 10 (seeds 0, 1, 2); no_fg_sa 8, 7, 8, and a
# seed 3 that full did not run
FULL, ABLATION = (6, 7, 5), (8, 7, 8)
T975_2 = 4.302652729911275  # t quantiles from tables (scipy.stats.t.ppf)
Z = 1.959963984540054 + 0.8416212335729143  # z(0.975) + z(0.8)


def hits(right: tuple[int, ...], n: int = 10) -> np.ndarray:
    """(seeds, clips) 1/0: right on the first k clips of each seed."""
    return np.array([[1.0 if i < k else 0.0 for i in range(n)] for k in right])


# By hand, for FULL vs ABLATION (d_si = ablation right - full right on clip i, seed s):
# d_s = 0.2, 0.0, 0.3; mean 1/6; Var_s(d_s) = 0.07 / 3; clip means of d_si: 1/3, 2/3, 2/3 on
# clips 5, 6, 7, else 0.
# V_clip = popvar(clip means) / n = (1/10 - 1/36) / 10 = 13/1800
# W = K/(K-1) mean_s popvar_i(d_si - clip mean_i) / n = 1.5 * (23/450) / 10 = 23/3000
# seed = 0.07/3 - 23/3000 = 47/3000; clip main C = 13/1800 - (23/3000)/3 = 7/1500
# two-way bootstrap variance S_R/K + S_C/n + S_RC/(Kn) = 7/1350 + 13/1800 + 23/13500
V_CLIP, W, SEED, CLIP = 13 / 1800, 23 / 3000, 47 / 3000, 7 / 1500
TWO_WAY = 7 / 1350 + 13 / 1800 + 23 / 13500


def test_t_quantiles_match_tables_and_closed_forms() -> None:
    assert t_quantile(0.975, 1) == pytest.approx(12.706204736174707, rel=1e-9)
    assert t_quantile(0.975, 2) == pytest.approx(T975_2, rel=1e-9)
    assert t_quantile(0.975, 4) == pytest.approx(2.7764451051977987, rel=1e-9)
    assert t_quantile(0.975, 9) == pytest.approx(2.2621571627409915, rel=1e-9)
    assert t_quantile(0.8, 4) == pytest.approx(0.9409645772350382, rel=1e-9)
    assert t_quantile(0.975, 1e9) == pytest.approx(z_quantile(0.975))
    assert t_quantile(0.975, 0) == math.inf
    for p in (0.55, 0.8, 0.9, 0.99):
        assert t_quantile(p, 1) == pytest.approx(math.tan(math.pi * (p - 0.5)), rel=1e-9)
        two = (2 * p - 1) / math.sqrt(2 * p * (1 - p))  # closed form at 2 df
        assert t_quantile(p, 2) == pytest.approx(two, rel=1e-9)
        assert t_quantile(1 - p, 2) == pytest.approx(-two, rel=1e-9)
        assert t_cdf(t_quantile(p, 3.7), 3.7) == pytest.approx(p, abs=1e-10)
    assert factor(math.inf) == pytest.approx(2.8015852, rel=1e-6)
    assert factor(2) == pytest.approx(T975_2 + math.sqrt(1.125), rel=1e-9)


def test_per_seed_differences_and_t_interval_by_hand() -> None:
    d = paired_per_clip(hits(FULL), hits(ABLATION), seeds=[0, 1, 2], replicates=500)
    assert d.per_seed == pytest.approx((0.2, 0.0, 0.3))
    assert d.mean == pytest.approx(1 / 6)
    assert d.sd == pytest.approx(math.sqrt(0.07 / 3))
    half = T975_2 * math.sqrt(0.07 / 3) / math.sqrt(3)
    assert d.seed_t == pytest.approx((1 / 6 - half, 1 / 6 + half))
    assert d.seed_t == pytest.approx((-0.21279, 0.54612), abs=1e-5)


def test_components_two_way_bootstrap_and_mde_by_hand() -> None:
    d = paired_per_clip(hits(FULL), hits(ABLATION), replicates=20000, seed=3)
    c = d.components
    assert (c.seeds, c.clips) == (3, 10)
    # bootstrap estimates of exact bootstrap variances: Monte Carlo error ~1-2 % at 20000
    assert c.clip_measured == pytest.approx(V_CLIP, rel=0.05)
    assert c.seed_by_clip == pytest.approx(W, rel=0.05)
    assert c.seed == pytest.approx(SEED, rel=0.05)
    assert c.clip == pytest.approx(CLIP, rel=0.08)
    assert d.bootstrap_se**2 == pytest.approx(TWO_WAY, rel=0.05)
    # exact on the components the run estimated
    assert c.var_seed == pytest.approx(c.seed / 3)
    assert c.var_clip == pytest.approx(c.seed_by_clip / 3 + c.clip)
    assert d.se**2 == pytest.approx(c.seed / 3 + c.seed_by_clip / 3 + c.clip)
    t_seed, t_clip = (c.seed + c.seed_by_clip) / 3, c.clip
    df = (t_seed + t_clip) ** 2 / (t_seed**2 / 2 + t_clip**2 / 9)
    assert d.df == pytest.approx(df)
    assert df == pytest.approx(4.74, abs=0.3)  # with the hand values: 4.741
    assert d.mde_normal == pytest.approx(Z * d.se)
    assert d.mde == pytest.approx((t_quantile(0.975, df) + t_quantile(0.8, df)) * d.se)
    half = t_quantile(0.975, df) * d.se
    assert d.interval == pytest.approx((d.mean - half, d.mean + half))
    assert d.verdict == "null"  # 1/6 +- 0.30 includes 0


def test_mde_scales_with_seeds_and_clips() -> None:
    c = Components(seeds=3, clips=2400, seed=1e-4, seed_by_clip=4e-5, clip=5e-6, clip_measured=0)
    assert c.variance() == pytest.approx(1.4e-4 / 3 + 5e-6)
    assert c.variance(6) == pytest.approx(1.4e-4 / 6 + 5e-6)
    # 4x the clips: the clip parts (seed_by_clip and clip) shrink 4x, the seed part does not
    assert c.variance(3, 9600) == pytest.approx(1e-4 / 3 + (4e-5 / 3 + 5e-6) / 4)
    assert c.mde(6, t=False) == pytest.approx(Z * math.sqrt(1.4e-4 / 6 + 5e-6))
    # normal: Z^2 (1.4e-4 / K + 5e-6) <= 0.02^2  <=>  K >= 3.046
    assert c.seeds_needed(0.02, t=False) == 4
    need = c.seeds_needed(0.02)  # t quantiles: a few more seeds
    assert need is not None and need > 4
    assert c.mde(need) <= 0.02 < c.mde(need - 1)
    # the clip part alone: Z sqrt(5e-6) = 0.0063 > 0.005, no number of seeds gets there
    assert c.seeds_needed(0.005, t=False) is None
    assert c.seeds_needed(0.005, clips=24000, t=False) is not None
    # the t MDE exceeds the normal one, most at few seeds, and meets it as seeds grow
    ratios = [c.mde(k) / c.mde(k, t=False) for k in (2, 3, 10, 1000)]
    assert ratios == sorted(ratios, reverse=True)
    assert ratios[0] > 1.5 and ratios[-1] == pytest.approx(1.0, abs=0.01)


def test_components_recover_known_seed_and_clip_noise() -> None:
    """20 seeds x 2000 clips of d_si = mu + a_s + b_i + e_si with known variances."""
    rng = np.random.default_rng(0)
    k, n, sa, sb, se = 20, 2000, 0.03, 0.15, 0.2
    a, b = rng.normal(0, sa, k), rng.normal(0, sb, n)
    e = rng.normal(0, se, (k, n))
    d = 0.01 + a[:, None] + b[None, :] + e
    result = paired_per_clip(np.zeros((k, n)), d, replicates=2000, seed=1)
    c = result.components
    assert c.seed_by_clip == pytest.approx(se**2 / n, rel=0.05)
    assert c.clip == pytest.approx(np.var(b, ddof=1) / n, rel=0.10)
    assert c.seed == pytest.approx(np.var(a, ddof=1), rel=0.25)
    true_var = np.var(a, ddof=1) / k + np.var(b, ddof=1) / n + se**2 / (k * n)
    assert result.se**2 == pytest.approx(true_var, rel=0.2)
    # the two-way bootstrap's variance is S_R/K + S_C/n + S_RC/(Kn), exactly in expectation
    rows, cols = d.mean(axis=1), d.mean(axis=0)
    resid = d - rows[:, None] - cols[None, :] + d.mean()
    two_way = np.var(rows) / k + np.var(cols) / n + np.mean(resid**2) / (k * n)
    assert result.bootstrap_se**2 == pytest.approx(two_way, rel=0.1)
    assert result.verdict == "null" or result.interval[0] > 0  # true mean 0.01


def test_headline_se_and_interval_are_calibrated_over_repeated_studies() -> None:
    """300 simulated studies (4 seeds x 300 clips): the estimated SE matches the spread of
    the estimate, and the headline interval covers the true difference ~95 % of the time."""
    rng = np.random.default_rng(5)
    k, n, sa, sb, se = 4, 300, 0.03, 0.3, 0.5
    estimates, variances, covered = [], [], 0
    for i in range(300):
        a, b = rng.normal(0, sa, k), rng.normal(0, sb, n)
        d = a[:, None] + b[None, :] + rng.normal(0, se, (k, n))
        r = paired_per_clip(np.zeros((k, n)), d, replicates=200, seed=i)
        estimates.append(r.mean)
        variances.append(r.se**2)
        covered += r.interval[0] <= 0 <= r.interval[1]
    true_var = sa**2 / k + sb**2 / n + se**2 / (k * n)
    assert np.var(estimates) == pytest.approx(true_var, rel=0.2)
    assert np.mean(variances) == pytest.approx(true_var, rel=0.1)
    assert 0.91 <= covered / 300 <= 0.99


def test_bootstrap_is_deterministic_for_a_seed() -> None:
    one = paired_per_clip(hits(FULL), hits(ABLATION), replicates=300, seed=7)
    again = paired_per_clip(hits(FULL), hits(ABLATION), replicates=300, seed=7)
    other = paired_per_clip(hits(FULL), hits(ABLATION), replicates=300, seed=8)
    assert one == again
    assert other.per_seed == one.per_seed and other.seed_t == one.seed_t
    assert other.bootstrap_se != one.bootstrap_se


def test_one_seed_has_no_seed_noise() -> None:
    d = paired_per_clip(hits((6,)), hits((8,)), replicates=200)
    assert d.mean == pytest.approx(0.2)
    assert d.verdict == "one seed"
    assert math.isnan(d.sd) and math.isnan(d.mde) and math.isnan(d.interval[0])
    assert d.components.clip_measured > 0
    assert d.components.seeds_needed(0.02) is None


def test_bad_arrays_are_refused() -> None:
    with pytest.raises(FgsglError, match=r"got \(3, 10\) and \(2, 10\)"):
        paired_per_clip(hits(FULL), hits((8, 7)))


@pytest.fixture(scope="module")
def runs_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("paired")
    for variant, rights in (("full", FULL), ("no_fg_sa", (*ABLATION, 9))):
        for seed, right in enumerate(rights):
            write(
                root / f"{variant}-seed{seed}",
                LABELS,
                correct_on(10, right, LABELS),
                variant=variant,
                seed=seed,
            )
    write(root / "clip_mg", LABELS, correct_on(10, 9, LABELS), variant="clip_mg")  # no seed
    return root


def test_runs_pair_by_seed_and_unpaired_seeds_are_left_out(runs_root) -> None:
    runs, _ = load_runs([runs_root])
    a = analyse_runs(runs, metrics=("top1",), replicates=500)
    assert list(a.values) == ["full", "clip_mg", "no_fg_sa"]  # reference first, then by path
    assert a.seeds["no_fg_sa"] == [0, 1, 2, 3]
    assert a.values["no_fg_sa"]["top1"] == pytest.approx([0.8, 0.7, 0.8, 0.9])
    d = a.differences["no_fg_sa"]["top1"]
    assert d.seeds == (0, 1, 2)
    assert d.per_seed == pytest.approx((0.2, 0.0, 0.3))  # seed 3 (0.9) is not in the mean
    assert d.seed_t == pytest.approx((-0.21279, 0.54612), abs=1e-5)
    assert "clip_mg" not in a.differences
    assert a.notes == [
        "clip_mg: no run with a seed; not paired",
        "no_fg_sa vs full: left out of the pairing: seeds only no_fg_sa ran: 3",
    ]
    # the plain-array path on the same numbers gives the same result
    same = paired_per_clip(hits(FULL), hits(ABLATION), seeds=[0, 1, 2], replicates=500)
    assert d.components == same.components
    assert d.bootstrap == same.bootstrap


def test_group_accuracy_on_chosen_classes(runs_root) -> None:
    runs, _ = load_runs([runs_root])
    a = analyse_runs(runs, classes=[1], metrics=("top1",), replicates=500)
    # class 1 is clips 1, 4, 7: full right on the first 6 / 7 / 5 clips -> 2/3 each;
    # no_fg_sa right on 8 / 7 / 8 -> 1, 2/3, 1
    assert (a.clips, a.classes, a.class_names) == (3, (1,), ["touching neck"])
    assert a.values["full"]["top1"] == pytest.approx([2 / 3, 2 / 3, 2 / 3])
    d = a.differences["no_fg_sa"]["top1"]
    assert d.per_seed == pytest.approx((1 / 3, 0, 1 / 3))
    assert d.mean == pytest.approx(2 / 9)
    section = "\n".join(paired_section(a, title="Low-shot classes"))
    assert "## Low-shot classes" in section
    assert "the 3 test clips of classes 1 touching neck" in section
    with pytest.raises(FgsglError, match=r"group classes \[3\] are not class ids"):
        analyse_runs(runs, classes=[1, 3])
    with pytest.raises(FgsglError, match="unknown metrics"):
        analyse_runs(runs, metrics=("top3",))


def test_group_without_clips_is_refused(tmp_path) -> None:
    write(tmp_path / "a", [0, 1, 0], [0, 1, 0], variant="full", seed=0)
    runs, _ = load_runs([tmp_path])
    with pytest.raises(FgsglError, match=r"no test clip of classes \[2\]"):
        analyse_runs(runs, classes=[2])


def test_compare_writes_the_paired_section(runs_root) -> None:
    summary = compare([str(runs_root)], replicates=500)
    md = summary["markdown"]
    assert "## Paired by seed and clip: top-1" in md
    row = next(line for line in md.splitlines() if line.startswith("| no_fg_sa | 0, 1, 2 |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[2] == "80.00 ± 8.16"  # all four seeds of no_fg_sa
    assert cells[3] == "+16.67"  # the paired seeds only
    assert cells[5] == "[-21.28, +54.61]"  # seed-paired t
    assert cells[9].startswith("null (MDE ")
    assert "| full | 0, 1, 2 | 60.00 ± 10.00 | — |" in md
    assert "seeds only no_fg_sa ran: 3" in md
    paired = summary["paired"]["differences"]["no_fg_sa"]
    assert paired["top1"]["per_seed"] == pytest.approx([0.2, 0.0, 0.3])
    assert set(paired) == {"top1", "top5", "macro_f1", "mean_class_acc"}
    assert summary["paired"]["headline"].startswith("seeds+clips interval and MDE")


def test_compare_without_seed_pairs_has_no_paired_section(tmp_path) -> None:
    write(tmp_path / "a", LABELS, correct_on(10, 9, LABELS), variant="full", seed=0)
    write(tmp_path / "b", LABELS, correct_on(10, 5, LABELS), variant="no_ml_co", seed=0)
    summary = compare([str(tmp_path)], replicates=200)
    assert "## Paired by seed and clip" not in summary["markdown"]
    one = summary["paired"]["differences"]["no_ml_co"]["top1"]
    assert one["verdict"] == "one seed" and one["mde"] is None
    assert one["mean"] == pytest.approx(-0.4)
