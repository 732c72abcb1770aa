"""`scenegan evaluate`: generated clips against held-out real clips, with baselines in one table.

Every row (real vs real, copied photo, drifting photo, seed model, the model) animates the first
frames of the same validation clips and is scored by the same functions on the same sample sizes.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import asdict
from fnmatch import fnmatch
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from scenegan.clip_format import ClipFormat
from scenegan.config import EvaluateConfig
from scenegan.errors import UserError
from scenegan.evaluation import metrics
from scenegan.evaluation.classes import class_speeds
from scenegan.evaluation.groups import group_reports
from scenegan.evaluation.html import write_html
from scenegan.evaluation.report import REAL, write_report
from scenegan.files import atomic_folder, atomic_write, cache_dir
from scenegan.model.animator import Animator, animate
from scenegan.model.baselines import CopiedPhoto, DriftingPhoto
from scenegan.model.checkpoint import check_format
from scenegan.model.downsample import downsample
from scenegan.model.prior_fit import spread_picks
from scenegan.pipeline.frames import luma
from scenegan.pipeline.shards import DatasetIndex, read_fps, read_index, read_split

# A row with the flow-speed columns only: every photo given the real clips' median speed.
CONSTANT_SPEED = "one speed (real median)"


def _fvd_functions(color: str = "gray"):
    """(i3d_features, frechet_distance, preprocessing text for clips of `color`), imported only
    when FVD is wanted."""
    try:
        from scenegan.evaluation.fvd import frechet_distance, fvd_preprocessing, i3d_features
    except ImportError as error:
        raise UserError(f"FVD is not available ({error}); pass --no-fvd") from None
    return i3d_features, frechet_distance, fvd_preprocessing(color)


def feature_cache_path(clips: np.ndarray, preprocessing: str) -> Path:
    """Where I3D features of exactly these clips are cached: keyed by their bytes.

    Real clips, the copied photo and the drifting photo are the same in every run on a dataset
    (given --seed), so only the model's rows cost I3D time when a model is evaluated again.
    """
    digest = hashlib.sha256()
    digest.update(f"{clips.shape} {clips.dtype} {preprocessing}".encode())
    digest.update(np.ascontiguousarray(clips).tobytes())
    return cache_dir() / "fvd-features" / f"{digest.hexdigest()}.npy"


def cached_features(
    clips: np.ndarray, config: EvaluateConfig, i3d_features, preprocessing: str, label: str
) -> np.ndarray:
    """(N, 400) I3D features of `clips`, from the cache when the same clips were seen before."""
    path = feature_cache_path(clips, preprocessing) if config.fvd_cache else None
    if path is not None and path.is_file():
        print(f"I3D features: {label}: cached ({path.name[:12]})", flush=True)
        return np.load(path)
    print(f"I3D features: {label} ({len(clips)} clips)", flush=True)
    features = np.asarray(
        i3d_features(clips, batch_size=config.fvd_batch_size, device=config.device, progress=True)
    )
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(path) as handle:
            np.save(handle, features)
    return features


def load_real_clips(
    config: EvaluateConfig, fmt: ClipFormat, index: DatasetIndex | None = None
) -> tuple[np.ndarray, int, list, np.ndarray]:
    """(uint8 (n, *fmt.shape) held-out clips at `fmt`, the split's clip count, their source
    ids, their frame rates), from the dataset's `index` (read now if not given)."""
    index = index if index is not None else read_index(config.data)
    clips, source_ids = read_split(index, config.split)
    rates = read_fps(index, config.split)
    what = f"{config.split} clips"
    if config.sources:
        patterns = [p.strip() for p in config.sources.split(",") if p.strip()]
        keep = [i for i, sid in enumerate(source_ids) if any(fnmatch(sid, p) for p in patterns)]
        clips, rates = clips[keep], rates[keep]
        what = f"{config.split} clips of sources matching {config.sources}"
    if len(clips) < 4:
        raise UserError(f"{config.data} has {len(clips)} {what}; evaluation needs at least 4")
    if (index.fmt.color, index.fmt.n_frames) != (fmt.color, fmt.n_frames):
        raise UserError(
            f"the dataset at {config.data} holds {index.fmt.describe()} clips, the model makes "
            f"{fmt.describe()} clips"
        )
    rng = np.random.default_rng(config.seed)
    chosen = np.sort(rng.permutation(len(clips))[: config.n_clips])
    if config.per_video:  # every video weighs about the same: its clips spread over it
        ids = np.array(source_ids if not config.sources else [source_ids[i] for i in keep])
        chosen = spread_picks(ids, config.per_video)
    if config.sources:
        source_ids = [source_ids[i] for i in keep]
    clips = downsample(clips[chosen], fmt)  # stage small: as training does
    n_split = int(index.n_clips(config.split)) if not config.sources else len(keep)
    return clips, n_split, [source_ids[i] for i in chosen], rates[chosen]


