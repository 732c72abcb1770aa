"""The training loop of `scenegan train`: one stage, one architecture, resumable, CPU/CUDA/DDP.

Runs under `python` or `torchrun` alike (DDP when RANK is set, see runtime.py). The GAN step of
each architecture is in steps.py. Rank 0 logs a status line per tick, `stats.jsonl`, TensorBoard
scalars, a GIF grid and a training state per snapshot.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from scenegan.animation_files import tile, upscale, write_gif
from scenegan.clip_format import CLIP, DEFAULT_FPS, ClipFormat, channels_last, from_unit
from scenegan.config import TrainConfig
from scenegan.errors import UserError
from scenegan.model import checkpoint as ckpt
from scenegan.model.data import ClipBank
from scenegan.model.ema import update_ema
from scenegan.model.inflate import inflate_into, load_matching
from scenegan.model.networks import (
    build_discriminator,
    build_generator,
    default_args,
)
from scenegan.model.runtime import (
    Runtime,
    move_optimizer_state,
    rng_state,
    seed_rngs,
    set_rng_state,
    setup_runtime,
)
from scenegan.model.steps import StepWeights, gan_step_for
from scenegan.pipeline.shards import INDEX_NAME, read_index

# What a format mismatch's error line offers besides a dataset of the checkpoint's format.
NEW_MODEL = ", or another --out (and --init none) to start a new model"


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


def build_models(
    cfg: TrainConfig, clip: ClipFormat = CLIP, fps: float = DEFAULT_FPS
) -> tuple[nn.Module, nn.Module, dict, dict]:
    """G and D of `cfg`'s architecture and stage for a dataset of format `clip` and `fps`."""
    G_args, D_args = default_args(cfg.arch, cfg.stage, clip)
    if cfg.arch == "motion":  # its default frame rate is the dataset's
        G_args["fps"] = float(fps)
    return build_generator(cfg.arch, G_args), build_discriminator(cfg.arch, D_args), G_args, D_args


def parameter_counts(cfg: TrainConfig) -> list[str]:
    """A line per network: its parameter count at the format of cfg's dataset (the default
    where there is none yet); what `--dry-run` prints after the config."""
    index = Path(cfg.data) / INDEX_NAME
    clip = read_index(cfg.data).fmt if index.is_file() else CLIP
    G, D, _, _ = build_models(cfg, clip)
    return [
        f"{name} ({cfg.arch}, {cfg.stage}, {clip.stage(cfg.stage).describe()}): "
        f"{count_parameters(net):,} parameters"
        for name, net in (("G", G), ("D", D))
    ]


def motion_energy(clips: torch.Tensor) -> float:
    """Mean |x_t - x_{t-1}| over a batch (B, C, T, H, W)."""
    return float((clips[:, :, 1:] - clips[:, :, :-1]).abs().mean())


def fade_alpha(cfg: TrainConfig, step: int) -> float:
    """Progressive GAN fade-in of stage large's new layers: 0 -> 1 over `fade_steps`."""
    if cfg.stage != "large" or cfg.arch == "keras2019" or cfg.fade_steps <= 0:
        return 1.0
    if cfg.warm_start:  # a warm start of stage large has no new layers to fade in
        return 1.0
    return min(1.0, step / cfg.fade_steps)


def tile_rows(rows: np.ndarray, fmt: ClipFormat, gap: int = 1, scale: int = 2) -> np.ndarray:
    """rows (R, K, C, T, H, W) float in [-1, 1] -> uint8 frames (T, R*(H+gap), K*(W+gap)) (and
    3 channels last for rgb), scaled."""
    n_rows, n_cols = rows.shape[:2]
    clips = channels_last(from_unit(rows.reshape(n_rows * n_cols, *rows.shape[2:])), fmt)
    return upscale(tile(clips, columns=n_cols, gap=gap), scale)


@torch.no_grad()
def make_grid(G_ema: nn.Module, photos_clips: torch.Tensor, z: torch.Tensor, n_noises: int):
    """Rows: the real clip, then one sample per fixed noise -> (R, 1 + n_noises, C, T, H, W)."""
    device = next(G_ema.parameters()).device
    real = photos_clips.to(device)  # (R, C, T, H, W)
    n_photos = real.shape[0]
    photos = real[:, :, 0].repeat_interleave(n_noises, dim=0)
    samples = G_ema(photos, z.to(device)).view(n_photos, n_noises, *real.shape[1:])
    return torch.cat([real[:, None], samples], dim=1).float().cpu().numpy()


