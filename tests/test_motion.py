"""The motion arch: its amount is an input, it learns the measured flow, and the CLI drives it
(train both stages, export with calibration, sample with --motion / --fps)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from media import textured_photo, write_splits
from PIL import Image
from tiny_train import config

from scenegan.cli import cli
from scenegan.clip_format import CLIP
from scenegan.model.archs import build_generator, default_args
from scenegan.model.checkpoint import load_generator, read_checkpoint
from scenegan.model.data import ClipBank
from scenegan.model.motion import MotionGenerator, flow_losses
from scenegan.model.train import train


def panning_clips(n_clips: int, step: int = 1, seed: int = 0) -> np.ndarray:
    """uint8 (N, T, H, W): textures moving right `step` pixels per frame."""
    clips = []
    for i in range(n_clips):
        wide = textured_photo(CLIP.height, CLIP.width + step * CLIP.n_frames, seed=seed + i)
        wide = wide.round().astype(np.uint8)
        offsets = [step * (CLIP.n_frames - t) for t in range(CLIP.n_frames)]
        clips.append(np.stack([wide[:, o : o + CLIP.width] for o in offsets]))
    return np.stack(clips)


@pytest.fixture(scope="module")
def panning(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("pan") / "clips"
    return write_splits(
        root,
        {
            "train": (panning_clips(8), [f"v{i % 4}" for i in range(8)]),
            "select": (panning_clips(4, seed=20), ["s0", "s1", "s0", "s1"]),
        },
    )


def motion_model(stage: str = "small") -> MotionGenerator:
    torch.manual_seed(0)
    G = build_generator("motion", default_args("motion", stage)[0])
    return G.eval()


def photo_batch(G, n: int) -> torch.Tensor:
    height, width = G.fmt.frame_shape
    photos = [textured_photo(height, width, seed=i) / 127.5 - 1 for i in range(n)]
    return torch.tensor(np.stack(photos), dtype=torch.float32)[:, None]


@pytest.mark.parametrize("stage", ["small", "large"])
def test_the_amount_is_an_input(stage):
    """The analytic mean speed of the fields is exactly the motion asked for (in this stage's
    pixels), frame 0 is the photo, and the frames change more the more motion is asked for."""
    G = motion_model(stage)
    photo, z = photo_batch(G, 3), torch.randn(3, G.noise_dim)
    energies = []
    for amount in (0.0, 0.5, 2.0):
        motion = torch.full((3,), amount)
        with torch.no_grad():
            clip, extra = G(photo, z, motion=motion, with_penalties=True)
        assert torch.equal(clip[:, :, 0], photo)
        speed = extra["motion_map"].mean(dim=(1, 2))
        assert torch.allclose(speed, motion * G.stage_scale(), rtol=0.01, atol=1e-3)
        energies.append(float((clip[:, :, 1:] - clip[:, :, :-1]).abs().mean()))
    assert energies[0] < energies[1] < energies[2]


def test_the_oracle_benchmark_moves_the_places_it_is_told():
    """benchmarks/motion_oracle.py's places_told: the fields' analytic speed follows the map it
    is given (here: only the right half moves), the mean is still the amount, and G is itself
    again after the block."""
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "motion_oracle.py"
    spec = importlib.util.spec_from_file_location("motion_oracle", path)
    oracle = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(oracle)
    G = motion_model("large")
    photo, z, motion = photo_batch(G, 2), torch.randn(2, G.noise_dim), torch.full((2,), 0.4)
    height, width = G.fmt.frame_shape
    wanted = torch.zeros(2, height, width)
    wanted[:, :, width // 2 :] = 0.8
    with torch.no_grad(), oracle.places_told(G, wanted):
        _, told = G(photo, z, motion=motion, with_penalties=True)
    with torch.no_grad():
        _, own = G(photo, z, motion=motion, with_penalties=True)
    left, right = (
        told["motion_map"][:, :, : width // 2 - 2],
        told["motion_map"][:, :, width // 2 + 2 :],
    )
    assert torch.allclose(told["motion_map"].mean(dim=(1, 2)), motion, rtol=0.01)
    assert float(left.max()) < 0.01 * float(right.mean())
    assert float(own["motion_map"][:, :, : width // 2 - 2].mean()) > 0.1  # its own map moves both
    assert not {"forward", "trajectories"} & set(vars(G))  # G is itself again


def test_speed_scales_the_amount_and_loop_joins_the_ends():
    G = motion_model()
    photo, z = photo_batch(G, 2), torch.randn(2, G.noise_dim)
    motion = torch.full((2,), 1.0)
    with torch.no_grad():
        _, one = G(photo, z, motion=motion, with_penalties=True)
        _, two = G(photo, z, motion=motion, speed=2.0, with_penalties=True)
        plain = G(photo, z, motion=motion)
        looped = G(photo, z, motion=motion, loop=True)
    # the same motion twice as far, pixel by pixel (not other motion of twice the mean speed)
    assert torch.allclose(two["motion_map"], 2 * one["motion_map"], rtol=1e-4, atol=1e-6)

    def seam(clip):  # |last - first| over the mean frame-to-frame change
        step = (clip[:, :, 1:] - clip[:, :, :-1]).abs().mean()
        return float((clip[:, :, -1] - clip[:, :, 0]).abs().mean() / step)

    assert seam(looped) < seam(plain)
    assert torch.equal(looped[:, :, 0], photo)


def test_flow_losses_are_zero_only_at_the_measured_flow():
    G = motion_model()
    photo, z = photo_batch(G, 2), torch.randn(2, G.noise_dim)
    _, extra = G(photo, z, motion=torch.tensor([0.5, 1.0]), with_penalties=True)
    exact = {
        "mean_flow": extra["mean_flow"].detach(),
        "motion_map": extra["motion_map"].detach(),
        "motion": (extra["log_amount"].detach().exp() - 0.01),
    }
    losses = {name: value.detach() for name, value in flow_losses(extra, exact).items()}
    assert all(float(losses[name]) < 1e-3 for name in ("epe", "magnitude", "amount")), losses
    shifted = dict(exact, mean_flow=exact["mean_flow"] + 0.5)
    assert float(flow_losses(extra, shifted)["epe"].detach()) > 0.1


def test_the_still_term_is_the_speed_where_the_real_clip_stood_still():
    """In pixels a frame at the dataset's size, over the places measured still only."""
    measured = torch.zeros(1, 4, 6)
    measured[:, :, 3:] = 1.0  # the right half moves, the left stood still
    made = torch.full((1, 4, 6), 0.2)
    made[:, :, 3:] = 3.0  # what moves where it moved does not count
    penalties = {
        "stage_scale": 0.5,  # stage small: half the dataset's pixels
        "mean_flow": torch.zeros(1, 2, 4, 6),
        "motion_map": made,
        "log_amount": torch.zeros(1),
    }
    targets = {"mean_flow": torch.zeros(1, 2, 4, 6), "motion_map": measured * 0.5}
    losses = flow_losses(penalties, dict(targets, motion=torch.tensor([1.0])))
    assert float(losses["still"]) == pytest.approx(0.4)  # 0.2 px of stage small's = 0.4 px
    made[:, :, :3] = 0.0
    assert float(flow_losses(penalties, dict(targets, motion=torch.tensor([1.0])))["still"]) == 0


