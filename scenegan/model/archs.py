"""Build what an entry of the arch registry (`scenegan/archs.py`) names: its G and D from their
constructor arguments, their default arguments at a stage and clip format, and its GAN step.

Each architecture's file ends with one `Networks` value (networks.py: EULER and FLOW;
keras2019.py: KERAS2019); its registry entry names it as `module:attribute`. Nothing else in
the package branches on an architecture's name.
"""

from __future__ import annotations

import copy
import importlib
from collections.abc import Callable
from dataclasses import dataclass, field

from torch import nn

from scenegan.archs import Arch, get_arch
from scenegan.clip_format import CLIP, DEFAULT_FPS, ClipFormat


@dataclass(frozen=True)
class Networks:
    """An architecture's torch side. `generator(**G_args)` makes G, called as
    `G(photo (B, C, H, W), z (B, G.noise_dim), **controls) -> clip (B, C, T, H, W)` and
    holding `fmt`, `dataset_fmt` and `noise_dim`, and a `scenegan.model.fade.FadeIn` (stage
    large's fade-in weight); `discriminator(**D_args)` makes D, `D(clip) -> (B,)` scores, a
    FadeIn too;
    `step(StepWeights)` is the GAN step (scenegan.model.steps.GANStep). The arguments are
    those besides `stage` and `clip_format`, which every network takes."""

    generator: Callable[..., nn.Module]
    discriminator: Callable[..., nn.Module]
    step: Callable
    G_args: dict = field(default_factory=dict)
    D_args: dict = field(default_factory=dict)
    G_takes_fps: bool = False  # G_args also get the dataset's frame rate as `fps`
    # (G_args, D_args, width) -> the arguments at --width `width`; None: one width only
    widen: Callable[[dict, dict, float], tuple[dict, dict]] | None = None


def registered(arch: str) -> Arch:
    """The registry entry of a name or alias; an unknown one is a ValueError naming the
    choices (a checkpoint may name an architecture this version does not have)."""
    try:
        return get_arch(arch)
    except KeyError as error:
        raise ValueError(error.args[0]) from None


def networks_of(arch: str) -> Networks:
    """The `Networks` the registry entry of `arch` names."""
    module, _, attribute = registered(arch).networks.partition(":")
    return getattr(importlib.import_module(module), attribute)


def default_args(
    arch: str, stage: str, clip: ClipFormat = CLIP, fps: float = DEFAULT_FPS, width: float = 1.0
) -> tuple[dict, dict]:
    """Constructor arguments (G, D) of an architecture at a stage for a dataset of format
    `clip` and frame rate `fps`, as the plain dicts checkpoints store; `width` multiplies the
    channels (--width) of the architectures that offer it (at 1, the arguments of every model
    trained before --width existed)."""
    networks, fmt = networks_of(arch), clip.to_dict()
    G_args = {"stage": stage, **copy.deepcopy(networks.G_args), "clip_format": fmt}
    D_args = {"stage": stage, **copy.deepcopy(networks.D_args), "clip_format": fmt}
    if networks.G_takes_fps:
        G_args["fps"] = float(fps)
    if width != 1:
        if networks.widen is None:
            raise ValueError(f"{arch} has one width, its own; --width is for the others")
        G_args, D_args = networks.widen(G_args, D_args, width)
    return G_args, D_args


def build_generator(arch: str, args: dict) -> nn.Module:
    """The generator of `arch` from its constructor arguments (as stored in checkpoints)."""
    return networks_of(arch).generator(**args)


def build_discriminator(arch: str, args: dict) -> nn.Module:
    return networks_of(arch).discriminator(**args)


def gan_step_for(arch: str, weights):
    """The GAN step object of `arch` with the loss settings `weights` (steps.StepWeights)."""
    return networks_of(arch).step(weights)
