"""The training loop of `scenegan train`: one stage, one architecture, resumable, CPU/CUDA/DDP.

Runs under `python` or `torchrun` alike (DDP when RANK is set). Rank 0 logs a status line per
tick, `stats.jsonl`, TensorBoard scalars, a GIF grid and a training state per snapshot.
"""

from __future__ import annotations

import json
import os
import random
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from tqdm import tqdm

from scenegan.clip_format import STAGE_FORMATS
from scenegan.errors import UserError
from scenegan.model import checkpoint as ckpt
from scenegan.model.augment import POLICIES, augment, check_policy
from scenegan.model.data import ClipBank
from scenegan.model.ema import update_ema
from scenegan.model.grid import save_gif, tile_clips
from scenegan.model.losses import (
    LOSSES,
    d_loss,
    field_penalties,
    g_loss,
    gradient_penalty,
    motion_match,
)
from scenegan.model.networks import ARCHS, build_discriminator, build_generator, default_args


@dataclass(frozen=True)
class TrainConfig:
    """Everything one training run depends on; saved in every checkpoint."""

    stage: str = "small"
    data: str = "datasets/clips"
    out: str = ""  # "" -> checkpoints/<stage>
    steps: int = 20000
    batch_size: int = 16
    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.99)
    device: str = "auto"  # auto | cpu | cuda
    stream: str = "auto"  # auto | yes | no: read clips from the shards per batch, not into memory
    resume: str = "auto"  # auto | none | PATH
    init: str = ""  # stage large: the small checkpoint ("" -> newest in <out>/../small; "none")
    arch: str = "flow"
    loss: str = "lsgan"
    seed: int = 0
    fade_steps: int = 2000
    ema_beta: float = 0.999
    gp_weight: float = 10.0
    mismatch_weight: float = 0.5  # weight of (real clip, another clip's photo) pairs as fakes
    roughness_weight: float = 1.0  # flow arch: weight of the flow roughness penalty in G's loss
    residual_weight: float = 0.0  # flow arch: weight of the mean |residual| penalty in G's loss
    # flow arch: weight of the term that ties the coarse motion maps (speed, flicker) of each
    # generated clip to those of the real clip of the same photo (losses.motion_match)
    motion_weight: float = 3.0
    # DiffAugment policy for the clips D sees; auto: all of them for flow, none for the seed
    # (the 2019 model trained without)
    augment: str = "auto"
    snapshot_every: int = 500
    tick_every: int = 50
    keep: int = 3
    minutes: float = 0.0  # > 0: stop (with a snapshot) after this much wall-clock time
    threads: int = 0  # 0: torch's default
    compile: bool = False
    tensorboard: bool = True
    grid_photos: int = 6
    grid_noises: int = 3

    def __post_init__(self) -> None:
        if self.stage not in STAGE_FORMATS:
            raise UserError(f"--stage must be one of {sorted(STAGE_FORMATS)}, not {self.stage!r}")
        if self.arch not in ARCHS:
            raise UserError(f"--arch must be one of {list(ARCHS)}, not {self.arch!r}")
        if self.loss not in LOSSES:
            raise UserError(f"--loss must be one of {list(LOSSES)}, not {self.loss!r}")
        if self.stream not in ("auto", "yes", "no"):
            raise UserError(f"--stream must be auto, yes or no, not {self.stream!r}")
        if self.augment == "auto":
            object.__setattr__(self, "augment", ",".join(POLICIES) if self.arch == "flow" else "")
        try:
            check_policy(self.augment)
        except ValueError as error:
            raise UserError(f"--augment: {error}") from None
        if self.batch_size < 2:
            raise UserError("--batch-size must be at least 2")
        if not self.out:
            object.__setattr__(self, "out", str(Path("checkpoints") / self.stage))

    def to_dict(self) -> dict:
        d = asdict(self)
        d["betas"] = list(self.betas)
        return d


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


