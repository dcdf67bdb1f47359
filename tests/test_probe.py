"""Linear probes of the attributes (fgsgl.evaluate.probe, `fgsgl probe`): the probe on
arrays with known answers (an exactly encoded attribute, random features, a class-only
feature, hand-counted chance rates), then the step end to end on a tiny SynthMG with a
model trained here: the rows, the numbers against the manifest's truth, the features
against the model's own heads, determinism, and the refusals."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from train_fixtures import TINY_DEMO

from fgsgl.cli import main
from fgsgl.errors import FgsglError
from fgsgl.evaluate.probe import (
    MIN_CLIPS,
    ProbeError,
    Target,
    class_prior_rate,
    majority_rate,
    probe_attribute,
)
from fgsgl.evaluate.probe_run import COLUMNS, probe
from fgsgl.logistic import fit_logistic, select_penalty, standardise


def _splits(n_train: int, n_val: int, n_test: int) -> np.ndarray:
    return np.array(["train"] * n_train + ["val"] * n_val + ["test"] * n_test, dtype=object)


# --- the probe on arrays ------------------------------------------------------------------


def test_a_feature_that_is_the_attribute_gives_100_percent_and_chance_is_the_majority():
    values = np.array(["a", "a", "b", "b", "a", "b", "a", "b", "b"], dtype=object)
    x = (values == "b").astype(float)[:, None]  # the attribute itself, one column
    row = probe_attribute(Target.of("side", values, _splits(4, 2, 3)), "f_mid", x)
    assert (row.attribute, row.layer, row.values) == ("side", "f_mid", 2)
    assert (row.n_train, row.n_val, row.n_test, row.dropped) == (4, 2, 3, 0)
    assert row.accuracy == 1.0 and row.val_accuracy == 1.0
    assert row.chance == pytest.approx(2 / 3)  # test: a, b, b
    assert row.val_chance == 0.5


def test_random_features_sit_near_chance():
    rng = np.random.default_rng(0)
    split = _splits(300, 150, 300)
    values = np.array(["x", "y", "z"], dtype=object)[np.arange(len(split)) % 3]
    x = rng.normal(size=(len(split), 10))
    row = probe_attribute(Target.of("noise", values, split), "f_high", x)
    assert row.chance == pytest.approx(1 / 3)
    assert abs(row.accuracy - 1 / 3) < 0.08


def test_within_class_separates_knowing_the_class_from_seeing_the_attribute():
    """Side depends on the class (class 0 mostly left, class 1 mostly right, class 2 always
    right): a class-only feature decodes it above chance overall but not within class; a
    side feature decodes it within class too. Counts in every split: class 0 8 L / 2 R,
    class 1 3 L / 7 R, class 2 0 L / 5 R, so guessing each class's train majority (L, R, R)
    scores (8 + 7 + 5) / 25 over all classes and (8 + 7) / 20 over the two in which side
    varies (class 2 is left out of the within-class probe)."""
    per_class = {0: ("L",) * 8 + ("R",) * 2, 1: ("L",) * 3 + ("R",) * 7, 2: ("R",) * 5}
    labels, values, split = [], [], []
    for s in ("train", "val", "test"):
        for c, sides in per_class.items():
            labels += [c] * len(sides)
            values += list(sides)
            split += [s] * len(sides)
    labels, values, split = np.array(labels), np.array(values, dtype=object), np.array(split)
    class_only = np.eye(3)[labels]  # clips of a class are alike: only the class is there
    side = np.concatenate([class_only, (values == "L").astype(float)[:, None]], axis=1)
    target = Target.of("side", values, split, labels)

    knows_class = probe_attribute(target, "class-only", class_only)
    assert knows_class.chance == pytest.approx(14 / 25)  # 11 L, 14 R on test
    assert knows_class.accuracy == pytest.approx(20 / 25)  # the class-wise majority
    assert knows_class.within_classes == 2
    assert (knows_class.within_n_train, knows_class.within_n_test) == (20, 20)
    assert knows_class.within_chance == pytest.approx(15 / 20)
    assert knows_class.within_accuracy == pytest.approx(15 / 20)  # nothing beyond the class

    sees_side = probe_attribute(target, "side", side)
    assert sees_side.accuracy == 1.0 and sees_side.within_accuracy == 1.0
    assert sees_side.within_chance == pytest.approx(15 / 20)


def test_chance_rates_by_hand():
    values = np.array(["a", "a", "b", "b", "b", "a", "c"], dtype=object)
    assert majority_rate(values) == pytest.approx(3 / 7)
    assert np.isnan(majority_rate(values[:0]))
    # the class alone: class 0's train values a, a, b -> a; class 1's b, c, c -> c;
    # class 2's b, a -> a (a tie: the first in sorted order)
    train = np.array(["a", "a", "b", "b", "c", "c", "b", "a"], dtype=object)
    train_classes = np.array([0, 0, 0, 1, 1, 1, 2, 2])
    test = np.array(["a", "b", "c", "c", "b", "a"], dtype=object)
    test_classes = np.array([0, 0, 1, 1, 2, 2])
    assert class_prior_rate(train, train_classes, test, test_classes) == pytest.approx(4 / 6)


def test_empty_cells_and_values_of_fewer_than_two_train_clips_are_left_out():
    values = ["a", "a", "", "b", "b", None, "c", "a", "b", "c", "d", "a", "b"]
    split = ["train"] * 7 + ["val"] * 3 + ["test"] * 3
    x = np.array([0, 0, 5, 1, 1, 5, 2, 0, 1, 2, 3, 0, 1], dtype=float)[:, None]
    target = Target.of("amplitude", np.array(values, dtype=object), np.array(split))
    assert target.vocab == ["a", "b"]
    assert target.dropped == {"c": 2, "d": 1}  # c: 1 train clip (and a val one); d: none
    row = probe_attribute(target, "f_mid", x)
    assert (row.n_train, row.n_val, row.n_test, row.dropped) == (4, 2, 2, 3)
    assert row.accuracy == 1.0 and row.values == 2


def test_attributes_that_cannot_be_probed_say_why():
    split = _splits(4, 2, 2)
    with pytest.raises(ProbeError, match=r"one: 1 value\(s\) with at least 2 train clips"):
        Target.of("one", np.array(["a"] * 8, dtype=object), split)
    rare = np.array(["a", "a", "a", "b", "a", "b", "a", "b"], dtype=object)
    with pytest.raises(
        ProbeError,
        match=rf"1 value\(s\) with at least {MIN_CLIPS} train clips \(train clips by value: "
        r"'a' \(3\), 'b' \(1\)\); a probe needs 2",
    ):
        Target.of("rare", rare, split)
    no_val = np.array(["a", "a", "b", "b", "", "", "a", "b"], dtype=object)
    with pytest.raises(ProbeError, match="no val clip has a value"):
        Target.of("noval", no_val, split)


def test_the_shared_logistic_fit_separates_separable_data_and_is_deterministic():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(60, 4))
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(int)
    xt, xv = standardise(x[:40], x[40:])
    penalty, model, val = select_penalty(xt, y[:40], xv, y[40:], 2)
    assert val >= 0.9
    cold = fit_logistic(xt, y[:40], 2, penalty)  # the same optimum as the warm start's
    np.testing.assert_allclose(model[0], cold[0], atol=1e-4)
    again = fit_logistic(xt, y[:40], 2, penalty)
    np.testing.assert_array_equal(cold[0], again[0])  # and the same bits twice
    np.testing.assert_array_equal(cold[1], again[1])


# --- the step on a tiny SynthMG -----------------------------------------------------------


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """SynthMG (4 classes x 12 clips, 32 px, no nuisance) -> frames (T=4, S=32) -> texts
    -> stage 1 of the demo's tiny training (two epochs)."""
    from fgsgl.synth.generate import SynthConfig, generate
    from fgsgl.text.encode import encode_texts
    from fgsgl.train import train
    from fgsgl.video.extract import extract

    root = tmp_path_factory.mktemp("probe")
    config = SynthConfig(
        classes=4, clips_per_class=12, subjects=4, size=32, frames=8, nuisance=0, subtlety=0
    )
    generate(root / "ds", config, workers=1, progress=False)
    extract(str(root / "ds"), str(root / "frames"), frames=4, size=32, workers=1)
    encode_texts(str(root / "ds"), str(root / "texts"))
    train(
        str(root / "frames"), str(root / "texts"), str(root / "model"), stage=1, overrides=TINY_DEMO
    )
    return root


