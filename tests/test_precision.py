"""bf16 training on the CPU, with the casting that broke stage large on a CUDA GPU (issue 22).

CPU autocast and CUDA autocast cast different ops: under CUDA's, `F.interpolate` gave float32
where a convolution beside it gave bfloat16, and `torch.lerp` of the two in the fade-in
stopped stage large at its first step. `Float32Interpolate` gives the CPU that same casting, so
these tests meet the GPU's mixes of dtypes without a GPU; the code must make its dtypes
explicit so that neither backend's rules matter.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

from scenegan.clip_format import CLIP
from scenegan.config import ARCHS, LOSSES
from scenegan.model.ema import update_ema
from scenegan.model.networks import build_discriminator, build_generator, default_args
from scenegan.model.steps import StepWeights, gan_step_for
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


def measured_motion(fmt, batch: int) -> dict:
    """What data.ClipBank.sample_with_targets gives the motion arch, float16 maps included."""
    return {
        "mean_flow": torch.randn(batch, 2, *fmt.frame_shape).half(),
        "motion_map": torch.rand(batch, *fmt.frame_shape).half(),
        "motion": torch.rand(batch),
        "fps": torch.full((batch,), 12.0),
    }


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("stage", ["small", "large"])
@pytest.mark.parametrize("arch", ARCHS)
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
    targets = measured_motion(fmt, len(real)) if arch == "motion" else None
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
