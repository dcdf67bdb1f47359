"""P x K training batches (optim.pk_sampler, fgsgl.train.pk_sampler): the batch shape, one
epoch's coverage and class frequencies, determinism, rank splits, classes with fewer than K
clips, the setting's errors, and a tiny training run (and its resume) that trains on exactly
the sampler's batches."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch
from train_fixtures import TINY_DEMO, make_artifacts

from fgsgl.errors import FgsglError
from fgsgl.settings import load_config
from fgsgl.train import train
from fgsgl.train.artifact import read_history
from fgsgl.train.checkpoint import Checkpointer
from fgsgl.train.config import parse_pk
from fgsgl.train.data import ClipDataset, ClipTransform, EpochSampler, make_loader
from fgsgl.train.pk_sampler import PKSampler, pk_batches
from fgsgl.train.trainer import Trainer
from fgsgl.video.frames import FramesArtifact

TIMING = ("seconds", "samples_per_s")
# 12 classes of 18 clips (SynthMG default's train split), and an unbalanced 16-class split
BALANCED = [c for c in range(12) for _ in range(18)]
UNBALANCED = [c for c, n in enumerate([40] * 11 + [5] * 5) for _ in range(n)]


def _epochs(labels, p, k, epochs, seed=0, world=1, rank=0):
    s = PKSampler(labels, p=p, k=k, seed=seed, world=world, rank=rank)
    out = []
    for e in range(1, epochs + 1):
        s.set_epoch(e)
        out.append(s.batches())
    return out


def _groups(labels, batch, k):
    """The batch as its groups of K: [(class, [clips])]."""
    return [(labels[batch[j]], batch[j : j + k]) for j in range(0, len(batch), k)]


@pytest.mark.parametrize(
    ("labels", "p", "k"),
    [(BALANCED, 4, 2), (BALANCED, 2, 4), (UNBALANCED, 4, 2), (UNBALANCED, 8, 2)],
)
def test_every_batch_is_p_classes_of_k_clips(labels, p, k):
    for batches in _epochs(labels, p, k, 10):
        assert len(batches) == len(labels) // (p * k)  # 216 // 8 = 27, 465 // 8 = 58, ...
        for batch in batches:
            groups = _groups(labels, batch, k)
            assert all(labels[i] == c for c, clips in groups for i in clips)  # blocks of K
            assert len({c for c, _ in groups}) == p  # P distinct classes
            assert all(len(set(clips)) == k for _, clips in groups)  # >= K clips: distinct


def test_one_class_per_batch_deals_every_clip_exactly_once():
    """P = 1, class sizes multiples of K: a class is drawn only while it has clips left,
    so an epoch is a permutation of the split."""
    labels = [0] * 4 + [1] * 6 + [2] * 2
    for batches in _epochs(labels, 1, 2, 5):
        assert sorted(i for b in batches for i in b) == list(range(12))


def test_an_epoch_deals_about_every_clip_once_in_proportion_to_class_size():
    """Measured: 12 x 18 clips, 4 x 2: >= 99.1 % of the dealt clips distinct in each of 20
    epochs. Unbalanced (11 classes of 40, 5 of 5): a class deals whole groups of K, so its
    share is its size rounded up to a multiple of K (40 and 6 of 470), within 5 % on
    average over 40 epochs."""
    for batches in _epochs(BALANCED, 4, 2, 20):
        dealt = [i for b in batches for i in b]
        assert len(set(dealt)) / len(dealt) >= 0.99
    per_class = Counter()
    runs = _epochs(UNBALANCED, 4, 2, 40)
    for batches in runs:
        per_class.update(UNBALANCED[i] for b in batches for i in b)
    groups = {c: -(-n // 2) * 2 for c, n in Counter(UNBALANCED).items()}
    dealt = len(runs[0]) * 8  # 58 batches: 464 clips per epoch
    assert sum(groups.values()) == 470
    for c, n in groups.items():
        assert per_class[c] / len(runs) == pytest.approx(n * dealt / 470, rel=0.05), c


def test_same_seed_and_epoch_same_batches_other_epoch_or_seed_differs():
    a = _epochs(UNBALANCED, 4, 2, 3)
    assert a == _epochs(UNBALANCED, 4, 2, 3)
    assert a[0] != a[1] != a[2]
    assert a[0] != _epochs(UNBALANCED, 4, 2, 1, seed=1)[0]
    s = PKSampler(UNBALANCED, p=4, k=2, seed=0)
    s.set_epoch(2)
    assert [i for _, i in s] == [i for b in a[1] for i in b]
    assert {e for e, _ in s} == {2} and len(s) == len(a[1]) * 8


def test_ranks_take_different_batches_of_one_sequence_the_same_number_each():
    n = 465 // (8 * 3)  # 19 batches per rank
    ranks = [_epochs(UNBALANCED, 4, 2, 2, world=3, rank=r) for r in range(3)]
    alone = _epochs(UNBALANCED, 4, 2, 2)
    for e in range(2):
        shares = [r[e] for r in ranks]
        assert [len(s) for s in shares] == [n, n, n]
        assert [
            len(PKSampler(UNBALANCED, p=4, k=2, seed=0, world=3, rank=r)) for r in range(3)
        ] == [n * 8] * 3
        interleaved = [shares[j % 3][j // 3] for j in range(3 * n)]
        assert interleaved == alone[e][: 3 * n]  # the one-rank run's first batches
        # a clip on two ranks is one the epoch deals twice anyway (its tail, a pass restart)
        dealt = [{i for b in s for i in b} for s in shares]
        counts = Counter(i for b in alone[e][: 3 * n] for i in b)
        repeated = {i for i, c in counts.items() if c > 1}
        assert len(repeated) <= 0.02 * 3 * n * 8
        for a, b in ((0, 1), (0, 2), (1, 2)):
            assert dealt[a] & dealt[b] <= repeated
    # 12 x 18 clips on 3 ranks, epoch 1: no clip dealt twice, the ranks' clips disjoint
    shares = [_epochs(BALANCED, 4, 2, 1, world=3, rank=r)[0] for r in range(3)]
    dealt = [i for s in shares for b in s for i in b]
    assert len(dealt) == len(set(dealt)) == 216


def test_classes_with_fewer_than_k_clips_repeat_their_clips_within_a_group():
    labels = [0] * 10 + [1] + [2, 2]  # class 1: one clip (position 10), class 2: two (11, 12)
    seen = Counter()
    for batches in _epochs(labels, 2, 3, 30):
        for batch in batches:
            for c, clips in _groups(labels, batch, 3):
                seen[c] += 1
                if c == 1:
                    assert clips == [10, 10, 10]
                elif c == 2:
                    assert sorted(Counter(clips).values()) == [1, 2]  # each 1 or 2 times
                else:
                    assert len(set(clips)) == 3
    assert seen[1] > 0 and seen[2] > 0


def test_a_split_smaller_than_one_batch_still_gives_one_full_batch():
    labels = [0, 1, 1]
    (batches,) = _epochs(labels, 2, 2, 1)
    assert len(batches) == 1 and sorted(labels[i] for i in batches[0]) == [0, 0, 1, 1]
    assert len(PKSampler(labels, p=2, k=2, seed=0, world=2)) == 4  # one batch on each rank


def test_more_classes_per_batch_than_the_split_has_is_one_error_naming_the_count():
    with pytest.raises(FgsglError, match=r"needs 4 classes .* of frames/x has 3 \(0, 1, 5\)"):
        PKSampler([0, 1, 5, 5], p=4, k=2, seed=0, where="frames/x")


def test_the_batches_do_not_depend_on_how_many_are_drawn():
    assert pk_batches(UNBALANCED, 4, 2, 10, 3, 7) == pk_batches(UNBALANCED, 4, 2, 40, 3, 7)[:10]


# --- the setting ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "pk"), [("", None), ("4x2", (4, 2)), ("4:2", (4, 2)), (" 2 X 4 ", (2, 4))]
)
def test_setting_forms(text, pk):
    assert parse_pk(text) == pk
    assert load_config(overrides=[f"optim.pk_sampler={text}"]).optim.pk() == pk


def test_setting_in_a_yaml_file_stays_a_string(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("optim:\n  batch_size: 8\n  pk_sampler: 4:2\n")
    assert load_config(path).optim.pk() == (4, 2)  # not YAML 1.1's sexagesimal 242


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        (["optim.pk_sampler=3x3"], "'3x3' makes batches of 9 clips but optim.batch_size is 8"),
        (
            ["optim.pk_sampler=4x2", "optim.batch_size=16"],
            "'4x2' makes batches of 8 clips but "
            "optim.batch_size is 16: P x K must equal optim.batch_size",
        ),
        (["optim.pk_sampler=four"], "'four' is not \"PxK\" (two positive integers"),
        (["optim.pk_sampler=0x8"], "'0x8' is not \"PxK\""),
        (["optim.pk_sampler=2x2x2"], "'2x2x2' is not \"PxK\""),
    ],
)
def test_setting_errors_name_the_key_and_the_rule(sets, message):
    with pytest.raises(FgsglError) as e:
        load_config(overrides=sets)
    assert f"optim.pk_sampler: {message}" in str(e.value)


# --- loaders and training -------------------------------------------------------------------


@pytest.fixture(scope="module")
def arts(tmp_path_factory):
    root = tmp_path_factory.mktemp("pk")
    frames, texts = make_artifacts(root, per_class={"train": 6, "val": 2, "test": 0})
    return {"root": root, "frames": frames, "texts": texts}


def _train_dataset(frames_dir):
    frames = FramesArtifact.open(frames_dir)
    positions = np.flatnonzero(frames.index["split"] == "train")
    transform = ClipTransform(32, (0.5,) * 3, (0.5,) * 3)
    return ClipDataset(frames, positions, transform=transform, augment=False, seed=0)


def test_off_the_loader_is_todays_random_order(arts):
    """No pk: EpochSampler, the permutation seeded by seed * 1_000_003 + epoch, cut into
    batches, the incomplete last one dropped; a val loader ignores pk."""
    ds = _train_dataset(arts["frames"])
    loader = make_loader(ds, batch_size=5, train=True, seed=3, workers=0)
    assert type(loader.sampler) is EpochSampler
    loader.sampler.set_epoch(2)
    order = torch.randperm(24, generator=torch.Generator().manual_seed(3 * 1_000_003 + 2))
    assert [b[2].tolist() for b in loader] == order[:20].view(4, 5).tolist()
    val = make_loader(ds, batch_size=4, train=False, seed=3, workers=0, pk=(2, 2))
    assert type(val.sampler) is EpochSampler and [i for _, i in val.sampler] == list(range(24))


def test_the_loader_cuts_exactly_the_samplers_batches(arts):
    ds = _train_dataset(arts["frames"])
    loader = make_loader(ds, batch_size=4, train=True, seed=0, workers=0, pk=(2, 2))
    loader.sampler.set_epoch(5)
    got = [b[2].tolist() for b in loader]
    assert got == loader.sampler.batches() and len(got) == len(loader) == 6
    with pytest.raises(ValueError, match="P x K = 2 x 2 is not the batch size 8"):
        make_loader(ds, batch_size=8, train=True, seed=0, workers=0, pk=(2, 2))


class _Stop(Exception):
    """Stands for a kill right after epoch 1's checkpoint."""


