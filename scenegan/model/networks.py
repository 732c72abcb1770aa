"""The photo-warping generators ("euler", "flow") and their discriminator.

flow warps the photo with a per-frame displacement field and adds a residual, both predicted at
low resolution by (2+1)-D blocks driven by per-frame noise codes and noise maps. euler adds one
static velocity field integrated over time. D judges clip, drift and motion.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from scenegan.clip_format import stage_formats
from scenegan.model.archs import Networks
from scenegan.model.fade import FadeIn
from scenegan.model.steps import PhotoWarpStep

NOISE_BASIS_SEED = 20190601  # noise maps: the basis is also saved with the weights


def lrelu(x: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu(x, 0.2)


def area_resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Area-resample the last two dims of any (..., H, W) tensor to `size`."""
    lead = x.shape[:-2]
    y = F.interpolate(x.reshape(-1, 1, *x.shape[-2:]), size=size, mode="area")
    return y.reshape(*lead, *size)


class TemporalBlock(nn.Module):
    """(2+1)-D residual block on (B*T) frames: FiLM by the frame's code, 3x3 conv, (3,1,1) conv."""

    def __init__(self, channels: int, code_dim: int):
        super().__init__()
        self.film = nn.Linear(code_dim, 2 * channels)
        self.spatial = nn.Conv2d(channels, channels, 3, padding=1)
        self.temporal = nn.Conv3d(channels, channels, (3, 1, 1), padding=(1, 0, 0))

    def forward(self, x: torch.Tensor, code: torch.Tensor, n_frames: int) -> torch.Tensor:
        # x (B*T, C, h, w), code (B*T, code_dim)
        scale, shift = self.film(code)[..., None, None].chunk(2, dim=1)
        h = self.spatial(lrelu(x * (1 + scale) + shift))
        bt, c, height, width = h.shape
        h = h.view(bt // n_frames, n_frames, c, height, width).transpose(1, 2)  # (B, C, T, h, w)
        h = self.temporal(lrelu(h))
        return x + h.transpose(1, 2).reshape(bt, c, height, width)


class FlowGenerator(FadeIn):
    """photo (B, C, H, W) + z (B, noise_dim) -> clip (B, C, T, H, W), frame 0 == photo.

    C is 1 (gray) or 3 (rgb). At the default 80 x 45, stage small outputs 23 x 40 from fields
    predicted at 12 x 20. Stage large has the same parameters plus `*_large` layers: a
    full-resolution input block and a decoder level that predicts the fields at stage small's
    size (23 x 40), faded in by the buffer `alpha` (0 -> 1) as in Progressive GAN. The fields
    are two flow components and one residual per channel. Layer names say `gray` from when
    photos were gray only; they stay so every shipped gray checkpoint loads unchanged.

    Precision: the convolutions run in whatever autocast gives (bf16 on a GPU); the fields, the
    warp and the clip are float32 from the heads on, so the output is float32 under any
    autocast and frame 0 is the photo exactly.
    """

    def __init__(
        self,
        *,
        stage: str = "small",
        channels: list[int] | tuple[int, ...] = (16, 32, 64),
        large_channels: int = 8,
        noise_dim: int = 32,
        code_dim: int = 64,
        n_blocks: int = 3,
        flow_scale: float = 0.25,
        padding_mode: str = "reflection",
        noise_maps: bool = False,
        clip_format: dict | None = None,
        condition_dim: int = 0,
    ):
        super().__init__()
        assert noise_dim > 0, "the flow generator needs noise (noise_dim > 0)"
        self.stage = stage
        self.fmt, self.small_fmt, self.dataset_fmt = stage_formats(stage, clip_format)
        n_channels = self.fmt.channels
        self.noise_dim, self.flow_scale = noise_dim, flow_scale
        # The head's units -> pixels (flow x, y) and grey levels (residuals); a buffer, so a
        # step on a GPU never copies it over from the host. Not saved: it follows the format.
        height, width = self.fmt.frame_shape
        units = [flow_scale * width / 2, flow_scale * height / 2] + [1.0] * n_channels
        self.register_buffer("field_units", torch.tensor(units)[:, None, None], persistent=False)
        # Where the flow reaches past the edge: "reflection" mirrors the photo, "border" (the
        # first shipped model's) smeared the edge pixels into stripes.
        self.padding_mode = padding_mode
        c0, c1, c2 = channels
        n_frames = self.fmt.n_frames
        # Photo encoder, at the small stage's resolution and below.
        self.from_gray = nn.Conv2d(n_channels, c0, 3, padding=1)
        self.enc1 = nn.Conv2d(c0, c1, 3, stride=2, padding=1)
        self.enc2 = nn.Conv2d(c1, c2, 3, stride=2, padding=1)
        # Noise -> per-frame codes: a GRU over time fed the noise and a learned time embedding.
        self.time_embedding = nn.Parameter(torch.randn(n_frames, code_dim) * 0.5)
        self.noise_in = nn.Linear(noise_dim, code_dim)
        self.gru = nn.GRU(2 * code_dim, code_dim, batch_first=True)
        if condition_dim:  # inputs besides z that drive every frame (the motion arch's amount)
            self.condition_in = nn.Linear(condition_dim, code_dim)
        self.blocks = nn.ModuleList(TemporalBlock(c2, code_dim) for _ in range(n_blocks))
        # Per-frame decoder to half the output resolution: the fields are smooth, and the photo's
        # detail comes through the warp, so full-resolution decoding is not worth its cost here.
        self.dec1 = nn.Conv2d(c2, c1, 3, padding=1)
        # flow x, flow y, a residual per channel, at 12 x 20
        self.to_fields = nn.Conv2d(c1, 2 + n_channels, 3, padding=1)
        self.noise_maps = noise_maps
        if noise_maps:
            # Per-frame noise maps at 12 x 20 for motion that no smooth warp makes (fire, boiling
            # water, glitter): a fixed random basis mixed by z, so a clip stays a function of
            # (photo, z) alone; how strongly it enters each channel and place follows the photo.
            rng = torch.Generator().manual_seed(NOISE_BASIS_SEED)
            basis = torch.randn(noise_dim, n_frames, *self.noise_size(), generator=rng)
            self.register_buffer("noise_basis", basis)
            self.noise_gain = nn.Conv2d(c1, c1, 1)
            with torch.no_grad():
                self.noise_gain.weight.mul_(0.1)
                self.noise_gain.bias.fill_(0.1)
        if stage == "large":
            # New layers of stage large: a full-resolution input block, a 23 x 40 decoder level.
            self.from_gray_large = nn.Conv2d(n_channels, large_channels, 3, padding=1)
            self.down_large = nn.Conv2d(large_channels, c0, 3, stride=2, padding=1)
            self.dec_large = nn.Conv2d(c1, c0, 3, padding=1)
            self.to_fields_large = nn.Conv2d(c0, 2 + n_channels, 3, padding=1)
        with torch.no_grad():  # start with small motion, not a still picture
            for head in [self.to_fields] + ([self.to_fields_large] if stage == "large" else []):
                head.weight.mul_(0.3)
                head.bias.zero_()

    def noise_size(self) -> tuple[int, int]:
        """The grid of the decoder level where the noise maps enter: half stage small's size
        (12 x 20 by default)."""
        height, width = self.small_fmt.frame_shape
        return (height + 1) // 2, (width + 1) // 2

    def frame_noise(self, z: torch.Tensor) -> torch.Tensor:
        """z (B, noise_dim) -> unit-variance noise maps (B*T, 1, 12, 20)."""
        maps = torch.einsum("bk,kthw->bthw", z, self.noise_basis) / self.noise_dim**0.5
        return maps.reshape(-1, 1, *maps.shape[-2:])

    def frame_codes(self, z: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        """z (B, noise_dim) [+ condition (B, condition_dim)] -> per-frame codes (B, T, code_dim)."""
        batch, n_frames = z.shape[0], self.fmt.n_frames
        noise = self.noise_in(z)
        if condition is not None:
            noise = noise + self.condition_in(condition.to(noise.dtype))
        noise = noise[:, None].expand(batch, n_frames, -1)
        time = self.time_embedding[None].expand(batch, -1, -1)
        codes, _ = self.gru(torch.cat([noise, time], dim=2))
        return codes

    def encode(self, photo: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """photo (B, C, H, W) -> e0 (B, c0, 23, 40), e1 (B, c1, 12, 20), e2 (B, c2, 6, 10) at
        the default size: e0 at stage small's size, then halved twice."""
        if self.stage == "large":
            e0 = lrelu(self.down_large(lrelu(self.from_gray_large(photo))))
            if self.fading:
                small = lrelu(self.from_gray(area_resize(photo, self.small_fmt.frame_shape)))
                e0 = self.blend(small, e0)
        else:
            e0 = lrelu(self.from_gray(photo))
        e1 = lrelu(self.enc1(e0))
        return e0, e1, lrelu(self.enc2(e1))

    def per_frame(self, e: torch.Tensor) -> torch.Tensor:
        """(B, C, h, w) -> (B*T, C, h, w), the same map for every frame."""
        batch, n_frames = e.shape[0], self.fmt.n_frames
        e = e[:, None].expand(batch, n_frames, *e.shape[1:]).reshape(-1, *e.shape[1:])
        # channels_last: the faster layout of CPU convolutions and nearest upsampling
        return e.contiguous(memory_format=torch.channels_last)

    def frame_fields(
        self, encoded, z: torch.Tensor, condition: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Per-frame fields (B, T, 2 + C, H, W) in the head's units, zero at frame 0: flow x, y
        and a residual per channel, from the temporal blocks driven by per-frame noise codes
        and maps."""
        e0, e1, e2 = encoded
        batch, n_frames = z.shape[0], self.fmt.n_frames
        codes = self.frame_codes(z, condition).reshape(batch * n_frames, -1)  # (B*T, code_dim)
        x = self.per_frame(e2)
        for block in self.blocks:
            x = block(x, codes, n_frames)
        x = F.interpolate(x, size=e1.shape[-2:], mode="nearest")
        x = lrelu(self.dec1(x) + self.per_frame(e1))  # (B*T, c1, 12, 20)
        if self.noise_maps:
            x = x + self.noise_gain(x) * self.frame_noise(z).to(x.dtype)
        if self.stage == "large":
            small_size = self.small_fmt.frame_shape
            y = F.interpolate(x, size=small_size, mode="nearest")
            fields = self.to_fields_large(lrelu(self.dec_large(y) + self.per_frame(e0))).float()
            if self.fading:
                coarse = F.interpolate(self.to_fields(x).float(), size=small_size, mode="bilinear")
                fields = self.blend(coarse, fields)
        else:
            fields = self.to_fields(x).float()  # float32 from here: the warp needs the precision
        height, width = self.fmt.frame_shape
        fields = F.interpolate(fields, size=(height, width), mode="bilinear", align_corners=False)
        fields = fields.view(batch, n_frames, fields.shape[1], height, width)
        return fields - fields[:, :1]  # zero at frame 0, so frame 0 is the photo

    def pixels(self, like: torch.Tensor) -> torch.Tensor:
        """Multiplier (2 + C, 1, 1) from the head's units to pixels (flow x, y) and grey levels
        (the residuals)."""
        return self.field_units.to(like.dtype)

    def render(
        self,
        photo: torch.Tensor,
        grid: torch.Tensor,
        residual: torch.Tensor,
        layers: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Warp the photo (B, C, H, W) by `grid` (B, T, H, W, 2) and add `residual`
        (B, T, C, H, W) -> frames (B, T, C, H, W), frame 0 exactly the photo. `layers` (B, T,
        C, H, W), if given, is added to the photo before frame t's warp: it moves with it."""
        batch, n_frames, channels, height, width = residual.shape
        if layers is None:
            source = self.per_frame(photo)
        else:
            source = (photo[:, None] + layers).reshape(-1, channels, height, width)
        warped = F.grid_sample(
            source,
            grid.reshape(-1, height, width, 2),
            mode="bilinear",
            padding_mode=self.padding_mode,
            align_corners=False,
        )
        frames = (warped.view(batch, n_frames, channels, height, width) + residual).clamp(-1, 1)
        return torch.cat([photo[:, None], frames[:, 1:]], dim=1)

    def forward(
        self,
        photo: torch.Tensor,
        z: torch.Tensor,
        *,
        loop: bool = False,
        speed: float = 1.0,
        with_penalties: bool = False,
    ):
        """The clip (B, C, T, H, W); with `with_penalties`, also a dict of the regularisers
        (`roughness`, `residual`) that the training step weighs."""
        photo = photo.float()
        encoded = self.encode(photo)
        fields = motion_controls(self.frame_fields(encoded, z), loop=loop, speed=speed)
        height, width = self.fmt.frame_shape
        base = identity_grid(height, width, photo)  # (1, H, W, 2)
        jitter = self.flow_scale * fields[:, :, :2].permute(0, 1, 3, 4, 2)  # (B, T, H, W, 2)
        frames, velocity = self.warp(
            photo, encoded, z, base, jitter, fields[:, :, 2:], loop=loop, speed=speed
        )
        frames = frames.transpose(1, 2)  # (B, C, T, H, W)
        return (frames, self.penalties(fields, velocity)) if with_penalties else frames

    def warp(self, photo, encoded, z, base, jitter, residual, *, loop: bool, speed: float):
        """Frames (B, T, C, H, W): the photo moved by the per-frame displacement `jitter`
        (B, T, H, W, 2) from the identity grid `base`, plus `residual`; and the static
        velocity field the penalties also see (None here: flow has only per-frame fields)."""
        return self.render(photo, base[:, None] + jitter, residual), None

    def penalties(self, fields: torch.Tensor, velocity: torch.Tensor | None = None) -> dict:
        """The regularisers the training step weighs: roughness of the per-frame displacement
        (and of a static `velocity` field, B x 2 x H x W in normalised units) in pixels, and
        the mean |residual|."""
        in_pixels = fields * self.pixels(fields)
        rough = roughness(in_pixels[:, :, :2])
        if velocity is not None:
            rough = rough + roughness(
                velocity[:, None] * self.pixels(velocity)[:2] / self.flow_scale
            )
        return {"roughness": rough, "residual": in_pixels[:, :, 2:].abs().mean()}


class EulerGenerator(FlowGenerator):
    """photo (B, C, H, W) + z -> clip (B, C, T, H, W) that moves along one static motion field.

    After Eulerian motion fields (Holynski et al. 2021): the photo and z give one velocity field
    (pixels per frame); frame t samples the photo where that field carries each pixel from in t
    steps, so water keeps flowing and clouds keep drifting instead of jiggling in place. The flow
    generator's per-frame fields stay on top, small, for what a steady field cannot make (fire's
    flicker, boiling, waves that rise and fall): a displacement and a residual per frame. With
    `loop`, the forward and backward integration are blended (symmetric splatting's idea, with
    backward warping), so frame T would be the photo again and frame T-1 joins frame 0.
    """

    def __init__(self, *, velocity_scale: float = 0.08, jitter_scale: float = 0.05, **kwargs):
        super().__init__(flow_scale=jitter_scale, **kwargs)
        c0, c1, c2 = kwargs.get("channels", (16, 32, 64))
        self.velocity_scale = velocity_scale  # the largest speed, in half-widths per frame
        self.velocity_context = nn.Conv2d(c2, c1, 3, padding=1)  # 6 x 10: what kind of place
        self.velocity_film = nn.Linear(self.noise_dim, 2 * c1)  # z chooses among motions
        self.velocity_hidden = nn.Conv2d(c1, c1, 3, padding=1)
        self.to_velocity = nn.Conv2d(c1, 2, 3, padding=1)
        if self.stage == "large":
            self.velocity_large = nn.Conv2d(c0 + 2, c0, 3, padding=1)
            self.to_velocity_large = nn.Conv2d(c0, 2, 3, padding=1)
            with torch.no_grad():
                self.to_velocity_large.weight.mul_(0.1)
                self.to_velocity_large.bias.zero_()

    def velocity(self, encoded, z: torch.Tensor) -> torch.Tensor:
        """The static velocity field (B, 2, H, W) in normalised units per frame."""
        e0, e1, e2 = encoded
        context = F.interpolate(self.velocity_context(e2), size=e1.shape[-2:], mode="bilinear")
        scale, shift = self.velocity_film(z)[..., None, None].chunk(2, dim=1)
        h = lrelu((e1 + context) * (1 + scale) + shift)
        h = lrelu(self.velocity_hidden(h))
        raw = self.to_velocity(h).float()  # (B, 2, 12, 20), float32 like every field
        if self.stage == "large":
            coarse = F.interpolate(raw, size=self.small_fmt.frame_shape, mode="bilinear").float()
            fine = (
                coarse
                + self.to_velocity_large(
                    lrelu(self.velocity_large(torch.cat([e0, coarse], dim=1)))
                ).float()
            )
            raw = self.blend(coarse, fine)
        height, width = self.fmt.frame_shape
        raw = F.interpolate(raw, size=(height, width), mode="bilinear", align_corners=False)
        return self.velocity_scale * torch.tanh(raw)

    def warp(self, photo, encoded, z, base, jitter, residual, *, loop: bool, speed: float):
        """The photo carried along the static velocity field for t frames, the per-frame
        `jitter` on top; with `loop`, blended with the photo carried back from frame T."""
        velocity = speed * self.velocity(encoded, z)  # (B, 2, H, W)
        n_frames = self.fmt.n_frames
        positions = integrate(velocity, base, n_frames)  # where frame t samples the photo
        frames = self.render(photo, positions + jitter, residual)
        if loop:  # frame t also seen as the photo T - t frames on: blend by t / T
            ahead = integrate(-velocity, base, n_frames + 1).flip(1)[:, :n_frames]
            fore = self.render(photo, ahead + jitter, residual)
            weight = torch.arange(n_frames, device=photo.device, dtype=photo.dtype) / n_frames
            frames = torch.lerp(frames, fore, weight.view(1, n_frames, 1, 1, 1))
        return frames, velocity


def integrate(velocity: torch.Tensor, base: torch.Tensor, n_frames: int) -> torch.Tensor:
    """Backward-warping grids (B, n_frames, H, W, 2) along a static field (B, 2, H, W).

    Frame t shows what was, t frames before, where the field's streamline through each pixel
    came from: p_0 = the pixel, p_k = p_{k-1} - v(p_{k-1}) (Euler steps, v sampled bilinearly).
    """
    position = base.expand(velocity.shape[0], -1, -1, -1)
    positions = [position]
    for _ in range(n_frames - 1):
        step = F.grid_sample(
            velocity, position, mode="bilinear", padding_mode="border", align_corners=False
        )
        position = position - step.permute(0, 2, 3, 1)
        positions.append(position)
    return torch.stack(positions, dim=1)


def motion_controls(fields: torch.Tensor, *, loop: bool, speed: float) -> torch.Tensor:
    """Per-frame fields (B, T, C, H, W), zero at frame 0, scaled by `speed`; with `loop`, the
    straight line from zero to the last frame's value at frame T is taken off, so the fields
    head back to where frame 0 starts."""
    if loop:
        n_frames = fields.shape[1]
        ramp = torch.arange(n_frames, device=fields.device, dtype=fields.dtype) / n_frames
        fields = fields - ramp.view(1, -1, 1, 1, 1) * fields[:, -1:]
    return fields * speed if speed != 1 else fields


def roughness(flow: torch.Tensor) -> torch.Tensor:
    """Mean |spatial gradient| of displacement fields (..., 2, H, W) in pixels per pixel: a fold
    (many pixels pulled from one row) needs a gradient near -1 and shows as a stripe."""
    return (flow[..., 1:, :] - flow[..., :-1, :]).abs().mean() + (
        flow[..., 1:] - flow[..., :-1]
    ).abs().mean()


def identity_grid(height: int, width: int, like: torch.Tensor) -> torch.Tensor:
    """The (1, H, W, 2) `grid_sample` grid that copies its input (align_corners=False)."""
    ys = (torch.arange(height, device=like.device, dtype=like.dtype) * 2 + 1) / height - 1
    xs = (torch.arange(width, device=like.device, dtype=like.dtype) * 2 + 1) / width - 1
    return torch.stack(torch.meshgrid(xs, ys, indexing="xy"), dim=-1)[None]


def clip_features(clip: torch.Tensor) -> torch.Tensor:
    """clip (B, C, T, H, W) -> (B, 3C, T, H, W): frames, drift from frame 0, motion
    (x_t - x_t-1).

    The photo is frame 0, so the drift channel shows D whether a frame still shows the photo's
    scene, and the motion channel makes a still clip easy to reject.
    """
    drift = clip - clip[:, :, :1]
    motion = torch.cat([torch.zeros_like(clip[:, :, :1]), clip[:, :, 1:] - clip[:, :, :-1]], 2)
    return torch.cat([clip, drift, motion], dim=1)


class Discriminator(FadeIn):
    """Conditional spatio-temporal critic: clip (B, C, T, H, W) -> score (B,).

    Strided 3-D convolutions at half the small resolution and below; stage large adds a
    full-resolution input block faded in by `alpha`, like the generator's. Scores are float32
    under any autocast.
    """

    def __init__(
        self,
        *,
        stage: str = "small",
        channels: list[int] | tuple[int, ...] = (16, 32, 64),
        large_channels: int = 8,
        clip_format: dict | None = None,
    ):
        super().__init__()
        self.stage = stage
        self.fmt, self.small_fmt, self.dataset_fmt = stage_formats(stage, clip_format)
        c0, c1, c2 = channels
        n_features = 3 * self.fmt.channels  # clip_features: frames, drift, motion
        self.from_input = nn.Conv3d(n_features, c0, 3, stride=(1, 2, 2), padding=1)  # -> 12x20
        if stage == "large":
            self.from_input_large = nn.Sequential(
                nn.Conv3d(n_features, large_channels, 3, stride=(1, 2, 2), padding=1),  # 23x40
                nn.LeakyReLU(0.2),
                nn.Conv3d(large_channels, c0, 3, stride=(1, 2, 2), padding=1),  # -> 12x20
            )
        self.body = nn.Sequential(
            nn.Conv3d(c0, c1, 3, stride=2, padding=1),  # (16, 6, 10)
            nn.LeakyReLU(0.2),
            nn.Conv3d(c1, c2, 3, stride=2, padding=1),  # (8, 3, 5)
            nn.LeakyReLU(0.2),
            nn.Conv3d(c2, c2, 3, stride=(2, 1, 1), padding=1),  # (4, 3, 5)
            nn.LeakyReLU(0.2),
        )
        # Every stride-2 convolution (kernel 3, padding 1) rounds up: 23 x 40 -> 12 x 20 -> 6 x 10
        # -> 3 x 5, and 32 frames -> 16 -> 8 -> 4.
        n_frames, height, width = self.small_fmt.volume
        flat = c2 * halved(n_frames, 3) * halved(height, 3) * halved(width, 3)
        self.head = nn.Linear(flat, 1)

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        x = clip_features(clip)
        if self.stage == "large":
            h = self.from_input_large(x)
            if self.fading:
                small = area_resize(x, self.small_fmt.frame_shape)
                h = self.blend(self.from_input(small), h)
        else:
            h = self.from_input(x)
        h = self.body(lrelu(h))
        return self.head(h.flatten(1)).squeeze(1).float()


def halved(n: int, times: int) -> int:
    """`n` after `times` stride-2 convolutions of kernel 3 and padding 1 (each rounds up)."""
    for _ in range(times):
        n = (n + 1) // 2
    return n


def widened(channels: int, width: float) -> int:
    """A channel count times the --width multiplier (at least 1)."""
    return max(1, round(channels * width))


def widen_photo_warp(G_args: dict, D_args: dict, width: float) -> tuple[dict, dict]:
    """The photo-warping networks' arguments at --width `width`: the channels of G's encoder,
    blocks, codes and stage large's layers, and of D's convolutions, times `width`; at 1 the
    arguments of every model trained before --width existed."""
    channels = [widened(c, width) for c in (16, 32, 64)]
    wider = {"channels": channels, "large_channels": widened(8, width)}
    return G_args | wider | {"code_dim": widened(64, width)}, D_args | wider


# The registry entries (scenegan/archs.py) name these.
PHOTO_WARP_G_ARGS = {"channels": [16, 32, 64], "noise_dim": 32, "noise_maps": True}
PHOTO_WARP_D_ARGS = {"channels": [16, 32, 64]}
EULER = Networks(
    EulerGenerator,
    Discriminator,
    PhotoWarpStep,
    PHOTO_WARP_G_ARGS,
    PHOTO_WARP_D_ARGS,
    widen=widen_photo_warp,
)
FLOW = Networks(
    FlowGenerator,
    Discriminator,
    PhotoWarpStep,
    PHOTO_WARP_G_ARGS,
    PHOTO_WARP_D_ARGS,
    widen=widen_photo_warp,
)