def setup_runtime(cfg: TrainConfig) -> Runtime:
    """nanoGPT-style env check: under torchrun (RANK set) start DDP, one process per device."""
    ddp = int(os.environ.get("RANK", -1)) != -1
    want_cuda = cfg.device == "cuda" or (cfg.device == "auto" and torch.cuda.is_available())
    if cfg.device == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda but no CUDA device is available; use --device cpu")
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    if not ddp:
        return Runtime(torch.device("cuda" if want_cuda else "cpu"))
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if want_cuda else "gloo")
    rank, world_size = dist.get_rank(), dist.get_world_size()
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    device = torch.device(f"cuda:{local_rank}" if want_cuda else "cpu")
    if want_cuda:
        torch.cuda.set_device(device)
    return Runtime(device, rank, world_size, ddp=True)


def rng_state(np_rng: np.random.Generator) -> dict:
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


def load_matching(module: nn.Module, source: dict) -> list[str]:
    """Copy every tensor of `source` whose name and shape match; return the names left new."""
    own = module.state_dict()
    taken = {k: v for k, v in source.items() if k in own and own[k].shape == v.shape}
    module.load_state_dict(taken, strict=False)
    return sorted(set(own) - set(taken))


def find_init(cfg: TrainConfig) -> Path | None:
    """Stage large's weights-only start: --init, or the newest state beside <out> in `small`."""
    if cfg.stage != "large" or cfg.init == "none":
        return None
    if cfg.init:
        return Path(cfg.init)
    found = ckpt.find_latest(Path(cfg.out).parent / "small")
    if found is None:
        raise UserError(
            f"stage large grows the small stage, but no checkpoint was found in "
            f"{Path(cfg.out).parent / 'small'}; train `--stage small` first, pass --init PATH, "
            "or --init none to start from scratch"
        )
    return found


def resume_path(cfg: TrainConfig) -> Path | None:
    if cfg.resume == "none":
        return None
    if cfg.resume == "auto":
        return ckpt.find_latest(cfg.out)
    return Path(cfg.resume)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def build_models(cfg: TrainConfig) -> tuple[nn.Module, nn.Module, dict, dict]:
    G_args, D_args = default_args(cfg.arch, cfg.stage)
    return build_generator(cfg.arch, G_args), build_discriminator(cfg.arch, D_args), G_args, D_args


def describe(cfg: TrainConfig) -> str:
    """The full config and parameter counts, as `--dry-run` prints them."""
    G, D, _, _ = build_models(cfg)
    lines = [json.dumps(cfg.to_dict(), indent=2)]
    lines.append(f"G ({cfg.arch}, {cfg.stage}): {count_parameters(G):,} parameters")
    lines.append(f"D ({cfg.arch}, {cfg.stage}): {count_parameters(D):,} parameters")
    return "\n".join(lines)


def motion_energy(clips: torch.Tensor) -> float:
    """Mean |x_t - x_{t-1}| over a batch (B, 1, T, H, W)."""
    return float((clips[:, :, 1:] - clips[:, :, :-1]).abs().mean())


def fade_alpha(cfg: TrainConfig, step: int) -> float:
    """Progressive GAN fade-in of stage large's new layers: 0 -> 1 over `fade_steps`."""
    if cfg.stage != "large" or cfg.arch != "flow" or cfg.fade_steps <= 0:
        return 1.0
    return min(1.0, step / cfg.fade_steps)


@torch.no_grad()
def make_grid(G_ema: nn.Module, photos_clips: torch.Tensor, z: torch.Tensor, n_noises: int):
    """Rows: the real clip, then one sample per fixed noise -> (R, 1 + n_noises, T, H, W)."""
    device = next(G_ema.parameters()).device
    real = photos_clips.to(device)  # (R, 1, T, H, W)
    n_photos = real.shape[0]
    photos = real[:, :, 0].repeat_interleave(n_noises, dim=0)
    samples = G_ema(photos, z.to(device)).view(n_photos, n_noises, *real.shape[2:])
    return torch.cat([real[:, :1], samples], dim=1).float().cpu().numpy()


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


def unwrap(module: nn.Module) -> nn.Module:
    """The plain module inside DDP and/or torch.compile wrappers."""
    module = getattr(module, "_orig_mod", module)
    return getattr(module, "module", module)


