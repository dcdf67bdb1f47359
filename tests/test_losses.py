"""The three losses against hand computations on small tensors."""

from __future__ import annotations

import math

import pytest
import torch

from fgsgl.losses import classification_loss, fine_grained_loss, prototype_loss


def nll(pos: float, others: list[float]) -> float:
    """-log(e^pos / (e^pos + sum e^others)): one InfoNCE term by hand."""
    return -math.log(math.exp(pos) / (math.exp(pos) + sum(math.exp(o) for o in others)))


def test_classification_loss_is_cross_entropy():
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.5, 0.5, 3.0]])
    labels = torch.tensor([0, 1])
    want = (nll(2.0, [0.0, -1.0]) + nll(0.5, [0.5, 3.0])) / 2
    assert classification_loss(logits, labels).item() == pytest.approx(want, rel=1e-6)


@pytest.mark.parametrize("tau", [0.5, 1.0, 0.07])
def test_prototype_loss_cosine_over_tau_against_all_classes(tau):
    # z scaled differently from the prototypes: only directions count (cosine).
    z = torch.tensor([[3.0, 0.0], [0.0, 2.0]])
    protos = torch.tensor([[1.0, 0.0], [0.0, 5.0], [1.0, 1.0]])
    labels = torch.tensor([0, 2])
    r = 1 / math.sqrt(2)
    # cosines: clip 0 -> [1, 0, r], clip 1 -> [0, 1, r]
    want = (nll(1 / tau, [0, r / tau]) + nll(r / tau, [0, 1 / tau])) / 2
    got = prototype_loss(z, protos, labels, tau)
    assert got.item() == pytest.approx(want, rel=1e-5)


def test_fine_grained_loss_distinct_texts_is_plain_infonce():
    z = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    texts = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    ids = torch.tensor([10, 11, 12])
    tau = 0.5
    r = 1 / math.sqrt(2)
    # cos rows: [1, 0, -1], [0, 1, 0], [r, r, -r]
    want = (
        nll(1 / tau, [0, -1 / tau]) + nll(1 / tau, [0, 0]) + nll(-r / tau, [r / tau, r / tau])
    ) / 3
    assert fine_grained_loss(z, texts, ids, tau).item() == pytest.approx(want, rel=1e-5)


def test_fine_grained_loss_duplicate_texts_are_not_negatives():
    # Clips 0 and 1 share text "a"; clip 2 has text "b". Each clip's candidates are the
    # unique texts {a, b}: clip 0 and 1 do not see the other copy of "a"; clip 2 sees "a" once.
    a, b = [1.0, 0.0], [0.0, 1.0]
    texts = torch.tensor([a, a, b])
    ids = torch.tensor([4, 4, 9])
    z = torch.tensor([[2.0, 1.0], [1.0, 3.0], [1.0, 1.0]])
    tau = 0.2
    cos = [[2 / math.sqrt(5), 1 / math.sqrt(5)], [1 / math.sqrt(10), 3 / math.sqrt(10)]]
    r = 1 / math.sqrt(2)
    want = (
        nll(cos[0][0] / tau, [cos[0][1] / tau])  # clip 0: own a vs b
        + nll(cos[1][0] / tau, [cos[1][1] / tau])  # clip 1: own a vs b
        + nll(r / tau, [r / tau])  # clip 2: own b vs a (once, not twice)
    ) / 3
    got = fine_grained_loss(z, texts, ids, tau)
    assert got.item() == pytest.approx(want, rel=1e-5)


def test_fine_grained_loss_does_not_depend_on_copies_in_the_batch():
    torch.manual_seed(0)
    z, texts, tau = torch.randn(2, 4), torch.randn(2, 4), 0.1
    cos = torch.nn.functional.normalize(z, dim=1) @ torch.nn.functional.normalize(texts, dim=1).T
    cos = (cos / tau).tolist()
    loss0 = nll(cos[0][0], [cos[0][1]])
    loss1 = nll(cos[1][1], [cos[1][0]])
    base = fine_grained_loss(z, texts, torch.tensor([0, 1]), tau)
    assert base.item() == pytest.approx((loss0 + loss1) / 2, rel=1e-5)
    # Three more copies of clip 0 (same features, same text): each copy has clip 0's loss,
    # and clip 1 still sees text 0 once, so it keeps its own loss.
    z5 = torch.cat([z, z[:1].repeat(3, 1)])
    t5 = torch.cat([texts, texts[:1].repeat(3, 1)])
    got = fine_grained_loss(z5, t5, torch.tensor([0, 1, 0, 0, 0]), tau)
    assert got.item() == pytest.approx((4 * loss0 + loss1) / 5, rel=1e-5)
    # A batch of one text only: the own text is the only candidate, loss 0.
    same = fine_grained_loss(z5, t5[:1].repeat(5, 1), torch.zeros(5, dtype=torch.long), tau)
    assert same.item() == pytest.approx(0.0, abs=1e-7)


def test_fine_grained_loss_gradients_are_finite_with_masking():
    z = torch.randn(4, 3, requires_grad=True)
    texts = torch.randn(4, 3)
    ids = torch.tensor([1, 1, 1, 2])
    fine_grained_loss(z, texts, ids, 0.07).backward()
    assert torch.isfinite(z.grad).all()


def test_losses_refuse_a_bad_temperature_and_mismatched_batches():
    z = torch.randn(2, 3)
    with pytest.raises(ValueError, match="tau"):
        prototype_loss(z, torch.randn(4, 3), torch.tensor([0, 1]), 0.0)
    with pytest.raises(ValueError, match="batch sizes"):
        fine_grained_loss(z, torch.randn(3, 3), torch.tensor([0, 1, 2]), 0.1)
