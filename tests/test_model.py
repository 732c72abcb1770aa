"""Networks and trainer on a tiny made-up dataset: shapes, learning, resume, growth, errors, DDP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from media import write_splits
from tiny_train import config

from scenegan.archs import arch_names
from scenegan.cli import cli
from scenegan.clip_format import CLIP
from scenegan.errors import UserError
from scenegan.model import checkpoint as ckpt
from scenegan.model.archs import build_discriminator, build_generator, default_args
from scenegan.model.losses import MOTION_GRID, motion_maps, motion_match
from scenegan.model.networks import identity_grid, integrate, roughness
from scenegan.model.train import TrainConfig, train
from scenegan.pipeline.shards import write_shard

REPO = Path(__file__).resolve().parents[1]


def moving_clips(n_clips: int, seed: int) -> np.ndarray:
    """uint8 (N, T, H, W): drifting sine gratings, a different speed and angle per clip."""
    rng = np.random.default_rng(seed)
    t, y, x = np.meshgrid(*(np.arange(n) for n in CLIP.shape), indexing="ij")
    clips = []
    for _ in range(n_clips):
        fy, fx, speed = rng.uniform(0.1, 0.4, 3)
        clips.append(127.5 + 100 * np.sin(fy * y + fx * x - speed * t))
    return np.stack(clips).round().astype(np.uint8)


def write_dataset(root: Path, n_train: int = 8, n_val: int = 2) -> Path:
    splits = {}
    for split, n, seed in (("train", n_train, 0), ("val", n_val, 1)):
        if n:
            splits[split] = (moving_clips(n, seed), [f"video{i % 3}" for i in range(n)])
    return write_splits(root, splits)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    return write_dataset(tmp_path_factory.mktemp("data") / "clips")


@pytest.mark.parametrize("arch", arch_names())
@pytest.mark.parametrize("stage", ["small", "large"])
def test_shapes(arch, stage):
    G_args, D_args = default_args(arch, stage)
    G, D = build_generator(arch, G_args), build_discriminator(arch, D_args)
    fmt = CLIP.stage(stage)
    assert G.fmt == fmt
    G.alpha.fill_(0.5)
    D.alpha.fill_(0.5)
    photo = torch.rand(2, 1, *fmt.frame_shape) * 2 - 1
    with torch.no_grad():
        clip = G(photo, torch.randn(2, G.noise_dim))
        assert clip.shape == (2, 1, *fmt.shape)
        assert clip.abs().max() <= 1
        assert D(clip).shape == (2,)
        if arch != "keras2019":
            assert torch.equal(clip[:, 0, 0], photo[:, 0])  # frame 0 is the photo
            other = G(photo, torch.randn(2, G.noise_dim))
            assert not torch.allclose(clip[:, :, 1:], other[:, :, 1:])  # noise changes motion


@pytest.mark.parametrize("arch", ["euler", "flow"])
def test_warp_generators_return_their_penalties(arch):
    G = build_generator(arch, default_args(arch, "large")[0])
    photo = torch.rand(2, 1, *CLIP.frame_shape) * 2 - 1
    z = torch.randn(2, G.noise_dim)
    with torch.no_grad():
        clip, penalties = G(photo, z, with_penalties=True)
        assert torch.equal(clip, G(photo, z))
    assert set(penalties) == {"roughness", "residual"}
    assert all(value.ndim == 0 and value > 0 for value in penalties.values())


def test_roughness_sees_a_fold_not_a_shift():
    # A rigid shift of the whole frame is smooth; a fold (a column pulled 3 px left) is not.
    shift = torch.zeros(1, 2, 2, 8, 8)
    shift[:, :, 0] = 2.5
    assert roughness(shift) == 0
    fold = shift.clone()
    fold[:, :, 0, :, 4] = -0.5
    assert roughness(fold) > 0.1


def test_integrate_follows_one_static_field():
    """A uniform field carries every pixel t steps along it; where the field is zero (rock)
    nothing moves, however long it runs."""
    height, width = 6, 10
    base = identity_grid(height, width, torch.zeros(1))
    velocity = torch.zeros(1, 2, height, width)
    velocity[:, 0] = 0.02
    positions = integrate(velocity, base, 5)
    assert positions.shape == (1, 5, height, width, 2)
    for t in range(5):
        torch.testing.assert_close(positions[:, t, ..., 0], base[..., 0] - 0.02 * t)
        torch.testing.assert_close(positions[:, t, ..., 1], base[..., 1])
    velocity[..., :5] = 0  # the left half stands still
    positions = integrate(velocity, base, 5)
    torch.testing.assert_close(positions[:, -1, :, :4], base[:, :, :4])


def steady_euler(drift: float) -> torch.nn.Module:
    """An untrained euler G whose per-frame fields are off and whose velocity is uniform."""
    G = build_generator("euler", default_args("euler", "large")[0]).eval()
    with torch.no_grad():
        for head in (G.to_fields, G.to_fields_large, G.to_velocity, G.to_velocity_large):
            head.weight.zero_()
            head.bias.zero_()
        G.to_velocity.bias[0] = drift  # tanh units: about drift * velocity_scale per frame
    return G


def smooth_photo() -> torch.Tensor:
    y, x = torch.meshgrid(torch.arange(CLIP.height), torch.arange(CLIP.width), indexing="ij")
    return (0.8 * torch.sin(0.3 * x + 0.2 * y))[None, None].float()


def energy(clip: torch.Tensor) -> float:
    return float((clip[:, :, 1:] - clip[:, :, :-1]).abs().mean())


def test_euler_loop_joins_the_last_frame_to_the_first():
    G, photo = steady_euler(0.3), smooth_photo()
    z = torch.zeros(1, G.noise_dim)
    with torch.no_grad():
        plain, looped = G(photo, z), G(photo, z, loop=True)
    for clip in (plain, looped):
        assert torch.equal(clip[:, 0, 0], photo[:, 0])
    # The seam (frame 31 -> frame 0) against the changes next to it: 31 -> 30 and 0 -> 1.
    seam = float((looped[:, :, -1] - looped[:, :, 0]).abs().mean())
    beside = energy(looped[:, :, :2]) + energy(looped[:, :, -2:])
    assert 0.8 < seam / (beside / 2) < 1.2
    # Over the mean change (evaluate's loop seam): the cross-fade evens out mid-clip frames.
    assert seam / energy(looped) < 2
    plain_seam = float((plain[:, :, -1] - plain[:, :, 0]).abs().mean())
    assert plain_seam / energy(plain) > 4  # without --loop: a jump


def test_speed_scales_the_motion():
    G, photo = steady_euler(0.1), smooth_photo()
    z = torch.zeros(1, G.noise_dim)
    with torch.no_grad():
        base = energy(G(photo, z))
        assert 1.5 < energy(G(photo, z, speed=2)) / base < 2.6
        assert 0.35 < energy(G(photo, z, speed=0.5)) / base < 0.65
        assert energy(G(photo, z, speed=0)) < 1e-6  # grid_sample rounding only


def test_motion_match_reads_where_and_how_much_a_clip_moves():
    still = torch.zeros(2, 1, 32, 23, 40)
    moving = still.clone()
    moving[:, :, 1::2, :, 20:] = 0.5  # the right half flickers, the left half is still
    maps = motion_maps(moving)
    assert maps.shape == (2, 2, *MOTION_GRID)
    assert maps[:, :, :, :4].max() == 0 and maps[:, :, :, -4:].min() > 0.4
    assert motion_match(moving, moving) == 0
    # Too little and too much motion cost alike (log ratio); the grad goes to the fake only.
    fake = (moving * 0.5).requires_grad_(True)
    loss = motion_match(fake, moving)
    assert loss.item() > 0
    assert loss.item() == pytest.approx(float(motion_match(moving * 2, moving)), rel=0.2)
    loss.backward()
    assert fake.grad is not None and fake.grad.abs().sum() > 0


def test_noise_maps_are_a_function_of_photo_and_noise():
    G_args = default_args("flow", "small")[0]
    assert G_args["noise_maps"]  # the default for new models; older checkpoints have none
    G = build_generator("flow", G_args)
    photo = torch.rand(2, 1, *CLIP.half().frame_shape) * 2 - 1
    z = torch.randn(2, G.noise_dim)
    with torch.no_grad():
        clip = G(photo, z)
        assert torch.equal(clip, G(photo, z))  # no hidden randomness: same z, same clip
        assert torch.equal(clip[:, 0, 0], photo[:, 0])
    # The basis is part of the weights, so a rebuilt model animates the same way.
    rebuilt = build_generator("flow", G_args)
    rebuilt.load_state_dict(G.state_dict())
    with torch.no_grad():
        assert torch.equal(rebuilt(photo, z), clip)


@pytest.mark.parametrize("stage", ["small", "large"])
def test_streamed_clips_match_clips_in_memory(tmp_path, stage):
    from scenegan.model.data import ClipBank

    root = tmp_path / "clips"
    root.mkdir()
    shards = []
    for number, n in enumerate((5, 3)):  # two train shards: global index -> (shard, row)
        name = f"train-{number:05d}.h5"
        ids = [f"video{number}-{i}" for i in range(n)]
        write_shard(root / name, moving_clips(n, number), ids, [0.0] * n, {i: {} for i in ids})
        shards.append({"file": name, "split": "train", "n_clips": n})
    index = {"format_version": 1, "clip_format": CLIP.to_dict(), "fps": 12.0, "shards": shards}
    (root / "index.json").write_text(json.dumps(index))
    fmt = CLIP.stage(stage)
    for rank in (0, 1):
        banks = [
            ClipBank.from_dataset(root, stage, rank=rank, world_size=2, stream=stream)
            for stream in (False, True)
        ]
        assert [bank.streamed for bank in banks] == [False, True]
        batches = [bank.sample(np.random.default_rng(7), 12) for bank in banks]  # repeats
        assert batches[0].shape == (12, 1, *fmt.shape)
        assert torch.equal(batches[0], batches[1])
        assert torch.equal(banks[0].fixed(3), banks[1].fixed(3))


def test_training_streams_from_the_shards(dataset, tmp_path):
    summary = train(config(dataset, tmp_path / "run", stream="yes"))
    assert summary["step"] == 2 and Path(summary["checkpoint"]).is_file()


def test_augmentation_keeps_each_clip_whole():
    from scenegan.model.augment import augment

    torch.manual_seed(0)
    photo = torch.rand(6, 1, 1, *CLIP.frame_shape) * 2 - 1
    still = photo.expand(-1, -1, CLIP.n_frames, -1, -1)
    out = augment(still, "color,translation,cutout")
    assert out.shape == still.shape
    # One draw per clip for all its frames: a still clip stays still.
    assert torch.equal(out[:, :, 1:], out[:, :, :-1])
    assert not torch.allclose(out, still)
    assert torch.equal(augment(still, ""), still)
    moving = torch.rand(2, 1, 4, 8, 8, requires_grad=True)
    augment(moving, "color,translation,cutout").sum().backward()  # gradients reach G
    assert moving.grad is not None and moving.grad.abs().sum() > 0
    with pytest.raises(UserError, match="--augment"):
        TrainConfig(augment="mixup")


def test_training_lowers_loss_on_fixed_batch(dataset, tmp_path):
    """D's loss (the trainer's own losses.d_loss) on a fixed batch of the training clips, as the
    trainer's ClipBank serves them at stage small, and clips G makes of their photos, falls
    after a few steps."""
    from scenegan.model.data import ClipBank
    from scenegan.model.losses import d_loss

    train(config(dataset, tmp_path, steps=1, snapshot_every=1))
    train(config(dataset, tmp_path, steps=12, snapshot_every=12))
    real = ClipBank.from_dataset(dataset, "small").fixed(4)  # (4, 1, T, 23, 40) in [-1, 1]
    z = torch.randn(4, 32, generator=torch.Generator().manual_seed(0))

    def d_loss_at(step: int) -> float:
        state = ckpt.read_checkpoint(tmp_path / ckpt.state_name(step))
        G = build_generator(state["arch"], state["G_args"])
        D = build_discriminator(state["arch"], state["D_args"])
        G.load_state_dict(state["G"])
        D.load_state_dict(state["D"])
        with torch.no_grad():
            fake = G(real[:, :, 0], z)
            return float(d_loss(state["config"]["loss"], D(real), [(D(fake), 1.0)]))

    assert d_loss_at(12) < d_loss_at(1)


def test_resume_follows_the_same_course(dataset, tmp_path):
    train(config(dataset, tmp_path / "straight", steps=4, snapshot_every=2))
    train(config(dataset, tmp_path / "stopped", steps=2))  # the process ends here ...
    train(config(dataset, tmp_path / "stopped", steps=4, snapshot_every=2))  # ... and resumes
    a = torch.load(tmp_path / "straight" / ckpt.state_name(4), weights_only=True)
    b = torch.load(tmp_path / "stopped" / ckpt.state_name(4), weights_only=True)
    for key in ("G", "D", "G_ema"):
        for name, tensor in a[key].items():
            torch.testing.assert_close(b[key][name], tensor, rtol=1e-5, atol=1e-6, msg=name)
    assert b["step"] == 4
    assert (tmp_path / "stopped" / "grid-0000004.gif").is_file()
    lines = (tmp_path / "stopped" / "stats.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in lines] == [1, 2, 3, 4]


def test_stage_large_grows_from_small(dataset, tmp_path):
    train(config(dataset, tmp_path / "small", steps=2))
    train(config(dataset, tmp_path / "large", stage="large", steps=1, lr=0.0, fade_steps=10))
    small = torch.load(tmp_path / "small" / ckpt.state_name(2), weights_only=True)
    large = torch.load(tmp_path / "large" / ckpt.state_name(1), weights_only=True)
    shared = [k for k in small["G"] if k != "alpha"]
    assert shared and all(k in large["G"] for k in shared)
    for name in shared:  # lr 0: the grown G still holds the small stage's weights
        torch.testing.assert_close(large["G"][name], small["G"][name])
    assert large["alpha"] == pytest.approx(0.1)
    assert any(k.endswith("_large.weight") for k in large["G"])
    G, info = ckpt.load_generator(tmp_path / "large" / ckpt.state_name(1))
    assert info["stage"] == "large" and G.fmt == CLIP


def test_keras2019_arch_trains_both_stages(dataset, tmp_path):
    # `seed`, the option's old name, is still accepted.
    train(config(dataset, tmp_path / "small", arch="seed", steps=1, snapshot_every=1))
    train(
        config(dataset, tmp_path / "large", arch="keras2019", stage="large", steps=1, batch_size=2)
    )
    G, info = ckpt.load_generator(tmp_path / "large" / ckpt.state_name(1))
    assert info["arch"] == "keras2019" and G.noise_dim == 0
    assert not any(p.requires_grad for p in G.parameters())


def test_wgan_gp_runs(dataset, tmp_path):
    summary = train(config(dataset, tmp_path, loss="wgan-gp", steps=2))
    assert summary["step"] == 2


def test_wrong_checkpoints_are_one_line_errors(dataset, tmp_path):
    train(config(dataset, tmp_path / "small", steps=1, snapshot_every=1))
    path = tmp_path / "small" / ckpt.state_name(1)
    with pytest.raises(UserError, match="stage 'small'"):
        train(config(dataset, tmp_path / "x", stage="large", resume=str(path)))
    with pytest.raises(UserError, match="'euler' model"):
        train(config(dataset, tmp_path / "y", arch="keras2019", resume=str(path)))
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"not a checkpoint at all")
    with pytest.raises(UserError, match="not a readable torch checkpoint"):
        ckpt.load_generator(corrupt)
    corrupt.write_text("junk\n")  # fails inside the weights-only unpickler
    with pytest.raises(UserError, match="not a readable torch checkpoint"):
        ckpt.export_generator(corrupt, tmp_path / "exported.pt")
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(UserError, match="not a readable torch checkpoint"):
        train(config(dataset, tmp_path / "z", resume=str(truncated)))
    torch.save({"weights": torch.zeros(1)}, tmp_path / "foreign.pt")
    with pytest.raises(UserError, match="not a scenegan checkpoint"):
        ckpt.load_generator(tmp_path / "foreign.pt")
    with pytest.raises(UserError, match="no checkpoint"):
        ckpt.load_generator(tmp_path / "missing.pt")
    with pytest.raises(UserError, match="no checkpoint was found"):
        train(config(dataset, tmp_path / "lonely" / "large", stage="large"))


def test_bad_datasets_are_one_line_errors(tmp_path):
    with pytest.raises(UserError, match="no dataset"):
        train(config(tmp_path / "nowhere", tmp_path / "out"))
    empty = write_dataset(tmp_path / "empty", n_train=0, n_val=2)
    with pytest.raises(UserError, match="no training clips"):
        train(config(empty, tmp_path / "out"))


def test_nan_losses_stop_and_keep_the_last_good_checkpoint(dataset, tmp_path):
    train(config(dataset, tmp_path, steps=2))
    good = tmp_path / ckpt.state_name(2)
    state = torch.load(good, weights_only=True)
    state["D"]["head.bias"].fill_(float("nan"))
    bad = tmp_path / "poisoned.pt"
    torch.save(state, bad)
    with pytest.raises(UserError, match="NaN"):
        train(config(dataset, tmp_path, steps=4, resume=str(bad)))
    assert not (tmp_path / ckpt.state_name(4)).exists()
    assert ckpt.find_latest(tmp_path) == good


def test_cli_train_export_and_errors(dataset, tmp_path):
    runner = CliRunner()
    result = runner.invoke(cli, ["train", "--dry-run", "--stage", "large"])
    assert result.exit_code == 0, result.output
    assert '"stage": "large"' in result.output and "parameters" in result.output
    out = tmp_path / "run"
    args = ["train", "--data", str(dataset), "--out", str(out), "--steps", "1"]
    args += ["--batch-size", "2", "--snapshot-every", "1", "--no-tensorboard", "--threads", "1"]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    exported = tmp_path / "generator.pt"
    result = runner.invoke(cli, ["export", str(out / ckpt.state_name(1)), str(exported)])
    assert result.exit_code == 0, result.output
    G, info = ckpt.load_generator(exported)
    assert info["kind"] == ckpt.GENERATOR_KIND and info["step"] == 1 and info["arch"] == "euler"
    assert "D" not in torch.load(exported, weights_only=True)
    assert exported.stat().st_size < (out / ckpt.state_name(1)).stat().st_size / 2
    result = runner.invoke(cli, ["train", "--data", str(tmp_path / "nowhere")])
    assert result.exit_code != 0 and "no dataset" in str(result.exception)


def test_ddp_two_cpu_processes_resume_on_the_same_course(dataset, tmp_path):
    """The DDP path under torchrun: 2 processes on gloo, rank 0 writes the checkpoint with
    every rank's RNG state, a run stopped at step 2 and resumed reaches the weights of an
    uninterrupted run at step 4, and each process leaves no process group behind."""
    script = tmp_path / "run_ddp.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import sys
            import torch
            from scenegan.model.train import TrainConfig, train
            torch.set_num_threads(1)
            cfg = TrainConfig(data={str(dataset)!r}, out=sys.argv[1], steps=int(sys.argv[2]),
                              batch_size=2, snapshot_every=2, tick_every=1, tensorboard=False,
                              grid_photos=2, grid_noises=1, threads=1)
            print("summary", train(cfg))
            import torch.distributed as dist
            # one write of one line: the two processes share the pipe, and print writes its
            # arguments one by one, so under load the lines interleaved mid-line
            sys.stdout.write(f"process group after train: {{dist.is_initialized()}}\\n")
            """
        )
    )
    env = os.environ | {"PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}

    def torchrun(out: Path, steps: int) -> None:
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
        command += ["--nproc_per_node=2", str(script), str(out), str(steps)]
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr[-3000:]
        # train() destroys the group it started (torch warns at exit otherwise, on NCCL)
        assert result.stdout.count("process group after train: False") == 2, result.stdout

    torchrun(tmp_path / "straight", 4)
    assert (tmp_path / "straight" / ckpt.state_name(4)).is_file()
    stats = (tmp_path / "straight" / "stats.jsonl").read_text().splitlines()
    assert len(stats) == 4  # rank 0 only
    torchrun(tmp_path / "stopped", 2)
    state = torch.load(tmp_path / "stopped" / ckpt.state_name(2), weights_only=True)
    assert len(state["rng_ranks"]) == 2
    torchrun(tmp_path / "stopped", 4)  # --resume auto
    a = torch.load(tmp_path / "straight" / ckpt.state_name(4), weights_only=True)
    b = torch.load(tmp_path / "stopped" / ckpt.state_name(4), weights_only=True)
    for key in ("G", "D"):
        for name, tensor in a[key].items():
            torch.testing.assert_close(b[key][name], tensor, rtol=1e-5, atol=1e-6, msg=name)


def test_killed_run_resumes_to_the_same_weights(dataset, tmp_path):
    """SIGKILL a training process after its first snapshot; `--resume auto` finishes the course.

    The process holds still right after writing the snapshot of step 2 (its save is wrapped to
    sleep then), so it is killed there whatever the machine's speed: never past the end."""
    steps = 6
    train(config(dataset, tmp_path / "straight", steps=steps, snapshot_every=2))
    killed = tmp_path / "killed"
    saved = tmp_path / "saved"
    script = tmp_path / "run.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import sys, time
            sys.path.insert(0, {str(Path(__file__).parent)!r})
            from tiny_train import config
            from pathlib import Path
            from scenegan.model import checkpoint
            from scenegan.model.train import train

            save = checkpoint.save_training_state

            def save_then_wait(state, out_dir, **kwargs):
                path = save(state, out_dir, **kwargs)
                Path({str(saved)!r}).write_text(str(state["step"]))
                time.sleep(600)  # killed here
                return path

            checkpoint.save_training_state = save_then_wait
            train(config(Path({str(dataset)!r}), Path({str(killed)!r}), steps=10**6,
                         snapshot_every=2))
            """
        )
    )
    env = os.environ | {"PYTHONPATH": str(REPO)}
    process = subprocess.Popen([sys.executable, str(script)], env=env, stderr=subprocess.DEVNULL)
    try:
        for _ in range(6000):  # a guard against a hung child, not a timing
            if saved.is_file():
                break
            try:
                process.wait(timeout=0.1)
                pytest.fail("the training process ended before its first snapshot")
            except subprocess.TimeoutExpired:
                pass
        assert saved.is_file(), "no snapshot in 10 minutes"
        assert process.poll() is None  # still running: the kill ends it, not the course
    finally:
        process.kill()
        process.wait()
    resumed_from = ckpt.find_latest(killed)
    assert torch.load(resumed_from, weights_only=True)["step"] == 2 == int(saved.read_text())
    train(config(dataset, killed, steps=steps, snapshot_every=2))
    a = torch.load(tmp_path / "straight" / ckpt.state_name(steps), weights_only=True)
    b = torch.load(killed / ckpt.state_name(steps), weights_only=True)
    for key in ("G", "D", "G_ema"):
        for name, tensor in a[key].items():
            torch.testing.assert_close(b[key][name], tensor, rtol=1e-5, atol=1e-6, msg=name)


def test_one_downsampler_for_training_evaluation_and_photos(dataset, tmp_path):
    """A small model sees real clips (training, evaluation) and photos made the same way."""
    from PIL import Image

    from scenegan.clip_format import SMALL
    from scenegan.evaluation.evaluate import EvaluateConfig, load_real_clips
    from scenegan.model.animator import load_photo
    from scenegan.model.data import ClipBank
    from scenegan.model.downsample import downsample
    from scenegan.pipeline.shards import read_split

    train_full, _ = read_split(dataset, "train")
    full = train_full
    for stream in (False, True):  # the train split, as training reads it
        bank = ClipBank.from_dataset(dataset, "small", stream=stream)
        every = torch.arange(len(train_full))
        assert torch.equal(bank.clips[every], downsample(torch.from_numpy(train_full), SMALL))
    config = EvaluateConfig(data=dataset, out=tmp_path, n_clips=len(full), split="train")
    evaluated, _, _, _ = load_real_clips(config, SMALL)
    assert np.array_equal(evaluated, downsample(full, SMALL))
    assert np.array_equal(
        downsample(full, SMALL), downsample(torch.from_numpy(full), SMALL).numpy()
    )
    photo = tmp_path / "frame.png"
    Image.fromarray(full[0, 0]).save(photo)  # a 45 x 80 frame as a photo: no crop, no resize
    assert np.array_equal(load_photo(photo, SMALL), evaluated[0, 0])
