"""P x K training batches: P classes, K clips of each (the setting optim.pk_sampler).

Why: L_fg (fgsgl.losses.fine_grained_loss) contrasts each clip's z_mid with the batch's
fine-grained texts. It teaches something beyond the class only when a batch holds clips of
the same class with different texts; random batches of 8 over 12-16 classes give a clip
about 0.6 same-class neighbours, so L_fg mostly repeats the class-level contrast. A P x K
batch gives every clip K - 1 same-class neighbours: where their texts differ from its own
(the within-class attributes: hand, side, speed), they are its hard negatives.

One epoch, a function of (seed, epoch) only, like EpochSampler's order:

- Length: floor(N / (P K world)) batches per rank, at least 1 (N training clips), so an
  epoch deals about N clips, as random batches do. It does not depend on the draws: the
  schedule's steps per epoch are fixed.
- Classes: each batch draws P distinct classes, each with probability proportional to the
  clips it has not yet dealt this epoch (a sequential weighted draw without replacement).
  So classes are drawn in proportion to their size: the classifier sees the split's class
  frequencies, as with random batches. A clip is dealt twice in an epoch only where its
  class's pass runs out inside a group (a class of n clips deals ceil(n / K) whole groups)
  and in the epoch's tail, where fewer than P classes have clips left and the others are
  drawn in proportion to their size, dealing from their next pass (12 classes x 18 clips,
  4 x 2: over 99 % of an epoch's clips are distinct). Uniform class draws would instead
  repeat the clips of small classes many times per epoch and change the label prior along
  with the batch composition.
- Clips: a class deals from a shuffled pass of its clips; a spent pass is reshuffled, the
  clips already in the group being filled dealt last, so the K clips of a class in a batch
  are distinct whenever it has at least K clips. A class with fewer than K clips is drawn
  like any other and repeats clips within its group (with replacement, cycling through its
  clips: each floor(K/n) or ceil(K/n) times). Being identical items (augmentation depends
  on seed, epoch and clip only), the repeats share one text, which L_fg masks out.
- Ranks: every rank draws the same world * length batches; rank r takes batches r,
  r + world, ...: different batches, the same number on every rank. The batches do not
  depend on how many are drawn, so the ranks' batches are the first ones of a one-rank run.

It yields `(epoch, i)` like EpochSampler, the batches one after the other, so a DataLoader
with batch_size = P x K cuts exactly these batches, for any number of workers, and a
resumed epoch (the trainer calls set_epoch) deals the same batches again.
"""

from __future__ import annotations

import logging
import random
from bisect import bisect_right
from collections.abc import Iterator, Sequence
from itertools import accumulate

from torch.utils.data import Sampler

from fgsgl.errors import FgsglError

log = logging.getLogger("fgsgl.train")


def check_classes(labels: Sequence[int], p: int, k: int, where: str) -> None:
    """P x K batches need P classes with training clips: one error naming the count."""
    present = sorted({int(c) for c in labels})
    if len(present) >= p:
        return
    shown = ", ".join(map(str, present[:20])) + (" ..." if len(present) > 20 else "")
    raise FgsglError(
        f"optim.pk_sampler {p}x{k} needs {p} classes with training clips for each batch, "
        f"and the training split of {where} has {len(present)} ({shown or 'none'}): lower "
        'P (keeping P x K = optim.batch_size), or set optim.pk_sampler to "" for random '
        "batches"
    )


class _Deck:
    """One class's clips, dealt in shuffled passes; `fresh` counts this epoch's first pass
    (the clips not yet dealt this epoch)."""

    def __init__(self, clips: list[int], rng: random.Random) -> None:
        self.clips, self.rng = clips, rng
        self.left: list[int] = []  # the current pass, dealt from its end
        self.passes = 0
        self._new_pass(())

    @property
    def fresh(self) -> int:
        return len(self.left) if self.passes == 1 else 0

    def _new_pass(self, group: Sequence[int]) -> None:
        order = list(self.clips)
        self.rng.shuffle(order)
        taken = set(group)  # dealt last: a group repeats a clip only when it must
        self.left = [c for c in order if c in taken] + [c for c in order if c not in taken]
        self.passes += 1

    def deal(self, k: int) -> list[int]:
        group: list[int] = []
        while len(group) < k:
            if not self.left:
                self._new_pass(group)
            group.append(self.left.pop())
        return group


