"""Photo -> animation frames: the one way `sample`, `serve` and `evaluate` run a generator.

An `Animator` is a model loaded once (a training state, an exported generator or a hand-made
baseline such as `baseline:drift`) with what it takes to animate photos with it: the frame rate
of the dataset it was trained on (its checkpoint records it), and the controls its architecture
offers (loop, speed, motion: its entry in scenegan/archs.py). Photos go through the dataset
build's own transform (`scenegan.pipeline.frames.prepare_image`); the noise of each call comes
from a torch.Generator seeded by the caller's seed, so the same photo, seed and options give the
same frames everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch

from scenegan.animation_files import tile
from scenegan.archs import ARCHS, CONTROL_DEFAULTS, canonical_arch
from scenegan.clip_format import CLIP, ClipFormat, channels_first, channels_last, from_unit, to_unit
from scenegan.errors import UserError
from scenegan.model.checkpoint import find_checkpoint, load_any_generator, trained_fps
from scenegan.model.downsample import downsample
from scenegan.pipeline.frames import prepare_image

# The shipped example photos (package data): what `sample` animates by default, what the page of
# `serve` offers.
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


# ---------------------------------------------------------------- photos


def load_photo(path: Path, fmt: ClipFormat, dataset_fmt: ClipFormat = CLIP) -> np.ndarray:
    """Any image file Pillow reads -> uint8 fmt.image_shape ((H, W) grey or (H, W, 3) RGB), as
    clips of `dataset_fmt` are made and then (stage small) downsampled to `fmt` as training
    does: pass a generator's `G.fmt, G.dataset_fmt`."""
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    return decode_photo(path, fmt, dataset_fmt, name=str(path))


