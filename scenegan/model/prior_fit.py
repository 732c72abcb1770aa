"""Fit a motion generator's scene prior (model/scene_prior.py) on a dataset's clips:

1. the photo encoder: I3D's first layers (model/still_inception.py), weights given;
2. the places: a ridge regression per pixel of the clips' relative log `motion_map` on the
   encoder's features, its strength chosen on the select split (new videos) by where corr, and
   its spread so that the predicted maps of select photos vary as much as theirs (a ridge
   shrinks its predictions towards the mean: unspread, every place would move alike);
3. the texture: a ridge regression per pixel of each clip's innovation RMS (frame t minus its
   first frame warped along the clip's own DIS flow) on the same features and the clip's log
   amount; its temporal (AR(1)) and spatial correlation measured on the same clips; drawn in
   one of scene_prior.TEXTURE_STYLES (TextureChoice), its gain set on the select split.

Every video weighs the same: up to PER_VIDEO clips of each, spread over it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from scenegan.archs import arch_names, get_arch
from scenegan.config import DEFAULT_TEXTURE, DEFAULT_TEXTURE_GATE, DEFAULT_TEXTURE_SCALE
from scenegan.errors import UserError
from scenegan.model.archs import build_generator
from scenegan.model.checkpoint import is_safetensors, read_checkpoint, write_generator
from scenegan.model.motion import AMOUNT_EPS
from scenegan.model.scene_prior import (
    SPEED_FLOOR,
    TEXTURE_FLOOR,
    TEXTURE_STYLES,
    fit_ridge,
    innovation,
    innovation_statistics,
    smoothing_sigma,
)
from scenegan.model.still_inception import collapse_i3d
from scenegan.pipeline.motion_fields import frame_change, mean_correlation
from scenegan.pipeline.shards import DatasetIndex, read_fields, read_index, read_motion

PER_VIDEO = 6
STRENGTHS = (1e3, 1e4, 1e5)
MAX_SPREAD = 4.0
MAX_TEXTURE_GAIN = 4.0


@dataclass(frozen=True)
class TextureChoice:
    """How the prior's texture is drawn: `style` (one of TEXTURE_STYLES, or "none"), how
    closely it follows the predicted places (`gate`: the exponent of scene_prior.texture_gate;
    0: where the texture regression alone says), and `scale`, times the gain that makes
    animations of select photos change as much where their clips moved as the clips."""

    style: str = DEFAULT_TEXTURE
    gate: float = DEFAULT_TEXTURE_GATE
    scale: float = DEFAULT_TEXTURE_SCALE


@dataclass
class PriorClips:
    """Clips of one split for the prior: photos (or contexts), relative log places, log
    motion, sources, and the clips themselves (for the innovation)."""

    images: np.ndarray  # uint8 (N, h, w, 3) contexts or (N, H, W) grey photos
    places: np.ndarray  # (N, H, W) float32
    log_motion: np.ndarray  # (N,)
    sources: np.ndarray
    clips: np.ndarray  # uint8 (N, T, H, W)
    fps: np.ndarray  # (N,)


def spread_picks(sources: np.ndarray, per_video: int) -> np.ndarray:
    """Up to `per_video` rows of each video, spread over it."""
    picks: list[int] = []
    for video in sorted(set(sources)):
        rows = np.flatnonzero(sources == video)
        spread = np.linspace(0, len(rows) - 1, min(len(rows), per_video)).round().astype(int)
        picks += [int(r) for r in rows[spread]]
    return np.array(sorted(picks))


def prior_clips(index: DatasetIndex, split: str, per_video: int = PER_VIDEO) -> PriorClips:
    sources = np.array(read_fields(index, split, ("source_id",))["source_id"])
    picks = spread_picks(sources, per_video)
    motion = read_motion(index, split)
    places = np.log(motion["motion_map"][picks].astype(np.float32) + SPEED_FLOOR)
    fields = ("clips", "context") if index_has_context(index, split) else ("clips",)
    read = read_fields(index, split, fields, rows=picks)
    return PriorClips(
        images=read.get("context", read["clips"][:, 0]),
        places=places - places.mean(axis=(1, 2), keepdims=True),
        log_motion=np.log(motion["motion"][picks].astype(np.float64) + AMOUNT_EPS),
        sources=sources[picks],
        clips=read["clips"],
        fps=motion["fps"][picks],
    )


def index_has_context(index: DatasetIndex, split: str) -> bool:
    shards = index.split(split)
    return bool(shards) and all(shard.has("context") for shard in shards)


def encode(G: torch.nn.Module, images: np.ndarray) -> np.ndarray:
    """(N, h, w, D) scene features of uint8 photos (N, H, W) or contexts (N, h, w, 3)."""
    out = []
    for start in range(0, len(images), 32):
        batch = torch.from_numpy(images[start : start + 32]).float() / 127.5 - 1
        if batch.ndim == 4:  # contexts (B, h, w, 3)
            context, photo = batch.permute(0, 3, 1, 2), batch.mean(dim=3)[:, None]
        else:
            context, photo = None, batch[:, None]
        photo = F.interpolate(photo, size=G.fmt.frame_shape, mode="area")
        out.append(G.scene_features(photo, context).numpy())
    return np.concatenate(out)


def pooled(maps: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    return F.adaptive_avg_pool2d(torch.from_numpy(maps).float()[:, None], size)[:, 0].numpy()


def upsampled(maps: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    tensor = torch.from_numpy(np.asarray(maps, np.float32))[:, None]
    return F.interpolate(tensor, size=size, mode="bilinear")[:, 0].numpy()


def fit_places(G, train: PriorClips, select: PriorClips, features: dict) -> dict:
    """Places ridge: strength by where corr on select, then the spread that gives the select
    photos' predicted relative log places the spread (RMS) of their measured ones."""
    grid = features["train"].shape[1:3]
    shape = train.places.shape[1:]
    x = features["train"].reshape(-1, features["train"].shape[-1])
    y = pooled(train.places, grid).ravel()
    best = None
    for strength in STRENGTHS:
        mean, std, beta = fit_ridge(x, y, strength)
        raw = ((features["select"] - mean) / std) @ beta[:-1]
        raw = upsampled(raw - raw.mean(axis=(1, 2), keepdims=True), shape)
        score = mean_correlation(raw, select.places)
        if best is None or score > best["where"]:
            best = {"strength": strength, "where": score, "fit": (mean, std, beta), "raw": raw}
    spread = np.sqrt(np.square(select.places).mean() / (np.square(best["raw"]).mean() + 1e-12))
    best["spread"] = float(np.clip(spread, 1.0, MAX_SPREAD))
    return best


