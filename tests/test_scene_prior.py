"""The motion model's scene prior: I3D's first layers as a 2-D network of a still photo, the
places and texture it sets, its fit by export, the innovation it is fit to, and the evaluate
columns and training share that go with it."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from media import textured_photo, write_splits
from test_motion import panning_clips

from scenegan.config import TrainConfig
from scenegan.evaluation import metrics
from scenegan.evaluation.i3d import InceptionI3d
from scenegan.model.archs import build_generator, default_args
from scenegan.model.calibrate import calibrate_file
from scenegan.model.checkpoint import export_generator, find_latest, load_generator, read_checkpoint
from scenegan.model.data import ClipBank, nested_videos
from scenegan.model.prior_fit import MAX_SPREAD, MAX_TEXTURE_GAIN, TextureChoice, fit_prior_file
from scenegan.model.scene_prior import innovation, noise_seeds, pooled_features, smoothing_sigma
from scenegan.model.still_inception import StillInception, collapse_i3d
from scenegan.model.train import train


def random_i3d() -> InceptionI3d:
    """A batch-norm-folded I3D with random weights and batch-norm statistics."""
    torch.manual_seed(0)
    i3d = InceptionI3d().eval()
    for module in i3d.modules():
        if isinstance(module, torch.nn.BatchNorm3d):
            module.running_mean.normal_(0, 0.1)
            module.running_var.uniform_(0.5, 1.5)
    return i3d.fuse_batch_norm()


@pytest.mark.parametrize("end", ["Mixed_3b", "Mixed_4c"])
def test_the_collapsed_network_is_i3d_on_a_still_clip(end):
    i3d = random_i3d()
    still = StillInception(end=end).eval()
    still.load_state_dict(collapse_i3d(i3d.state_dict(), end))
    photo = torch.rand(2, 3, 64, 112) * 2 - 1
    clip = photo[:, :, None].expand(-1, -1, 33, -1, -1).contiguous()
    with torch.no_grad():
        reference = i3d.end_point(clip, end)
        features = still(photo)
    middle = reference[:, :, reference.shape[2] // 2]  # away from time's zero padding
    assert features.shape == middle.shape
    assert torch.allclose(features, middle, atol=1e-3 * float(middle.abs().max()))


def prior_model(stage: str = "large"):
    """A motion G whose prior moves the left half only and adds texture there."""
    torch.manual_seed(0)
    args = dict(default_args("motion", stage)[0], scene_prior="Mixed_3b")
    G = build_generator("motion", args).eval()
    prior = G.scene_prior
    with torch.no_grad():
        prior.fitted.fill_(1.0)
        prior.places_beta.zero_()
        prior.texture_beta.zero_()
        prior.texture_beta[-1] = np.log(1.0 + 6.0)  # 6 grey levels RMS everywhere...
        prior.texture_rho.fill_(0.8)
        prior.texture_sigma.fill_(1.0)
    grid = G.scene_features(torch.zeros(1, 1, *G.fmt.frame_shape), None).shape[1:3]
    left = torch.zeros(*grid)
    left[:, : grid[1] // 2] = 3.0  # ... but places: exp(3) times faster on the left

    def places(features):
        return (left - left.mean()).expand(features.shape[0], -1, -1)

    prior.places = places
    return G


def test_the_prior_sets_the_places_and_adds_texture_from_frame_1():
    G = prior_model()
    photos = torch.from_numpy(np.stack([textured_photo(seed=i) for i in range(2)]))
    photos = (photos.float() / 127.5 - 1)[:, None]
    z = torch.randn(2, G.noise_dim, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        clips, penalties = G(photos, z, motion=1.0, with_penalties=True)
        again = G(photos, z, motion=1.0)
        plain = G(photos, z, motion=1.0, texture=False)
    speed = penalties["motion_map"]  # (B, H, W) analytic speed of the warp
    half = speed.shape[-1] // 2
    assert float(speed[..., :half].mean()) > 5 * float(speed[..., half:].mean())
    assert torch.equal(clips, again)  # the texture follows the noise
    assert torch.allclose(clips[:, :, 0], photos, atol=2 / 255)  # frame 0 is the photo
    grain = (clips - plain)[:, :, 1:] * 127.5
    assert 3.0 < float(grain.std()) < 9.0  # about the 6 grey levels asked for
    assert noise_seeds(z) != noise_seeds(-z)


def test_flutter_changes_the_photos_detail_where_the_places_move():
    G = prior_model()
    with torch.no_grad():
        G.scene_prior.texture_style.fill_(1.0)  # flutter: the noise displaces the photo
        G.scene_prior.texture_gate.fill_(1.0)  # the texture follows the places
    photo = textured_photo(seed=3)
    photo[10:35, 8:30] = 128.0  # a flat patch in the moving left half: nothing to displace
    photos = torch.from_numpy(photo).float()[None, None] / 127.5 - 1
    z = torch.randn(1, G.noise_dim, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        clip = G(photos, z, motion=0.0)  # no streamlines or oscillation
        again = G(photos, z, motion=0.0)
        looped = G(photos, z, motion=0.0, loop=True) - G(
            photos, z, motion=0.0, loop=True, texture=False
        )
        plain = G(photos, z, motion=0.0, texture=False)
    assert torch.equal(clip, again)
    assert torch.allclose(clip[:, :, 0], photos, atol=2 / 255)  # frame 0 is the photo
    assert float(looped[:, :, -1].abs().max()) < 1e-3  # no texture left where the loop joins
    change = (clip - plain)[0, 0, 1:].abs().mean(dim=0) * 127.5  # grey levels
    flat, left, right = change[14:31, 12:26], change[:, 32:38], change[:, 50:]
    assert float(left.mean()) > 0.5 and float(flat.mean()) < 0.1 * float(left.mean())
    assert float(right.mean()) < 0.5 * float(left.mean())
    assert float(clip.min()) >= -1 and float(clip.max()) <= 1


def test_carried_texture_travels_with_the_motion():
    G = prior_model()  # the left half moves exp(3) times faster than the right: at 0.3 px a
    # frame on average, the right half moves 0.5 px in the clip, the left half 18
    photos = torch.zeros(1, 1, *G.fmt.frame_shape)  # flat: what changes is the texture alone
    z = torch.randn(1, G.noise_dim, generator=torch.Generator().manual_seed(4))
    textures = {}
    with torch.no_grad():
        plain = G(photos, z, motion=0.3, texture=False)
        for style in (0, 2):  # grain stands on the screen, carried moves with the photo
            G.scene_prior.texture_style.fill_(float(style))
            textures[style] = (G(photos, z, motion=0.3) - plain)[0, 0, 1:]
    grain, carried = textures[0], textures[2]
    assert torch.equal(G(photos, z, motion=0.3)[:, :, 0], photos)  # frame 0 is the photo

    def corr(a, b):
        return float(torch.corrcoef(torch.stack([a.flatten(), b.flatten()]))[0, 1])

    half = grain.shape[-1] // 2
    still, moving = (
        corr(grain[..., half + 4 :], carried[..., half + 4 :]),
        corr(grain[..., 4 : half - 4], carried[..., 4 : half - 4]),
    )
    assert still > 0.8 and moving < still - 0.2
    assert 0.6 < float(carried.std() / grain.std()) < 1.2


def test_innovation_is_what_no_warp_explains():
    clip = panning_clips(1)[0]  # a texture moving right: a warp explains all of it
    flicker = clip.astype(np.float32).copy()
    rng = np.random.default_rng(0)
    flicker[1:, 20:, 44:] += rng.normal(0, 20, flicker[1:, 20:, 44:].shape)
    flicker = flicker.clip(0, 255).astype(np.uint8)
    # the right part: its content was in the first frame (it moves in from the left)
    moving = np.sqrt((innovation(clip)[1:, 4:-4, 44:-4] ** 2).mean())
    flickering = np.sqrt((innovation(flicker)[1:, 24:-4, 48:-4] ** 2).mean())
    steady = np.sqrt((innovation(flicker)[1:, 4:14, 48:-4] ** 2).mean())
    assert moving < 5 and steady < 8 and flickering > 15
    assert smoothing_sigma(np.exp(-1 / 4)) == pytest.approx(1.0)


def test_export_fits_the_prior_into_the_file(tmp_path):
    data = write_splits(
        tmp_path / "clips",
        {
            "train": (panning_clips(8), [f"v{i % 4}" for i in range(8)]),
            "select": (panning_clips(4, seed=20), ["s0", "s1", "s0", "s1"]),
        },
    )
    state_dir = tmp_path / "run"
    train(
        TrainConfig(
            stage="small", data=str(data), out=str(state_dir), arch="motion", steps=1,
            batch_size=4, snapshot_every=1, tensorboard=False, threads=1,
        )
    )  # fmt: skip
    path = export_generator(find_latest(state_dir), tmp_path / "motion.safetensors")
    choice = TextureChoice("flutter", gate=2.0, scale=0.5)
    fit = fit_prior_file(path, data, "Mixed_3b", random_i3d().state_dict(), choice)
    loaded, _ = load_generator(path)
    assert loaded.reads_scene() and read_checkpoint(path)["scene_prior"]["end_point"] == "Mixed_3b"
    assert 0.0 <= fit["texture_gain"] <= MAX_TEXTURE_GAIN and fit["train_clips"] == 8
    assert loaded.scene_prior.style == "flutter" and fit["texture"] == "flutter"
    assert float(loaded.scene_prior.texture_gate) == 2.0
    assert fit["texture_gain"] == pytest.approx(0.5 * fit["texture_gain_matched"])
    assert 1.0 <= fit["places_spread"] <= MAX_SPREAD
    photo = torch.from_numpy(textured_photo(*loaded.fmt.frame_shape)).float()[None, None]
    photo = photo / 127.5 - 1
    with torch.no_grad():
        clip = loaded(photo, torch.zeros(1, loaded.noise_dim))
    assert clip.shape == (1, 1, *loaded.fmt.shape)
    # then the amount: regressed on the prior's pooled features, which set it from then on
    calibration = calibrate_file(path, data, "select", 4)
    calibrated, _ = load_generator(path)
    prior = calibrated.scene_prior
    assert calibration["amount_from"] == "scene prior" and prior.sets_amount
    assert float(prior.amount_beta.abs().sum()) > 0 and not loaded.scene_prior.sets_amount
    fps = torch.tensor([12.0])
    with torch.no_grad():
        features = calibrated.scene_features(photo, None)
        encoded = calibrated.encode(photo)
        said = calibrated.predict_amount(encoded, fps, features)
        pooled = pooled_features(features, torch.zeros(1))
    assert torch.allclose(said, pooled @ prior.amount_beta[:-1] + prior.amount_beta[-1])
    assert not torch.allclose(said, calibrated.predict_amount(encoded, fps))  # not the head's


def test_texture_change_reads_the_places_that_moved():
    clips = np.zeros((1, 4, 2, 2), np.uint8)
    clips[0, 1::2, :, 0] = 10  # the left column flickers by 10 grey levels a frame
    real_maps = np.array([[[1.0, 0.0], [1.0, 0.0]]])  # the left column moved
    assert metrics.texture_change(clips, real_maps, moved=True) == pytest.approx(10.0)
    assert metrics.texture_change(clips, real_maps, moved=False) == pytest.approx(0.0)


def test_a_training_share_holds_the_smaller_shares_videos(tmp_path):
    videos = [f"video-{i}" for i in range(20)]
    quarter, half = nested_videos(videos, 0.25), nested_videos(videos, 0.5)
    assert len(quarter) == 5 and len(half) == 10 and set(quarter) <= set(half)
    data = write_splits(
        tmp_path / "clips", {"train": (panning_clips(8), [f"v{i % 4}" for i in range(8)])}
    )
    bank = ClipBank.from_dataset(data, "small", video_fraction=0.5)
    sources = np.array([f"v{i % 4}" for i in range(8)])
    kept = set(sources[bank.indices])
    assert len(bank) == 4 and kept == set(nested_videos(list(sources), 0.5))
