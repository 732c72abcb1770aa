"""Where a training process runs: device, precision, DDP rank, RNG state, phase timing.

nanoGPT's env check: the same code runs under `python` (one process) or `torchrun` (RANK set,
one process per device, DistributedDataParallel over NCCL on CUDA or gloo on CPU).
"""

from __future__ import annotations

import os
import random
import time
from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from scenegan.errors import UserError


@dataclass
class Runtime:
    """Where this process runs: device, precision ("fp32" or "bf16"), DDP rank and world
    size; `owns_group`: this process started the process group, and destroys it in `close`."""

    device: torch.device
    rank: int = 0
    world_size: int = 1
    ddp: bool = False
    precision: str = "fp32"
    owns_group: bool = False

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def cuda(self) -> bool:
        return self.device.type == "cuda"

    def autocast(self):
        """bf16 autocast on this device when the precision is bf16, else nothing."""
        if self.precision == "bf16":
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return nullcontext()

    def wrap(self, module: nn.Module, compile_mode: str = "none") -> nn.Module:
        """The module as training calls it: under DDP when distributed, compiled in
        `compile_mode` unless it is "none"."""
        if self.ddp:
            ids = [self.device.index] if self.cuda else None
            # Buffers are broadcast from rank 0 at every forward only where they change in
            # training (batch-norm statistics); alpha and the noise basis are the same on
            # every rank, and a broadcast per forward is a collective per forward.
            batch_norm = any(
                isinstance(m, nn.modules.batchnorm._BatchNorm) for m in module.modules()
            )
            module = nn.parallel.DistributedDataParallel(
                module, device_ids=ids, broadcast_buffers=batch_norm
            )
        return module if compile_mode == "none" else torch.compile(module, mode=compile_mode)

    def any_rank(self, flag: bool) -> bool:
        """True on every rank when it is true on one (so all ranks stop at the same step)."""
        if not self.ddp:
            return flag
        tensor = torch.tensor([float(flag)], device=self.device)
        dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
        return bool(tensor.item())

    def gather(self, obj) -> list | None:
        """Every rank's `obj`, on rank 0 (None elsewhere)."""
        if not self.ddp:
            return [obj]
        gathered = [None] * self.world_size if self.main else None
        dist.gather_object(obj, gathered, dst=0)
        return gathered

    def barrier(self) -> None:
        if self.ddp:
            dist.barrier(device_ids=[self.device.index] if self.cuda else None)

    def close(self) -> None:
        """Destroy the process group this process started (torchrun warns otherwise)."""
        if self.owns_group and dist.is_initialized():
            dist.destroy_process_group()
            self.owns_group = False


def resolve_precision(precision: str, device: torch.device) -> str:
    """auto -> bf16 on CUDA, fp32 elsewhere; fp32 and bf16 as they are."""
    if precision == "auto":
        return "bf16" if device.type == "cuda" else "fp32"
    return precision


def setup_runtime(device: str = "auto", threads: int = 0, precision: str = "auto") -> Runtime:
    """Pick the device and precision; under torchrun (RANK set) start DDP, one process per
    device (NCCL bound to this process's GPU, or gloo on the CPU)."""
    ddp = int(os.environ.get("RANK", -1)) != -1
    want_cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    if device == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda but no CUDA device is available; use --device cpu")
    if threads > 0:
        torch.set_num_threads(threads)
    if not ddp:
        where = torch.device("cuda" if want_cuda else "cpu")
        return Runtime(where, precision=resolve_precision(precision, where))
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    where = torch.device(f"cuda:{local_rank}" if want_cuda else "cpu")
    if want_cuda:
        torch.cuda.set_device(where)
    owns_group = not dist.is_initialized()
    if owns_group:
        if want_cuda:  # device_id binds NCCL to this GPU: no guessing in barrier()
            dist.init_process_group(backend="nccl", device_id=where)
        else:
            dist.init_process_group(backend="gloo")
    rank, world_size = dist.get_rank(), dist.get_world_size()
    precision = resolve_precision(precision, where)
    return Runtime(where, rank, world_size, ddp=True, precision=precision, owns_group=owns_group)


def rng_state(np_rng: np.random.Generator) -> dict:
    """This process's torch, numpy, python (and CUDA) RNG states, for a training state."""
    state = {
        "torch": torch.get_rng_state(),
        "numpy": np_rng.bit_generator.state,
        "python": random.getstate(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict, np_rng: np.random.Generator) -> None:
    torch.set_rng_state(state["torch"])
    np_rng.bit_generator.state = state["numpy"]
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def seed_rngs(seed: int, rank: int, step: int = 0) -> np.random.Generator:
    """Seed torch and python for (seed, rank, step) and return the numpy generator of batches."""
    random.seed(seed + rank + step)
    torch.manual_seed(seed + 1000 * (rank + 1) + step)
    if step:
        return np.random.default_rng([seed, rank, step])
    return np.random.default_rng([seed, rank])


def unwrap(module: nn.Module) -> nn.Module:
    """The plain module inside DDP and/or torch.compile wrappers."""
    module = getattr(module, "_orig_mod", module)
    return getattr(module, "module", module)


class Timer:
    """Accumulates seconds per phase (data, forward/backward, optimizer, ...) for the
    benchmarks; on CUDA each mark synchronises, so the phases are the GPU's time too."""

    def __init__(self, device: torch.device):
        self.device, self.seconds = device, {}
        self._phase, self._start = None, 0.0

    def __call__(self, phase: str | None) -> None:
        """Close the running phase and start `phase` (None: just close)."""
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        now = time.perf_counter()
        if self._phase is not None:
            self.seconds[self._phase] = self.seconds.get(self._phase, 0.0) + now - self._start
        self._phase, self._start = phase, now
