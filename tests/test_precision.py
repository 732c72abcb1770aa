"""bf16 training on the CPU, with the casting that broke stage large on a CUDA GPU (issue 22).

CPU autocast and CUDA autocast cast different ops: under CUDA's, `F.interpolate` gave float32
where a convolution beside it gave bfloat16, and `torch.lerp` of the two in the fade-in
stopped stage large at its first step. `Float32Interpolate` gives the CPU that same casting, so
these tests meet the GPU's mixes of dtypes without a GPU; the code must make its dtypes
explicit so that neither backend's rules matter.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from click.testing import CliRunner
from media import write_splits
from torch.overrides import TorchFunctionMode

from scenegan.archs import arch_names, get_arch
from scenegan.cli import cli
from scenegan.clip_format import CLIP
from scenegan.config import LOSSES
from scenegan.model import checkpoint as ckpt
from scenegan.model.archs import (
    build_discriminator,
    build_generator,
    default_args,
    gan_step_for,
)
from scenegan.model.ema import update_ema
from scenegan.model.steps import StepWeights
from scenegan.model.train import TrainConfig


class Float32Interpolate(TorchFunctionMode):
    """`F.interpolate` returns float32 inside autocast, as it did under CUDA's autocast."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        result = func(*args, **(kwargs or {}))
        if func is F.interpolate and torch.is_autocast_enabled("cpu"):
            return result.float()
        return result


def bf16() -> torch.autocast:
    return torch.autocast("cpu", dtype=torch.bfloat16)


def networks(arch: str, stage: str, alpha: float):
    torch.manual_seed(0)
    G_args, D_args = default_args(arch, stage)
    G, D = build_generator(arch, G_args), build_discriminator(arch, D_args)
    for module in (G, D):
        module.set_alpha(alpha)
    return G, D


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("stage", ["small", "large"])
@pytest.mark.parametrize("arch", arch_names())
def test_gan_step_in_bf16_through_the_fade_in(arch, stage, loss):
    """A whole G + D step (augmentation, mismatched pairs, penalties, gradient penalty) and
    the EMA update, under bf16 autocast with CUDA's casting of F.interpolate, half way
    through stage large's fade-in; every loss, output and weight comes back float32."""
    G, D = networks(arch, stage, alpha=0.5)
    G_ema = build_generator(arch, default_args(arch, stage)[0]).requires_grad_(False)
    G_ema.load_state_dict(G.state_dict())
    opt_G = torch.optim.Adam([p for p in G.parameters() if p.requires_grad], 1e-4)
    opt_D = torch.optim.Adam([p for p in D.parameters() if p.requires_grad], 1e-4)
    cfg = TrainConfig(arch=arch, stage=stage, loss=loss, out="unused")
    fmt = CLIP.stage(stage)
    real = torch.rand(2, fmt.channels, *fmt.volume) * 2 - 1  # (B, C, T, H, W)
    z = torch.randn(2, G.noise_dim)
    targets = None
    if get_arch(arch).learns_motion:  # the real clips' measured motion, at the stage's size
        height, width = fmt.frame_shape
        targets = {
            "mean_flow": torch.randn(2, 2, height, width) * 0.3,
            "motion_map": torch.rand(2, height, width),
            "motion": torch.tensor([0.5, 1.0]),
            "fps": torch.tensor([12.0, 8.0]),
        }
    with Float32Interpolate():
        loss_D, loss_G, fake = gan_step_for(arch, StepWeights.of(cfg))(
            G, D, opt_G, opt_D, real, z, bf16(), targets=targets
        )
        update_ema(G_ema, G, step=0)
        with bf16(), torch.no_grad():
            clip = G(real[:, :, 0], z)
            scores = D(real)
    assert loss_D.dtype == loss_G.dtype == torch.float32
    assert torch.isfinite(loss_D) and torch.isfinite(loss_G)
    assert fake.dtype == clip.dtype == scores.dtype == torch.float32
    assert clip.shape == real.shape and scores.shape == (2,)
    if arch != "keras2019":  # the photo-warping generators keep frame 0 exactly
        assert torch.equal(clip[:, :, 0], real[:, :, 0])
    for module in (G, D, G_ema):
        assert all(p.dtype == torch.float32 for p in module.parameters())
        assert all(torch.isfinite(p).all() for p in module.parameters())


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    rng = np.random.default_rng(0)
    clips = rng.integers(0, 256, (6, *CLIP.shape), dtype=np.uint8)
    return write_splits(
        tmp_path_factory.mktemp("data") / "clips", {"train": (clips, ["a", "b"] * 3)}
    )


def test_cli_trains_both_stages_in_bf16_with_cuda_casting(dataset, tmp_path):
    """`scenegan train --precision bf16`, stage small then stage large grown from it and
    stopped half way through its fade-in, with CUDA's casting of F.interpolate: the run that
    stopped at stage large's first step on the H200 (issue 22) trains and saves float32
    weights."""
    runner = CliRunner()
    common = ["--data", str(dataset), "--precision", "bf16", "--batch-size", "2"]
    common += ["--no-tensorboard", "--threads", "1", "--tick-every", "1"]
    with Float32Interpolate():
        small = runner.invoke(
            cli, ["train", *common, "--out", str(tmp_path / "small"), "--steps", "1"]
        )
        assert small.exit_code == 0, small.output
        large = runner.invoke(
            cli,
            [
                "train",
                *common,
                "--stage",
                "large",
                "--out",
                str(tmp_path / "large"),
                "--steps",
                "2",
                "--fade-steps",
                "4",
            ],
        )
    assert large.exit_code == 0, f"{large.output}\n{large.exception!r}"
    state = torch.load(tmp_path / "large" / ckpt.state_name(2), weights_only=True)
    assert state["config"]["precision"] == "bf16" and state["alpha"] == pytest.approx(0.5)
    stats = [
        json.loads(line) for line in (tmp_path / "large" / "stats.jsonl").read_text().splitlines()
    ]
    assert [row["alpha"] for row in stats] == [0.0, 0.25]
    for key in ("G", "D", "G_ema"):
        for name, tensor in state[key].items():
            if tensor.is_floating_point():
                assert tensor.dtype == torch.float32 and torch.isfinite(tensor).all(), name


def test_bf16_clips_stay_close_to_float32_ones():
    """bf16 autocast changes the arithmetic, not the model: the same G and noise give clips
    within a few grey levels of its float32 clips."""
    for arch in ("euler", "flow"):
        G, _ = networks(arch, "large", alpha=0.5)
        G.eval()
        photo = torch.rand(2, 1, *CLIP.frame_shape) * 2 - 1
        z = torch.randn(2, G.noise_dim)
        with torch.no_grad():
            exact = G(photo, z)
            with Float32Interpolate(), bf16():
                approx = G(photo, z)
        assert approx.dtype == torch.float32
        assert (approx - exact).abs().mean() < 4 / 127.5, arch  # 2 grey levels on average
