"""Where a training process runs: its place in a torchrun job, its device and its precision.

Run alone, a process is rank 0 of 1 and nothing here talks to other processes. Under torchrun each
process joins the job's process group (NCCL on GPUs, gloo on CPU); the model and search never know.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from nmt import NMTError
from nmt.hardware import native_bf16


@dataclass
class Distributed:
    """This process's place in a torchrun job (rank 0 of 1 when run alone)."""
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_env(cls, cuda: bool) -> Distributed:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world <= 1:
            return cls()
        if not dist.is_initialized():
            dist.init_process_group("nccl" if cuda else "gloo")
        return cls(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))

    def barrier(self) -> None:
        if self.world > 1:
            dist.barrier()

    def sum(self, values: list[float]) -> list[float]:
        if self.world == 1:
            return values
        t = torch.tensor(values, dtype=torch.float64)
        dist.all_reduce(t)
        return t.tolist()

    def from_main(self, values: list[float]) -> list[float]:
        if self.world == 1:
            return values
        t = torch.tensor(values, dtype=torch.float64)
        dist.broadcast(t, 0)
        return t.tolist()

    def wrap(self, module: nn.Module, device: torch.device) -> nn.Module:
        """The module DistributedDataParallel averages gradients of (the module itself when alone)."""
        if self.world == 1:
            return module
        return DistributedDataParallel(module, device_ids=[device.index] if device.type == "cuda" else None)


def launched_rank() -> int:
    """This process's rank as torchrun set it, before it joins the job (0 when run alone)."""
    return int(os.environ.get("RANK", "0"))


def start(device: str | None) -> tuple[Distributed, torch.device]:
    """Join the torchrun job, if any, and pick the device: `device`, else CUDA when present, else the CPU.
    Under torchrun each process takes the GPU of its local rank."""
    cuda = (device or ("cuda" if torch.cuda.is_available() else "cpu")).startswith("cuda")
    ddp = Distributed.from_env(cuda)
    if not cuda:
        return ddp, torch.device("cpu")
    if ddp.world > 1 and ddp.local_rank >= torch.cuda.device_count():
        raise NMTError(f"torchrun started a process for GPU {ddp.local_rank} but this machine has "
                       f"{torch.cuda.device_count()}: use --nproc-per-node={torch.cuda.device_count()} "
                       "(or --device cpu)")
    chosen = torch.device(f"cuda:{ddp.local_rank}" if ddp.world > 1 else device or "cuda")
    if chosen.index is None:  # plain "cuda": the current GPU, named by its index (set_device needs one)
        chosen = torch.device("cuda", torch.cuda.current_device())
    torch.cuda.set_device(chosen)
    return ddp, chosen


def use_bf16(dtype: str, device: torch.device) -> bool:
    """train.dtype -> whether to autocast matrix products to bfloat16 (weights and optimizer stay fp32)."""
    return dtype == "bf16" or (dtype == "auto" and native_bf16(device))
