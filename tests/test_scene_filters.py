"""The filters of issue 36 on small synthetic cases made here: duplicate footage (re-encoded,
half size, cropped by a tenth) is found and two different sea-like videos are not; static text
over moving content is an overlay; a zoom is caught per clip; the person detectors' verdict
logic; and a build that puts near-duplicate sources in one split (or keeps one, --dedup drop)."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import av
import cv2
import numpy as np
import pytest
from media import moving_texture, smooth_texture, write_video

from scenegan.config import BuildConfig, FilterConfig
from scenegan.errors import UserError
from scenegan.pipeline import scene_filters
from scenegan.pipeline.build import build_dataset
from scenegan.pipeline.extract import camera_share
from scenegan.pipeline.filters import measure_clip, reject_reason
from scenegan.pipeline.fingerprint import duplicate_groups, thumbnails, video_similarity
from scenegan.pipeline.overlay_text import text_frames
from scenegan.pipeline.person_detector import Seen
from scenegan.pipeline.scene_filters import judge_scene, overlay_area

DEFAULTS = FilterConfig()
FAINT = scene_filters.FACE_NEEDS_PERSON  # a person score too faint to count, enough for faces
SIMILAR = BuildConfig().duplicate_min_similarity


def persons_seen(monkeypatch, weight) -> None:
    """Stand the person detector in: `weight(rgb)` is each frame's person score, no footwear."""
    monkeypatch.setattr(scene_filters, "look", lambda rgb: Seen(weight(rgb), 0.0))


def sea(n_frames: int, height: int = 180, width: int = 320, seed: int = 0) -> np.ndarray:
    """(T, H, W) uint8 sea-like frames: a bright sky shading down to a horizon at 40% of the
    height, a dark sea of random swell below it rolling toward the camera."""
    rng = np.random.default_rng(seed)
    horizon = int(0.4 * height)
    sky = np.linspace(210, 170, horizon)[:, None] * np.ones((1, width))
    swell = smooth_texture(3 * height, width, seed=seed, scale=5) * 0.6
    clouds = smooth_texture(horizon, width + 200, seed=seed + 100, scale=20) * 0.2
    phase = rng.uniform(0, 6)
    frames = []
    for t in range(n_frames):
        top = sky + clouds[:, 2 * t : 2 * t + width] - 20
        row = (3 * height - (height - horizon)) - 2 * t  # the swell comes closer
        water = swell[row : row + height - horizon] + 8 * np.sin(np.arange(width) / 9 + t + phase)
        frames.append(np.clip(np.vstack([top, water]), 0, 255))
    return np.stack(frames).astype(np.uint8)


def reencoded(frames: np.ndarray, tmp_path: Path, name: str) -> np.ndarray:
    """The frames through H.264 at a low quality and back (gray)."""
    path = tmp_path / f"{name}.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=12)
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "32", "preset": "ultrafast"}
        for frame in frames:
            rgb = np.repeat(frame[..., None], 3, axis=2)
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="gray") for f in container.decode(video=0)])