def fit_texture(train: PriorClips, features: np.ndarray) -> dict:
    """Texture ridge on features and log amount; the innovation's correlations."""
    innovations = np.stack([innovation(clip) for clip in train.clips])
    stats = innovation_statistics(innovations)
    grid = features.shape[1:3]
    target = np.log(pooled(stats["rms"], grid) + TEXTURE_FLOOR)
    amount = np.broadcast_to(train.log_motion[:, None, None, None], (*features.shape[:3], 1))
    x = np.concatenate([features, amount], axis=-1).reshape(-1, features.shape[-1] + 1)
    mean, std, beta = fit_ridge(x, target.ravel(), 1e4)
    return {
        "fit": (mean, std, beta),
        "rho_time": stats["rho_time"],
        "sigma": smoothing_sigma(stats["rho_space"]),
        "rms": float(stats["rms"].mean()),
    }


def calibrate_texture(G, select: PriorClips) -> dict:
    """The texture gain that makes the animations of select photos, at their clips' own
    amount and rate, change as much per frame where the real clip moved as the real clips:
    variances add, so gain^2 = (real^2 - without^2) / (with^2 - without^2), at most
    MAX_TEXTURE_GAIN."""
    real = select.clips.astype(np.float32)
    real_maps = read_motion_maps(select)
    photos = torch.from_numpy(real[:, 0] / 127.5 - 1)[:, None]
    photos = F.interpolate(photos, size=G.fmt.frame_shape, mode="area")
    z = torch.randn(len(photos), G.noise_dim, generator=torch.Generator().manual_seed(0))
    motion = torch.from_numpy(np.exp(select.log_motion) - AMOUNT_EPS).float()
    fps = torch.from_numpy(select.fps.astype(np.float32))
    maps = upsampled(real_maps, G.fmt.frame_shape)
    change = {}
    for texture in (False, True):
        with torch.no_grad():
            clips = G(photos, z, motion=motion, fps=fps, texture=texture)
        clips = ((clips[:, 0].clamp(-1, 1) + 1) * 127.5).numpy()
        change[texture] = frame_change(clips, maps, moved=True)
    target = frame_change(real, real_maps, moved=True)
    span = change[True] ** 2 - change[False] ** 2
    gain = np.sqrt(max(target**2 - change[False] ** 2, 0.0) / span) if span > 1e-6 else 0.0
    return {
        "texture_gain": float(np.clip(gain, 0.0, MAX_TEXTURE_GAIN)),
        "texture_change_real": target,
        "texture_change_warp": change[False],
        "texture_change_ungained": change[True],
    }


def read_motion_maps(part: PriorClips) -> np.ndarray:
    """The clips' speed maps, px a frame (undoing the relative log of `places` needs the
    amount): measured again here by DIS on the clips, as evaluate measures them."""
    from scenegan.pipeline.motion_fields import annotate_clip

    return np.stack([annotate_clip(clip).motion_map.astype(np.float32) for clip in part.clips])


