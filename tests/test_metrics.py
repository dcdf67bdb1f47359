"""Metrics against hand-computed values on fixed predictions (ties, absent classes)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fgsgl.errors import FgsglError
from fgsgl.evaluate.metrics import (
    METRIC_KEYS,
    compute_metrics,
    confusion_matrix,
    headline,
    headline_batch,
    most_confused_pairs,
    top_k,
)

# 6 classes; classes 3, 4, 5 have no clip in the split, class 5 is predicted once.
LABELS = np.array([0, 0, 1, 1, 2, 2])
SCORES = np.array(
    [
        [0.9, 0.1, 0.0, 0.0, 0.0, 0.0],  # -> 0, right
        [0.5, 0.5, 0.0, 0.0, 0.0, 0.0],  # tie 0/1 -> 0 (lower id), right
        [0.5, 0.5, 0.0, 0.0, 0.0, 0.0],  # tie 0/1 -> 0, wrong (label 1)
        [0.1, 0.0, 0.3, 0.4, 0.5, 0.6],  # -> 5, wrong; top-5 = 5 4 3 2 0: label 1 missed
        [0.0, 0.0, 1.0, 0.0, 0.0, 0.0],  # -> 2, right
        [0.2, 0.7, 0.1, 0.1, 0.1, 0.1],  # -> 1, wrong (label 2); top-5 = 1 0 2 3 4
    ]
)


def test_headline_metrics_match_hand_computation() -> None:
    m = compute_metrics(LABELS, SCORES, 6)
    assert m.predictions.tolist() == [0, 0, 0, 5, 2, 1]
    assert m.headline["top1"] == pytest.approx(3 / 6)
    assert m.headline["top5"] == pytest.approx(5 / 6)
    # per class accuracy 1, 0, 1/2 over the three present classes
    assert m.headline["mean_class_acc"] == pytest.approx((1 + 0 + 0.5) / 3)
    # F1 = 2TP/(2TP+FP+FN): class0 4/5, class1 0, class2 2/3, class5 (predicted, absent) 0;
    # classes 3 and 4 neither labelled nor predicted: left out.
    assert m.headline["macro_f1"] == pytest.approx((0.8 + 0 + 2 / 3 + 0) / 4)
    assert list(m.headline) == list(METRIC_KEYS)


def test_confusion_rows_are_true_columns_predicted() -> None:
    m = compute_metrics(LABELS, SCORES, 6)
    expected = np.zeros((6, 6), dtype=int)
    expected[0, 0] = 2
    expected[1, 0] = 1
    expected[1, 5] = 1
    expected[2, 1] = 1
    expected[2, 2] = 1
    np.testing.assert_array_equal(m.confusion, expected)
    np.testing.assert_array_equal(m.support, [2, 2, 2, 0, 0, 0])
    np.testing.assert_array_equal(m.correct, [2, 0, 1, 0, 0, 0])
    acc = m.per_class_accuracy
    np.testing.assert_allclose(acc[:3], [1.0, 0.0, 0.5])
    assert np.isnan(acc[3:]).all()
    f1 = m.per_class_f1
    np.testing.assert_allclose(f1[[0, 1, 2, 5]], [0.8, 0.0, 2 / 3, 0.0])
    assert np.isnan(f1[[3, 4]]).all()


def test_ties_go_to_the_lower_class_id() -> None:
    scores = np.array([[1.0, 3.0, 3.0, 3.0, 0.0, 3.0]])
    assert top_k(scores, 1).tolist() == [[1]]
    assert top_k(scores, 5).tolist() == [[1, 2, 3, 5, 0]]


def test_top_k_beyond_the_number_of_classes_is_top_c() -> None:
    m = compute_metrics(np.array([2, 0]), np.array([[3.0, 2.0, 1.0], [0.0, 1.0, 2.0]]), 3)
    assert m.top5.shape == (2, 3)
    assert m.headline["top5"] == 1.0
    assert m.headline["top1"] == 0.0


def test_most_confused_pairs_order_and_fraction() -> None:
    conf = np.array([[5, 3, 0], [1, 2, 3], [0, 6, 4]])
    pairs = most_confused_pairs(conf, limit=3)
    # equal counts (3): the larger share of its true class first, 3/6 before 3/8
    assert [(p.true, p.predicted, p.count) for p in pairs] == [(2, 1, 6), (1, 2, 3), (0, 1, 3)]
    assert [p.fraction for p in pairs] == pytest.approx([0.6, 0.5, 0.375])
    conf = np.array([[5, 3], [3, 3]])
    pairs = most_confused_pairs(conf)
    assert [(p.true, p.predicted) for p in pairs] == [(1, 0), (0, 1)]


def test_fixed_predictions_pairs() -> None:
    pairs = compute_metrics(LABELS, SCORES, 6).most_confused()
    assert [(p.true, p.predicted, p.count, p.fraction) for p in pairs] == [
        (1, 0, 1, 0.5),
        (1, 5, 1, 0.5),
        (2, 1, 1, 0.5),
    ]


def test_weights_equal_repeating_clips() -> None:
    m = compute_metrics(LABELS, SCORES, 6)
    in_top5 = (m.top5 == LABELS[:, None]).any(axis=1)
    weights = np.array([3, 0, 1, 2, 0, 1])
    repeat = np.repeat(np.arange(6), weights)
    by_weights = headline(LABELS, m.predictions, in_top5, 6, weights)
    by_copies = compute_metrics(LABELS[repeat], SCORES[repeat], 6).headline
    for k in METRIC_KEYS:
        assert by_weights[k] == pytest.approx(by_copies[k]), k


def test_weighted_confusion_counts() -> None:
    conf = confusion_matrix(np.array([0, 1, 1]), np.array([1, 1, 0]), 2, np.array([2.0, 1, 3]))
    np.testing.assert_array_equal(conf, [[0, 2], [3, 1]])


def test_perfect_and_empty() -> None:
    m = compute_metrics(np.array([0, 1]), np.eye(2), 2)
    assert m.headline == {"top1": 1.0, "top5": 1.0, "macro_f1": 1.0, "mean_class_acc": 1.0}
    empty = headline(np.zeros(0, int), np.zeros(0, int), np.zeros(0, bool), 3)
    assert all(math.isnan(v) for v in empty.values())


def test_bad_inputs_are_refused_with_every_problem() -> None:
    scores = np.array([[0.1, np.nan], [0.2, 0.3]])
    with pytest.raises(FgsglError) as e:
        compute_metrics(np.array([0, 4]), scores, 2)
    text = str(e.value)
    assert "labels outside 0..1" in text
    assert "1 scores are NaN" in text
    with pytest.raises(FgsglError, match="expected \\(n, 3\\)"):
        compute_metrics(np.array([0, 1]), np.zeros((2, 2)), 3)


def test_batched_resamples_equal_one_at_a_time() -> None:
    m = compute_metrics(LABELS, SCORES, 6)
    in_top5 = (m.top5 == LABELS[:, None]).any(axis=1)
    weights = np.array([[3, 0, 1, 2, 0, 1], [1, 1, 1, 1, 1, 1], [0, 0, 6, 0, 0, 0]], float)
    batch = headline_batch(LABELS, m.predictions, in_top5, 6, weights)
    for row, w in zip(batch, weights, strict=True):
        single = headline(LABELS, m.predictions, in_top5, 6, w)
        np.testing.assert_allclose(row, [single[k] for k in METRIC_KEYS])
    stacked = confusion_matrix(LABELS, m.predictions, 6, weights)
    np.testing.assert_array_equal(stacked[1], m.confusion)
