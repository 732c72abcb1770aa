"""One GAN step (a D update, then a G update) per family of architectures; an architecture's
`Networks` (scenegan.model.archs) names its step.

`PhotoWarpStep` (euler, flow): a conditional D that also sees mismatched (clip, photo) pairs,
DiffAugment, the generator's own regularisers and the motion-map match. `Keras2019Step`: the
2019 project's way, its batch-norm D shown real and generated batches apart. An architecture's
own step may live in its own file (motion.py's MotionStep).
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass

import torch
from torch import nn

from scenegan.model.augment import augment
from scenegan.model.losses import d_loss, g_loss, gradient_penalty, motion_match
from scenegan.model.runtime import unwrap


@dataclass(frozen=True)
class StepWeights:
    """The loss settings a step reads from the training config (TrainConfig holds the
    defaults)."""

    loss: str
    augment: str
    gp_weight: float
    mismatch_weight: float
    roughness_weight: float
    residual_weight: float
    motion_weight: float
    flow_weight: float
    magnitude_weight: float
    amount_weight: float
    still_weight: float
    adversarial_weight: float
    baseline_fake_weight: float

    @classmethod
    def of(cls, cfg) -> StepWeights:
        return cls(**{name: getattr(cfg, name) for name in cls.__dataclass_fields__})


class GANStep:
    """D's update on real and generated clips, then G's through the D just updated.

    G runs once: D's update sees its output detached. Returns (loss_D, loss_G, fake clips).
    """

    def __init__(self, weights: StepWeights):
        self.w = weights

    def __call__(
        self, G_train, D_train, opt_G, opt_D, real, z, autocast=None, timer=None, targets=None
    ):
        """`targets`: the real clips' measured motion (data.ClipBank.sample_with_targets),
        for the architectures that learn from it."""
        autocast = autocast or nullcontext()
        mark = timer or (lambda phase: None)
        D = unwrap(D_train)
        mark("forward_backward")
        adversarial = self.w.adversarial_weight > 0
        with autocast:
            fake, penalties = self.generate(G_train, real[:, :, 0], z, targets)
        if adversarial:
            D.requires_grad_(True)
            with autocast:
                loss_D = self.d_loss(D_train, real, fake.detach())
            opt_D.zero_grad(set_to_none=True)
            loss_D.backward()
            mark("optimizer")
            opt_D.step()
        else:  # regression only: D is neither trained nor asked
            loss_D = fake.new_zeros((), dtype=torch.float32)
        mark("forward_backward")
        # G's pass through D runs outside DDP with D frozen: no gradient reduction for D.
        D.requires_grad_(False)
        with autocast:
            loss_G = fake.new_zeros((), dtype=torch.float32)
            if adversarial:
                scores = D(augment(fake, self.w.augment)).float()
                loss_G = self.w.adversarial_weight * g_loss(self.w.loss, scores)
            loss_G = loss_G + self.g_extra(fake, real, penalties, targets)
        opt_G.zero_grad(set_to_none=True)
        loss_G.backward()
        mark("optimizer")
        opt_G.step()
        mark(None)
        return loss_D.detach(), loss_G.detach(), fake.detach()

    def generate(self, G_train: nn.Module, photo: torch.Tensor, z: torch.Tensor, targets=None):
        return G_train(photo, z), {}

    def d_loss(self, D_train, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def g_extra(self, fake, real, penalties: dict, targets=None) -> torch.Tensor:
        return fake.new_zeros(())

    def gradient_penalty(self, D_train, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        if self.w.loss != "wgan-gp":
            return real.new_zeros(())
        return self.w.gp_weight * gradient_penalty(D_train, real, fake)


class PhotoWarpStep(GANStep):
    """euler and flow: the photo-conditioned D, regularisers and the motion-map match."""

    def generate(self, G_train, photo, z, targets=None):
        if self.w.roughness_weight > 0 or self.w.residual_weight > 0:
            return G_train(photo, z, with_penalties=True)
        return G_train(photo, z), {}

    def d_loss(self, D_train, real, fake):
        batch = [real, fake]
        if self.w.mismatch_weight > 0:
            # A real clip whose frame 0 (the photo) comes from another clip: a fake pair.
            mismatch = real.clone()
            mismatch[:, :, 0] = real[:, :, 0].roll(1, dims=0)
            batch.append(mismatch)
        scores = D_train(augment(torch.cat(batch), self.w.augment)).float().split(len(real))
        fakes = [(scores[1], 1.0)]
        if len(batch) > 2:
            fakes.append((scores[2], self.w.mismatch_weight))
        return d_loss(self.w.loss, scores[0], fakes) + self.gradient_penalty(D_train, real, fake)

    def g_extra(self, fake, real, penalties, targets=None):
        extra = fake.new_zeros((), dtype=torch.float32)
        if penalties:
            extra = extra + self.w.roughness_weight * penalties["roughness"].float()
            extra = extra + self.w.residual_weight * penalties["residual"].float()
        if self.w.motion_weight > 0:
            extra = extra + self.w.motion_weight * motion_match(fake, real)
        return extra


class Keras2019Step(GANStep):
    """The 2019 model: no mismatched pairs, no regularisers, D on real and fake batches apart."""

    def d_loss(self, D_train, real, fake):
        scores = [D_train(augment(x, self.w.augment)).float() for x in (real, fake)]
        loss = d_loss(self.w.loss, scores[0], [(scores[1], 1.0)])
        return loss + self.gradient_penalty(D_train, real, fake)
