"""Clips from the frames artifact as model inputs: memory-mapped, never decoded again.

Each item is one clip's T frames, cropped, resized to the backbone's image size and
normalised with the backbone's mean and std. Training adds light augmentation, the same for
every frame of a clip: a random resized crop and colour jitter. No horizontal flip: which
hand moves (the initiator) is part of what the label and the fine-grained text mean.

Every random choice is derived from (seed, epoch, clip position), not from a worker's RNG:
the batches are the same for any number of workers and after a resume, so a resumed run
equals an uninterrupted one. The sampler hands the epoch to the dataset with each index,
which keeps that true with persistent workers.

For a model family that reads the pose (CLIP-MG), an item also carries the clip's
keypoints, cropped like its pixels and scaled to [-1, 1] over the frame the model sees
(`keypoint_inputs`); `check_keypoints` refuses clips that have none before training starts.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset, Sampler

from fgsgl.errors import FgsglError
from fgsgl.runtime.workers import require_worker_sockets
from fgsgl.train.pk_sampler import PKSampler

# Light augmentation: keep most of the frame (the gesture's target can be near an edge)
# and the aspect ratio near 1; colour changes within +-20%.
CROP_SCALE = (0.8, 1.0)
CROP_RATIO = (3 / 4, 4 / 3)
JITTER = 0.2
_GRAY = (0.299, 0.587, 0.114)  # ITU-R 601 luma, as torchvision's rgb_to_grayscale


@dataclass(frozen=True)
class Augmentation:
    """One clip's random choices: a crop box (top, left, height, width) and colour factors."""

    box: tuple[int, int, int, int]
    brightness: float
    contrast: float
    saturation: float


def draw_augmentation(rng: random.Random, size: int) -> Augmentation:
    """A random resized crop box (torchvision's algorithm) and jitter factors."""
    area = size * size
    box = (0, 0, size, size)
    for _ in range(10):
        target = area * rng.uniform(*CROP_SCALE)
        ratio = math.exp(rng.uniform(math.log(CROP_RATIO[0]), math.log(CROP_RATIO[1])))
        w = round(math.sqrt(target * ratio))
        h = round(math.sqrt(target / ratio))
        if 0 < w <= size and 0 < h <= size:
            box = (rng.randint(0, size - h), rng.randint(0, size - w), h, w)
            break
    factors = [rng.uniform(1 - JITTER, 1 + JITTER) for _ in range(3)]
    return Augmentation(box, *factors)


class ClipTransform:
    """uint8 (T, S, S, 3) -> float32 (T, 3, H, W): crop, resize, jitter, normalise."""

    def __init__(self, image_size: int, mean: Sequence[float], std: Sequence[float]) -> None:
        self.image_size = image_size
        # normalise((x / 255 - mean) / std) as one multiply-add per channel
        std_t = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1)
        mean_t = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)
        self.scale = 1.0 / (255.0 * std_t)
        self.shift = -mean_t / std_t

    def __call__(self, clip: np.ndarray, aug: Augmentation | None = None) -> torch.Tensor:
        if aug is not None:
            top, left, h, w = aug.box
            clip = clip[:, top : top + h, left : left + w]
        # one copy out of the read-only memory map (of the cropped pixels only), then a
        # channels-last uint8 view: torch's antialiased uint8 resize is several times
        # faster than resizing floats, and everything after runs at the model's size
        x = torch.from_numpy(np.array(clip, dtype=np.uint8)).permute(0, 3, 1, 2)
        size = self.image_size
        if x.shape[-2:] != (size, size):
            x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True)
        x = x.to(torch.float32, memory_format=torch.contiguous_format)
        if aug is not None:
            x = self._jitter(x, aug)
        return x.mul_(self.scale).add_(self.shift)

    def _jitter(self, x: torch.Tensor, aug: Augmentation) -> torch.Tensor:
        """torchvision's brightness, contrast, saturation (in that order), one set per clip;
        each a blend with a grey image, done in place.

        Every value must not depend on torch's thread count (loader workers run with one
        thread, the main process with several): the grey image is an elementwise weighted
        sum in a fixed order, and the per-frame mean is summed in float64, whose rounding
        differences between summation orders vanish in the float32 result."""
        x = x.mul_(aug.brightness).clamp_(0, 255)
        mean = self._grey(x).double().mean(dim=(1, 2, 3), keepdim=True).float()  # per frame
        x = x.mul_(aug.contrast).add_(mean, alpha=1 - aug.contrast).clamp_(0, 255)
        grey = self._grey(x)
        return x.mul_(aug.saturation).add_(grey, alpha=1 - aug.saturation).clamp_(0, 255)

    def _grey(self, x: torch.Tensor) -> torch.Tensor:
        r, g, b = _GRAY
        return x[:, 0:1] * r + x[:, 1:2] * g + x[:, 2:3] * b


