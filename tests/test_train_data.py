"""Clips from the frames artifact as model inputs: normalisation, resize, augmentation,
sampling and loaders, checked against values computed by hand."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from train_fixtures import make_artifacts

from fgsgl.train.data import (
    CROP_SCALE,
    Augmentation,
    ClipDataset,
    ClipTransform,
    EpochSampler,
    draw_augmentation,
    make_loader,
)
from fgsgl.video.frames import FramesArtifact

MEAN, STD = (0.5, 0.4, 0.3), (0.2, 0.25, 0.5)


def test_normalisation_matches_the_formula():
    clip = np.zeros((2, 4, 4, 3), dtype=np.uint8)
    clip[1, 2, 3] = (255, 51, 0)
    x = ClipTransform(4, MEAN, STD)(clip)
    assert x.shape == (2, 3, 4, 4) and x.dtype == torch.float32
    want = [(255 / 255 - 0.5) / 0.2, (51 / 255 - 0.4) / 0.25, (0 - 0.3) / 0.5]
    assert x[1, :, 2, 3].tolist() == pytest.approx(want, abs=1e-6)
    assert x[0, :, 0, 0].tolist() == pytest.approx([-2.5, -1.6, -0.6], abs=1e-6)


def test_resize_to_the_backbone_size_keeps_a_flat_colour():
    clip = np.full((3, 10, 10, 3), (200, 100, 50), dtype=np.uint8)
    for size in (4, 24):  # shrink (antialiased) and enlarge
        x = ClipTransform(size, (0, 0, 0), (1, 1, 1))(clip)
        assert x.shape == (3, 3, size, size)
        assert x[:, 0].mean().item() == pytest.approx(200 / 255, abs=1e-5)
        assert x[:, 2].std().item() < 1e-5


def test_jitter_matches_a_hand_computation():
    rgb = np.array([200.0, 100.0, 40.0])
    clip = np.zeros((1, 2, 2, 3), dtype=np.uint8)
    clip[:] = rgb.astype(np.uint8)
    aug = Augmentation(box=(0, 0, 2, 2), brightness=1.1, contrast=0.8, saturation=1.2)
    x = ClipTransform(2, (0, 0, 0), (1 / 255, 1 / 255, 1 / 255))(clip, aug)
    gray = np.array([0.299, 0.587, 0.114])
    v = np.clip(rgb * 1.1, 0, 255)
    m = v @ gray  # the clip's mean gray: every pixel has the same colour
    v = np.clip((v - m) * 0.8 + m, 0, 255)
    g = v @ gray
    v = np.clip((v - g) * 1.2 + g, 0, 255)
    assert x[0, :, 1, 1].tolist() == pytest.approx(v.tolist(), abs=1e-3)


def test_identity_augmentation_equals_no_augmentation():
    clip = np.random.default_rng(0).integers(0, 256, (2, 8, 8, 3), dtype=np.uint8)
    t = ClipTransform(8, MEAN, STD)
    same = Augmentation(box=(0, 0, 8, 8), brightness=1.0, contrast=1.0, saturation=1.0)
    assert torch.allclose(t(clip, same), t(clip), atol=1e-5)


def test_crops_are_light_and_reproducible():
    for k in range(200):
        aug = draw_augmentation(random.Random(f"0/1/{k}"), 64)
        top, left, h, w = aug.box
        assert top >= 0 and left >= 0 and top + h <= 64 and left + w <= 64
        assert CROP_SCALE[0] * 64 * 64 * 0.95 <= h * w <= 64 * 64
        for f in (aug.brightness, aug.contrast, aug.saturation):
            assert 0.8 <= f <= 1.2
    assert draw_augmentation(random.Random("0/1/5"), 64) == draw_augmentation(
        random.Random("0/1/5"), 64
    )


def test_augmentation_never_mirrors_left_and_right(tmp_path):
    """The initiator (left or right hand) is part of the label: no flips."""
    clip = np.zeros((1, 32, 32, 3), dtype=np.uint8)
    clip[:, 12:20, 2:8] = 255  # a bright mark on the left
    t = ClipTransform(32, (0, 0, 0), (1, 1, 1))
    for k in range(100):
        x = t(clip, draw_augmentation(random.Random(k), 32))[0, 0]
        cols = x.sum(dim=0)
        centre = (cols * torch.arange(32)).sum() / cols.sum()
        assert centre < 12


@pytest.fixture(scope="module")
def artifact(tmp_path_factory):
    frames_dir, _ = make_artifacts(tmp_path_factory.mktemp("data"), size=16, frames=2)
    return FramesArtifact.open(frames_dir)


def _dataset(artifact, augment=True, seed=0):
    positions = np.flatnonzero(artifact.index["split"] == "train")
    return ClipDataset(
        artifact, positions, transform=ClipTransform(16, MEAN, STD), augment=augment, seed=seed
    )


def test_dataset_items_are_the_stored_clips(artifact):
    ds = _dataset(artifact, augment=False)
    x, label, i = ds[5]
    pos = ds.positions[5]
    assert label.item() == artifact.index["label"][pos] and i == 5
    raw = torch.from_numpy(np.array(artifact.array(pos))).permute(0, 3, 1, 2).float() / 255
    want = (raw - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1)
    assert torch.allclose(x, want, atol=1e-5)


def test_augmentation_depends_on_seed_epoch_and_clip_only(artifact):
    ds = _dataset(artifact)
    assert torch.equal(ds[(3, 2)][0], ds[(3, 2)][0])
    assert not torch.equal(ds[(3, 2)][0], ds[(4, 2)][0])
    assert not torch.equal(ds[(3, 2)][0], _dataset(artifact, seed=1)[(3, 2)][0])


def test_sampler_permutes_per_epoch_and_splits_ranks():
    s = EpochSampler(10, shuffle=True, seed=0, pad=True)
    s.set_epoch(1)
    one = [i for _, i in s]
    s.set_epoch(2)
    two = [i for _, i in s]
    assert sorted(one) == sorted(two) == list(range(10)) and one != two
    assert all(e == 2 for e, _ in s)
    ranks = [EpochSampler(10, shuffle=True, seed=0, rank=r, world=3, pad=True) for r in range(3)]
    shares = [[i for _, i in r] for r in ranks]
    assert [len(x) for x in shares] == [4, 4, 4]  # padded to 12: equal steps on every rank
    assert set().union(*shares) == set(range(10))
    val = [EpochSampler(10, shuffle=False, seed=0, rank=r, world=3, pad=False) for r in range(3)]
    assert sorted(i for r in val for _, i in r) == list(range(10))  # each clip counted once


@pytest.mark.slow
def test_batches_do_not_depend_on_the_number_of_workers(artifact):
    def batches(workers):
        loader = make_loader(_dataset(artifact), batch_size=5, train=True, seed=0, workers=workers)
        loader.sampler.set_epoch(3)
        return [b for b in loader]

    alone, pooled = batches(0), batches(2)
    assert len(alone) == len(pooled) == 4  # 24 clips, batch 5, last incomplete batch dropped
    for (xa, ya, ia), (xb, yb, ib) in zip(alone, pooled, strict=True):
        assert torch.equal(xa, xb) and torch.equal(ya, yb) and torch.equal(ia, ib)


class _Tensors(torch.utils.data.Dataset):
    def __len__(self) -> int:
        return 2

    def __getitem__(self, i: int) -> torch.Tensor:
        return torch.full((4,), float(i))


def test_a_temp_dir_too_deep_for_the_workers_sockets_is_refused_not_hung(
    artifact, tmp_path, monkeypatch
):
    """Loader workers hand tensors over Unix sockets under TMPDIR (fgsgl.runtime.workers):
    past 107 bytes a batch is dropped and the parent would wait for ever, so make_loader
    refuses such a temp dir with the way out; workers=0 needs no socket."""
    from fgsgl.errors import FgsglError
    from fgsgl.runtime.workers import LISTENER, SOCKET_PATH_MAX, fits_worker_sockets

    deep = tmp_path / ("d" * (SOCKET_PATH_MAX - len(LISTENER) - len(str(tmp_path))))
    deep.mkdir()
    assert not fits_worker_sockets(deep) and fits_worker_sockets(deep.parent)
    monkeypatch.setattr("tempfile.tempdir", None)
    monkeypatch.setenv("TMPDIR", str(deep))
    # the premise, on a real loader: the batch never arrives
    plain = torch.utils.data.DataLoader(_Tensors(), batch_size=2, num_workers=1, timeout=3)
    with pytest.raises(RuntimeError, match="timed out"):
        next(iter(plain))
    with pytest.raises(FgsglError, match=r"is \d+ bytes long: .*Set TMPDIR .* or data.workers=0"):
        make_loader(_dataset(artifact), batch_size=5, train=True, seed=0, workers=1)
    assert len(list(make_loader(_dataset(artifact), batch_size=5, train=True, seed=0, workers=0)))
