"""The person detector of the `people` filter (issue 36), run for real on a real photograph: a
person up close is found, a landscape and a small figure far away are not; and the frame
sampler keeps each sampled frame in colour, framed as its gray one."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from matplotlib import cbook
from media import write_video

from scenegan.config import FilterConfig
from scenegan.pipeline import person_detector
from scenegan.pipeline.person_detector import look, ssd_anchors
from scenegan.pipeline.scene_filters import FrameSampler, people_share

DEFAULTS = FilterConfig()
EXAMPLES = Path(__file__).parent.parent / "scenegan" / "examples"


def rgb(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


@pytest.fixture(scope="module")
def lake() -> np.ndarray:
    """A shipped landscape photo at 640 x 360, no one in it."""
    return cv2.resize(rgb(EXAMPLES / "lake-pier.jpg"), (640, 360), interpolation=cv2.INTER_CUBIC)


def with_person(background: np.ndarray, height: float, left: int) -> np.ndarray:
    """`background` with a real portrait (matplotlib's sample photograph of Grace Hopper, head
    and shoulders) standing at its bottom, `height` of the frame high, `left` pixels in."""
    portrait = rgb(Path(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)))
    rows = round(background.shape[0] * height)
    columns = round(rows * portrait.shape[1] / portrait.shape[0])
    image = background.copy()
    image[-rows:, left : left + columns] = cv2.resize(portrait, (columns, rows))
    return image


def person_score(rgb: np.ndarray) -> float:
    return look(rgb).person


def test_anchors_are_mediapipe_ssd_layout():
    anchors = ssd_anchors()
    assert anchors.shape == (1917, 4)  # 19 x 19 x 3, then 10, 5, 3, 2, 1 squared x 6
    first = anchors[: 19 * 19 * 3]
    assert np.allclose(first[0], [0.5 / 19, 0.5 / 19, 0.1, 0.1])
    assert np.allclose(first[1, 2:], [0.2 * 2**0.5, 0.2 / 2**0.5])  # 2:1, wide
    last = anchors[-6:]  # one cell, the whole image: 5 ratios and a square of sqrt(0.95)
    assert np.allclose(last[:, :2], 0.5) and np.isclose(last[-1, 2], 0.95**0.5)


def test_a_person_up_close_is_found_a_landscape_and_a_far_figure_are_not(lake):
    threshold = DEFAULTS.people_min_person
    assert person_score(with_person(lake, 0.5, 40)) >= threshold
    assert person_score(with_person(lake, 0.5, 420)) >= threshold  # found on the right too
    assert person_score(lake) < person_detector.LOOK_CLOSER  # not even looked at closer
    assert person_score(with_person(lake, 0.12, 300)) < threshold  # a small figure far away
    gray = cv2.cvtColor(cv2.cvtColor(with_person(lake, 0.5, 40), cv2.COLOR_RGB2GRAY), 8)
    assert person_score(gray) < threshold  # colour matters: why the sampler keeps it


def test_no_boots_or_shoes_in_the_shipped_landscapes():
    """The footwear score is read from the same pass; on the example photos (a pier, a forest
    path, a kite in the sky) it stays under people_min_footwear."""
    for path in sorted(EXAMPLES.glob("*.jpg")):
        frame = cv2.resize(rgb(path), (640, 360), interpolation=cv2.INTER_AREA)
        assert look(frame).footwear < DEFAULTS.people_min_footwear, path.name


def test_a_frame_mostly_black_is_not_searched(lake):
    """Flames at night read as a person; a frame darker than DARK scores 0, however clear the
    person in it."""
    person = with_person(lake, 0.5, 40)
    assert person.max(axis=2).mean() >= person_detector.DARK
    dim = person.max(axis=2).mean() / (person_detector.DARK + 5)  # just over DARK
    assert person_score((person / dim).astype(np.uint8)) > 0
    night = (person / (person.max(axis=2).mean() / (person_detector.DARK - 5))).astype(np.uint8)
    assert night.max(axis=2).mean() < person_detector.DARK and person_score(night) == 0.0


def test_people_share_counts_frames_with_a_person_in_colour(lake):
    colours = [lake] * 8
    colours[0] = colours[5] = with_person(lake, 0.5, 40)  # 0 and 5: among the first four
    frames = [cv2.cvtColor(colour, cv2.COLOR_RGB2GRAY) for colour in colours]
    share, note = people_share(frames, DEFAULTS, colours)
    assert share == 0.5 and note.endswith("in 2 of 8 frames")  # 2 of the first 4
    assert people_share(frames, DEFAULTS)[0] == 0.0  # gray frames alone: not found
    lenient = replace(DEFAULTS, people_min_person=0.99, people_clear_person=0.99)
    assert people_share(frames, lenient, colours)[0] == 0.0


@pytest.mark.parametrize(
    "height, width, rotation",
    [(360, 480, 0), (360, 480, 90), (720, 1280, 0)],  # 4:3 (its 16:9 box), turned; scaled down
)
def test_the_sampler_keeps_each_frame_in_colour_framed_as_its_gray_one(
    tmp_path, height, width, rotation
):
    frames = np.zeros((24, height, width, 3), np.uint8)
    frames[:, : height // 2] = (230, 40, 40)  # red above, blue below, a bright band moving
    frames[:, height // 2 :] = (40, 40, 230)
    for t, frame in enumerate(frames):
        frame[:, 10 * t : 10 * t + width // 12] = 255
    path = write_video(tmp_path / "colour.mp4", frames, fps=12, rotation=rotation)
    sampler = FrameSampler.of(path)
    with av.open(str(path)) as container:
        for frame in container.decode(container.streams.video[0]):
            sampler.add(frame, float(frame.time))
    grays, colours = sampler.chosen(), sampler.chosen_colours()
    assert len(colours) == len(grays) == 8
    assert max(grays[0].shape) <= 640  # a large source is scaled down, its colour alike
    for gray, colour in zip(grays, colours, strict=True):
        assert colour.shape == (*gray.shape, 3) and colour.dtype == np.uint8
        luma = cv2.cvtColor(colour, cv2.COLOR_RGB2GRAY).astype(float)
        assert np.corrcoef(luma.ravel(), gray.astype(float).ravel())[0, 1] > 0.95
    if rotation == 0:  # red above blue, as written
        top, bottom = colours[0][:20].mean(axis=(0, 1)), colours[0][-20:].mean(axis=(0, 1))
        assert top[0] > 200 > 100 > top[2] and bottom[2] > 200 > 100 > bottom[0]