def copy_of(frames: np.ndarray, tmp_path: Path) -> np.ndarray:
    """Half size, a tenth cropped off (more at the top left), re-encoded: a re-upload."""
    height, width = frames.shape[1:]
    half = [cv2.resize(f, (width // 2, height // 2), interpolation=cv2.INTER_AREA) for f in frames]
    top, left = round(0.07 * height / 2), round(0.06 * width / 2)
    rows, columns = round(0.9 * height / 2) // 2 * 2, round(0.9 * width / 2) // 2 * 2
    cropped = np.stack([f[top : top + rows, left : left + columns] for f in half])
    return reencoded(cropped, tmp_path, "copy")


def to_16_9(frames: np.ndarray) -> list[np.ndarray]:
    """What the sampler keeps: the centred 16:9 box of every 5th frame."""
    from scenegan.pipeline.frames import crop_16_9

    return [np.ascontiguousarray(crop_16_9(f)) for f in frames[::5]]


def test_a_reencoded_half_size_cropped_copy_is_a_duplicate_and_another_sea_is_not(tmp_path):
    original = sea(40, seed=1)
    copy = copy_of(original, tmp_path)
    other = sea(40, seed=2)  # the same kind of view: sky, horizon, swell
    fingerprint = thumbnails(to_16_9(original))
    assert video_similarity(fingerprint, thumbnails(to_16_9(copy))) >= SIMILAR
    assert video_similarity(fingerprint, thumbnails(to_16_9(other))) < SIMILAR


@pytest.mark.parametrize("duration", [None, 8.0])
def test_the_sampler_spreads_its_frames_over_the_video(duration):
    """8 s at 25 fps: with the duration, the first frame after each of 8 evenly spaced times;
    without it, frames spread by halving, the whole video covered either way."""
    sampler = scene_filters.FrameSampler(duration)
    for index in range(200):
        image = np.full((90, 160), index, np.uint8)
        sampler.add(av.VideoFrame.from_ndarray(image, format="gray"), 10.0 + index / 25)
    chosen = sampler.chosen()
    assert len(chosen) == scene_filters.N_SAMPLES and chosen[0].shape == (90, 160)
    indices = [int(frame[0, 0]) for frame in chosen]
    assert indices == sorted(indices) and indices[0] <= 25 and indices[-1] >= 150


def test_duplicate_groups_join_chains_of_pairs():
    pairs = [("a", "c", 0.9), ("c", "d", 0.8)]
    assert duplicate_groups(["a", "b", "c", "d"], pairs) == {"a": "a", "b": "b", "c": "a", "d": "a"}


def _with_caption(frames: np.ndarray) -> list[np.ndarray]:
    out = []
    for frame in frames:
        frame = frame.copy()
        for colour, thickness in ((0, 5), (255, 2)):  # white text with a black outline
            cv2.putText(frame, "SEA TV  live", (20, 160), cv2.FONT_HERSHEY_SIMPLEX, 1.0, colour,
                        thickness, cv2.LINE_AA)  # fmt: skip
        out.append(frame)
    return out


def test_static_text_over_moving_content_is_an_overlay():
    moving = moving_texture(8 * 12, 180, 320, seed=3)[::12]  # 8 samples, far apart in time
    plain = overlay_area(list(moving))
    captioned = overlay_area(_with_caption(moving))
    assert plain <= DEFAULTS.overlay_max_area < captioned
    verdict = judge_scene(_with_caption(moving), DEFAULTS)
    assert verdict.reason == "overlay" and verdict.overlay == pytest.approx(captioned)


def test_text_that_changes_is_an_overlay():
    """Subtitles change between samples, so no edge of theirs stands still; each frame shows
    lines of text all the same. One frame of text is not a caption."""
    moving = moving_texture(8 * 12, 180, 320, seed=3)[::12]
    lines = ["high tide", "comes in", "slowly now", "over sand", "and stones", "near dusk"]
    subtitled = []
    for frame, line in zip(moving, lines + ["gulls rest", "then night"], strict=True):
        frame = frame.copy()
        for colour, thickness in ((0, 4), (255, 1)):  # thin white letters, a black outline
            cv2.putText(frame, line, (40 + 7 * len(line), 150), cv2.FONT_HERSHEY_SIMPLEX, 0.7,
                        colour, thickness, cv2.LINE_AA)  # fmt: skip
        subtitled.append(frame)
    assert text_frames(list(moving), DEFAULTS) == 0
    assert text_frames(subtitled, DEFAULTS) == 8
    assert overlay_area(subtitled) <= DEFAULTS.overlay_max_area  # nothing in them stands still
    verdict = judge_scene(subtitled, DEFAULTS)
    assert (
        verdict.reason == "overlay" and verdict.text == 1.0 and "text in 8 frames" in verdict.note
    )
    once = judge_scene(subtitled[:1] + list(moving[1:]), DEFAULTS)
    assert once.reason is None and once.text == 1 / 8


def test_a_bold_caption_in_a_box_is_text():
    """A phone app's caption: bold black words on a white box. At this size the letters of a
    word run together into one mark; the words stand on one baseline."""
    moving = moving_texture(8 * 12, 180, 320, seed=4)[::12]
    boxed = []
    for frame in moving:
        frame = frame.copy()
        cv2.rectangle(frame, (60, 100), (262, 116), 255, -1)
        cv2.putText(frame, "calm sea at dawn now", (64, 113), cv2.FONT_HERSHEY_SIMPLEX, 0.45, 0,
                    2, cv2.LINE_AA)  # fmt: skip
        boxed.append(frame)
    assert text_frames(boxed, DEFAULTS) == 8 and text_frames(list(moving), DEFAULTS) == 0


def test_a_white_title_over_pale_mist_is_text():
    """A title in white over a waterfall's mist, in frames sampled at 640 x 360: its letters
    stand 100 to 114 grey levels above the mist."""
    mist = [(frame // 16 + 140).astype(np.uint8)
            for frame in moving_texture(8 * 12, 360, 640, seed=5)[::12]]  # fmt: skip
    titled = []
    for frame in mist:
        frame = frame.copy()
        cv2.putText(frame, "HOW TO GO", (140, 200), cv2.FONT_HERSHEY_DUPLEX, 1.6, 255, 3,
                    cv2.LINE_AA)  # fmt: skip
        titled.append(frame)
    assert text_frames(titled, DEFAULTS) == 8 and text_frames(mist, DEFAULTS) == 0


def zoomed(frames: np.ndarray, end: float) -> np.ndarray:
    """Frame t of `frames` magnified about the centre by end ** (t / (T - 1))."""
    n_frames, height, width = frames.shape
    out = []
    for t, frame in enumerate(frames):
        scale = end ** (t / (n_frames - 1))
        matrix = cv2.getRotationMatrix2D((width / 2, height / 2), 0, scale)
        out.append(cv2.warpAffine(frame, matrix, (width, height), borderMode=cv2.BORDER_REFLECT))
    return np.stack(out)


def test_a_zoom_is_caught_and_waves_swelling_in_place_are_not():
    still = np.repeat(smooth_texture(45, 80, seed=4)[None], 32, axis=0).astype(np.uint8)
    measures = measure_clip(zoomed(still, 1.25), DEFAULTS)
    assert abs(measures.zoom) > DEFAULTS.zoom_max_scale and measures.zoom_fit > 0.8
    assert reject_reason(measures, DEFAULTS) == "zoom"
    assert reject_reason(measure_clip(zoomed(still, 1 / 1.25), DEFAULTS), DEFAULTS) == "zoom"
    waves = measure_clip(moving_texture(32, 45, 80, seed=5), DEFAULTS)
    assert reject_reason(waves, DEFAULTS) is None and waves.zoom_fit < DEFAULTS.zoom_min_fit


def test_a_fast_zoom_fitted_loosely_is_caught_and_a_slow_one_is_not():
    """A camera moving forward among near things: part of the frame moves otherwise (here a
    moving texture over 34 of its 80 columns), so a zoom explains under zoom_min_fit of the
    flow. A fast zoom still goes (zoom_fast_scale); a slow one so fitted stays."""
    still = np.repeat(smooth_texture(45, 80, seed=4)[None], 32, axis=0).astype(np.uint8)
    beside = moving_texture(32, 45, 80, seed=5)[:, :, :34]
    fast, slow = zoomed(still, 2.2), zoomed(still, 1.25)
    fast[:, :, :34], slow[:, :, :34] = beside, beside
    fast_measures, slow_measures = measure_clip(fast, DEFAULTS), measure_clip(slow, DEFAULTS)
    assert fast_measures.zoom_fit < DEFAULTS.zoom_min_fit
    assert fast_measures.zoom > DEFAULTS.zoom_fast_scale
    assert reject_reason(fast_measures, DEFAULTS) == "zoom"
    assert reject_reason(fast_measures, replace(DEFAULTS, zoom_fast_fit=0.9)) is None
    assert DEFAULTS.zoom_fast_fit <= slow_measures.zoom_fit < DEFAULTS.zoom_min_fit
    assert reject_reason(slow_measures, DEFAULTS) is None


def test_people_verdict_counts_frames_with_a_face_or_a_person(monkeypatch):
    """No face image ships with OpenCV, so the detectors are stood in for here: the verdict
    takes a video when people_min_share of its sampled frames show someone. The real detectors
    find nobody in moving textures."""
    frames = list(moving_texture(8, 180, 320, seed=6))
    assert judge_scene(frames, DEFAULTS).reason is None
    persons_seen(monkeypatch, lambda rgb: FAINT)  # faces are looked for
    faces = iter([0.0, 9.0, 0.0, 0.0] + [9.0, 0.0, 0.0, 0.0])  # 4 searched first, then the rest
    monkeypatch.setattr(scene_filters, "face_weight", lambda gray: next(faces))
    verdict = judge_scene(frames, DEFAULTS)
    assert verdict.reason == "people" and verdict.people == 0.25 and "2 of 8 frames" in verdict.note
    monkeypatch.setattr(scene_filters, "face_weight", lambda gray: 0.0)
    persons_seen(monkeypatch, lambda rgb: DEFAULTS.people_min_person)
    assert judge_scene(frames, DEFAULTS).reason == "people"
    searched = []
    persons_seen(monkeypatch, lambda rgb: searched.append(rgb) or 0.0)
    verdict = judge_scene(frames, replace(DEFAULTS, people_frames=2))
    assert len(searched) == 2 and "of 2 frames" in verdict.note
    with pytest.raises(UserError, match="--people-frames"):
        BuildConfig(filters=replace(DEFAULTS, people_frames=0)).validate()


def test_a_person_under_the_threshold_counts_where_most_frames_show_one(monkeypatch):
    """People seen from behind score under people_min_person; they count where STEADY_SHARE of
    the searched frames score people_steady_person or more, and not where fewer do."""
    frames = list(moving_texture(8, 180, 320, seed=6))
    steady = (DEFAULTS.people_steady_person + DEFAULTS.people_min_person) / 2
    assert scene_filters.STEADY_SHARE == 0.6  # 5 of 8 frames

    def scores(count):  # the first 4 frames searched, then the rest: `count` of them steady
        weights = iter([steady] * count + [0.1] * (8 - count))
        return lambda rgb: next(weights)

    monkeypatch.setattr(scene_filters, "face_weight", lambda gray: 0.0)
    persons_seen(monkeypatch, scores(5))
    verdict = judge_scene(frames, DEFAULTS)
    assert verdict.reason == "people" and "5 of 8 frames" in verdict.note
    persons_seen(monkeypatch, scores(4))
    verdict = judge_scene(frames, DEFAULTS)
    assert verdict.reason is None and "0 of 8 frames" in verdict.note
    persons_seen(monkeypatch, scores(8))
    stricter = replace(DEFAULTS, people_steady_person=DEFAULTS.people_min_person)
    assert judge_scene(frames, stricter).reason is None


def test_one_frame_of_a_person_seen_clearly_is_enough(monkeypatch):
    """A montage with one shot of people: a person at people_clear_person in one frame of 8 (not
    among the first 4) takes the video; one only at people_min_person there does not."""
    frames = list(moving_texture(8, 180, 320, seed=6))
    monkeypatch.setattr(scene_filters, "face_weight", lambda gray: 0.0)
    for once, expected in ((DEFAULTS.people_clear_person, "people"), (0.58, None)):
        weights = iter([0.5, 0.1, 0.1, 0.1] + [once, 0.1, 0.1, 0.1])  # the first 4 come near
        persons_seen(monkeypatch, lambda rgb, w=weights: next(w))
        verdict = judge_scene(frames, DEFAULTS)
        assert verdict.reason == expected and "1 of 8 frames" in verdict.note


def test_boots_or_shoes_close_up_show_a_person(monkeypatch):
    """Legs only (a hiker's boots, people round a fire seen from the knees down): frames where
    the detector scores footwear at people_min_footwear count like a person's; under it, though
    near enough to search all 8 frames, they do not."""
    frames = list(moving_texture(8, 180, 320, seed=6))
    monkeypatch.setattr(scene_filters, "face_weight", lambda gray: 0.0)
    for footwear, expected in ((DEFAULTS.people_min_footwear, "people"), (0.45, None)):
        monkeypatch.setattr(scene_filters, "look", lambda rgb, f=footwear: Seen(0.1, f))
        verdict = judge_scene(frames, DEFAULTS)
        assert verdict.reason == expected
    assert "footwear 0.45 in 0 of 8 frames" in verdict.note


def test_faces_are_looked_for_only_where_the_person_detector_sees_someone(monkeypatch):
    """A face belongs to a person: the cascades run on the frames the person detector scores at
    FACE_NEEDS_PERSON or more, however far under its own threshold."""
    frames = list(moving_texture(8, 180, 320, seed=6))
    persons = iter([0.0, FAINT, 0.1, 0.0] + [0.0] * 4)  # the first 4, then (a face near) the rest
    persons_seen(monkeypatch, lambda rgb: next(persons))
    searched = []
    monkeypatch.setattr(scene_filters, "face_weight", lambda gray: searched.append(gray) or 9.0)
    verdict = judge_scene(frames, DEFAULTS)
    assert len(searched) == 1 and verdict.reason == "people" and "1 of 8 frames" in verdict.note


def test_people_searches_the_other_frames_only_when_one_comes_near(monkeypatch):
    """The frames beyond people_frames are searched where one of the first shows a face or a
    person near its threshold, and a person found there counts too."""
    frames = list(moving_texture(8, 180, 320, seed=6))
    persons_seen(monkeypatch, lambda rgb: FAINT)  # faces are looked for
    searched = []

    def faces(weights):
        weights = iter(weights)
        return lambda gray: searched.append(gray) or next(weights)

    monkeypatch.setattr(scene_filters, "face_weight", faces([0.0, 1.0, 0.0, 0.0]))
    verdict = judge_scene(frames, DEFAULTS)
    assert verdict.reason is None and len(searched) == 4 and "0 of 4 frames" in verdict.note
    near = scene_filters.PEOPLE_NEAR * DEFAULTS.people_min_face
    searched.clear()
    monkeypatch.setattr(scene_filters, "face_weight", faces([0.0, near, 0.0, 0.0] + [0.0] * 4))
    verdict = judge_scene(frames, DEFAULTS)  # near, and nobody in the others
    assert verdict.reason is None and verdict.people == 0.0 and len(searched) == 8
    monkeypatch.setattr(scene_filters, "face_weight", faces([0.0, 5.0, 0.0, 0.0] + [0.0] * 4))
    verdict = judge_scene(frames, DEFAULTS)  # one face in the first four: as many as before
    assert verdict.reason == "people" and verdict.people == 0.25 and "1 of 8" in verdict.note
    monkeypatch.setattr(scene_filters, "face_weight", faces([near, 0, 0, 0, 0, 5.0, 5.0, 0]))
    verdict = judge_scene(frames, DEFAULTS)  # near in the first four, faces in the others
    assert verdict.reason == "people" and verdict.people == 0.25
    searched.clear()
    monkeypatch.setattr(scene_filters, "face_weight", faces([9.0] * 8))
    assert judge_scene(frames, replace(DEFAULTS, people_frames=8)).people == 1.0
    assert len(searched) == 8


def _sea_videos(folder: Path, tmp_path: Path) -> None:
    folder.mkdir()
    original = sea(72, seed=1)
    write_video(folder / "a-original.mp4", original, fps=12)
    write_video(folder / "b-other.mp4", sea(72, seed=2), fps=12)
    write_video(folder / "c-copy.mp4", copy_of(original, tmp_path), fps=12)


def test_the_build_puts_duplicates_in_one_split_or_drops_them(tmp_path):
    videos = tmp_path / "videos"
    _sea_videos(videos, tmp_path)
    config = BuildConfig(
        videos=videos, out=tmp_path / "ds", workers=1, fps="12", crops=1, stride=8, seed=0,
        val_fraction=0.5,
    )  # fmt: skip
    stats = build_dataset(config)
    pairs = [tuple(pair["sources"]) for pair in stats["duplicate_pairs"]]
    assert pairs == [("a-original.mp4", "c-copy.mp4")]
    index = json.loads((config.out / "index.json").read_text())
    sources_by_split = _sources_by_split(config.out, index)
    assert {"a-original.mp4", "c-copy.mp4"} <= sources_by_split[_split_of("a-original.mp4", config)]
    from scenegan.pipeline.rejected import write_rejected

    (sheet,) = write_rejected(config.out, per_reason=2)  # its duplicate rows: a clip of each
    assert sheet.is_file()
    dropped = build_dataset(replace(config, out=tmp_path / "drop", dedup="drop"))
    assert dropped["videos_rejected"] == {"duplicate": 1}
    assert dropped["clips_rejected"]["duplicate"] > 0
    assert dropped["clips_written"]["total"] < stats["clips_written"]["total"]


def _split_of(source_id: str, config: BuildConfig) -> str:
    from scenegan.pipeline.sources import split_of

    return split_of(source_id, config.val_fraction, config.select_fraction)


def _sources_by_split(root: Path, index: dict) -> dict[str, set[str]]:
    import h5py

    found: dict[str, set[str]] = {}
    for shard in index["shards"]:
        with h5py.File(root / shard["file"], "r") as file:
            ids = {s.decode() for s in file["source_id"][()]}
        found.setdefault(shard["split"], set()).update(ids)
    return found


def handheld(n_panning: int, n_still: int, step: int = 6, seed: int = 0) -> np.ndarray:
    """(T, H, W) uint8 swelling water seen by a camera that pans `step` pixels a frame for
    `n_panning` frames, then holds still for `n_still` (its steady pause)."""
    n_frames = n_panning + n_still
    canvas = moving_texture(n_frames, 180, 320 + step * n_panning, seed=seed)
    offsets = [min(t, n_panning) * step for t in range(n_frames)]
    return np.stack([canvas[t, :, left : left + 320] for t, left in enumerate(offsets)])


def test_a_video_whose_camera_moves_in_most_clips_loses_its_steady_ones_too(tmp_path):
    videos = tmp_path / "videos"
    videos.mkdir()
    write_video(videos / "handheld.mp4", handheld(100, 40), fps=12)
    write_video(videos / "tripod.mp4", moving_texture(140, 180, 320, seed=1), fps=12)
    config = BuildConfig(
        videos=videos, out=tmp_path / "ds", workers=1, fps="12", crops=1, stride=8,
        val_fraction=0.5,
    )  # fmt: skip
    stats = build_dataset(config)
    assert stats["videos_rejected"] == {"moving_camera": 1}
    steady = stats["clips_rejected"]["moving_camera"]  # the pause's clips passed the clip filters
    assert steady > 0 and stats["clips_rejected"]["camera_pan"] > 3 * steady
    assert stats["clips_written"]["total"] == 14  # the tripod's, all of them
    filters = replace(config.filters, camera_min_share=1.01, camera_max_glide=1000.0)
    allowed = build_dataset(replace(config, out=tmp_path / "all", filters=filters))
    assert allowed["clips_written"]["total"] == 14 + steady  # its glide allowed too
    assert "moving_camera" not in allowed["clips_rejected"]


def test_the_cheapest_judge_goes_first_and_the_detectors_only_where_needed(monkeypatch):
    frames = list(moving_texture(8, 180, 320, seed=6))
    searched = []
    persons_seen(monkeypatch, lambda rgb: FAINT)
    monkeypatch.setattr(scene_filters, "face_weight", lambda gray: searched.append(gray) or 9.0)
    assert judge_scene(frames, DEFAULTS, camera=0.2).reason == "people" and len(searched) == 8
    verdict = judge_scene(frames, DEFAULTS, camera=0.8)
    assert verdict.reason == "moving_camera" and verdict.camera == 0.8
    assert "camera moved in 80%" in verdict.note
    captioned = judge_scene(_with_caption(np.stack(frames)), DEFAULTS, camera=0.2)
    assert captioned.reason == "overlay" and len(searched) == 8  # no detector ran for either


def _boxed(frames: np.ndarray, sides: str, grey: int = 0) -> list[np.ndarray]:
    """The frames shrunk into a 16:9 frame of the same size with flat bars: `letter` (above and
    below, a 2.35:1 picture) or `pillar` (left and right, a 9:16 portrait picture)."""
    height, width = frames.shape[1:]
    out = []
    for frame in frames:
        canvas = np.full_like(frame, grey)
        if sides == "letter":
            inner = round(width / 2.35)
            top = (height - inner) // 2
            canvas[top : top + inner] = cv2.resize(frame, (width, inner))
        else:
            inner = round(height * 9 / 16)
            left = (width - inner) // 2
            canvas[:, left : left + inner] = cv2.resize(frame, (inner, height))
        out.append(canvas)
    return out


def test_letterbox_pillarbox_and_borders_are_overlays_and_a_dark_surround_is_not():
    moving = moving_texture(8 * 12, 180, 320, seed=3)[::12]
    assert scene_filters.bar_area(list(moving)) == 0.0
    letter = _boxed(moving, "letter")
    assert scene_filters.bar_area(letter) == pytest.approx(1 - 136 / 180, abs=0.02)
    assert judge_scene(letter, DEFAULTS).reason == "overlay"
    pillar = _boxed(moving, "pillar", grey=255)
    assert scene_filters.bar_area(pillar) > 0.6
    assert judge_scene(pillar, DEFAULTS).reason == "overlay"
    # a night sky: 20 black rows on top that fade into the picture are no bar
    glow = np.clip((np.arange(180) - 20) / 60, 0, 1)[:, None]
    dark = [(frame * glow).astype(np.uint8) for frame in moving]
    assert scene_filters._bar_width(np.stack(dark)) == 0 and np.all(dark[0][:20] == 0)
    # a still sky shading row by row down to a sharp horizon: each row is flat, the band is not
    sky = np.repeat(np.linspace(235, 200, 60)[:, None], 320, axis=1)
    shaded = [np.vstack([sky, frame[60:]]).astype(np.uint8) for frame in moving]
    assert scene_filters.bar_area(shaded) == 0.0
    assert scene_filters.bar_area(dark) == 0.0
    assert judge_scene(dark, DEFAULTS).reason is None


def test_a_semi_transparent_card_is_a_box_and_a_bright_sun_is_not():
    """A flat card laid inside the frame, 95% opaque over moving texture, is an overlay; so is an
    opaque one. A round, blown-out sun is flat and still too, but no box; a card along the side
    is a bar's business."""
    moving = moving_texture(8 * 12, 180, 320, seed=3)[::12].astype(np.float64)
    assert scene_filters.box_area(list(moving.astype(np.uint8))) == 0.0

    def with_card(alpha, left=100, width=110):
        out = moving.copy()
        card = out[:, 15:165, left : left + width]
        out[:, 15:165, left : left + width] = alpha * 220 + (1 - alpha) * card
        return list(out.astype(np.uint8))

    for alpha in (0.95, 1.0):
        card = with_card(alpha)
        assert scene_filters.box_area(card) == pytest.approx(150 * 110 / (180 * 320), rel=0.1)
        assert judge_scene(card, DEFAULTS).reason == "overlay"
    assert scene_filters.box_area(with_card(1.0, left=0)) == 0.0  # touches the side
    sun = np.zeros((180, 320), np.uint8)
    cv2.circle(sun, (160, 70), 45, 255, -1)
    sunny = [np.maximum(frame, sun) for frame in moving.astype(np.uint8)]
    assert scene_filters.box_area(sunny) == 0.0


def test_the_camera_share_is_taken_rate_by_rate():
    """A slow pan drops every 12 fps candidate (2.7 s each) while the same pan over the 30 fps
    candidates (1.1 s) stays under the limit: the video's share is its worst rate's."""
    twelve = SimpleNamespace(rejected=Counter(camera_pan=7, static=3), n_passed=0)
    native = SimpleNamespace(rejected=Counter(scene_cut=2), n_passed=23)
    assert camera_share([twelve, native]) == 1.0
    half = SimpleNamespace(rejected=Counter(camera_shake=2, zoom=1), n_passed=3)
    assert camera_share([half, native]) == 0.5
    assert camera_share([SimpleNamespace(rejected=Counter(static=9), n_passed=0)]) == 0.0