@dataclass
class Models:
    """What a training state holds besides the step and the RNG."""

    G: nn.Module
    D: nn.Module
    G_ema: nn.Module
    opt_G: torch.optim.Optimizer
    opt_D: torch.optim.Optimizer
    G_args: dict
    D_args: dict

    @classmethod
    def build(cls, cfg: TrainConfig, clip: ClipFormat, fps: float = DEFAULT_FPS) -> Models:
        """The networks and optimisers for a dataset of format `clip` and frame rate `fps`."""
        torch.manual_seed(cfg.seed)  # the same initial weights on every rank
        G, D, G_args, D_args = build_models(cfg, clip, fps)
        G_ema = build_generator(cfg.arch, G_args).requires_grad_(False).eval()
        G_ema.load_state_dict(G.state_dict())
        opt_G = torch.optim.Adam([p for p in G.parameters() if p.requires_grad], cfg.lr, cfg.betas)
        opt_D = torch.optim.Adam([p for p in D.parameters() if p.requires_grad], cfg.lr, cfg.betas)
        return cls(G, D, G_ema, opt_G, opt_D, G_args, D_args)

    def to(self, device: torch.device) -> Models:
        for module in (self.G, self.D, self.G_ema):
            module.to(device)
        for opt in (self.opt_G, self.opt_D):
            move_optimizer_state(opt, device)
        return self

    def set_alpha(self, alpha: float) -> None:
        for module in (self.G, self.D):
            module.alpha.fill_(alpha)


def start(
    cfg: TrainConfig, models: Models, rt: Runtime, clip: ClipFormat
) -> tuple[int, np.random.Generator, str]:
    """Resume a training state, or grow from a small one (stage large), or start from scratch;
    a state trained on another clip format than the dataset's (`clip`) is a UserError.

    Returns the step, the numpy generator of batches and a line saying which.
    """
    np_rng = seed_rngs(cfg.seed, rt.rank)
    if (path := resume_path(cfg)) is not None:
        state = ckpt.read_checkpoint(path)
        if state["kind"] != ckpt.TRAINING_KIND:
            raise UserError(f"{path} is an exported generator; resume needs a training state")
        ckpt.check_matches(state, path, arch=cfg.arch, stage=cfg.stage)
        ckpt.check_format(state, path, clip, cfg.data, NEW_MODEL)
        for name in ("G", "D", "G_ema", "opt_G", "opt_D"):
            getattr(models, name).load_state_dict(state[name])
        step = int(state["step"])
        check_steps_left(cfg, path, step)
        per_rank = ckpt.rank_rng_states(state)
        if len(per_rank) == rt.world_size:  # the same course, rank by rank
            set_rng_state(per_rank[rt.rank], np_rng)
        else:  # saved by another number of processes: a fresh stream per (seed, rank, step)
            np_rng = seed_rngs(cfg.seed, rt.rank, step)
        return step, np_rng, f"resumed from {path} at step {step}"
    if cfg.warm_start:
        return 0, np_rng, warm_start(cfg, models, clip)
    if (path := find_init(cfg)) is not None:
        state = ckpt.read_checkpoint(path)
        if state["kind"] != ckpt.TRAINING_KIND:
            raise UserError(f"{path} is an exported generator; --init needs a training state")
        ckpt.check_matches(state, path, arch=cfg.arch, stage="small")
        ckpt.check_format(state, path, clip, cfg.data, NEW_MODEL)
        new_G = load_matching(models.G, state["G"])
        load_matching(models.D, state["D"])
        load_matching(models.G_ema, state["G_ema"])
        return 0, np_rng, f"initialised from {path} (new in G: {', '.join(new_G) or 'nothing'})"
    return 0, np_rng, "starting from scratch"


def check_steps_left(cfg: TrainConfig, path: Path, step: int) -> None:
    """A resumed state already past --steps, or at it but from another folder (so nothing
    would be written to --out), is a UserError that says so, not "done at step 6: None"."""
    elsewhere = Path(path).resolve().parent != Path(cfg.out).resolve()
    if step > cfg.steps or (step == cfg.steps and elsewhere):
        raise UserError(
            f"{path} is at step {step}, so --steps {cfg.steps} leaves nothing to train"
            f"{' and nothing would be written to ' + str(cfg.out) if elsewhere else ''}; "
            f"pass --steps above {step} to go on training it"
        )