def test_targets_flip_with_their_clips(panning):
    bank = ClipBank.from_dataset(panning, "large", with_motion=True)
    rng = np.random.default_rng(0)
    clips, targets = bank.sample_with_targets(rng, 16)
    # every clip pans right: a flipped one pans left, and its measured flow says so
    for clip, flow in zip(clips, targets["mean_flow"], strict=True):
        right = clip[0, 1, :, 1:].sub(clip[0, 0, :, :-1]).abs().mean()
        left = clip[0, 1, :, :-1].sub(clip[0, 0, :, 1:]).abs().mean()
        moving_right = bool(right < left)
        assert (float(flow[0].float().mean()) > 0) == moving_right
    assert torch.allclose(targets["motion"], torch.ones(16), atol=0.3)


def test_regression_learns_the_measured_flow(panning, tmp_path):
    """Trained by regression alone, the model learns where the scene goes and how fast: the
    amount head reads about 1 px/frame and the mean flow points right."""
    cfg = config(
        panning,
        tmp_path / "run",
        arch="motion",
        steps=60,
        batch_size=4,
        lr=2e-3,
        adversarial_weight=0.0,
        snapshot_every=60,
        tick_every=60,
        motion_weight=0.0,
    )
    train(cfg)
    G, _ = load_generator(tmp_path / "run" / "training-state-0000060.pt")
    photo, z = photo_batch(G, 4), torch.randn(4, G.noise_dim)
    with torch.no_grad():
        _, extra = G.train()(photo, z, with_penalties=True)
    amount = extra["log_amount"].exp() - 0.01
    assert torch.all((amount > 0.5) & (amount < 2.0)), amount
    # half the stage's pixels: stage small is half the width
    assert float(extra["mean_flow"][:, 0].mean()) > 0.2


