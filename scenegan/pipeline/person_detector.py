"""People seen from behind, side-on, as silhouettes: an object detector's person score.

OpenCV's face cascades need a face turned to the camera, and its HOG detector an upright walker
close up. A couple on a beach seen from behind, a hiker climbing away, a silhouette against a
sunset, a surfer side-on: none has either. MediaPipe's Objectron detector (an SSD on
MobileNetV2, trained on Open Images; `scenegan/weights/person-detector.md` says where it comes
from) knows a `Person` class, and OpenCV's DNN module runs it from the TFLite file shipped in
the package, with no download and no other runtime.

It sees colour (on gray frames its person scores fall by a third) at 300 x 300. A 16:9 frame
squeezed to a square makes people thin, and flames then look most like one, so the frame is
looked at whole first, and where something there comes near a person, again as two squares, its
left and right ends, and those decide. Flames at night look like a person too, and the detector
learnt people in daylight, so a frame mostly black is not searched at all.

A hiker's legs and boots close up, or people sitting round a fire seen from the knees down, are
too little of a person for its `Person` class; its `Footwear` class sees their boots and shoes,
which scenery has none of (docs/filters.md), so its score is read from the same pass."""

from __future__ import annotations

import math
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np

MODEL = Path(__file__).resolve().parents[1] / "weights" / "person-detector-ssd-oidv4.tflite"
PERSON_CLASS = 4  # its label map: ???, Bicycle, Boot, Laptop, Person, ...
FOOTWEAR_CLASS = 19  # ..., Bottle, High heels, Vase, Footwear, Dog, Book, Candle
INPUT_SIZE = 300
PERSON_MIN_HEIGHT = 0.2  # of the image: a smaller person is far away, and may stay
FOOTWEAR_MIN_HEIGHT = 0.1  # of the image: a boot or shoe this high is close to the camera
# A person score of the whole frame from which the two squares are looked at: 14% of the
# scenery clips' sampled frames come this near, and no person found in the squares scored
# under it whole (docs/filters.md).
LOOK_CLOSER = 0.3
# A frame whose mean brightness (of each pixel's brightest channel, 0-255) is under this is not
# searched: a campfire close up at night scores 0.54-0.59 in frames of 24-37, a fire pit up to
# 0.55 in frames of 32-50, while every frame where a person scored 0.55 or more in the
# negatives here is 65 or brighter (docs/filters.md).
DARK = 50
# MediaPipe's SsdAnchorsCalculator options for this model (object_detection_oid_v4 graph)
ANCHOR_STRIDES = (16, 32, 64, 128, 256, 512)
ANCHOR_SCALES = (0.2, 0.95)
ANCHOR_RATIOS = (1.0, 2.0, 0.5, 3.0, 0.3333)
BOX_SCALE = np.array([10.0, 10.0, 5.0, 5.0], np.float32)  # y, x, h, w of the box offsets

_MODEL: dict = {}


class Seen(NamedTuple):
    """What the detector sees in a frame, as scores from 0 to 1."""

    person: float  # the strongest person PERSON_MIN_HEIGHT high or more
    footwear: float  # the strongest boot or shoe FOOTWEAR_MIN_HEIGHT high or more, frame whole


def look(rgb: np.ndarray) -> Seen:
    """The strongest person at least PERSON_MIN_HEIGHT of an (H, W, 3) RGB frame high: the whole
    frame's, or where that reaches LOOK_CLOSER, the larger of its two end squares' (a frame
    taller than wide is looked at whole only); and the strongest boot or shoe of the whole
    frame. Nothing in a frame darker than DARK."""
    if rgb.max(axis=2).mean() < DARK:
        return Seen(0.0, 0.0)
    whole = _scores(rgb)
    height, width = rgb.shape[:2]
    if whole.person < LOOK_CLOSER or width <= height:
        return whole
    left, right = rgb[:, :height], rgb[:, width - height :]
    return Seen(max(_scores(left).person, _scores(right).person), whole.footwear)


def _scores(rgb: np.ndarray) -> Seen:
    """The highest person and footwear scores among the boxes high enough for each in `rgb`."""
    net, anchors = _model()
    blob = cv2.dnn.blobFromImage(
        np.ascontiguousarray(rgb), 1 / 127.5, (INPUT_SIZE, INPUT_SIZE), (127.5, 127.5, 127.5)
    )
    net.setInput(blob)
    offsets, logits = net.forward(["raw_outputs/box_encodings", "raw_outputs/class_predictions"])
    offsets = offsets.reshape(len(anchors), 4) / BOX_SCALE
    centre_y = offsets[:, 0] * anchors[:, 3] + anchors[:, 1]
    height = np.exp(offsets[:, 2]) * anchors[:, 3]
    top, bottom = np.clip(centre_y - height / 2, 0, 1), np.clip(centre_y + height / 2, 0, 1)
    logits = logits.reshape(len(anchors), -1)
    return Seen(
        _highest(logits[:, PERSON_CLASS], bottom - top >= PERSON_MIN_HEIGHT),
        _highest(logits[:, FOOTWEAR_CLASS], bottom - top >= FOOTWEAR_MIN_HEIGHT),
    )


def _highest(logits: np.ndarray, high_enough: np.ndarray) -> float:
    """The sigmoid of the largest of `logits` where `high_enough`, or 0 where none is."""
    return float(1 / (1 + math.exp(-logits[high_enough].max()))) if high_enough.any() else 0.0


def _model() -> tuple:
    """The network and its anchors, made once per process."""
    if not _MODEL:
        _MODEL["net"] = cv2.dnn.readNetFromTFLite(str(MODEL))
        _MODEL["anchors"] = ssd_anchors()
    return _MODEL["net"], _MODEL["anchors"]


def ssd_anchors() -> np.ndarray:
    """(1917, 4) anchors as (centre x, centre y, width, height), in the order the model's
    outputs come: layer by layer, row by row, column by column, anchor by anchor. The first
    layer has 3 (a small square, then 2:1 and 1:2); each other layer 5 ratios and a square
    between its scale and the next one's."""
    smallest, largest = ANCHOR_SCALES
    layers = len(ANCHOR_STRIDES)
    scales = [smallest + (largest - smallest) * i / (layers - 1) for i in range(layers)] + [1.0]
    anchors = []
    for layer, stride in enumerate(ANCHOR_STRIDES):
        scale = scales[layer]
        if layer == 0:
            shapes = [(1.0, 0.1), (2.0, scale), (0.5, scale)]
        else:
            shapes = [(ratio, scale) for ratio in ANCHOR_RATIOS]
            shapes.append((1.0, math.sqrt(scale * scales[layer + 1])))
        cells = math.ceil(INPUT_SIZE / stride)
        for row in range(cells):
            for column in range(cells):
                for ratio, size in shapes:
                    root = math.sqrt(ratio)
                    anchors.append(
                        ((column + 0.5) / cells, (row + 0.5) / cells, size * root, size / root)
                    )
    return np.array(anchors, np.float32)
