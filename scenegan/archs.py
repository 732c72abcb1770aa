"""The registry of generator architectures: one `Arch` entry each, in plain values (no torch).

An entry says what the rest of the program needs to know of an architecture without building
it: its name and aliases, the DiffAugment policy of `--augment auto`, the controls `sample`,
`serve` and `evaluate` may pass its generator, the one clip length it makes (if it has one),
whether stage large fades in, and where its networks are: `networks` names, as
`module:attribute`, a `scenegan.model.archs.Networks` (its G, D, their default arguments and
its GAN step), built only by `scenegan.model.archs`. Config validates `--arch` against these
names and the CLI's choices are made from them.

Adding an architecture is one file (its networks and their `Networks`) and one `register`
call here (docs/training.md, "Add an architecture").
"""

from __future__ import annotations

from dataclasses import dataclass

# The DiffAugment operations (scenegan.model.augment) a policy may name; all of them is the
# default for the D of a photo-warping model.
AUGMENTATIONS = ("color", "translation", "cutout")
ALL_AUGMENTATIONS = ",".join(AUGMENTATIONS)
# The controls a generator may offer, and the value that means "not used" (the animator passes
# only the controls whose value differs from this, so a model never sees one it does not offer):
# loop (frame T-1 joins frame 0), speed (a factor on the motion), motion (pixels per frame at the
# dataset's size) and fps (the frame rate to animate at, which the file then plays at).
CONTROL_DEFAULTS = {"loop": False, "speed": 1.0, "motion": None, "fps": None}


@dataclass(frozen=True)
class Arch:
    """One architecture: plain facts, and where its networks are."""

    name: str
    networks: str  # "module:attribute" of its scenegan.model.archs.Networks
    help: str  # one line for `scenegan train --help`
    aliases: tuple[str, ...] = ()  # older names options and checkpoints may use
    augment: str = ALL_AUGMENTATIONS  # the DiffAugment policy `--augment auto` means
    controls: tuple[str, ...] = ("loop", "speed")  # of CONTROL_DEFAULTS, what G(...) takes
    n_frames: int | None = None  # the one clip length it makes; None: any
    fade_in: bool = True  # stage large's new layers fade in over --fade-steps
    # it trains on each clip's measured motion (shards.read_motion), given to its GAN step
    learns_motion: bool = False
    # export --calibrate may give its generator a scene prior (model/scene_prior.py)
    takes_scene_prior: bool = False
    widens: bool = True  # --width multiplies its channels (its Networks has `widen`)

    def __post_init__(self) -> None:
        unknown = set(self.controls) - set(CONTROL_DEFAULTS)
        assert not unknown, f"{self.name}: unknown controls {sorted(unknown)}"
        assert ":" in self.networks, f"{self.name}: networks must be 'module:attribute'"


ARCHS: dict[str, Arch] = {}


def register(arch: Arch) -> Arch:
    """Add `arch` to the registry (a name or alias taken already is a mistake)."""
    taken = set(ARCHS) | {alias for a in ARCHS.values() for alias in a.aliases}
    clash = ({arch.name, *arch.aliases} & taken) - ({arch.name} if arch.name in ARCHS else set())
    assert arch.name not in ARCHS and not clash, f"arch name taken: {arch.name} {sorted(clash)}"
    ARCHS[arch.name] = arch
    return arch


def unregister(name: str) -> None:
    """Take an architecture out again (tests that register a toy one)."""
    ARCHS.pop(name, None)


def arch_names() -> tuple[str, ...]:
    """The registered names, in registration order."""
    return tuple(ARCHS)


def arch_choices() -> tuple[str, ...]:
    """Every name `--arch` accepts: the names, then the aliases."""
    return (*ARCHS, *(alias for arch in ARCHS.values() for alias in arch.aliases))


def canonical_arch(name: str) -> str:
    """An alias (`seed`) -> its architecture's name (`keras2019`); other names as they are."""
    for arch in ARCHS.values():
        if name in arch.aliases:
            return arch.name
    return name


def get_arch(name: str) -> Arch:
    """The entry of a name or alias; KeyError naming the choices if there is none."""
    try:
        return ARCHS[canonical_arch(name)]
    except KeyError:
        raise KeyError(f"unknown arch {name!r}; expected one of {', '.join(ARCHS)}") from None


register(
    Arch(
        "euler",
        "scenegan.model.networks:EULER",
        "a static motion field integrated over time",
    )
)
register(
    Arch(
        "flow",
        "scenegan.model.networks:FLOW",
        "a displacement per frame",
    )
)
register(
    Arch(
        "keras2019",
        "scenegan.model.keras2019:KERAS2019",
        "the 2019 baseline",
        aliases=("seed",),  # the 2019 project's old name (it was this project's seed)
        augment="",  # the 2019 model trained without
        controls=(),
        n_frames=32,  # time is doubled five times from 2 frames
        fade_in=False,  # the 2019 model blends its frozen small model in at a constant weight
        widens=False,  # the 2019 model as it was
    )
)
register(
    Arch(
        "motion",
        "scenegan.model.motion:MOTION",
        "streamlines and oscillation learned from measured flow, its amount an input",
        controls=("loop", "speed", "motion", "fps"),
        learns_motion=True,
        takes_scene_prior=True,
    )
)