def keypoint_inputs(
    points: np.ndarray, size: int, box: tuple[int, int, int, int] | None = None
) -> torch.Tensor:
    """Stored keypoints (T, J, 3) (x, y in the S x S frame's pixel-index coordinates,
    confidence) -> float32 (T, J, 3) with x, y in [-1, 1] over the crop `box` (top, left,
    height, width; None = the whole frame), i.e. over the image the model sees. Absent
    joints (confidence 0) get x = y = 0; joints outside the crop keep their coordinates."""
    top, left, h, w = box or (0, 0, size, size)
    p = torch.from_numpy(np.array(points, dtype=np.float32))
    x = (p[..., 0] + 0.5 - left) * (2.0 / w) - 1.0  # pixel centres at integers
    y = (p[..., 1] + 0.5 - top) * (2.0 / h) - 1.0
    present = p[..., 2] > 0
    zero = torch.zeros_like(x)
    return torch.stack([x.where(present, zero), y.where(present, zero), p[..., 2]], dim=-1)


def missing_keypoints(frames, positions: Sequence[int]) -> list[str]:
    """Clip ids among `positions` without keypoints: the frames artifact holds none, or the
    clip's are absent in every frame (confidence 0: how the artifact stores a clip that
    had no keypoints file)."""
    ids = frames.index["clip_id"].astype(str).to_numpy()
    if not frames.has_keypoints:
        return [ids[p] for p in positions]
    return [ids[p] for p in positions if not (frames.keypoints(int(p))[..., 2] > 0).any()]


def check_keypoints(frames, positions: Sequence[int], who: str) -> None:
    """One clear error naming the clips of `positions` that have no keypoints."""
    missing = missing_keypoints(frames, positions)
    if not missing:
        return
    shown = ", ".join(missing[:10]) + (" ..." if len(missing) > 10 else "")
    if not frames.has_keypoints:
        why = (
            f"{frames.root} has no keypoints at all: the dataset's manifest has no keypoints "
            "column (SynthMG: `fgsgl synth --keypoints`; other datasets: a keypoints column "
            "naming each clip's .npy file), then extract the frames again"
        )
    else:
        why = f"{len(missing)} clip(s) of {frames.root} have no keypoints: {shown}"
    raise FgsglError(f"{who} needs per-frame keypoints for every clip", [why])


