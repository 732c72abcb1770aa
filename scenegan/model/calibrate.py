"""Calibrate how much a motion model moves: its amount head refit on the training clips'
measured motion (every source video weighing the same; a model with a fitted scene prior gets
the regression on the prior's pooled features instead, which tell new videos' amounts better,
docs/experiments.md), its spread fit on what it says of
photos it never saw (the training videos left out of each cross-validation fold, and the select
split), then a gain on the select photos so that its animations move at the real clips'
optical-flow speed. Spread and gain weigh every clip the same, as `evaluate` does: weighing
videos the same on a select split of 16 videos set a gain 1.5x too fast for the clips of new
videos."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from scenegan.clip_format import channels_first, to_unit
from scenegan.config import CALIBRATION_SPREADS
from scenegan.errors import UserError
from scenegan.model.animator import animate_photos, draw_noise
from scenegan.model.checkpoint import (
    is_safetensors,
    load_generator,
    read_checkpoint,
    write_generator,
)
from scenegan.model.downsample import downsample
from scenegan.model.motion import AMOUNT_EPS, REFERENCE_FPS
from scenegan.model.prior_fit import PER_VIDEO, spread_picks
from scenegan.model.scene_prior import pooled_features
from scenegan.pipeline.motion_fields import annotate_clip
from scenegan.pipeline.shards import read_fields, read_index, read_motion, read_photos

RIDGE_STRENGTHS = tuple(float(s) for s in np.logspace(-3, 3, 13))  # the amount head's ridge


def video_weights(sources: list[str]) -> np.ndarray:
    """One weight per clip so that every source video counts the same (a split of a few
    videos is often mostly one of them)."""
    counts = {source: sources.count(source) for source in set(sources)}
    return np.array([1.0 / counts[source] for source in sources])


def weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    order = np.argsort(values)
    cumulative = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cumulative, cumulative[-1] / 2)])


def clip_speeds(clips: np.ndarray) -> np.ndarray:
    """Each uint8 clip's mean DIS flow speed, pixels per frame (the dataset's `motion`)."""
    return np.array([annotate_clip(clip).motion for clip in clips])


def fit_gain(
    G: torch.nn.Module,
    real: np.ndarray,
    weights: np.ndarray,
    rates: np.ndarray,
    *,
    seed: int = 0,
    rounds: int = 3,
) -> float:
    """Set G.motion_gain so that G's animations of the real clips' frame 0, at the clips' own
    frame rates `rates`, move at the real clips' median optical-flow speed (each clip weighing
    its `weights`); returns the gain. Speed grows about linearly with the gain, so a few
    multiplicative rounds settle it.

    Flow speed, not pixel change: a select split of a few videos can be mostly rain on a window,
    change without flow, and matching its pixel change made a model move ten times too fast."""
    photos = real[:, 0]
    target = weighted_median(clip_speeds(real), weights)
    z = draw_noise(G, len(photos), seed)
    fps = {"fps": torch.as_tensor(rates, dtype=torch.float32)}
    for _ in range(rounds):
        made = weighted_median(clip_speeds(animate_photos(G, photos, z, fps)), weights)
        G.motion_gain.mul_(float(np.clip(target / max(made, 1e-4), 0.25, 4.0)))
    return float(G.motion_gain)


def speed_factor(
    predicted: np.ndarray, real: np.ndarray, weights: np.ndarray | None = None
) -> float:
    """exp(median |ln((predicted + 0.01) / (real + 0.01))|): by what factor an amount per photo
    is typically off (evaluate's per-photo speed factor, on amounts); `weights` per clip."""
    errors = np.abs(np.log((predicted + 0.01) / (real + 0.01)))
    weights = np.ones(len(errors)) if weights is None else weights
    return float(np.exp(weighted_median(errors, weights)))


def amount_features(G: torch.nn.Module, photos: np.ndarray, rates: np.ndarray) -> np.ndarray:
    """What G's amount head sees (N, D) for uint8 photos at G's format and their frame rates:
    its scene prior's pooled features where the prior sets the amount."""
    features = []
    scene = scene_sets_amount(G)
    step = 32 if scene else 256
    for start in range(0, len(photos), step):
        unit = channels_first(torch.from_numpy(to_unit(photos[start : start + step])), G.fmt)
        unit = unit.contiguous().float()
        fps = torch.as_tensor(rates[start : start + step], dtype=torch.float32)
        with torch.no_grad():
            if scene:
                log_fps = (fps / REFERENCE_FPS).log()
                features.append(pooled_features(G.scene_features(unit, None), log_fps).numpy())
            else:
                features.append(G.amount_features(G.encode(unit), fps).numpy())
    return np.concatenate(features).astype(np.float64)


def scene_sets_amount(G: torch.nn.Module) -> bool:
    return G.reads_scene() and G.scene_prior.sets_amount


def ridge(
    features: np.ndarray, targets: np.ndarray, weights: np.ndarray, strength: float
) -> tuple[np.ndarray, float]:
    """Weighted ridge regression on standardised features: (coefficients (D,), intercept) in
    the features' own units. `strength` is per unit of total weight."""
    w = weights / weights.sum()
    mean = w @ features
    std = np.sqrt(w @ (features - mean) ** 2) + 1e-6
    x = (features - mean) / std
    y_mean = float(w @ targets)
    gram = x.T @ (x * w[:, None]) + strength * np.eye(x.shape[1])
    beta = np.linalg.solve(gram, x.T @ (w * (targets - y_mean))) / std
    return beta, y_mean - float(beta @ mean)


def weighted_std(values: np.ndarray, weights: np.ndarray) -> float:
    mean = weights @ values / weights.sum()
    return float(np.sqrt(weights @ (values - mean) ** 2 / weights.sum()))


def fit_amount_head(
    features: np.ndarray,
    log_motion: np.ndarray,
    sources: list[str],
    *,
    strengths: tuple[float, ...] = RIDGE_STRENGTHS,
    folds: int = 5,
) -> tuple[np.ndarray, float, float, np.ndarray]:
    """The amount head as a ridge regression of the clips' log motion on their features, its
    strength chosen by cross-validation over whole videos (a video's clips are never on both
    sides) on the speed factor, the strongest within 1% of the best; returns (coefficients,
    intercept, strength, the cross-validated predictions: what it says of videos it never
    saw)."""
    videos = sorted(set(sources))
    fold_of = {
        video: i % folds for i, video in enumerate(np.random.default_rng(0).permutation(videos))
    }
    fold = np.array([fold_of[source] for source in sources])
    weights = video_weights(sources)
    motion = np.exp(log_motion) - AMOUNT_EPS

    def cross_validated(strength: float) -> np.ndarray:
        predicted = np.empty(len(log_motion))
        for k in range(folds):
            held = fold == k
            beta, bias = ridge(features[~held], log_motion[~held], weights[~held], strength)
            predicted[held] = features[held] @ beta + bias
        return predicted

    predictions = {strength: cross_validated(strength) for strength in strengths}
    factors = {
        strength: speed_factor(np.exp(predicted) - AMOUNT_EPS, motion, weights)
        for strength, predicted in predictions.items()
    }
    # the strongest ridge within 1% of the best: cross-validation on a few dozen videos is
    # noisy, and a head that knows nothing should say one amount for all
    best = max(s for s, f in factors.items() if f <= min(factors.values()) * 1.01)
    beta, bias = ridge(features, log_motion, weights, best)
    return beta, bias, float(best), predictions[best]


def matched_spread(
    cross_validated: np.ndarray, log_motion: np.ndarray, weights: np.ndarray, most: float = 4.0
) -> float:
    """How much to widen the amount head's log predictions about their centre so that, on
    videos it never saw, they are as spread as the real amounts (at most `most`): a regression
    toward the mean gives every new photo nearly the typical amount."""
    predicted = weighted_std(cross_validated, weights)
    return float(min(most, weighted_std(log_motion, weights) / max(predicted, 1e-6)))


def fit_spread(
    log_predicted: np.ndarray,
    real_motion: np.ndarray,
    center: float,
    widest: float,
    weights: np.ndarray | None = None,
) -> tuple[float, float]:
    """The spread of the amount head's log predictions about `center` (0: one amount for
    all, 1: as fit, up to `widest`: as spread as the real amounts) that best matches the
    measured `real_motion` photo by photo (the smallest speed factor; ties to the one nearest
    1); returns (spread, its factor)."""
    candidates = sorted(
        {*np.linspace(0.0, max(widest, 1.0), 13).round(3), 1.0}, key=lambda s: abs(s - 1)
    )
    best = (1.0, float("inf"))
    for spread in candidates:
        amount = np.exp(center + spread * (log_predicted - center)) - AMOUNT_EPS
        factor = speed_factor(np.clip(amount, 0, None), real_motion, weights)
        if factor < best[1] - 1e-9:
            best = (float(spread), factor)
    return best


def calibrate_file(
    path: Path | str, data: Path | str, split: str, n_clips: int, spread_rule: str = "closest"
) -> dict:
    """Calibrate the exported motion generator at `path` and write it into the file:

    1. its amount head, refit as a ridge regression of the training clips' measured motion on
       what the head sees of their first frames (flipped too), strength by cross-validation
       over videos (refit_amount_head);
    2. its spread about the training clips' median amount, by `spread_rule`: "closest", the
       spread from one amount for all to as spread as the real amounts that best matches every
       photo the head did not see (fit_spread: the cross-validated training clips and
       `split`'s); or "matched", so that its cross-validated predictions of the training
       clips are as spread as the real amounts (matched_spread: the real mix of slow and fast
       scenes, but a photo it misjudges moves far too much);
    3. the gain that makes its animations of up to `n_clips` of `split`'s first frames move at
       those clips' median flow speed.

    Returns the calibration, with how far off per photo the amount is on `split`: as
    calibrated, as fit, and for one amount for every photo."""
    if spread_rule not in CALIBRATION_SPREADS:
        raise ValueError(f"spread_rule must be one of {CALIBRATION_SPREADS}, not {spread_rule!r}")
    G, _ = load_generator(path)
    if not isinstance(getattr(G, "motion_gain", None), torch.Tensor):  # what calibration sets
        raise UserError(f"{path}: only a motion model (--arch motion) has a gain to calibrate")
    index = read_index(data)  # every shard opened (and checked) once, for every read below
    photos = read_photos(index, split)
    if len(photos) == 0:
        raise UserError(
            f"{data} has no {split} clips to calibrate on; build with --select-fraction"
        )
    fit = refit_amount_head(G, index)
    motion = read_motion(index, split)
    rows = amount_rows(G, read_fields(index, split, ("source_id",))["source_id"])
    held = {key: motion[key][rows] for key in ("fps", "motion")}
    log_predicted = amount_features(G, downsample(photos[rows], G.fmt), held["fps"]) @ fit.beta
    log_predicted += fit.bias

    def held_factor(spread: float) -> float:
        amount = np.exp(fit.center + spread * (log_predicted - fit.center)) - AMOUNT_EPS
        return speed_factor(np.clip(amount, 0, None), held["motion"])

    unseen = np.concatenate([fit.cross_validated, log_predicted])
    unseen_motion = np.concatenate([fit.motion, held["motion"]])
    closest, _ = fit_spread(unseen, unseen_motion, fit.center, fit.widest)
    spread = closest if spread_rule == "closest" else fit.widest
    G.amount_center.fill_(fit.center)
    G.amount_spread.fill_(spread)
    gain, n_picked = calibrate_gain(G, index, split, motion["fps"], n_clips)
    calibration = {
        "split": split,
        "n_clips": n_picked,
        "amount_from": "scene prior" if scene_sets_amount(G) else "amount head",
        "amount_strength": fit.strength,
        "amount_center": fit.center,
        "spread_rule": spread_rule,
        "amount_spread": spread,
        "matched_spread": fit.widest,
        "amount_factor": held_factor(spread),  # per photo on `split`, as calibrated
        "matched_factor": held_factor(fit.widest),  # as spread as the real amounts
        "closest_factor": held_factor(closest),
        "unspread_factor": held_factor(1.0),  # the head as fit
        "constant_factor": held_factor(0.0),  # one amount for every photo
        "gain": gain,
    }
    write_calibration(path, G, calibration)
    return calibration


@dataclass(frozen=True)
class AmountFit:
    """The amount head refit on a dataset's training clips (refit_amount_head)."""

    beta: np.ndarray  # (D,) ridge coefficients on the head's features
    bias: float
    strength: float  # the ridge strength cross-validation chose
    cross_validated: np.ndarray  # its log predictions of the training clips' videos, unseen
    motion: np.ndarray  # the training clips' measured motion, px a frame
    center: float  # the training clips' median log motion
    widest: float  # matched_spread: as spread as the real amounts


def amount_rows(G: torch.nn.Module, sources) -> np.ndarray:
    """The rows of a split (its clips' `sources`) the amount is fit or judged on: every clip for
    the amount head; for a scene prior (a pretrained network, dear on a CPU), up to PER_VIDEO
    clips of each video, spread over it, as the prior's own fit."""
    if G.reads_scene():
        return spread_picks(np.asarray(sources), PER_VIDEO)
    return np.arange(len(sources))


def refit_amount_head(G: torch.nn.Module, index) -> AmountFit:
    """Refit G's amount head (in place) as a ridge regression of the training clips' log
    motion on what it sees of their first frames and of those frames flipped; with a fitted
    scene prior, the prior's amount regression on its pooled features of the first frames
    (amount_rows), and the prior sets the amount from then on."""
    if G.reads_scene():
        G.scene_prior.reads_amount.fill_(1.0)
    all_sources = np.array(read_fields(index, "train", ("source_id",))["source_id"])
    rows = amount_rows(G, all_sources)
    photos = downsample(read_photos(index, "train")[rows], G.fmt)
    sources = list(all_sources[rows])
    train = {key: value[rows] for key, value in read_motion(index, "train").items()}
    log_motion = np.log(train["motion"].astype(np.float64) + AMOUNT_EPS)
    copies = 1 if scene_sets_amount(G) else 2  # the head sees each photo flipped too
    if copies == 2:
        photos = np.concatenate([photos, np.flip(photos, axis=2)])
    features = amount_features(G, photos, np.tile(train["fps"], copies))
    both = np.tile(log_motion, copies)
    beta, bias, strength, cross_validated = fit_amount_head(features, both, sources * copies)
    with torch.no_grad():
        if scene_sets_amount(G):
            G.scene_prior.amount_beta.copy_(torch.from_numpy(np.append(beta, bias)).float())
        else:
            G.amount_head.weight.copy_(torch.from_numpy(beta[None]).float())
            G.amount_head.bias.fill_(bias)
    return AmountFit(
        beta=beta,
        bias=bias,
        strength=strength,
        cross_validated=cross_validated[: len(log_motion)],
        motion=train["motion"],
        center=float(np.median(log_motion)),
        widest=matched_spread(cross_validated, both, video_weights(sources * copies)),
    )


def calibrate_gain(
    G: torch.nn.Module, index, split: str, rates: np.ndarray, n_clips: int
) -> tuple[float, int]:
    """Set G's motion gain on up to `n_clips` of `split`'s clips, spread evenly over it, each
    animated at its own frame rate (`rates`, one per clip of the split); returns (the gain,
    how many clips set it)."""
    G.motion_gain.fill_(1.0)
    n_split = len(rates)
    picks = np.linspace(0, n_split - 1, min(n_clips, n_split)).round().astype(int)
    clips = read_fields(index, split, ("clips",), rows=picks)["clips"]
    real = downsample(torch.from_numpy(clips), G.fmt).numpy()
    return fit_gain(G, real, np.ones(len(picks)), rates[picks]), len(picks)


def write_calibration(path: Path | str, G: torch.nn.Module, calibration: dict) -> None:
    """Write G's calibrated amount head, spread, centre and gain, and the calibration record,
    into the exported generator at `path`, in the format it is in."""
    obj = read_checkpoint(path)
    obj["G_ema"].pop("amount_shrink", None)  # the spread's old name would shadow it
    for name in ("amount_center", "amount_spread", "motion_gain"):
        obj["G_ema"][name] = getattr(G, name).clone()
    for name in ("weight", "bias"):
        obj["G_ema"][f"amount_head.{name}"] = getattr(G.amount_head, name).detach().clone()
    if G.reads_scene():
        for name in ("reads_amount", "amount_beta"):
            obj["G_ema"][f"scene_prior.{name}"] = getattr(G.scene_prior, name).clone()
    obj["calibration"] = calibration
    write_generator(obj, Path(path), "safetensors" if is_safetensors(path) else "pt")