def warm_start(cfg: TrainConfig, models: Models, clip: ClipFormat) -> str:
    """G and G_ema from the EMA weights of a generator trained at another format (or the
    same), colour layers inflated; D keeps its new weights. Returns the line saying so."""
    path = cfg.warm_start
    obj = ckpt.read_checkpoint(path)
    ckpt.check_matches(obj, path, arch=cfg.arch, stage=cfg.stage)
    new_G = inflate_into(models.G, obj["G_ema"])
    inflate_into(models.G_ema, obj["G_ema"])
    if "noise_gain.weight" in new_G:  # a source without noise maps: they start silent, so G
        for G in (models.G, models.G_ema):  # starts as the source model and learns them
            nn.init.zeros_(G.noise_gain.weight)
            nn.init.zeros_(G.noise_gain.bias)
    source = ckpt.trained_format(obj).describe()
    return (
        f"warm start from {path} ({source} -> {clip.describe()}; new in G: "
        f"{', '.join(new_G) or 'nothing'})"
    )


class Log:
    """Rank 0's per-tick status line, stats.jsonl and TensorBoard scalars."""

    SCALARS = ("loss_D", "loss_G", "clips_per_s", "motion_ratio", "alpha")

    def __init__(self, cfg: TrainConfig, rt: Runtime):
        self.cfg, self.rt = cfg, rt
        self.writer = None
        if rt.main and cfg.tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(Path(cfg.out) / "tensorboard"))
        self.rate = 0.0
        self.reset()

    def reset(self) -> None:
        self.sums = {"loss_D": 0.0, "loss_G": 0.0, "motion_fake": 0.0, "motion_real": 0.0}
        self.n, self.since = 0, time.perf_counter()

    def add(self, loss_D: float, loss_G: float, fake: torch.Tensor, real: torch.Tensor) -> None:
        self.sums["loss_D"] += loss_D
        self.sums["loss_G"] += loss_G
        self.sums["motion_fake"] += motion_energy(fake)
        self.sums["motion_real"] += motion_energy(real)
        self.n += 1

    def tick(self, step: int, alpha: float) -> None:
        """One status line and stats row from the steps since the last tick."""
        cfg, n = self.cfg, max(self.n, 1)
        elapsed = max(time.perf_counter() - self.since, 1e-9)
        self.rate = self.n * cfg.batch_size * self.rt.world_size / elapsed
        stats = {
            "step": step,
            "loss_D": self.sums["loss_D"] / n,
            "loss_G": self.sums["loss_G"] / n,
            "clips_per_s": self.rate,
            "motion_ratio": self.sums["motion_fake"] / max(self.sums["motion_real"], 1e-9),
            "motion_fake": self.sums["motion_fake"] / n,
            "alpha": alpha,
            "time": time.time(),
        }
        tqdm.write(
            f"step {step:>7} | D {stats['loss_D']:.4f} G {stats['loss_G']:.4f} | "
            f"{self.rate:6.1f} clips/s | motion {stats['motion_ratio']:.2f}x real"
            + (f" | alpha {alpha:.2f}" if cfg.stage == "large" else "")
        )
        with open(Path(cfg.out) / "stats.jsonl", "a") as f:
            f.write(json.dumps(stats) + "\n")
        if self.writer is not None:
            for key in self.SCALARS:
                self.writer.add_scalar(key, stats[key], step)
        self.reset()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


class Snapshots:
    """Training states and sample grids (fixed photos, fixed noise) written by rank 0."""

    def __init__(self, cfg: TrainConfig, rt: Runtime, bank: ClipBank, noise_dim: int):
        self.cfg, self.rt = cfg, rt
        self.out = Path(cfg.out)
        self.last_good = ckpt.find_latest(self.out) if rt.main else None
        if rt.main:
            self.grid_clips = bank.fixed(cfg.grid_photos)
            noise_rng = torch.Generator().manual_seed(cfg.seed)
            n = cfg.grid_photos * cfg.grid_noises
            self.grid_z = torch.randn(n, noise_dim, generator=noise_rng)

    def save(self, models: Models, step: int, np_rng: np.random.Generator) -> None:
        """Every rank hands its RNG state to rank 0, which writes the training state."""
        rngs = self.rt.gather(rng_state(np_rng))
        if not self.rt.main:
            return
        cfg = self.cfg
        state = ckpt.training_state(
            arch=cfg.arch,
            stage=cfg.stage,
            step=step,
            alpha=fade_alpha(cfg, step),
            G_args=models.G_args,
            D_args=models.D_args,
            **{name: getattr(models, name).state_dict() for name in ("G", "D", "G_ema")},
            opt_G=models.opt_G.state_dict(),
            opt_D=models.opt_D.state_dict(),
            rng_ranks=rngs,
            config=cfg.to_dict(),
            clip_format=models.G.fmt.to_dict(),
        )
        self.last_good = ckpt.save_training_state(state, self.out, keep=cfg.keep)
        grid = make_grid(models.G_ema, self.grid_clips, self.grid_z, cfg.grid_noises)
        write_gif(self.out / f"grid-{step:07d}.gif", tile_rows(grid, models.G.fmt))