def test_cli_trains_both_stages_exports_calibrated_and_samples(panning, tmp_path):
    runner = CliRunner()
    common = [
        "--data",
        str(panning),
        "--arch",
        "motion",
        "--steps",
        "2",
        "--batch-size",
        "4",
        "--snapshot-every",
        "2",
        "--no-tensorboard",
        "--threads",
        "1",
    ]
    for stage in ("small", "large"):
        result = runner.invoke(
            cli, ["train", "--stage", stage, "--out", str(tmp_path / stage), *common]
        )
        assert result.exit_code == 0, result.output
    state = tmp_path / "large" / "training-state-0000002.pt"
    exported = tmp_path / "motion.pt"  # a torch file, by its name
    matched = tmp_path / "matched.safetensors"  # calibrated in either format
    # the scene prior needs the Kinetics I3D weights: tests/test_scene_prior.py fits it with
    # random ones
    matched_args = ["--calibrate", str(panning), "--spread", "matched", "--scene-prior", "none"]
    result = runner.invoke(cli, ["export", str(state), str(matched), *matched_args])
    assert result.exit_code == 0, result.output
    calibrated = ["--calibrate", str(panning), "--scene-prior", "none"]
    result = runner.invoke(cli, ["export", str(state), str(exported), *calibrated])
    assert result.exit_code == 0, result.output
    assert "(closest)" in result.output and "motion gain" in result.output
    G, _ = load_generator(exported)
    fits = [read_checkpoint(path)["calibration"] for path in (exported, matched)]
    assert fits[0]["amount_factor"] == pytest.approx(fits[0]["closest_factor"])
    assert fits[1]["spread_rule"] == "matched"
    assert fits[1]["amount_spread"] == pytest.approx(fits[1]["matched_spread"])
    trained, _ = load_generator(state)
    assert not torch.equal(G.amount_head.weight, trained.amount_head.weight)  # refit
    assert float(G.motion_gain) != 1.0 and float(G.fps) == 12.0
    out = tmp_path / "samples"
    result = runner.invoke(
        cli,
        [
            "sample",
            "--checkpoint",
            str(exported),
            "--out",
            str(out),
            "--seed",
            "3",
            "--motion",
            "1.5",
            "--fps",
            "20",
            "--loop",
        ],
    )
    assert result.exit_code == 0, result.output
    gifs = sorted(out.glob("*.gif"))
    assert gifs
    with Image.open(gifs[0]) as gif:
        assert gif.n_frames == CLIP.n_frames
        assert gif.info["duration"] == 50  # 20 fps, not the dataset's 12