class ClipDataset(Dataset):
    """The clips at `positions` (rows of the frames index) of one split.

    An item is `(pixel_values (T, 3, H, W), label, i)`, i being the position in this
    dataset (the trainer maps it to the clip's text row); with `keypoints=True` it is
    `(pixel_values, label, i, keypoints (T, J, 3))` (see `keypoint_inputs`). Keys are
    `(epoch, i)` pairs from EpochSampler, or plain ints (epoch 0).
    """

    def __init__(
        self,
        frames,  # fgsgl.video.frames.FramesArtifact
        positions: Sequence[int],
        *,
        transform: ClipTransform,
        augment: bool,
        seed: int,
        keypoints: bool = False,
    ) -> None:
        self.frames = frames
        self.positions = np.asarray(positions, dtype=np.int64)
        labels = frames.index["label"].to_numpy()[self.positions]
        self.labels = torch.as_tensor(labels, dtype=torch.long)
        self.transform = transform
        self.augment = augment
        self.seed = seed
        self.keypoints = keypoints

    def __len__(self) -> int:
        return len(self.positions)

    def __getitem__(self, key: int | tuple[int, int]) -> tuple:
        epoch, i = key if isinstance(key, tuple) else (0, key)
        position = int(self.positions[i])
        clip = self.frames.array(position)
        aug = None
        if self.augment:
            rng = random.Random(f"{self.seed}/{epoch}/{i}")
            aug = draw_augmentation(rng, clip.shape[1])
        item = (self.transform(clip, aug), self.labels[i], i)
        if not self.keypoints:
            return item
        box = None if aug is None else aug.box
        return (*item, keypoint_inputs(self.frames.keypoints(position), clip.shape[1], box))


def split_batch(
    batch: Sequence[torch.Tensor],
) -> tuple[tuple[torch.Tensor, ...], torch.Tensor, torch.Tensor]:
    """A loader batch -> (model inputs, labels, positions); the inputs are (pixels,) or
    (pixels, keypoints), in the order the model's forward takes them."""
    pixels, labels, idx, *extra = batch
    return (pixels, *extra), labels, idx


class EpochSampler(Sampler):
    """Yields `(epoch, i)`: a permutation seeded by (seed, epoch), this rank's share of it.

    With several ranks (DeepSpeed), the training order is padded to a multiple of the world
    size so that every rank takes the same number of steps; validation is not padded (each
    clip counted once, counts summed across ranks).
    """

    def __init__(
        self, n: int, *, shuffle: bool, seed: int, rank: int = 0, world: int = 1, pad: bool
    ) -> None:
        self.n, self.shuffle, self.seed = n, shuffle, seed
        self.rank, self.world, self.pad = rank, world, pad
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _order(self) -> list[int]:
        if not self.shuffle:
            order = list(range(self.n))
        else:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
            order = torch.randperm(self.n, generator=g).tolist()
        if self.pad and self.world > 1 and self.n % self.world:
            order += order[: self.world - self.n % self.world]
        return order[self.rank :: self.world]

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return iter([(self.epoch, i) for i in self._order()])

    def __len__(self) -> int:
        return len(self._order())


def make_loader(
    dataset: ClipDataset,
    *,
    batch_size: int,
    train: bool,
    seed: int,
    workers: int,
    rank: int = 0,
    world: int = 1,
    pin_memory: bool = False,
    pk: tuple[int, int] | None = None,
    where: str = "the training data",
) -> DataLoader:
    """Training: shuffled, padded across ranks, incomplete last batch dropped (unless the
    split is smaller than one batch); with `pk` (P, K), P x K batches instead
    (fgsgl.train.pk_sampler; `where` names the data in its errors). Validation: in order,
    every clip once."""
    require_worker_sockets(workers)
    sampler: Sampler
    if pk is not None and train:
        if pk[0] * pk[1] != batch_size:
            raise ValueError(f"P x K = {pk[0]} x {pk[1]} is not the batch size {batch_size}")
        sampler = PKSampler(
            dataset.labels.tolist(),
            p=pk[0],
            k=pk[1],
            seed=seed,
            rank=rank,
            world=world,
            where=where,
        )
    else:
        sampler = EpochSampler(
            len(dataset), shuffle=train, seed=seed, rank=rank, world=world, pad=train
        )
    drop_last = train and len(sampler) >= batch_size
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        drop_last=drop_last,
        num_workers=workers,
        persistent_workers=workers > 0,
        pin_memory=pin_memory,
        # the loader's own generator: creating an iterator must not draw from the global RNG
        generator=torch.Generator().manual_seed(seed),
    )