def generate(
    animator: Animator,
    photos: np.ndarray,
    seed: int,
    batch_size: int,
    label: str,
    controls: dict | None = None,
    rates: np.ndarray | None = None,
) -> np.ndarray:
    """uint8 (N, *fmt.shape): one animation per photo, noise from a generator seeded by `seed`;
    `controls` (loop, speed) go to the generator, and `rates` (N,), the real clips' frame
    rates, to one that animates at a chosen rate."""
    G = animator.G
    noise = torch.randn(len(photos), G.noise_dim, generator=torch.Generator().manual_seed(seed))
    batches = range(0, len(photos), batch_size)
    clips = [
        animator.batch(
            photos[i : i + batch_size],
            noise[i : i + batch_size],
            None if rates is None else rates[i : i + batch_size],
            **(controls or {}),
        )
        for i in tqdm(batches, desc=f"generate {label}")
    ]
    return np.concatenate(clips)


def generate_diversity(
    G: torch.nn.Module, photos: np.ndarray, n_seeds: int, seed: int
) -> np.ndarray | None:
    """uint8 (P, K, *G.fmt.shape) animations with K noise seeds per photo; None if G takes no
    noise."""
    if G.noise_dim == 0:
        return None
    generator = torch.Generator().manual_seed(seed + 1)
    return np.stack(
        [
            animate(G, photo, torch.randn(n_seeds, G.noise_dim, generator=generator))
            for photo in photos
        ]
    )


def clip_metrics(clips: np.ndarray, photos: np.ndarray, real_motion: float) -> dict[str, float]:
    """Every non-FVD column for one row's clips."""
    row = metrics.clip_columns(clips, photos)
    motion = row["motion_energy"]
    row["motion_ratio"] = motion / real_motion if real_motion > 0 else float("nan")
    return row


def halving_fvd(
    row_features: np.ndarray, real_features: np.ndarray, halves: list, frechet_distance
) -> tuple[float, float, list[float]]:
    """FVD of the row's clips of half A against the real clips of half B, per halving."""
    values = [float(frechet_distance(row_features[a], real_features[b])) for a, b in halves]
    return float(np.mean(values)), float(np.std(values)), values


def row_generators(config: EvaluateConfig, model: Animator) -> dict[str, Animator]:
    """Label -> model of every generated row: the hand-made baselines, --baseline's (labelled
    by its architecture, keras2019 for the 2019 model's), then the model."""
    fmt = model.fmt
    rows = {
        "copied photo": Animator(CopiedPhoto(fmt=fmt), {}, "copied photo"),
        "drifting photo": Animator(DriftingPhoto(fmt=fmt), {}, "drifting photo"),
    }
    if config.baseline is not None:
        baseline = Animator.load(config.baseline, device=config.device, fmt=fmt)
        if baseline.fmt != fmt:
            raise UserError(
                f"--baseline makes {baseline.fmt.describe()} clips, the model "
                f"{fmt.describe()}; give checkpoints of the same stage and dataset format"
            )
        rows[baseline.arch] = baseline
    rows[f"model ({model.arch})"] = model
    return rows


