"""The training loop of `scenegan train`: one stage, one architecture, resumable, CPU/CUDA/DDP.

Runs under `python` or `torchrun` alike (DDP when RANK is set, see runtime.py). `Trainer` holds
what a step needs and takes one step (the benchmarks time that same step); the GAN step of each
architecture is in steps.py. A step never waits for the GPU: the clips are on the device, the
losses and motion are summed there and read once per tick. Rank 0 logs a status line per tick,
`stats.jsonl`, TensorBoard scalars, a GIF grid and a training state per snapshot.
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
from scenegan.archs import get_arch
from scenegan.clip_format import CLIP, DEFAULT_FPS, ClipFormat, channels_last, from_unit
from scenegan.config import TrainConfig
from scenegan.errors import UserError
from scenegan.model import checkpoint as ckpt
from scenegan.model.archs import (
    build_discriminator,
    build_generator,
    default_args,
    gan_step_for,
)
from scenegan.model.data import ClipBank
from scenegan.model.ema import update_ema
from scenegan.model.inflate import inflate_into, load_matching
from scenegan.model.runtime import (
    Runtime,
    rng_state,
    seed_rngs,
    set_rng_state,
    setup_runtime,
)
from scenegan.model.steps import StepWeights
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
    """G and D of `cfg`'s architecture and stage (at its --width) for a dataset of format
    `clip` and `fps`."""
    G_args, D_args = default_args(cfg.arch, cfg.stage, clip, fps, cfg.width)
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


def motion_energy(clips: torch.Tensor) -> torch.Tensor:
    """Mean |x_t - x_{t-1}| over a batch (B, C, T, H, W), a float32 scalar on its device."""
    return (clips[:, :, 1:] - clips[:, :, :-1]).float().abs().mean()


def fade_alpha(cfg: TrainConfig, step: int) -> float:
    """Progressive GAN fade-in of stage large's new layers: 0 -> 1 over `fade_steps` (for the
    architectures that fade in)."""
    if cfg.stage != "large" or not get_arch(cfg.arch).fade_in or cfg.fade_steps <= 0:
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

    alpha: float | None = None

    @classmethod
    def build(
        cls,
        cfg: TrainConfig,
        clip: ClipFormat,
        fps: float = DEFAULT_FPS,
        device: torch.device | str = "cpu",
    ) -> Models:
        """The networks on `device` and their optimisers, for a dataset of format `clip` and
        frame rate `fps`: Adam fused into one kernel per step on CUDA (the same update as the
        CPU's loop)."""
        device = torch.device(device)
        torch.manual_seed(cfg.seed)  # the same initial weights on every rank
        G, D, G_args, D_args = build_models(cfg, clip, fps)
        G_ema = build_generator(cfg.arch, G_args).requires_grad_(False).eval()
        G_ema.load_state_dict(G.state_dict())
        for module in (G, D, G_ema):
            module.to(device)
            if cfg.channels_last:
                to_channels_last(module)
        fused = {"fused": True} if device.type == "cuda" else {}
        opt_G, opt_D = (
            torch.optim.Adam(
                [p for p in net.parameters() if p.requires_grad], cfg.lr, cfg.betas, **fused
            )
            for net in (G, D)
        )
        return cls(G, D, G_ema, opt_G, opt_D, G_args, D_args)

    def set_alpha(self, alpha: float) -> None:
        """The fade-in weight of G, D and G_ema (written to the device only when it changes)."""
        if alpha != self.alpha:
            for module in (self.G, self.D, self.G_ema):
                module.set_alpha(alpha)
            self.alpha = alpha


def to_channels_last(module: nn.Module) -> None:
    """Convolution weights channels-last (2-D and 3-D), so cuDNN and oneDNN pick their
    channels-last kernels and keep activations in that layout."""
    for layer in module.modules():
        if isinstance(layer, nn.Conv2d | nn.Conv3d):
            layout = torch.channels_last if layer.weight.dim() == 4 else torch.channels_last_3d
            layer.weight.data = layer.weight.data.contiguous(memory_format=layout)


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
        check_width(state, path, models.G_args)
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
        check_width(state, path, models.G_args)
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
    same), colour layers inflated; D from a training state of the same format, else new.
    Returns the line saying so."""
    path = cfg.warm_start
    obj = ckpt.read_checkpoint(path)
    ckpt.check_matches(obj, path, arch=cfg.arch, stage=cfg.stage)
    check_width(obj, path, models.G_args)
    new_G = inflate_into(models.G, obj["G_ema"])
    inflate_into(models.G_ema, obj["G_ema"])
    if "noise_gain.weight" in new_G:  # a source without noise maps: they start silent, so G
        for G in (models.G, models.G_ema):  # starts as the source model and learns them
            nn.init.zeros_(G.noise_gain.weight)
            nn.init.zeros_(G.noise_gain.bias)
    source = ckpt.trained_format(obj).describe()
    D_line = ""
    if "D" in obj and ckpt.trained_format(obj) == clip:  # a training state at this format
        new_D = load_matching(models.D, obj["D"])
        D_line = f"; D from it too (new in D: {', '.join(new_D) or 'nothing'})"
    return (
        f"warm start from {path} ({source} -> {clip.describe()}; new in G: "
        f"{', '.join(new_G) or 'nothing'}{D_line})"
    )


class Log:
    """Per-step numbers summed on the device and read on the host once per tick (or before a
    snapshot): rank 0's status line, stats.jsonl and TensorBoard scalars."""

    SCALARS = ("loss_D", "loss_G", "clips_per_s", "motion_ratio", "alpha")
    SUMS = ("loss_D", "loss_G", "motion_fake", "motion_real")

    def __init__(self, cfg: TrainConfig, rt: Runtime):
        self.cfg, self.rt = cfg, rt
        self.writer = None
        if rt.main and cfg.tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(Path(cfg.out) / "tensorboard"))
        self.rate = 0.0
        self.sums = torch.zeros(len(self.SUMS), dtype=torch.float64, device=rt.device)
        self.reset()

    def reset(self) -> None:
        self.sums.zero_()
        self.n, self.since = 0, time.perf_counter()

    def add(
        self, loss_D: torch.Tensor, loss_G: torch.Tensor, fake: torch.Tensor, real: torch.Tensor
    ) -> None:
        """Add one step's losses and motion energies, on the device (no host sync)."""
        step = torch.stack(
            [loss_D.float(), loss_G.float(), motion_energy(fake), motion_energy(real)]
        )
        self.sums += step.double()
        self.n += 1

    def read(self, step: int, last_good: Path | None) -> dict:
        """The means since the last tick (one host sync); NaN or inf in them stops training."""
        sums = dict(zip(self.SUMS, self.sums.tolist(), strict=True))
        check_finite(step, sums["loss_D"], sums["loss_G"], last_good)
        return sums

    def tick(self, step: int, alpha: float, sums: dict) -> None:
        """One status line and stats row from the steps since the last tick."""
        cfg, n = self.cfg, max(self.n, 1)
        elapsed = max(time.perf_counter() - self.since, 1e-9)
        self.rate = self.n * cfg.batch_size * self.rt.world_size / elapsed
        stats = {
            "step": step,
            "loss_D": sums["loss_D"] / n,
            "loss_G": sums["loss_G"] / n,
            "clips_per_s": self.rate,
            "motion_ratio": sums["motion_fake"] / max(sums["motion_real"], 1e-9),
            "motion_fake": sums["motion_fake"] / n,
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

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


class Snapshots:
    """Training states and sample grids (fixed photos, fixed noise) written by rank 0."""

    def __init__(
        self, cfg: TrainConfig, rt: Runtime, bank: ClipBank, noise_dim: int, dataset: dict
    ):
        self.cfg, self.rt = cfg, rt
        self.dataset = dataset  # what every state records of the dataset (ckpt.dataset_record)
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
            dataset=self.dataset,
        )
        self.last_good = ckpt.save_training_state(state, self.out, keep=cfg.keep)
        grid = make_grid(models.G_ema, self.grid_clips, self.grid_z, cfg.grid_noises)
        write_gif(self.out / f"grid-{step:07d}.gif", tile_rows(grid, models.G.fmt))


