"""Lines of text in a frame: captions, subtitles, titles and watermarks, each frame judged alone.

Part of the `overlay` reason (scene_filters.judge_scene): the still-edge measure there finds
what stands still in every sampled frame; text that changes or lies over moving content does
not, so it is looked for here in each frame."""

from __future__ import annotations

import cv2
import numpy as np

from scenegan.config import FilterConfig
from scenegan.pipeline.frames import at_height

_NEIGHBOURS = np.ones((3, 3), np.uint8)

# Text that changes (subtitles, a clock, a title over the first seconds) or lies over moving
# content (a semi-transparent watermark) does not stand still, so it is looked for in each
# sampled frame alone, at TEXT_HEIGHT: sharp edges (3 x 3 grey range of one of TEXT_CONTRASTS or
# more) closed along rows into lines at least TEXT_MIN_LINE rows high (2.2% of the frame) and
# twice as wide. A line is text when TEXT_MIN_GLYPHS or more of its marks stand on one baseline
# (their tops and bottoms within TEXT_ALIGN of the line's height of the median mark's) and fill
# 40% of its width; a mark is a letter, or a word whose bold letters ran together (as high as
# half the line or more, at most TEXT_MAX_MARK times as wide as the line is high). Three
# contrasts, because a lower one finds faint text (a white title over pale mist) but joins text
# over sharp flames or busy ground into one blob. On all 8 frames of each scenery clip, a
# cinemagraph's watermark read as text in every frame, and the signs of a bus stop in the rain
# in two (a video whose clips the camera filters drop anyway; filters.md).
TEXT_HEIGHT = 360
TEXT_CONTRASTS = (160, 120, 100)
TEXT_MIN_LINE = 8
TEXT_MIN_GLYPHS = 4
TEXT_MAX_MARK = 5.0
TEXT_ALIGN = 0.25
TEXT_MIN_FRAMES = 2  # of the sampled frames: one frame of text-like edges is not a caption
_LINE_CLOSE = np.ones((3, 21), np.uint8)


def text_frames(frames: list[np.ndarray], config: FilterConfig) -> int:
    """How many of the sampled (H, W) gray frames have lines of text over more than
    `overlay_max_text` of the frame."""
    return sum(text_area(frame) > config.overlay_max_text for frame in frames)


def text_area(frame: np.ndarray) -> float:
    """The share of a gray frame covered by lines of text (TEXT_*)."""
    gray = at_height(frame, TEXT_HEIGHT)
    grey_range = cv2.morphologyEx(gray, cv2.MORPH_GRADIENT, _NEIGHBOURS)
    return max(_text_lines(grey_range >= contrast) for contrast in TEXT_CONTRASTS)


def _text_lines(sharp: np.ndarray) -> float:
    """The share of the (H, W) bool mask of sharp pixels in lines of glyphs."""
    sharp = sharp.astype(np.uint8)
    height, width = sharp.shape
    closed = cv2.morphologyEx(sharp, cv2.MORPH_CLOSE, _LINE_CLOSE)
    _, labels, stats, _ = cv2.connectedComponentsWithStats(closed, connectivity=8)
    tall, wide = stats[:, cv2.CC_STAT_HEIGHT], stats[:, cv2.CC_STAT_WIDTH]
    lines = (tall >= TEXT_MIN_LINE) & (tall <= 0.15 * height) & (wide >= 2 * tall)
    area = 0
    for index in np.flatnonzero(lines[1:]) + 1:  # label 0 is the background
        x, y, line_width, line_height = stats[index, :4]
        box = (labels[y : y + line_height, x : x + line_width] == index) & sharp[
            y : y + line_height, x : x + line_width
        ].astype(bool)
        if _on_a_baseline(box, line_height):
            area += line_width * line_height
    return area / (height * width)


def _on_a_baseline(line: np.ndarray, line_height: int) -> bool:
    """Whether a line's (h, w) bool mask of sharp pixels holds marks of text (TEXT_*)."""
    _, _, marks, _ = cv2.connectedComponentsWithStats(line.astype(np.uint8), connectivity=8)
    top, wide, tall = (marks[1:, stat] for stat in (1, 2, 3))
    mark = (tall >= 0.5 * line_height) & (wide <= TEXT_MAX_MARK * line_height)
    if mark.sum() < TEXT_MIN_GLYPHS:
        return False
    bottom, slack = top + tall, TEXT_ALIGN * line_height
    aligned = (
        mark
        & (np.abs(top - np.median(top[mark])) <= slack)
        & (np.abs(bottom - np.median(bottom[mark])) <= slack)
    )
    return aligned.sum() >= TEXT_MIN_GLYPHS and wide[aligned].sum() >= 0.4 * line.shape[1]
