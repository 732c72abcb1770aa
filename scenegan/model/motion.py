"""The `motion` generator: motion learned from measured optical flow, its amount an input.

After Holynski et al. (2021) and Li et al. (Generative Image Dynamics, 2024): from the photo,
the noise, how much the scene moves (`motion`, mean flow speed in pixels per frame at the
dataset's size) and the frame rate, the network predicts per pixel a steady velocity `v`
(integrated along its streamlines: water keeps flowing, clouds keep drifting) and an
oscillation, an amplitude vector `a`, a frequency and a phase (waves, leaves and flames go
back and forth, so their average flow cancels and one velocity field cannot carry them).
Frame t warps the photo, never the previous frame, by

    streamline of v over t frames  +  a * (sin(w t + phase) - sin(phase))

plus the flow generator's small per-frame jitter and its residual, the texture change no warp
explains (foam, flicker), trained adversarially. The fields are scaled so that their analytic
mean speed is exactly `motion`: the network chooses where and how things move, the input says
how much. In training `motion` is the real clip's measured value and the fields are regressed
to its measured `mean_flow` (end-point error) and `motion_map` (the magnitude term that keeps
averaging from shrinking oscillation); at sample time a small head predicts it from the photo,
times a gain calibrated on the select split, times `--speed`, or `--motion` sets it.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from scenegan.model.archs import Networks
from scenegan.model.augment import augment
from scenegan.model.losses import d_fake_term
from scenegan.model.networks import (
    PHOTO_WARP_D_ARGS,
    PHOTO_WARP_G_ARGS,
    Discriminator,
    FlowGenerator,
    identity_grid,
    integrate,
    lrelu,
    motion_controls,
    widen_photo_warp,
)
from scenegan.model.scene_prior import (
    CONTEXT_SCALE,
    ScenePrior,
    flutter_pixels,
    noise_seeds,
    pooled_features,
)
from scenegan.model.steps import PhotoWarpStep
from scenegan.model.still_inception import StillInception
from scenegan.pipeline.motion_fields import STILL_FLOW

REFERENCE_FPS = 12.0  # the frame rate whose log is 0 in the conditioning
AMOUNT_EPS = 0.01  # px/frame: the amount head predicts log(motion + AMOUNT_EPS)
N_MOTION_FIELDS = 6  # velocity x, y; amplitude x, y; frequency; phase


class MotionGenerator(FlowGenerator):
    """photo (B, C, H, W) + z (B, noise_dim) [+ motion (B,), fps (B,)] -> clip (B, C, T, H, W).

    Frame 0 is the photo by construction. Without `motion` the amount head predicts it (times
    the calibrated buffer `motion_gain`); without `fps` the dataset's rate `fps` is assumed.
    """

    def __init__(
        self,
        *,
        jitter_scale: float = 0.02,
        max_cycles: float = 6.0,
        fps: float = REFERENCE_FPS,
        scene_prior: str = "",
        **kwargs,
    ):
        """`scene_prior`: the I3D end point (model.still_inception) whose features of the photo
        say where it moves and where its texture changes (fit by export --calibrate); "" for
        none: the fields' own places, no texture."""
        super().__init__(flow_scale=jitter_scale, condition_dim=2, **kwargs)
        c0, c1, c2 = kwargs.get("channels", (16, 32, 64))
        self.max_cycles = max_cycles  # the fastest oscillation, in cycles per clip
        self.register_buffer("fps", torch.tensor(float(fps)))
        # Calibration (export --calibrate): the amount head's log prediction is spread about
        # `amount_center` by `amount_spread` (1: as predicted, 0: one amount for every photo,
        # above 1: wider, as wide as the real amounts), then times `motion_gain`. Files from
        # before it existed load with the identity.
        self.register_buffer("motion_gain", torch.tensor(1.0))
        self.register_buffer("amount_spread", torch.tensor(1.0))
        self.register_buffer("amount_center", torch.tensor(0.0))
        self._register_load_state_dict_pre_hook(_identity_calibration)
        self.motion_context = nn.Conv2d(c2, c1, 3, padding=1)  # 6 x 10: what kind of place
        self.motion_film = nn.Linear(self.noise_dim + 2, 2 * c1)  # z, how much, how fast
        self.motion_hidden = nn.Conv2d(c1, c1, 3, padding=1)
        self.to_motion = nn.Conv2d(c1, N_MOTION_FIELDS, 3, padding=1)
        # Linear on detached features: its regression cannot bend the encoder, and
        # `export --calibrate` refits it by ridge regression on the training clips.
        self.amount_head = nn.Linear(2 * c2 + 1, 1)
        if scene_prior:
            self.scene_encoder = StillInception(end=scene_prior).requires_grad_(False)
            self.scene_prior = ScenePrior(self.scene_encoder.out_channels)
        if self.stage == "large":
            self.motion_large = nn.Conv2d(c0 + N_MOTION_FIELDS, c0, 3, padding=1)
            self.to_motion_large = nn.Conv2d(c0, N_MOTION_FIELDS, 3, padding=1)
            with torch.no_grad():
                self.to_motion_large.weight.mul_(0.1)
                self.to_motion_large.bias.zero_()

    # -- how much -------------------------------------------------------------------------

    def amount_features(self, encoded, fps: torch.Tensor, scene=None) -> torch.Tensor:
        """What the amount head sees (B, 2 * c2 + 1): the photo's deepest features pooled
        (mean and max, detached) and the log frame rate; with `scene` features (B, h, w, D) of
        a prior that sets the amount, those pooled instead (scene_prior.pooled_features)."""
        log_fps = (fps.float() / REFERENCE_FPS).log()
        if scene is not None and self.scene_prior.sets_amount:
            return pooled_features(scene, log_fps)
        e2 = encoded[2].detach().float()
        pooled = torch.cat([e2.mean(dim=(2, 3)), e2.amax(dim=(2, 3))], dim=1)
        return torch.cat([pooled, log_fps[:, None]], dim=1)

    def predict_amount(self, encoded, fps: torch.Tensor, scene=None) -> torch.Tensor:
        """log(motion + AMOUNT_EPS) (B,) predicted from the photo's features and the rate: by
        the scene prior where it sets the amount and its `scene` features are given, else by
        the amount head."""
        features = self.amount_features(encoded, fps, scene)
        if scene is not None and self.scene_prior.sets_amount:
            return self.scene_prior.log_amount(features)
        return self.amount_head(features).squeeze(1)

    def amount(self, log_amount: torch.Tensor) -> torch.Tensor:
        """The motion (B,) to animate with when none is given: the head's prediction
        `log_amount`, spread about the calibrated centre, times the gain."""
        center = self.amount_center
        spread = center + self.amount_spread * (log_amount.float() - center)
        return (spread.exp() - AMOUNT_EPS).clamp(min=0) * self.motion_gain

    # -- where, from the scene prior ------------------------------------------------------

    def reads_scene(self) -> bool:
        prior = getattr(self, "scene_prior", None)
        return prior is not None and prior.is_fitted

    def scene_features(self, photo: torch.Tensor, context: torch.Tensor | None) -> torch.Tensor:
        """(B, h, w, D) features of the photo as the prior was fit: the colour context (B, 3,
        H', W') in [-1, 1] where it was fit on contexts and one is given, else the photo at
        the context's size, grey to RGB."""
        if context is None or not bool(self.scene_prior.reads_context > 0):
            size = tuple(CONTEXT_SCALE * n for n in self.dataset_fmt.frame_shape)
            context = F.interpolate(photo.float(), size=size, mode="bilinear", antialias=True)
            context = context.mean(dim=1, keepdim=True).expand(-1, 3, -1, -1)
        with torch.no_grad():
            features = self.scene_encoder(context.float().to(photo.device))
        return features.permute(0, 2, 3, 1)  # (B, h, w, D)

    def to_frame(self, maps: torch.Tensor) -> torch.Tensor:
        """(B, h, w) -> (B, H, W) at this stage's frame size, bilinear."""
        size = self.fmt.frame_shape
        return F.interpolate(maps[:, None].float(), size=size, mode="bilinear")[:, 0]

    def impose_places(self, raw: torch.Tensor, places: torch.Tensor) -> torch.Tensor:
        """Raw fields whose analytic speed at each pixel is proportional to exp(places) (B, H,
        W, relative log speed): velocity and amplitude rescaled per pixel by the wanted over
        their own speed; the mean is set to the amount afterwards, as always."""
        own = self.trajectories(raw, torch.ones(raw.shape[0], device=raw.device))["motion_map"]
        wanted = self.to_frame(places).exp()
        scale = ((wanted + 1e-3) / (own + 1e-3))[:, None]
        return torch.cat([raw[:, :4] * scale, raw[:, 4:]], dim=1)

    def texture_rms(self, features, places, motion: torch.Tensor) -> torch.Tensor:
        """(B, H, W) the prior's RMS texture change in grey levels at this stage's size."""
        grid = features.shape[1:3]
        places = F.interpolate(places[:, None].float(), size=grid, mode="bilinear")[:, 0]
        rms = self.scene_prior.texture_rms(features, (motion + AMOUNT_EPS).log(), places)
        return self.to_frame(rms)

    def texture_noise(self, rms: torch.Tensor, z: torch.Tensor, loop: bool, offset: int = 0):
        """(B, T, H, W) the prior's noise with per-pixel RMS `rms` (B, H, W), 0 at frame 0;
        with `loop` it fades out towards the last frame, which joins frame 0."""
        seeds = [seed + offset for seed in noise_seeds(z)]
        noise = self.scene_prior.texture_noise(rms.cpu(), self.fmt.n_frames, seeds)
        if loop:
            n_frames = self.fmt.n_frames
            time = torch.arange(n_frames, dtype=noise.dtype)
            noise = noise * torch.sin(math.pi * time / (n_frames - 1)).view(1, -1, 1, 1)
        return noise.to(z.device)

    def grain(self, features, places, motion, z, loop: bool) -> torch.Tensor:
        """(B, T, 1, H, W) the prior's texture as grain, in [-1, 1] units."""
        rms = self.texture_rms(features, places, motion)
        return (self.texture_noise(rms, z, loop) * (2.0 / 255.0))[:, :, None]

    def texture_parts(self, photo, features, places, motion, z, loop: bool, style) -> dict:
        """The prior's texture drawn in `style` (None: none): {"shift": (B, T, H, W, 2) added
        to the warp's offsets} for flutter, {"layers": (B, T, 1, H, W) added to the photo
        before each frame's warp} for carried, {"grain": the same added to the frames}."""
        if style == "flutter":
            return {"shift": self.flutter(photo, features, places, motion, z, loop)}
        if style in ("grain", "carried"):
            grain = self.grain(features, places, motion, z, loop).to(photo.dtype)
            return {"layers" if style == "carried" else "grain": grain}
        return {}

    def flutter(self, photo, features, places, motion, z, loop: bool) -> torch.Tensor:
        """(B, T, H, W, 2) the prior's texture as a displacement of the photo in grid units:
        two independent noises (x, y) sized by scene_prior.flutter_pixels."""
        pixels = flutter_pixels(self.texture_rms(features, places, motion), photo)
        shifts = [self.texture_noise(pixels, z, loop, offset) for offset in (0, 1)]
        return self.to_grid_units(torch.stack(shifts, dim=-1), dim=-1)

    # -- where and how --------------------------------------------------------------------

    def raw_fields(self, encoded, z: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        """The motion fields (B, 6, H, W) before scaling: velocity, amplitude (unscaled),
        frequency and phase logits."""
        e0, e1, e2 = encoded
        context = F.interpolate(self.motion_context(e2), size=e1.shape[-2:], mode="bilinear")
        film = self.motion_film(torch.cat([z, condition], dim=1).to(e1.dtype))
        scale, shift = film[..., None, None].chunk(2, dim=1)
        h = lrelu((e1 + context) * (1 + scale) + shift)
        raw = self.to_motion(lrelu(self.motion_hidden(h)))  # (B, 6, 12, 20)
        if self.stage == "large":
            coarse = F.interpolate(raw, size=self.small_fmt.frame_shape, mode="bilinear").float()
            fine = (
                coarse
                + self.to_motion_large(
                    lrelu(self.motion_large(torch.cat([e0, coarse.to(e0.dtype)], dim=1)))
                ).float()
            )
            raw = self.blend(coarse, fine)
        height, width = self.fmt.frame_shape
        return F.interpolate(raw.float(), size=(height, width), mode="bilinear")

    def trajectories(self, raw: torch.Tensor, motion_px: torch.Tensor) -> dict:
        """From raw fields and the wanted mean speed (B,) in pixels per frame at this stage's
        size: velocity and amplitude in pixels, angular frequency, phase, and the analytic
        per-pixel mean speed (`motion_map`) and mean flow (`mean_flow`) of the motion they
        make, as the training targets measure them, and the oscillation's displacement per
        frame (`sway`, pixels), computed once and scaled with the amplitude."""
        n_frames = self.fmt.n_frames
        velocity, amplitude = raw[:, 0:2], raw[:, 2:4]
        cycles = 0.5 + (self.max_cycles - 0.5) * torch.sigmoid(raw[:, 4:5])
        omega = 2 * math.pi * cycles / n_frames  # radians per frame
        phase = math.pi * torch.tanh(raw[:, 5:6])
        sway = self.oscillation(amplitude, omega, phase, n_frames)  # (B, T, 2, H, W)
        steps = sway.diff(dim=1)  # (B, T-1, 2, H, W)
        speed = (velocity[:, None] + steps).square().sum(dim=2).add(1e-8).sqrt().mean(dim=1)
        # One scale for velocity and amplitude: the analytic mean speed becomes `motion_px`.
        gain = motion_px.float() / (speed.mean(dim=(1, 2)) + 1e-4)  # (B,)
        gain = gain[:, None, None, None]
        # the oscillation is linear in its amplitude: scale it rather than compute it again
        velocity, amplitude, sway = velocity * gain, amplitude * gain, sway * gain[:, None]
        return {
            "velocity": velocity,
            "amplitude": amplitude,
            "omega": omega,
            "phase": phase,
            "motion_map": speed * gain[:, 0],  # (B, H, W)
            "mean_flow": velocity + sway[:, -1] / (n_frames - 1),  # (B, 2, H, W)
            "sway": sway,
        }

    @staticmethod
    def oscillation(amplitude, omega, phase, n_frames: int) -> torch.Tensor:
        """Displacement (B, T, 2, H, W) in pixels of the oscillation, zero at frame 0."""
        time = torch.arange(n_frames, device=amplitude.device, dtype=amplitude.dtype)
        angle = omega[:, None] * time.view(1, -1, 1, 1, 1) + phase[:, None]  # (B, T, 1, H, W)
        return amplitude[:, None] * (angle.sin() - phase.sin()[:, None])

    def to_grid_units(self, pixels: torch.Tensor, dim: int) -> torch.Tensor:
        """Pixels (x, y along `dim`) -> grid_sample's normalised units (align_corners=False)."""
        height, width = self.fmt.frame_shape
        x, y = pixels.unbind(dim)  # scaled one by one: no tensor of scales copied from the host
        return torch.stack([x * (2 / width), y * (2 / height)], dim=dim)

    def stage_scale(self) -> float:
        """Pixels at this stage's size per pixel at the dataset's size."""
        return self.fmt.width / self.dataset_fmt.width

    def forward(
        self,
        photo: torch.Tensor,
        z: torch.Tensor,
        *,
        motion: torch.Tensor | float | None = None,
        fps: torch.Tensor | float | None = None,
        loop: bool = False,
        speed: float = 1.0,
        with_penalties: bool = False,
        context: torch.Tensor | None = None,
        places: torch.Tensor | None = None,
        texture: bool = True,
    ):
        """The clip (B, C, T, H, W); with `with_penalties`, also a dict of the regularisers and
        the motion the training step compares with the measured flow. A fitted scene prior
        sets the places (unless `places` (B, h, w), relative log speed, is given) from the
        photo or its colour `context`, and adds its texture unless `texture` is False."""
        batch = photo.shape[0]
        fps = self.fps.expand(batch) if fps is None else torch.as_tensor(fps).to(photo.device)
        fps = fps.float().expand(batch)
        encoded = self.encode(photo)
        features = self.scene_features(photo, context) if self.reads_scene() else None
        log_amount = self.predict_amount(encoded, fps, features)
        if motion is None:
            motion = self.amount(log_amount)
        motion = torch.as_tensor(motion, device=photo.device).float().expand(batch)
        # the networks see the amount before `speed`: speed scales the same motion, so that
        # speed 2 moves the same places twice as far rather than choosing other motion
        condition = torch.stack(
            [(motion + AMOUNT_EPS).log(), (fps / REFERENCE_FPS).log()], dim=1
        )  # (B, 2)
        raw = self.raw_fields(encoded, z, condition)
        if places is None and features is not None:
            places = self.scene_prior.places(features)
        if places is not None:
            raw = self.impose_places(raw, places)
        paths = self.trajectories(raw, motion * speed * self.stage_scale())
        n_frames = self.fmt.n_frames
        omega = paths["omega"]
        if loop:  # whole cycles per clip, so the oscillation returns to frame 0
            omega = (omega * n_frames / (2 * math.pi)).round().clamp(min=1) * 2 * math.pi / n_frames
        fields = motion_controls(self.frame_fields(encoded, z, condition), loop=loop, speed=1.0)
        if speed != 1:  # the jitter moves `speed` times as far; the residual is not motion
            fields = torch.cat([fields[:, :, :2] * speed, fields[:, :, 2:]], dim=2)
        fields = fields.float()
        height, width = self.fmt.frame_shape
        base = identity_grid(height, width, raw)  # (1, H, W, 2)
        velocity = self.to_grid_units(paths["velocity"], dim=1)
        sway = paths["sway"]
        if loop:  # the rounded frequency makes another oscillation
            sway = self.oscillation(paths["amplitude"], omega, paths["phase"], n_frames)
        sway = self.to_grid_units(sway, dim=2).permute(0, 1, 3, 4, 2)  # (B, T, H, W, 2)
        jitter = self.flow_scale * fields[:, :, :2].permute(0, 1, 3, 4, 2)
        offsets = jitter - sway  # backward warping: sample where the content came from
        photo32 = photo.float()
        style = self.scene_prior.style if features is not None and texture else None
        drawn = self.texture_parts(photo32, features, places, motion * speed, z, loop, style)
        offsets = offsets + drawn.get("shift", 0.0)
        layers = drawn.get("layers")
        frames = self.render(
            photo32, integrate(velocity, base, n_frames) + offsets, fields[:, :, 2:], layers
        )
        if loop:  # the streamline part as euler's: blend backward and forward integration
            ahead = integrate(-velocity, base, n_frames + 1).flip(1)[:, :n_frames]
            fore = self.render(photo32, ahead + offsets, fields[:, :, 2:], layers)
            weight = torch.arange(n_frames, device=photo.device, dtype=frames.dtype) / n_frames
            frames = torch.lerp(frames, fore, weight.view(1, n_frames, 1, 1, 1))
        if "grain" in drawn:
            frames = (frames + drawn["grain"]).clamp(-1, 1)
        frames = frames.transpose(1, 2).to(photo.dtype)  # (B, C, T, H, W)
        if not with_penalties:
            return frames
        return frames, self.motion_penalties(fields, log_amount, paths)

    def motion_penalties(self, fields, log_amount: torch.Tensor, paths: dict) -> dict:
        """The regularisers of the jitter and residual `fields`, and what the training step
        compares with the measured flow: the amount head's `log_amount` and the analytic
        `motion_map` and `mean_flow` of `paths` (trajectories)."""
        penalties = self.penalties(fields)
        penalties.update(
            log_amount=log_amount,
            motion_map=paths["motion_map"],
            mean_flow=paths["mean_flow"],
            stage_scale=self.stage_scale(),
        )
        return penalties


def _identity_calibration(state_dict, prefix, *args) -> None:
    """Files written before the amount calibration existed: as predicted (spread 1); before
    it was a spread, it was called a shrinkage."""
    shrink = state_dict.pop(prefix + "amount_shrink", None)
    if shrink is not None:  # a calibrated spread written beside the old name wins
        state_dict.setdefault(prefix + "amount_spread", shrink)
    state_dict.setdefault(prefix + "amount_spread", torch.tensor(1.0))
    state_dict.setdefault(prefix + "amount_center", torch.tensor(0.0))


def flow_losses(penalties: dict, targets: dict) -> dict:
    """The regression of the motion fields to the measured flow of the real clips.

    `targets` at the stage's size in its pixels: `mean_flow` (B, 2, H, W), `motion_map`
    (B, H, W), and `motion` (B,) at the dataset's size. Each clip weighs the same whatever its
    speed: its errors are divided by its own mean speed (plus 0.05 px/frame). `still`: the
    fields' mean speed where the real clip stood still, in pixels a frame at the dataset's
    size, not divided: a waterfall's rock must stand as still as a meadow's.
    """
    scale = penalties["stage_scale"]
    norm = (targets["motion"].float() * scale + 0.05)[:, None, None]  # (B, 1, 1)
    epe = (penalties["mean_flow"] - targets["mean_flow"].float()).square().sum(1).add(1e-8).sqrt()
    magnitude = (penalties["motion_map"] - targets["motion_map"].float()).abs()
    log_motion = (targets["motion"].float() + AMOUNT_EPS).log()
    still = (targets["motion_map"].float() < STILL_FLOW * scale).float()  # (B, H, W)
    still_speed = (penalties["motion_map"] * still).sum() / (still.sum() * scale).clamp(min=1e-6)
    return {
        "epe": (epe / norm).mean(),
        "magnitude": (magnitude / norm).mean(),
        "still": still_speed,
        "amount": (penalties["log_amount"].float() - log_motion).abs().mean(),
    }


class MotionStep(PhotoWarpStep):
    """The motion arch: G is told how much each real clip moved and regressed to its measured
    flow; D also learns that the copied photo and the drifting photo are fake, so standing
    still or sliding the whole picture is no way to fool it."""

    def generate(self, G_train, photo, z, targets=None):
        if targets is None:
            raise ValueError("the motion arch trains on measured flow: pass targets")
        return G_train(photo, z, motion=targets["motion"], fps=targets["fps"], with_penalties=True)

    def d_loss(self, D_train, real, fake):
        loss = super().d_loss(D_train, real, fake)
        if self.w.baseline_fake_weight <= 0:
            return loss
        half = max(1, len(real) // 2)
        baselines = torch.cat([copied_photo(real[:half]), drifting_photo(real[half:])])
        scores = D_train(augment(baselines, self.w.augment)).float()
        return loss + self.w.baseline_fake_weight * d_fake_term(self.w.loss, scores)

    def g_extra(self, fake, real, penalties, targets=None):
        extra = super().g_extra(fake, real, penalties)
        losses = flow_losses(penalties, targets)
        return (
            extra
            + self.w.flow_weight * losses["epe"]
            + self.w.magnitude_weight * losses["magnitude"]
            + self.w.amount_weight * losses["amount"]
            + self.w.still_weight * losses["still"]
        )


def copied_photo(clips: torch.Tensor) -> torch.Tensor:
    """Frame 0 of each clip (B, C, T, H, W) held for every frame."""
    return clips[:, :, :1].expand_as(clips).contiguous()


def drifting_photo(clips: torch.Tensor) -> torch.Tensor:
    """Frame 0 of each clip slid by a random whole-picture velocity (N(0, 0.5) px/frame)."""
    batch, channels, n_frames, height, width = clips.shape
    photo = clips[:, :, 0]
    velocity = torch.randn(batch, 2, device=clips.device) * 0.5  # pixels per frame (x, y)
    units = torch.stack([velocity[:, 0] * (2 / width), velocity[:, 1] * (2 / height)], dim=1)
    time = torch.arange(n_frames, device=clips.device, dtype=units.dtype)
    base = identity_grid(height, width, units)  # (1, H, W, 2)
    grid = base[:, None] - (units[:, None] * time[None, :, None])[:, :, None, None]  # (B,T,H,W,2)
    frames = F.grid_sample(
        photo.repeat_interleave(n_frames, dim=0).float(),
        grid.reshape(-1, height, width, 2),
        mode="bilinear",
        padding_mode="reflection",
        align_corners=False,
    )
    frames = frames.view(batch, n_frames, channels, height, width).transpose(1, 2)
    return frames.to(clips.dtype)


# The registry entry `motion` (scenegan/archs.py) names this. G also takes the dataset's frame
# rate (`fps`), its default input.
MOTION = Networks(
    MotionGenerator,
    Discriminator,
    MotionStep,
    PHOTO_WARP_G_ARGS,
    PHOTO_WARP_D_ARGS,
    G_takes_fps=True,
    widen=widen_photo_warp,
)
