"""Processes of one training run: which rank this is, on which device, and sums across ranks.

Several GPUs in one pod are driven by the deepspeed launcher or torchrun, which set RANK,
LOCAL_RANK and WORLD_SIZE; a plain `fgsgl train` is one process (world size 1). DeepSpeed
needs a process group even then, so `init_process_group` fills in a single-process
rendezvous (loopback, a free port) when no launcher did.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass

import torch
import torch.distributed as torch_dist


@dataclass(frozen=True)
class Dist:
    rank: int
    local_rank: int
    world: int

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def sum(self, *tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """All-reduce (sum) each tensor across ranks; unchanged in a single process."""
        if self.world > 1:
            for t in tensors:
                torch_dist.all_reduce(t, op=torch_dist.ReduceOp.SUM)
        return tensors

    def barrier(self) -> None:
        if self.world > 1:
            torch_dist.barrier()


def from_env() -> Dist:
    """The launcher's RANK / LOCAL_RANK / WORLD_SIZE (a single process without one)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", str(rank)))
    return Dist(rank=rank, local_rank=local_rank, world=world)


def launched_with_several_processes() -> bool:
    return from_env().world > 1


def device_for(dist: Dist) -> torch.device:
    if torch.cuda.is_available():
        torch.cuda.set_device(dist.local_rank)
        return torch.device("cuda", dist.local_rank)
    return torch.device("cpu")


def single_process_env() -> None:
    """Rendezvous variables for a world of one, unless a launcher set them."""
    if "MASTER_PORT" not in os.environ:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            os.environ["MASTER_PORT"] = str(s.getsockname()[1])
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    os.environ.setdefault("RANK", "0")
    os.environ.setdefault("LOCAL_RANK", "0")
    os.environ.setdefault("WORLD_SIZE", "1")
