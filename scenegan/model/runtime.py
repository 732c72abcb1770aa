"""Where a training process runs: device, DDP rank, RNG state, phase timing.

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
    """Where this process runs: device, DDP rank and world size."""

    device: torch.device
    rank: int = 0
    world_size: int = 1
    ddp: bool = False

    @property
    def main(self) -> bool:
        return self.rank == 0

    def autocast(self):
        """bf16 autocast on CUDA, nothing on the CPU."""
        if self.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return nullcontext()

    def wrap(self, module: nn.Module, compile_: bool = False) -> nn.Module:
        """The module as training calls it: under DDP when distributed, compiled if asked."""
        if self.ddp:
            ids = [self.device.index] if self.device.type == "cuda" else None
            module = nn.parallel.DistributedDataParallel(module, device_ids=ids)
        return torch.compile(module) if compile_ else module

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
            dist.barrier()


def setup_runtime(device: str = "auto", threads: int = 0) -> Runtime:
    """Pick the device; under torchrun (RANK set) start DDP, one process per device."""
    ddp = int(os.environ.get("RANK", -1)) != -1
    want_cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    if device == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda but no CUDA device is available; use --device cpu")
    if threads > 0:
        torch.set_num_threads(threads)
    if not ddp:
        return Runtime(torch.device("cuda" if want_cuda else "cpu"))
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if want_cuda else "gloo")
    rank, world_size = dist.get_rank(), dist.get_world_size()
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    where = torch.device(f"cuda:{local_rank}" if want_cuda else "cpu")
    if want_cuda:
        torch.cuda.set_device(where)
    return Runtime(where, rank, world_size, ddp=True)


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


def move_optimizer_state(opt: torch.optim.Optimizer, device: torch.device) -> None:
    """Optimizer state follows its parameters' device (after loading a CPU checkpoint)."""
    for state in opt.state.values():
        for key, value in state.items():
            if torch.is_tensor(value) and key != "step":
                state[key] = value.to(device)


class Timer:
    """Accumulates seconds per phase (data, forward/backward, optimizer) for the benchmarks."""

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