def check_arch_format(arch: str, clip: ClipFormat) -> None:
    """An architecture that makes clips of one length only (keras2019 doubles time five times
    from 2 frames: 32) needs a dataset of that length."""
    n_frames = get_arch(arch).n_frames
    if n_frames is not None and clip.n_frames != n_frames:
        raise UserError(
            f"--arch {arch} makes clips of {n_frames} frames only; the dataset has "
            f"{clip.n_frames}-frame clips: use another --arch, or a dataset built with "
            f"--frames {n_frames}"
        )


def check_finite(step: int, loss_D: float, loss_G: float, last_good: Path | None) -> None:
    if not (np.isfinite(loss_D) and np.isfinite(loss_G)):
        raise UserError(
            f"the losses became NaN or infinite by step {step} (D {loss_D}, G {loss_G}); "
            f"training stopped, the last good checkpoint is {last_good or 'none'}; "
            "try a lower --lr"
        )


def check_width(state: dict, path: Path | str, G_args: dict) -> None:
    """A checkpoint whose networks have other channel counts (another --width) is a UserError
    that says which width it has."""
    theirs, ours = state.get("G_args", {}).get("channels"), G_args.get("channels")
    if theirs is not None and ours is not None and list(theirs) != list(ours):
        width = f"{theirs[0] / 16:g}"
        raise UserError(
            f"{path} holds networks of {theirs} channels (--width {width}), not {ours}; "
            f"pass --width {width} or another checkpoint"
        )