def gan_step(
    cfg: TrainConfig,
    G_train: nn.Module,
    D_train: nn.Module,
    opt_G: torch.optim.Optimizer,
    opt_D: torch.optim.Optimizer,
    real: torch.Tensor,
    z: torch.Tensor,
    autocast=None,
    timer: Timer | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One D update then one G update on a batch of real clips (B, 1, T, H, W) and noise z.

    G runs once: D's step sees its output detached, G's step backpropagates through the D
    just updated. Returns (loss_D, loss_G, fake clips).
    """
    autocast = autocast or nullcontext()
    mark = timer or (lambda phase: None)
    D = unwrap(D_train)
    photo = real[:, :, 0]
    mark("forward_backward")
    # D step: real clips, generated clips and (for the conditional D) mismatched pairs.
    D.requires_grad_(True)
    regularise = cfg.arch == "flow" and (cfg.roughness_weight > 0 or cfg.residual_weight > 0)
    with autocast:
        if regularise:
            fake, fields = G_train(photo, z, with_fields=True)
        else:
            fake = G_train(photo, z)
        batch = [real, fake.detach()]
        if cfg.arch == "flow" and cfg.mismatch_weight > 0:  # the seed's D never saw the photo
            # A real clip whose frame 0 (the photo) comes from another clip: a fake pair.
            mismatch = real.clone()
            mismatch[:, :, 0] = real[:, :, 0].roll(1, dims=0)
            batch.append(mismatch)
        if cfg.arch == "seed":  # its batch-norm D saw real and fake batches apart
            scores = [D_train(augment(x, cfg.augment)).float() for x in batch]
        else:
            scores = D_train(augment(torch.cat(batch), cfg.augment)).float().split(real.shape[0])
        fakes = [(scores[1], 1.0)]
        if len(batch) > 2:
            fakes.append((scores[2], cfg.mismatch_weight))
        loss_D = d_loss(cfg.loss, scores[0], fakes)
        if cfg.loss == "wgan-gp":
            loss_D = loss_D + cfg.gp_weight * gradient_penalty(D_train, real, fake)
    opt_D.zero_grad(set_to_none=True)
    loss_D.backward()
    mark("optimizer")
    opt_D.step()
    mark("forward_backward")
    # G step through the D just updated, its weights frozen for this pass (and outside DDP,
    # so no gradient reduction is expected for D).
    D.requires_grad_(False)
    with autocast:
        loss_G = g_loss(cfg.loss, D(augment(fake, cfg.augment)).float())
        if regularise:
            roughness, residual = field_penalties(fields.float())
            loss_G = loss_G + cfg.roughness_weight * roughness + cfg.residual_weight * residual
        if cfg.arch == "flow" and cfg.motion_weight > 0:
            loss_G = loss_G + cfg.motion_weight * motion_match(fake, real)
    opt_G.zero_grad(set_to_none=True)
    loss_G.backward()
    mark("optimizer")
    opt_G.step()
    mark(None)
    return loss_D.detach(), loss_G.detach(), fake.detach()


def train(cfg: TrainConfig) -> dict:
    """Train one stage as `cfg` says; returns a summary (final step, last checkpoint, rates)."""
    rt = setup_runtime(cfg)
    out = Path(cfg.out)
    stream = {"auto": None, "yes": True, "no": False}[cfg.stream]
    bank = ClipBank.from_dataset(
        cfg.data, STAGE_FORMATS[cfg.stage], rank=rt.rank, world_size=rt.world_size, stream=stream
    )
    torch.manual_seed(cfg.seed)  # same initial weights on every rank
    G, D, G_args, D_args = build_models(cfg)
    G_ema = build_generator(cfg.arch, G_args).requires_grad_(False).eval()
    G_ema.load_state_dict(G.state_dict())
    opt_G = torch.optim.Adam([p for p in G.parameters() if p.requires_grad], cfg.lr, cfg.betas)
    opt_D = torch.optim.Adam([p for p in D.parameters() if p.requires_grad], cfg.lr, cfg.betas)
    np_rng = np.random.default_rng([cfg.seed, rt.rank])
    random.seed(cfg.seed + rt.rank)
    torch.manual_seed(cfg.seed + 1000 * (rt.rank + 1))
    step = 0

    start = resume_path(cfg)
    if start is not None:
        state = ckpt.read_checkpoint(start)
        if state["kind"] != ckpt.TRAINING_KIND:
            raise UserError(f"{start} is an exported generator; resume needs a training state")
        ckpt.check_matches(state, start, arch=cfg.arch, stage=cfg.stage)
        G.load_state_dict(state["G"])
        D.load_state_dict(state["D"])
        G_ema.load_state_dict(state["G_ema"])
        opt_G.load_state_dict(state["opt_G"])
        opt_D.load_state_dict(state["opt_D"])
        step = int(state["step"])
        per_rank = state.get("rng_ranks") or [state["rng"]]
        if len(per_rank) == rt.world_size:  # the same course, rank by rank
            set_rng_state(per_rank[rt.rank], np_rng)
        elif rt.main:
            set_rng_state(state["rng"], np_rng)
        else:  # saved by another number of processes: a fresh stream per (seed, rank, step)
            np_rng = np.random.default_rng([cfg.seed, rt.rank, step])
            torch.manual_seed(cfg.seed + 1000 * (rt.rank + 1) + step)
        message = f"resumed from {start} at step {step}"
    elif (init := find_init(cfg)) is not None:
        state = ckpt.read_checkpoint(init)
        if state["kind"] != ckpt.TRAINING_KIND:
            raise UserError(f"{init} is an exported generator; --init needs a training state")
        ckpt.check_matches(state, init, arch=cfg.arch, stage="small")
        new_G = load_matching(G, state["G"])
        load_matching(D, state["D"])
        load_matching(G_ema, state["G_ema"])
        message = f"initialised from {init} (new in G: {', '.join(new_G) or 'nothing'})"
    else:
        message = "starting from scratch"
    held = "streamed from the shards" if bank.streamed else "held in memory"
    message += f"; {len(bank)} training clips {held}"

    G.to(rt.device)
    D.to(rt.device)
    G_ema.to(rt.device)
    for opt in (opt_G, opt_D):  # optimizer state follows its parameters' device
        for s in opt.state.values():
            for k, v in s.items():
                if torch.is_tensor(v) and k != "step":
                    s[k] = v.to(rt.device)
    G_train, D_train = G, D
    if rt.ddp:
        ids = [rt.device.index] if rt.device.type == "cuda" else None
        G_train = nn.parallel.DistributedDataParallel(G, device_ids=ids)
        D_train = nn.parallel.DistributedDataParallel(D, device_ids=ids)
    if cfg.compile:
        G_train, D_train = torch.compile(G_train), torch.compile(D_train)
    autocast = (
        torch.autocast("cuda", dtype=torch.bfloat16) if rt.device.type == "cuda" else nullcontext()
    )

    writer = None
    grid_clips = grid_z = None
    if rt.main:
        out.mkdir(parents=True, exist_ok=True)
        tqdm.write(message)
        if cfg.tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            writer = SummaryWriter(str(out / "tensorboard"))
        grid_clips = bank.fixed(cfg.grid_photos)
        noise_rng = torch.Generator().manual_seed(cfg.seed)
        grid_z = torch.randn(cfg.grid_photos * cfg.grid_noises, G.noise_dim, generator=noise_rng)

    last_good = ckpt.find_latest(out) if rt.main else None

    def snapshot() -> None:
        """Every rank hands its RNG state to rank 0, which writes the training state."""
        nonlocal last_good
        rngs = [rng_state(np_rng)]
        if rt.ddp:
            rngs = [None] * rt.world_size if rt.main else None
            dist.gather_object(rng_state(np_rng), rngs, dst=0)
        if not rt.main:
            return
        state = {
            "arch": cfg.arch,
            "stage": cfg.stage,
            "step": step,
            "alpha": fade_alpha(cfg, step),
            "G_args": G_args,
            "D_args": D_args,
            "G": G.state_dict(),
            "D": D.state_dict(),
            "G_ema": G_ema.state_dict(),
            "opt_G": opt_G.state_dict(),
            "opt_D": opt_D.state_dict(),
            "rng": rngs[0],
            "rng_ranks": rngs,
            "config": cfg.to_dict(),
            "clip_format": G.fmt.to_dict(),
        }
        last_good = ckpt.save_training_state(state, out, keep=cfg.keep)
        grid = make_grid(G_ema, grid_clips, grid_z, cfg.grid_noises)
        save_gif(out / f"grid-{step:07d}.gif", tile_clips(grid))

    tick = {"D": 0.0, "G": 0.0, "motion_fake": 0.0, "motion_real": 0.0, "n": 0}
    tick_start = time.perf_counter()
    rate = 0.0
    deadline = time.perf_counter() + 60 * cfg.minutes if cfg.minutes > 0 else float("inf")
    bar = tqdm(total=cfg.steps, initial=step, disable=not rt.main, desc=f"train {cfg.stage}")
    while step < cfg.steps:
        alpha = fade_alpha(cfg, step)
        for m in (G, D):
            m.alpha.fill_(alpha)
        real = bank.sample(np_rng, cfg.batch_size).to(rt.device)  # (B, 1, T, H, W)
        z = torch.randn(cfg.batch_size, G.noise_dim, device=rt.device)

        loss_D, loss_G, fake = gan_step(cfg, G_train, D_train, opt_G, opt_D, real, z, autocast)
        update_ema(G_ema, G, step, cfg.ema_beta)
        step += 1

        values = (loss_D.item(), loss_G.item())
        if not all(np.isfinite(values)):
            raise UserError(
                f"the losses became NaN or infinite at step {step} (D {values[0]}, G {values[1]}); "
                f"training stopped, the last good checkpoint is {last_good or 'none'}; "
                "try a lower --lr"
            )
        tick["D"] += values[0]
        tick["G"] += values[1]
        tick["motion_fake"] += motion_energy(fake)
        tick["motion_real"] += motion_energy(real)
        tick["n"] += 1
        bar.update(1)

        out_of_time = time.perf_counter() > deadline
        if rt.ddp and cfg.minutes > 0:  # every rank must stop at the same step
            flag = torch.tensor([float(out_of_time)], device=rt.device)
            dist.all_reduce(flag, op=dist.ReduceOp.MAX)
            out_of_time = bool(flag.item())
        last = step == cfg.steps or out_of_time
        if rt.main and (step % cfg.tick_every == 0 or last):
            elapsed = time.perf_counter() - tick_start
            rate = tick["n"] * cfg.batch_size * rt.world_size / max(elapsed, 1e-9)
            n = tick["n"]
            stats = {
                "step": step,
                "loss_D": tick["D"] / n,
                "loss_G": tick["G"] / n,
                "clips_per_s": rate,
                "motion_ratio": tick["motion_fake"] / max(tick["motion_real"], 1e-9),
                "motion_fake": tick["motion_fake"] / n,
                "alpha": alpha,
                "time": time.time(),
            }
            tqdm.write(
                f"step {step:>7} | D {stats['loss_D']:.4f} G {stats['loss_G']:.4f} | "
                f"{rate:6.1f} clips/s | motion {stats['motion_ratio']:.2f}x real"
                + (f" | alpha {alpha:.2f}" if cfg.stage == "large" else "")
            )
            with open(out / "stats.jsonl", "a") as f:
                f.write(json.dumps(stats) + "\n")
            if writer is not None:
                for key in ("loss_D", "loss_G", "clips_per_s", "motion_ratio", "alpha"):
                    writer.add_scalar(key, stats[key], step)
            tick = dict.fromkeys(tick, 0.0) | {"n": 0}
            tick_start = time.perf_counter()
        if step % cfg.snapshot_every == 0 or last:
            snapshot()
        if out_of_time:
            break
    bar.close()
    if writer is not None:
        writer.close()
    if rt.ddp:
        dist.barrier()
    return {"step": step, "checkpoint": str(last_good) if last_good else None, "clips_per_s": rate}


def with_overrides(cfg: TrainConfig, **changes) -> TrainConfig:
    """A copy of `cfg` with some fields changed (re-runs the checks)."""
    return replace(cfg, **changes)