def check_arch_format(arch: str, clip: ClipFormat) -> None:
    """The 2019 architecture doubles time five times from 2 frames: it makes 32, no other."""
    if arch in ("keras2019", "seed") and clip.n_frames != 32:
        raise UserError(
            f"--arch {arch} makes clips of 32 frames (2 doubled five times); the dataset has "
            f"{clip.n_frames}-frame clips: use --arch flow, or a dataset built with --frames 32"
        )


def check_finite(step: int, loss_D: float, loss_G: float, last_good: Path | None) -> None:
    if not (np.isfinite(loss_D) and np.isfinite(loss_G)):
        raise UserError(
            f"the losses became NaN or infinite at step {step} (D {loss_D}, G {loss_G}); "
            f"training stopped, the last good checkpoint is {last_good or 'none'}; "
            "try a lower --lr"
        )


def train(cfg: TrainConfig) -> dict:
    """Train one stage as `cfg` says; returns a summary (final step, last checkpoint, rates)."""
    rt = setup_runtime(cfg.device, cfg.threads)
    stream = {"auto": None, "yes": True, "no": False}[cfg.stream]
    bank = ClipBank.from_dataset(
        cfg.data,
        cfg.stage,
        rank=rt.rank,
        world_size=rt.world_size,
        stream=stream,
        with_motion=cfg.arch == "motion",
    )
    check_arch_format(cfg.arch, bank.dataset_fmt)
    models = Models.build(cfg, bank.dataset_fmt, read_index(cfg.data).fps)
    step, np_rng, message = start(cfg, models, rt, bank.dataset_fmt)
    G, G_ema = models.G, models.G_ema
    models.to(rt.device)
    G_train, D_train = rt.wrap(G, cfg.compile), rt.wrap(models.D, cfg.compile)
    gan_step = gan_step_for(cfg.arch, StepWeights.of(cfg))
    autocast = rt.autocast()
    if rt.main:
        Path(cfg.out).mkdir(parents=True, exist_ok=True)
        held = "streamed from the shards" if bank.streamed else "held in memory"
        tqdm.write(f"{message}; {len(bank)} training clips {held}")
    log, snapshots = Log(cfg, rt), Snapshots(cfg, rt, bank, G.noise_dim)
    deadline = time.perf_counter() + 60 * cfg.minutes if cfg.minutes > 0 else float("inf")
    bar = tqdm(total=cfg.steps, initial=step, disable=not rt.main, desc=f"train {cfg.stage}")
    while step < cfg.steps:
        alpha = fade_alpha(cfg, step)
        models.set_alpha(alpha)
        real, targets = bank.sample_with_targets(np_rng, cfg.batch_size)
        real = real.to(rt.device)  # (B, C, T, H, W)
        if targets is not None:
            targets = {key: value.to(rt.device) for key, value in targets.items()}
        z = torch.randn(cfg.batch_size, G.noise_dim, device=rt.device)
        loss_D, loss_G, fake = gan_step(
            G_train, D_train, models.opt_G, models.opt_D, real, z, autocast, targets=targets
        )
        update_ema(G_ema, G, step, cfg.ema_beta)
        step += 1
        check_finite(step, loss_D.item(), loss_G.item(), snapshots.last_good)
        log.add(loss_D.item(), loss_G.item(), fake, real)
        bar.update(1)
        out_of_time = rt.any_rank(time.perf_counter() > deadline) if cfg.minutes > 0 else False
        last = step == cfg.steps or out_of_time
        if rt.main and (step % cfg.tick_every == 0 or last):
            log.tick(step, alpha)
        if step % cfg.snapshot_every == 0 or last:
            snapshots.save(models, step, np_rng)
        if out_of_time:
            break
    bar.close()
    log.close()
    rt.barrier()
    last_good = snapshots.last_good
    return {
        "step": step,
        "checkpoint": str(last_good) if last_good else None,
        "clips_per_s": log.rate,
    }