def test_motion_controls_need_a_motion_model(tmp_path):
    """A flow model takes neither --motion nor --fps: one error line, exit 1."""
    import subprocess
    import sys

    from scenegan.model.archs import build_generator, default_args
    from scenegan.model.checkpoint import GENERATOR_KIND, write_generator

    args = default_args("flow", "large")[0]
    flow = tmp_path / "flow.safetensors"
    G = build_generator("flow", args)
    write_generator(
        {
            "kind": GENERATOR_KIND, "version": 1, "arch": "flow", "stage": "large", "step": 0,
            "alpha": 1.0, "G_args": args, "G_ema": G.state_dict(),
            "clip_format": CLIP.to_dict(), "config": {"arch": "flow"},
        },
        flow,
        "safetensors",
    )  # fmt: skip
    for option in (["--motion", "1.0"], ["--fps", "24"]):
        result = subprocess.run(
            [sys.executable, "-m", "scenegan.cli", "sample", "--checkpoint", str(flow),
             "--out", str(tmp_path), *option],
            capture_output=True,
            text=True,
        )  # fmt: skip
        assert result.returncode == 1
        [line] = result.stderr.strip().splitlines()
        assert line.startswith(
            f"error: {option[0]} needs a model whose architecture offers it (motion); flow ("
        )


def test_calibration_spreads_the_amounts_as_far_as_the_head_knows():
    """Exact predictions are kept as they are; predictions halfway to the mean are widened;
    noise is pulled in to one amount for all; the real amounts' spread is the widest."""
    from scenegan.model.calibrate import fit_spread, matched_spread

    rng = np.random.default_rng(0)
    real = np.exp(rng.normal(-0.5, 1.0, 400))
    log_real = np.log(real + 0.01)
    center = float(np.median(log_real))
    assert fit_spread(log_real, real, center, 4.0) == (1.0, 1.0)
    halfway = center + 0.5 * (log_real - center)
    spread, factor = fit_spread(
        halfway, real, center, matched_spread(halfway, log_real, np.ones(400))
    )
    assert abs(spread - 2.0) < 0.2 and factor < 1.1
    spread, _ = fit_spread(rng.normal(center, 2.0, 400), real, center, 4.0)
    assert spread <= 0.4
    assert matched_spread(np.full(400, center), log_real, np.ones(400)) == 4.0  # at most


def test_the_amount_head_refit_learns_what_the_features_tell_across_videos():
    """A feature that sets each video's amount is learnt (checked on clips of videos held out
    of the fit); features of pure noise earn the strongest ridge, about one amount for all."""
    from scenegan.model.calibrate import fit_amount_head, speed_factor

    rng = np.random.default_rng(1)
    videos = [f"v{i}" for i in range(30) for _ in range(8)]
    level = {v: rng.normal(0.0, 1.0) for v in sorted(set(videos))}
    signal = np.array([level[v] for v in videos])
    log_motion = signal + rng.normal(0, 0.1, len(videos))
    features = np.column_stack([signal, rng.normal(size=(len(videos), 5))])
    fit, held = np.arange(len(videos)) < 160, np.arange(len(videos)) >= 160
    beta, bias, _, _ = fit_amount_head(features[fit], log_motion[fit], videos[:160])
    predicted = np.exp(features[held] @ beta + bias) - 0.01
    real = np.exp(log_motion[held]) - 0.01
    assert speed_factor(predicted, real) < 1.12
    assert speed_factor(np.full(len(real), np.median(real)), real) > 1.2
    noise = rng.normal(size=(len(videos), 6))
    beta, bias, strength, _ = fit_amount_head(noise, log_motion, videos)
    assert strength >= 100.0 and np.abs(beta).max() < 0.05