def random_halvings(n: int, count: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """`count` random splits of n clips into two equal halves (the same for every row)."""
    rng = np.random.default_rng(seed + 2)
    halves = []
    for _ in range(count):
        order = rng.permutation(n)
        halves.append((order[: n // 2], order[n // 2 : 2 * (n // 2)]))
    return halves


def i3d_row_features(clips: dict, config: EvaluateConfig, color: str) -> tuple[dict | None, str]:
    """(label -> (N, 400) I3D features, the preprocessing text); (None, why) with --no-fvd."""
    if not config.fvd:
        return None, "FVD not computed (--no-fvd)"
    i3d_features, _, preprocessing = _fvd_functions(color)
    features = {
        label: cached_features(c, config, i3d_features, preprocessing, label)
        for label, c in clips.items()
    }
    return features, preprocessing


def score_rows(
    clips: dict,
    features: dict | None,
    diversity: dict,
    config: EvaluateConfig,
    speed_cache: dict | None = None,
):
    """Every row's metrics on these clips (the real ones under REAL; grey levels, so rgb rows
    come as their luma); FVD and KVD from `features`; the flow-speed columns against the real
    clips of the same photos, and the CONSTANT_SPEED row."""
    real = clips[REAL]
    photos, real_motion = real[:, 0], metrics.motion_energy(real)
    speed_cache = {} if speed_cache is None else speed_cache
    real_speeds = metrics.clip_flow_speeds(real, speed_cache)
    real_maps = metrics.clip_flow_maps(real, speed_cache)
    rows: dict[str, dict] = {}
    for label in tqdm(clips, desc="clip statistics", leave=False):
        rows[label] = clip_metrics(clips[label], photos, real_motion)
        rows[label]["diversity"] = diversity.get(label, float("nan"))
        speeds = metrics.clip_flow_speeds(clips[label], speed_cache)
        rows[label].update(metrics.speed_columns(speeds, real_speeds))
        maps = metrics.clip_flow_maps(clips[label], speed_cache)
        rows[label]["still_flow"] = metrics.still_area_flow(maps, real_maps)
        rows[label]["where_corr"] = metrics.where_correlation(maps, real_maps)
        for name, moved in (("texture_moved", True), ("texture_still", False)):
            rows[label][name] = metrics.texture_change(clips[label], real_maps, moved)
        rows[label]["flow_speed_clips"] = speeds.tolist()
    constant = np.full(len(real_speeds), np.median(real_speeds))
    rows = {  # the constant-speed row right under the real clips'
        REAL: rows[REAL],
        CONSTANT_SPEED: metrics.speed_columns(constant, real_speeds),
        **{label: row for label, row in rows.items() if label != REAL},
    }
    if features is not None:
        _, frechet_distance, _ = _fvd_functions()
        halves = random_halvings(len(real), config.halvings, config.seed)
        for label in clips:  # not CONSTANT_SPEED: it has no clips
            mean, spread, values = halving_fvd(
                features[label], features[REAL], halves, frechet_distance
            )
            rows[label].update(fvd=mean, fvd_std=spread, fvd_halvings=values)
            mean, spread, values = halving_fvd(
                features[label], features[REAL], halves, metrics.kernel_distance
            )
            rows[label].update(kvd=mean, kvd_std=spread, kvd_halvings=values)
    return rows


def animate_rows(
    config: EvaluateConfig, model: Animator, real: np.ndarray, rates: np.ndarray
) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Every row's animations of the real clips' photos (the real clips under REAL), and each
    generated row's diversity across noise seeds."""
    fmt: ClipFormat = model.G.fmt
    photos = real[:, 0]
    clips = {REAL: real}
    diversity_sets: dict[str, np.ndarray | None] = {REAL: None}
    for label, row in row_generators(config, model).items():
        controls = {"loop": config.loop, "speed": config.speed} if row is model else None
        clips[label] = generate(row, photos, config.seed, config.batch_size, label, controls, rates)
        diversity_sets[label] = generate_diversity(
            row.G, photos[: config.diversity_photos], config.diversity_seeds, config.seed
        )
    diversity = {
        label: 0.0 if animations is None else metrics.diversity(luma(animations, fmt))
        for label, animations in diversity_sets.items()
        if label != REAL  # real clips have one future per photo
    }
    return clips, diversity


def evaluate(config: EvaluateConfig, generator: tuple[torch.nn.Module, dict] | None = None) -> dict:
    """Run the whole evaluation, write report.json, report.md and plots into `config.out`.

    `generator` (G, info) replaces loading `config.checkpoint` (for callers holding a model).
    """
    started = time.time()
    index = read_index(config.data)  # every shard opened (and checked) once, here
    dataset_fmt = index.fmt
    model = Animator.load(config.checkpoint, device=config.device, fmt=dataset_fmt, given=generator)
    G, info, checkpoint = model.G, model.info, model.source
    if "G_args" in info:  # a trained model (a baseline is made at the dataset's format)
        check_format(info, checkpoint, dataset_fmt, config.data)
    fmt: ClipFormat = G.fmt
    real, n_val, source_ids, rates = load_real_clips(config, fmt, index)
    n = len(real)
    clips, diversity = animate_rows(config, model, real, rates)
    features, preprocessing = i3d_row_features(clips, config, fmt.color)  # rgb: FVD sees the colour
    grey = {label: luma(c, fmt) for label, c in clips.items()}  # every other column: luma
    speed_cache: dict = {}  # clip bytes -> flow speed: the groups' clips are measured once
    rows = score_rows(grey, features, diversity, config, speed_cache)
    groups = group_reports(
        config,
        grey,
        features,
        source_ids,
        lambda c, f: score_rows(c, f, diversity, config, speed_cache),
    )
    grey_photos = grey[REAL][:, 0]
    speeds = {label: metrics.clip_flow_speeds(c, speed_cache) for label, c in grey.items()}

    report = {
        "checkpoint": checkpoint,
        "model_info": {k: info.get(k) for k in ("arch", "stage", "step") if k in info},
        "baseline": config.baseline,
        "dataset": str(config.data),
        "split": config.split,
        "sources": config.sources or "all",
        "n_val_clips": n_val,
        "n_clips": n,
        "fvd_sample_size": [n // 2, n // 2],
        "halvings": config.halvings if config.fvd else 0,
        "clip_format": fmt.to_dict(),
        "fps": index.fps,  # of the real clips: report.html's GIFs play at it
        "fvd_preprocessing": preprocessing,
        "diversity_samples": [min(config.diversity_photos, n), config.diversity_seeds],
        "definitions": {m.name: m.definition for m in metrics.METRICS},
        "rows": rows,
        "groups": groups,
        "classes": class_speeds(speeds, REAL, source_ids),
        "per_frame_correlation": {
            label: np.nanmean(metrics.frame_correlation(c, grey_photos), axis=0).tolist()
            for label, c in grey.items()
        },
        "motion_energy_curve": {
            label: metrics.motion_energy_curve(c).mean(axis=0).tolist() for label, c in grey.items()
        },
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(config).items()},
        "seconds": round(time.time() - started, 1),
    }
    # Written whole into a new folder that then replaces --out: never half a report, nor a new
    # report.json beside an earlier report.html.
    with atomic_folder(config.out) as folder:
        write_report(report, clips, folder, n_strip_clips=config.strip_clips)
        write_html(report, clips, folder)
    return report
