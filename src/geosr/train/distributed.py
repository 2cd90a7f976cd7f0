"""Multi-process training under ``torchrun`` (``torch.distributed``: gloo on CPU, nccl on
CUDA), with nothing to configure: the launcher's ``WORLD_SIZE``/``RANK``/``LOCAL_RANK``
variables switch it on, and without them training is the usual single process.

``torchrun --standalone --nproc_per_node 2 -m geosr train CFG.yaml``

- **One global seed, one data stream**: every rank builds the same data and seeded sampler and
  draws the *global* batch (``train.batch_size``) each step, then keeps its own shard of
  ``batch_size / world_size`` patches (the batch size must divide). The ranks together see
  exactly the batches a single process would.
- **Gradients all-reduced** (averaged) after each backward pass, so every rank applies the
  same Adam step: N ranks × B/N patches give the weights of 1 rank × B patches, up to float
  summation order (tested with 2 ranks on loopback).
- **Rank 0 writes** the config, logs, checkpoints, the model and the summary; the others wait
  at barriers. Every rank validates on the same held-out images (identical weights, so
  identical decisions on the best model and early stopping); resume reads the shared
  checkpoint on every rank.

Only the paired trainer supports it (the adversarial/unpaired trainers refuse ``torchrun``).

>>> ctx = DistContext.from_env({})
>>> ctx.world, ctx.rank, ctx.is_main, ctx.shard(8)
(1, 0, True, slice(0, 8, None))
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, Mapping

from geosr.core.errors import ConfigError

__all__ = ["DistContext"]


@dataclasses.dataclass
class DistContext:
    """This process's place in a ``torchrun`` job (world 1: a plain single process)."""

    world: int = 1
    rank: int = 0
    local_rank: int = 0
    started: bool = False

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "DistContext":
        env = os.environ if env is None else env
        try:
            world = int(env.get("WORLD_SIZE", "1"))
            rank, local = int(env.get("RANK", "0")), int(env.get("LOCAL_RANK", "0"))
        except ValueError:
            raise ConfigError("WORLD_SIZE, RANK and LOCAL_RANK must be integers",
                              where="environment", hint="launch with torchrun") from None
        return cls(world=max(world, 1), rank=rank, local_rank=local)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def start(self, cuda: bool) -> None:
        """Join the process group (gloo on CPU, nccl on CUDA; one GPU per local rank)."""
        if self.world == 1 or self.started:
            return
        import torch
        import torch.distributed as dist

        if cuda:
            torch.cuda.set_device(self.local_rank)
        dist.init_process_group("nccl" if cuda else "gloo")
        self.started = True

    def stop(self) -> None:
        if self.started:
            import torch.distributed as dist

            dist.barrier()
            dist.destroy_process_group()
            self.started = False

    def barrier(self) -> None:
        if self.started:
            import torch.distributed as dist

            dist.barrier()

    def shard(self, batch_size: int) -> slice:
        """This rank's part of a global batch of ``batch_size``."""
        if batch_size % self.world:
            raise ConfigError(f"the batch size {batch_size} does not divide among "
                              f"{self.world} processes", where="train.batch_size",
                              hint=f"use a multiple of {self.world}")
        per = batch_size // self.world
        return slice(self.rank * per, (self.rank + 1) * per)

    def broadcast_parameters(self, module: Any) -> None:
        """Every rank starts from rank 0's weights (they are equal under one seed; this
        makes it certain)."""
        if self.started:
            import torch.distributed as dist

            for tensor in module.state_dict().values():
                dist.broadcast(tensor, src=0)

    def mean(self, value: float) -> float:
        """The mean of a number over the ranks (``value`` itself in one process)."""
        if not self.started:
            return value
        import torch
        import torch.distributed as dist

        t = torch.tensor([value], dtype=torch.float64)
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
        return float(t.item()) / self.world

    def average_gradients(self, module: Any) -> None:
        """Replace each gradient by its mean over the ranks (one all-reduce per tensor)."""
        if not self.started:
            return
        import torch.distributed as dist

        for p in module.parameters():
            if p.grad is not None:
                dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)
                p.grad /= self.world