def test_the_animator_gives_each_photo_its_own_rate_when_the_model_takes_one():
    """evaluate hands the real clips' frame rates to a rate-taking model: each photo is
    animated as if alone at its rate; a model without the control ignores them."""
    from scenegan.model.animator import Animator

    G = motion_model()
    model = Animator(G, {"arch": "motion"}, "test")
    photos = ((photo_batch(G, 2)[:, 0] + 1) * 127.5).round().numpy().astype(np.uint8)
    z = torch.randn(2, G.noise_dim)
    both = model.batch(photos, z, np.array([12.0, 60.0])).astype(int)
    for i, rate in enumerate((12.0, 60.0)):
        alone = model.batch(photos[i : i + 1], z[i : i + 1], np.array([rate]))
        # the same up to rounding: a convolution's kernel, so its last bits, follow the batch
        assert np.abs(both[i] - alone[0]).max() <= 1
    at_12 = model.batch(photos[1:], z[1:], np.array([12.0]))[0]
    assert np.abs(both[1] - at_12).max() > 1


def test_serve_passes_motion_and_fps_to_a_motion_model():
    """`POST /animate?motion=..&fps=..` animates as `sample --motion --fps` does."""
    pytest.importorskip("starlette")
    from scenegan.model.animator import Animator
    from scenegan.serve import Service, parse_options

    model = Animator(motion_model("large"), {"arch": "motion"}, "test")
    photo = textured_photo(*model.fmt.frame_shape, seed=5).round().astype(np.uint8)
    options = parse_options({"motion": "1.5", "fps": "24", "seed": "3"})
    served = Service(model).clip(photo, options, 3)
    assert np.array_equal(served, model.animations(photo, 1, 3, motion=1.5, fps=24.0)[0])
    assert not np.array_equal(served, model.animations(photo, 1, 3, motion=0.2, fps=24.0)[0])


def test_a_calibrated_spread_survives_the_old_name_beside_it():
    """Files trained before the spread was renamed carry `amount_shrink`; calibration writes
    `amount_spread` beside it, and that calibrated value is the one loaded."""
    G = motion_model()
    state = G.state_dict()
    del state["amount_spread"]
    state["amount_shrink"] = torch.tensor(0.7)
    G.load_state_dict(state)
    assert float(G.amount_spread) == pytest.approx(0.7)
    state["amount_spread"] = torch.tensor(0.5)
    G.load_state_dict(state)
    assert float(G.amount_spread) == pytest.approx(0.5)


def test_the_serve_page_sends_motion_and_fps_to_a_model_that_takes_them():
    """The page's motion and frame-rate fields reach the model (the GIF is the one the API
    gives for those options, not the one for the model's own guess); blank, they are not sent."""
    pytest.importorskip("starlette")
    import httpx
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    from web import chromium, fetch_bytes, served

    from scenegan.config import ServeConfig
    from scenegan.model.animator import EXAMPLES
    from scenegan.serve import create_app

    photo = EXAMPLES / "lake-pier.jpg"
    app = create_app(ServeConfig(), generator=(motion_model("large"), {"arch": "motion"}))
    with served(app) as url, chromium() as driver, httpx.Client(base_url=url, timeout=60) as api:

        def answer(query: str) -> bytes:
            files = {"image": (photo.name, photo.read_bytes())}
            return api.post(f"/animate?seed=0&scale=4{query}", files=files).content

        driver.get(url)
        wait = WebDriverWait(driver, 60)
        wait.until(lambda d: d.find_element(By.ID, "motion").is_enabled())
        driver.find_element(By.ID, "file").send_keys(str(photo))
        driver.execute_script("document.getElementById('n').value = 1")
        shown = []
        for motion, fps in (("1.5", "24"), ("", "")):
            for name, value in (("motion", motion), ("fps", fps)):
                field = driver.find_element(By.ID, name)
                field.clear()
                field.send_keys(value)
            driver.find_element(By.ID, "animate").click()
            wait.until(lambda d: "1 animation(s)" in d.find_element(By.ID, "status").text)
            img = driver.find_element(By.CSS_SELECTOR, "img.animation")
            shown.append(fetch_bytes(driver, img.get_attribute("src")))
        assert shown[0] == answer("&motion=1.5&fps=24") != answer("")
        assert shown[1] == answer("")