def test_a_tiny_run_trains_on_the_samplers_batches_and_resumes_to_the_same_history(
    arts, monkeypatch
):
    """One stage with every loss (ml_co off: L_fg from scratch), 2 x 2 batches: every
    forward pass sees the sampler's batches of its epoch; a run stopped after epoch 1's
    checkpoint and rerun ends with the uninterrupted run's history."""
    frames, texts, root = str(arts["frames"]), str(arts["texts"]), arts["root"]
    overrides = TINY_DEMO | {"optim.pk_sampler": "2x2", "ablation.ml_co": False}
    seen: list[tuple[int, list[int], list[int]]] = []
    forward = Trainer.forward_losses

    def recording(self, inputs, labels, idx):
        seen.append((self.train_loader.sampler.epoch, labels.tolist(), idx.tolist()))
        return forward(self, inputs, labels, idx)

    monkeypatch.setattr(Trainer, "forward_losses", recording)
    train(frames, texts, str(root / "reference"), stage=2, overrides=overrides)
    ds = _train_dataset(arts["frames"])
    sampler = PKSampler(ds.labels.tolist(), p=2, k=2, seed=0)
    want = []
    for epoch in (1, 2, 3):  # stage1.epochs + stage2.epochs
        sampler.set_epoch(epoch)
        want += [(epoch, ds.labels[b].tolist(), b) for b in sampler.batches()]
    assert seen == want and len(seen) == 18
    assert all(sorted(Counter(labels).values()) == [2, 2] for _, labels, _ in seen)
    card = (root / "reference" / "README.md").read_text()
    assert "batch 4 (2 classes x 2 clips) x 1," in card

    save = Checkpointer.save

    def save_then_stop(self, state, stepper):
        save(self, state, stepper)
        raise _Stop

    out = root / "stopped"
    with monkeypatch.context() as m:
        m.setattr(Checkpointer, "save", save_then_stop)
        with pytest.raises(_Stop):
            train(frames, texts, str(out), stage=2, overrides=overrides)
    summary = train(frames, texts, str(out), stage=2, overrides=overrides)
    assert summary["resumed_from_epoch"] == 1

    def history(path):
        return [{k: v for k, v in e.items() if k not in TIMING} for e in read_history(path)]

    assert history(out) == history(root / "reference")


def test_too_few_training_classes_stop_the_run_before_any_weight(arts):
    overrides = TINY_DEMO | {"optim.batch_size": 5, "optim.pk_sampler": "5x1"}
    with pytest.raises(FgsglError, match=r"needs 5 classes .* has 4 \(0, 1, 2, 3\)"):
        train(
            str(arts["frames"]),
            str(arts["texts"]),
            str(arts["root"] / "x"),
            stage=1,
            overrides=overrides,
        )
    assert not (arts["root"] / "x").exists()