def decode_photo(
    source: Path | BinaryIO, fmt: ClipFormat, dataset_fmt: ClipFormat = CLIP, *, name: str
) -> np.ndarray:
    """`load_photo` of a file or of bytes in memory (an upload); errors begin with `name`."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(source) as image:
            image.load()
            image = ImageOps.exif_transpose(image)
            if image.mode in ("I;16", "I;16B", "I;16L", "I"):
                # 16-bit grey to 8 bits: round(x * 255 / 65535) is (x + 128) // 257 (x / 257
                # is never a tie), in integers: a quarter of float64's memory for a large photo.
                array = np.asarray(image)
                if array.dtype != np.uint16:
                    array = np.clip(array, 0, 65535)
                wide = array.astype(np.uint32)
                wide += 128
                wide //= 257
                gray = wide.astype(np.uint8)
            elif image.mode == "F":
                # float grey: scale to 8 bits by its largest value
                array = np.asarray(image, dtype=np.float64)
                top = max(float(array.max()), 1.0)
                gray = np.clip(np.rint(array * 255.0 / top), 0, 255).astype(np.uint8)
            else:
                gray = None
                rgb = np.asarray(image.convert("RGB"))
    except Image.DecompressionBombError:
        # Pillow refuses images (or headers claiming them) far above Image.MAX_IMAGE_PIXELS,
        # which would take gigabytes to decode; a photo is scaled down to a clip's size anyway.
        raise UserError(
            f"{name}: too large to open safely (over {2 * Image.MAX_IMAGE_PIXELS:,} pixels); "
            "scale it down first"
        ) from None
    except MemoryError:
        raise UserError(f"{name}: too large to decode in this machine's memory") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        if not isinstance(source, Path):  # Pillow names an in-memory file by its repr
            reason = reason.replace(f" {source!r}", "")
        raise UserError(f"{name}: not an image Pillow can read ({reason})") from None
    # As the clips were made at full size, then (stage small) downsampled as training does.
    return downsample(prepare_image(gray if gray is not None else rgb, dataset_fmt), fmt)


# ---------------------------------------------------------------- running a generator


def offered_controls(info: dict) -> tuple[str, ...]:
    """The controls (loop, speed, motion) the architecture of a loaded model offers; a
    baseline or an architecture the registry does not know offers none."""
    arch = ARCHS.get(canonical_arch(str(info.get("arch", ""))))
    return arch.controls if arch is not None else ()


def requested_controls(controls: dict, offered: tuple[str, ...], model: str = "this model") -> dict:
    """The controls to pass the generator: those whose value is not the "unused" one of
    archs.CONTROL_DEFAULTS (so a model is never given one it does not take); asking a model
    for one it does not offer is a UserError naming the architectures that do."""
    wanted = {k: v for k, v in controls.items() if v != CONTROL_DEFAULTS[k]}
    for name in wanted:
        if name not in offered:
            others = [a.name for a in ARCHS.values() if name in a.controls]
            raise UserError(
                f"--{name} needs a model whose architecture offers it "
                f"({', '.join(others) or 'none does'}); {model} does not"
            )
    return wanted


def controls_of(options) -> dict:
    """The controls (archs.CONTROL_DEFAULTS: loop, speed, motion, fps) that `options` (sample's
    config, serve's query) asks for, by their attribute names."""
    return {name: getattr(options, name) for name in CONTROL_DEFAULTS}


def draw_noise(G: torch.nn.Module, n: int, seed: int) -> torch.Tensor:
    """(n, G.noise_dim) standard normal noise from a generator seeded with `seed`."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(n, G.noise_dim, generator=generator)


def animate_photos(
    G: torch.nn.Module, photos: np.ndarray, z: torch.Tensor, controls: dict | None = None
) -> np.ndarray:
    """uint8 photos (B, *G.fmt.image_shape) and noise (B, G.noise_dim) -> uint8 animations
    (B, *G.fmt.shape): (B, T, H, W) gray, (B, T, H, W, 3) rgb. `controls` go to G as they are
    (`requested_controls` chooses them)."""
    device = next(iter(G.parameters()), torch.empty(0)).device
    photos = channels_first(torch.from_numpy(to_unit(photos)), G.fmt)  # (B, C, H, W)
    with torch.no_grad():
        clips = G(photos.contiguous().to(device), z.to(device), **(controls or {}))
    return from_unit(channels_last(clips.float().cpu(), G.fmt).numpy())


def animate(
    G: torch.nn.Module, photo: np.ndarray, z: torch.Tensor, controls: dict | None = None
) -> np.ndarray:
    """One uint8 photo G.fmt.image_shape and noise (K, G.noise_dim) -> K animations, uint8
    (K, *G.fmt.shape)."""
    photos = np.broadcast_to(photo, (len(z), *photo.shape))
    return animate_photos(G, photos, z, controls)


def grid_frames(photo: np.ndarray, animations: np.ndarray) -> np.ndarray:
    """(T, H, (K + 1) W + gaps[, 3]): the still photo, then each animation, left to right."""
    still = np.broadcast_to(photo, animations.shape[1:])[None]  # (1, T, H, W[, 3])
    return tile(np.concatenate([still, animations]), columns=len(animations) + 1)


def output_names(stem: str, n: int, grid: bool) -> list[str]:
    """`sea` -> [`sea`], or [`sea-1`, `sea-2`, ...] with n > 1, or [`sea-grid`] with a grid."""
    if grid:
        return [f"{stem}-grid"]
    return [stem] if n == 1 else [f"{stem}-{i + 1}" for i in range(n)]


@dataclass
class Animator:
    """A generator loaded once, the frame rate its animations play at and the controls it
    offers. `source` says where it came from (a path, `baseline:copy`, or the given one)."""

    G: torch.nn.Module
    info: dict
    source: str

    def __post_init__(self) -> None:
        self.fps = trained_fps(self.info)
        self.controls = offered_controls(self.info)

    @classmethod
    def load(
        cls,
        checkpoint: str | None,
        *,
        device: str = "cpu",
        fmt: ClipFormat = CLIP,
        given: tuple[torch.nn.Module, dict] | None = None,
    ) -> Animator:
        """The model of a checkpoint (None: the shipped one, else the newest in checkpoints/),
        or a baseline named `baseline:<name>` made at `fmt`, or the `given` (G, info)."""
        if given is not None:
            G, info = given
            return cls(G, info, "the given generator")
        checkpoint = find_checkpoint(checkpoint)
        G, info = load_any_generator(checkpoint, device, fmt)
        return cls(G, info, checkpoint)

    @property
    def fmt(self) -> ClipFormat:
        """The format of its animations (stage small: half the dataset's size)."""
        return self.G.fmt

    @property
    def arch(self) -> str:
        return self.info.get("arch", "generator")

    def plays_at(self, fps: float | None = None) -> float:
        """The frame rate its animations play at: the one asked for (`fps`, a control of the
        models that animate at a chosen rate), else its dataset's."""
        return float(fps) if fps is not None else self.fps

    def photo(self, source: Path | BinaryIO, name: str = "the photo") -> np.ndarray:
        """A photo file, or an upload's bytes, prepared as this model's training clips were;
        one that cannot be read is a UserError beginning with its path (or `name`)."""
        if isinstance(source, Path):
            return load_photo(source, self.G.fmt, self.G.dataset_fmt)
        return decode_photo(source, self.G.fmt, self.G.dataset_fmt, name=name)

    def controls_for(self, **controls) -> dict:
        """The controls to pass G for these options (see `requested_controls`)."""
        model = self.source if self.arch == self.source else f"{self.arch} ({self.source})"
        return requested_controls(controls, self.controls, model)

    def animations(self, photo: np.ndarray, n: int, seed: int, **controls) -> np.ndarray:
        """n animations of one photo, uint8 (n, *fmt.shape), the noise seeded by `seed`."""
        return animate(self.G, photo, draw_noise(self.G, n, seed), self.controls_for(**controls))

    def batch(
        self, photos: np.ndarray, noise: torch.Tensor, rates: np.ndarray | None = None, **controls
    ) -> np.ndarray:
        """One animation per photo, uint8 (B, *fmt.shape), with the given noise (B, noise_dim).
        `rates` (B,): each photo's frame rate, given to a model that animates at a chosen rate
        (the others play at their own)."""
        given = self.controls_for(**controls)
        if rates is not None and "fps" in self.controls:
            given["fps"] = torch.as_tensor(np.asarray(rates, np.float32))
        return animate_photos(self.G, photos, noise, given)