def fit_scene_prior(
    G,
    index: DatasetIndex,
    encoder_state: dict,
    reads_context: bool,
    drawn: TextureChoice = TextureChoice(),
) -> dict:
    """Load the encoder, fit the places and texture on `index`'s train split (strength and
    spread on its select split) and set G's prior, its texture `drawn` as chosen; returns what
    was fit."""
    G.scene_encoder.load_state_dict(encoder_state)
    prior = G.scene_prior
    prior.reads_context.fill_(1.0 if reads_context else 0.0)
    prior.fitted.fill_(1.0)  # scene_features reads the flag of reads_context only
    train, select = prior_clips(index, "train"), prior_clips(index, "select")
    features = {"train": encode(G, train.images), "select": encode(G, select.images)}
    places = fit_places(G, train, select, features)
    texture = fit_texture(train, features["train"])
    mean, std, beta = places["fit"]
    _, _, texture_beta = texture["fit"]
    with torch.no_grad():
        prior.feature_mean.copy_(torch.from_numpy(mean))
        prior.feature_std.copy_(torch.from_numpy(std))
        prior.places_beta.copy_(torch.from_numpy(beta))
        prior.places_spread.fill_(places["spread"])
        # the texture ridge standardised its own features (the same ones, and the amount):
        # refold its scales into coefficients over the shared standardisation
        texture_mean, texture_std, _ = texture["fit"]
        folded = texture_beta[:-1] / texture_std
        scale = np.concatenate([std, [1.0]])
        offset = np.concatenate([mean, [0.0]])
        coefficients = folded * scale
        intercept = texture_beta[-1] + float(folded @ (offset - texture_mean))
        prior.texture_beta.copy_(torch.from_numpy(np.append(coefficients, intercept)).float())
        prior.texture_rho.fill_(texture["rho_time"])
        prior.texture_sigma.fill_(texture["sigma"])
        prior.texture_gate.fill_(drawn.gate)
        style = drawn.style if drawn.style in TEXTURE_STYLES else "grain"
        prior.texture_style.fill_(TEXTURE_STYLES.index(style))
    gain = calibrate_texture(G, select) if drawn.style != "none" else {"texture_gain": 0.0}
    gain["texture_gain_matched"] = gain["texture_gain"]
    prior.texture_gain.fill_(gain["texture_gain"] * drawn.scale)
    return gain | {
        "texture": drawn.style,
        "texture_gate": drawn.gate,
        "texture_scale": drawn.scale,
        "texture_gain": float(prior.texture_gain),
        "places_strength": places["strength"],
        "places_where_select": places["where"],
        "places_spread": places["spread"],
        "texture_rho": texture["rho_time"],
        "texture_sigma": texture["sigma"],
        "texture_rms": texture["rms"],
        "reads_context": reads_context,
        "train_clips": len(train.sources),
        "select_clips": len(select.sources),
    }


def fit_prior_file(
    path: Path | str,
    data: Path | str,
    end: str,
    i3d_state: dict,
    texture: TextureChoice = TextureChoice(),
) -> dict:
    """Give the exported motion generator at `path` a scene prior reading I3D's `end` point
    (`i3d_state`: a batch-norm-folded RGB I3D's state dict), fit on the dataset `data`, its
    texture drawn as `texture` says, and write it back in the format it is in. Returns what was
    fit."""
    obj = read_checkpoint(path)
    arch = str(obj.get("arch"))
    if arch not in arch_names() or not get_arch(arch).takes_scene_prior:
        raise UserError(f"{path}: only a motion model (--arch motion) takes a scene prior")
    index = read_index(data)
    if index.n_clips("select") == 0:
        raise UserError(f"{data} has no select clips to fit the scene prior's spread on")
    args = dict(obj["G_args"], scene_prior=end)
    G = build_generator(arch, args)
    missing, unexpected = G.load_state_dict(obj["G_ema"], strict=False)
    if unexpected or any(not k.startswith(("scene_encoder.", "scene_prior.")) for k in missing):
        raise UserError(f"{path}: its weights do not fit a motion generator")
    G.eval()
    reads_context = index_has_context(index, "train") and index_has_context(index, "select")
    fit = fit_scene_prior(G, index, collapse_i3d(i3d_state, end), reads_context, texture)
    fit["end_point"] = end
    obj["G_args"] = args
    obj["G_ema"] = {k: v.detach().clone() for k, v in G.state_dict().items()}
    obj["scene_prior"] = fit
    write_generator(obj, Path(path), "safetensors" if is_safetensors(path) else "pt")
    return fit