class Trainer:
    """One stage's training as `cfg` says: the runtime, this rank's clips, the networks and
    their step. `train_step` is the whole of one step; `train()` loops over it, and
    benchmarks/train_speed.py times it."""

    def __init__(self, cfg: TrainConfig):
        self.cfg = cfg
        self.rt = setup_runtime(cfg.device, cfg.threads, cfg.precision)
        try:
            self.build()
        except BaseException:  # a bad dataset or checkpoint: no process group left behind
            self.rt.close()
            raise

    def build(self) -> None:
        """This rank's clips, the networks (resumed, grown or new) and their step."""
        cfg, rt = self.cfg, self.rt
        stream = {"auto": None, "yes": True, "no": False}[cfg.stream]
        self.index = read_index(cfg.data)  # read once: every shard is opened and checked
        self.bank = ClipBank.from_dataset(
            self.index,
            cfg.stage,
            rank=rt.rank,
            world_size=rt.world_size,
            stream=stream,
            device=rt.device,
            with_motion=get_arch(cfg.arch).learns_motion,
            video_fraction=cfg.video_fraction,
        )
        check_arch_format(cfg.arch, self.bank.dataset_fmt)
        self.models = Models.build(cfg, self.bank.dataset_fmt, self.index.fps, rt.device)
        self.step, self.np_rng, self.message = start(cfg, self.models, rt, self.bank.dataset_fmt)
        self.G_train = rt.wrap(self.models.G, cfg.compile)
        self.D_train = rt.wrap(self.models.D, cfg.compile)
        self.gan_step = gan_step_for(cfg.arch, StepWeights.of(cfg))
        self.autocast = rt.autocast()

    def train_step(self, log: Log | None = None, timer=None) -> None:
        """One step: the fade-in weight, a batch drawn on the device, D's and G's updates, the
        EMA; the losses and motion go to `log` on the device. `timer` (runtime.Timer) marks
        the phases for the benchmarks."""
        cfg, models = self.cfg, self.models
        mark = timer or (lambda phase: None)
        models.set_alpha(fade_alpha(cfg, self.step))
        mark("data")
        # (B, C, T, H, W), and the measured motion of those clips for the motion arch
        real, targets = self.bank.sample_with_targets(self.np_rng, cfg.batch_size)
        z = torch.randn(cfg.batch_size, models.G.noise_dim, device=self.rt.device)
        loss_D, loss_G, fake = self.gan_step(
            self.G_train,
            self.D_train,
            models.opt_G,
            models.opt_D,
            real,
            z,
            self.autocast,
            mark,
            targets=targets,
        )
        mark("ema_stats")
        update_ema(models.G_ema, models.G, self.step, cfg.ema_beta)
        if log is not None:
            log.add(loss_D, loss_G, fake, real)
        mark(None)
        self.step += 1

    def out_of_time(self, deadline: float) -> bool:
        """Past the deadline (every rank agrees; under DDP asked only on tick steps, as the
        agreement is a collective that makes the host wait)."""
        if self.cfg.minutes <= 0:
            return False
        if self.rt.ddp and self.step % self.cfg.tick_every != 0:
            return False
        return self.rt.any_rank(time.perf_counter() > deadline)


def train(cfg: TrainConfig) -> dict:
    """Train one stage as `cfg` says; returns a summary (final step, last checkpoint, rates)."""
    trainer = Trainer(cfg)
    try:
        return run(trainer)
    finally:
        trainer.rt.close()


def run(trainer: Trainer) -> dict:
    """The loop: steps until --steps or --minutes, a tick every --tick-every steps, a
    training state and grid every --snapshot-every and at the end."""
    cfg, rt, models = trainer.cfg, trainer.rt, trainer.models
    if rt.main:
        Path(cfg.out).mkdir(parents=True, exist_ok=True)
        held = "streamed from the shards" if trainer.bank.streamed else f"held on {rt.device}"
        tqdm.write(
            f"{trainer.message}; {len(trainer.bank)} training clips {held}; "
            f"precision {rt.precision}"
        )
    log = Log(cfg, rt)
    snapshots = Snapshots(
        cfg, rt, trainer.bank, models.G.noise_dim, ckpt.dataset_record(trainer.index)
    )
    deadline = time.perf_counter() + 60 * cfg.minutes if cfg.minutes > 0 else float("inf")
    bar = tqdm(
        total=cfg.steps, initial=trainer.step, disable=not rt.main, desc=f"train {cfg.stage}"
    )
    while trainer.step < cfg.steps:
        trainer.train_step(log)
        step = trainer.step
        bar.update(1)
        out_of_time = trainer.out_of_time(deadline)
        last = step == cfg.steps or out_of_time
        tick = step % cfg.tick_every == 0 or last
        snapshot = step % cfg.snapshot_every == 0 or last
        if tick or snapshot:  # the host reads the device's sums here, and only here
            sums = log.read(step, snapshots.last_good)
        if tick:
            if rt.main:
                log.tick(step, models.alpha, sums)
            log.reset()
        if snapshot:
            snapshots.save(models, step, trainer.np_rng)
        if out_of_time:
            break
    bar.close()
    log.close()
    rt.barrier()
    last_good = snapshots.last_good
    return {
        "step": trainer.step,
        "checkpoint": str(last_good) if last_good else None,
        "clips_per_s": log.rate,
    }
