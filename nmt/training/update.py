"""One training update, the part the trainer's loop and the training-speed benchmark share: the forward and
backward passes over an update's batches, then the clipped optimizer step."""

from __future__ import annotations

import contextlib
import math

import torch
from torch import nn

from nmt.data import Batch


def forward_backward(loss_fn: nn.Module, batches: list[Batch], *, total_tokens: int, generator, bf16: bool,
                     world: int = 1) -> float:
    """Forward and backward over this process's `batches` (on their device) of an update holding
    `total_tokens` target tokens over all processes; returns their summed loss. Gradients end up as those
    of the mean loss over every token of the update: DDP averages over processes, so each part is scaled
    by world / total_tokens. Under DDP (world > 1) gradients are exchanged once, after the last batch."""
    loss_sum = 0.0
    for k, batch in enumerate(batches):
        sync = k == len(batches) - 1 or world == 1
        with (contextlib.nullcontext() if sync else loss_fn.no_sync()), \
                torch.autocast(batch.src.device.type, dtype=torch.bfloat16, enabled=bf16):
            part = loss_fn(batch, generator)
            (part * (world / total_tokens)).backward()
        loss_sum += float(part.detach())
    return loss_sum


def clip_and_step(model: nn.Module, optimizer: torch.optim.Optimizer, *, clip: float, loss_sum: float
                  ) -> bool:
    """Clip the gradient norm to `clip` and step, unless the loss or the gradient is NaN/inf (then the
    update is skipped); whether it stepped."""
    grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
    if not (math.isfinite(loss_sum) and torch.isfinite(grad_norm)):
        return False
    optimizer.step()
    return True