CANDIDATES = ["class", "initiator", "receiver", "direction", "motion"]
CANDIDATES += ["speed", "amplitude", "pattern", "rest"]  # SynthMG's extra manifest columns


@pytest.mark.slow
def test_the_cli_writes_every_attribute_by_layer_against_the_manifests_truth(trained, capsys):
    out = trained / "probes"
    assert main(["probe", str(trained / "model"), str(trained / "frames"), str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"report: {out}/probes.md" in printed
    rows = pd.read_csv(out / "probes.csv")
    assert rows.columns.tolist() == list(COLUMNS)
    assert rows.columns[:7].tolist() == [
        "attribute", "layer", "n_train", "n_test", "values", "accuracy", "chance",
    ]  # fmt: skip
    summary = json.loads((out / "probes.json").read_text())
    probed = list(dict.fromkeys(rows.attribute))
    # every candidate probed or skipped with a reason; frame numbers and subject never
    assert sorted(probed + list(summary["skipped"])) == sorted(CANDIDATES)
    assert probed[0] == "class" and "class" not in summary["skipped"]
    assert rows.layer.tolist() == ["f_mid", "f_high"] * len(probed)

    m = pd.read_csv(trained / "ds" / "manifest.csv", dtype=str, keep_default_na=False)
    names = pd.read_csv(trained / "ds" / "classes.csv").name.tolist()
    m["class"] = [names[int(v)] for v in m.label]
    train, test = m[m.split == "train"], m[m.split == "test"]
    for attribute in CANDIDATES:
        counts = Counter(v for v in train[attribute] if v.strip())
        kept = {v for v, n in counts.items() if n >= 2}  # the rule, against the truth
        if attribute in summary["skipped"]:
            assert len(kept) < 2, attribute
            continue
        left_out = {v: n for v, n in Counter(m[attribute]).items() if v.strip() and v not in kept}
        assert summary["dropped"].get(attribute, {}) == left_out
        values = test[attribute][test[attribute].isin(kept)]
        for _, r in rows[rows.attribute == attribute].iterrows():
            assert r.n_train == sum(counts[v] for v in kept) and r["values"] == len(kept)
            assert r.n_test == len(values) and r.dropped == sum(left_out.values())
            assert r.chance == pytest.approx(values.value_counts().max() / len(values))
            assert 0.0 <= r.accuracy <= 1.0
    # the class is constant within a class: no within-class number for it
    assert rows[rows.attribute == "class"].within_accuracy.isna().all()
    # initiator (which hand) varies inside every class of SynthMG
    initiator = rows[rows.attribute == "initiator"]
    assert len(initiator) == 2 and (initiator.within_classes == 4).all()
    text = (out / "probes.md").read_text()
    assert "| class | f_mid |" in text and "Within class" in text


@pytest.mark.slow
def test_the_features_are_the_ones_the_heads_read_and_the_numbers_repeat(trained):
    from fgsgl.evaluate.features import clip_features
    from fgsgl.evaluate.predict import predict
    from fgsgl.train import load_model
    from fgsgl.video.frames import FramesArtifact

    art = FramesArtifact.open(trained / "frames")
    model, _ = load_model(trained / "model")
    test = art.clips("test").index.to_numpy()
    features = clip_features(model, art, test, batch_size=5, progress=False)
    assert set(features) == {"f_mid", "f_high"}
    with torch.no_grad():
        logits = model.heads["classifier"](torch.from_numpy(features["f_high"])).numpy()
    np.testing.assert_allclose(logits, predict(model, art, "test").scores, atol=1e-5)

    first = probe(str(trained / "model"), str(trained / "frames"), progress=False)
    again = probe(str(trained / "model"), str(trained / "frames"), batch_size=7, progress=False)
    assert first["rows"] == again["rows"]  # same numbers, whatever the batching


@pytest.mark.slow
def test_bad_inputs_are_refused_before_any_weight_is_read(trained, tmp_path):
    from fgsgl.video.extract import extract

    model, frames = str(trained / "model"), str(trained / "frames")
    other = tmp_path / "frames-16"
    extract(str(trained / "ds"), str(other), frames=4, size=16, workers=1)
    with pytest.raises(FgsglError) as e:
        probe(model, str(other), str(tmp_path / "a"))
    (problem,) = e.value.problems
    assert "other frame settings than the model's" in problem and "size 16" in problem
    assert not (tmp_path / "a").exists()

    with pytest.raises(FgsglError, match=r"not in the frames index .*: hand, side; there are"):
        probe(model, frames, attributes=["class", "hand", "side"])
    # by name, an attribute that cannot be probed is refused: the split is by subject, so no
    # val clip's subject is a train clip's
    with pytest.raises(FgsglError, match="subject: no val clip has a value") as e:
        probe(model, frames, attributes=["class", "subject"])
    assert e.value.message == "cannot probe these attributes"
    m = pd.read_csv(trained / "ds" / "manifest.csv", dtype=str, keep_default_na=False)
    only = probe(model, frames, attributes=["class"], progress=False)
    assert [r["attribute"] for r in only["rows"]] == ["class", "class"]

    changed = tmp_path / "ds"
    shutil.copytree(trained / "ds", changed)
    m.loc[0, "speed"] = "slowly" if m.loc[0, "speed"] == "quickly" else "quickly"
    m.to_csv(changed / "manifest.csv", index=False)
    with pytest.raises(FgsglError, match=r"not the dataset the frames .* were extracted from"):
        probe(model, frames, dataset=str(changed))


def test_clip_mg_gives_its_fused_feature_too_the_one_its_classifier_reads(tmp_path):
    from train_fixtures import make_artifacts

    from fgsgl.evaluate.features import clip_features
    from fgsgl.model import ModelConfig, build_model
    from fgsgl.train.data import ClipTransform, keypoint_inputs
    from fgsgl.video.frames import FramesArtifact

    frames_dir, _ = make_artifacts(tmp_path, size=32, frames=3, keypoints=True)
    art = FramesArtifact.open(frames_dir)
    torch.manual_seed(0)
    backbone = "tiny-clip:image=32,patch=8,width=32,layers=2"
    cfg = ModelConfig(family="clip_mg", backbone=backbone, proj_hidden=16)
    model = build_model(cfg, num_classes=4, text_dim=16).eval()
    test = art.clips("test").index.to_numpy()
    features = clip_features(model, art, test, batch_size=3, progress=False)
    assert list(features) == ["f_mid", "f_high", "fused"]
    assert all(x.shape == (len(test), 32) for x in features.values())
    transform = ClipTransform(model.image_size, model.image_mean, model.image_std)
    pixels = torch.stack([transform(art.array(int(i))) for i in test])
    points = torch.stack([keypoint_inputs(art.keypoints(int(i)), 32) for i in test])
    with torch.no_grad():
        logits = model(pixels, points).logits
        from_fused = model.heads["classifier"](torch.from_numpy(features["fused"]))
        _, f_high = model.backbone(model.images(pixels))
    np.testing.assert_allclose(from_fused.numpy(), logits.numpy(), atol=1e-5)
    np.testing.assert_allclose(
        features["f_high"], f_high.reshape(len(test), 3, -1).mean(dim=1).numpy(), atol=1e-5
    )


def test_the_help_says_what_is_fitted_and_written(capsys):
    with pytest.raises(SystemExit) as e:
        main(["probe", "--help"])
    assert e.value.code == 0
    text = capsys.readouterr().out
    assert "MODEL FRAMES OUT" in text and "probes.csv" in text and "majority rate" in text