def _weighted_draw(rng: random.Random, weights: dict[int, int], n: int) -> list[int]:
    """`n` distinct keys, each draw in proportion to the integer weights of those left."""
    left = {c: w for c, w in weights.items() if w > 0}
    out = []
    for _ in range(n):
        keys = list(left)  # in class order: the draw is a function of the integer r only
        bounds = list(accumulate(left[c] for c in keys))
        c = keys[bisect_right(bounds, rng.randrange(bounds[-1]))]
        out.append(c)
        del left[c]
    return out


def pk_batches(
    labels: Sequence[int], p: int, k: int, n_batches: int, seed: int, epoch: int
) -> list[list[int]]:
    """The first `n_batches` P x K batches of (seed, epoch): positions into `labels`, each
    batch P groups of K clips of one class, in draw order (see the module docstring).
    `labels` must hold at least P classes (check_classes)."""
    by_class: dict[int, list[int]] = {}
    for i, c in enumerate(labels):
        by_class.setdefault(int(c), []).append(i)
    rng = random.Random(f"pk/{seed}/{epoch}")
    decks = {c: _Deck(clips, rng) for c, clips in sorted(by_class.items())}
    sizes = {c: len(d.clips) for c, d in decks.items()}
    batches = []
    for _ in range(n_batches):
        fresh = {c: d.fresh for c, d in decks.items() if d.fresh > 0}
        if len(fresh) >= p:
            chosen = _weighted_draw(rng, fresh, p)
        else:  # the epoch's tail: all classes with fresh clips, the rest by size
            chosen = _weighted_draw(rng, fresh, len(fresh))
            rest = {c: n for c, n in sizes.items() if c not in fresh}
            chosen += _weighted_draw(rng, rest, p - len(chosen))
        batches.append([i for c in chosen for i in decks[c].deal(k)])
    return batches


class PKSampler(Sampler):
    """Yields `(epoch, i)`: this rank's P x K batches of the epoch, one after the other."""

    def __init__(
        self,
        labels: Sequence[int],
        *,
        p: int,
        k: int,
        seed: int,
        rank: int = 0,
        world: int = 1,
        where: str = "the training data",
    ) -> None:
        check_classes(labels, p, k, where)
        self.labels = [int(c) for c in labels]
        self.p, self.k, self.seed = p, k, seed
        self.rank, self.world = rank, world
        self.epoch = 0
        self.batches_per_rank = max(1, len(self.labels) // (p * k * world))
        counts: dict[int, int] = {}
        for c in self.labels:
            counts[c] = counts.get(c, 0) + 1
        small = sorted(c for c, n in counts.items() if n < k)
        log.info(
            "P x K batches: %d classes x %d clips, %d batches per epoch%s%s",
            p,
            k,
            self.batches_per_rank,
            f" per rank ({world} ranks)" if world > 1 else "",
            f"; {len(small)} class(es) with fewer than {k} clips repeat clips within a "
            f"batch: {', '.join(map(str, small))}"
            if small
            else "",
        )

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def batches(self) -> list[list[int]]:
        """This rank's batches of the current epoch (positions in the dataset)."""
        total = self.batches_per_rank * self.world
        every = pk_batches(self.labels, self.p, self.k, total, self.seed, self.epoch)
        return every[self.rank :: self.world]

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return iter([(self.epoch, i) for batch in self.batches() for i in batch])

    def __len__(self) -> int:
        return self.batches_per_rank * self.p * self.k
