"""Checkpoint files: training states (`training-state-<step>.pt`) and exported generators.

A training state is a torch file of tensors and plain values, loaded with
`torch.load(weights_only=True)`. An exported generator is a `.safetensors` file (its weights,
with everything else as JSON in the header: read without pickle) or, with `export --format pt`
and in files written before safetensors, such a torch file. Every file is written to a temporary
name and renamed. docs/training.md, "Checkpoints", is the spec.
"""

from __future__ import annotations

import json
import re
import struct
from pathlib import Path

import torch
from torch import nn

from scenegan.archs import canonical_arch
from scenegan.clip_format import CLIP, DEFAULT_FPS, ClipFormat, format_problem, fps_problem
from scenegan.config import EXPORT_FORMATS
from scenegan.errors import UserError
from scenegan.files import atomic_write, atomic_write_text, same_file
from scenegan.model.archs import build_generator
from scenegan.model.baselines import BASELINES
from scenegan.pipeline.shards import FORMAT_VERSION, DatasetIndex

TRAINING_KIND = "scenegan-training-state"
GENERATOR_KIND = "scenegan-generator"
VERSION = 1
LATEST_NAME = "latest"
STATE_PATTERN = re.compile(r"training-state-(\d+)\.pt$")
# The shipped generator is package data: found beside the code, from any folder and in any
# (non-editable) install. A newly trained model replaces the file at exactly this path.
SHIPPED_CHECKPOINT = (
    Path(__file__).resolve().parents[1] / "weights" / "scenegan-generator.safetensors"
)
# `export` writes EXPORT_FORMATS: safetensors by default (no pickle, loadable by any framework),
# but an OUT named .pt or .pth without --format gets the torch file its name says.
TORCH_SUFFIXES = (".pt", ".pth")
# What a safetensors generator's header holds besides its tensors: these as plain text, every
# other key of the exported dict as JSON. `format: pt` is the convention that says the tensors
# are torch's (as transformers and diffusers write it).
METADATA_TEXT = ("kind", "arch", "stage")
METADATA_FORMAT = {"format": "pt"}
# `--checkpoint baseline:drift` animates with a hand-made baseline instead of a trained model.
BASELINE_PREFIX = "baseline:"


def state_name(step: int) -> str:
    return f"training-state-{step:07d}.pt"


def atomic_save(obj: dict, path: Path) -> None:
    """torch.save through a temporary file and a rename: a crash never leaves half a checkpoint."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, fsync=True) as handle:
        torch.save(obj, handle)


def read_checkpoint(path: Path | str, device: str | torch.device = "cpu") -> dict:
    """Load a scenegan checkpoint of either kind; anything else is a one-line UserError."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"no checkpoint at {path}")
    if is_safetensors(path):
        obj = read_safetensors(path, device)
    else:
        obj = _read_torch_file(path, device)
    if not isinstance(obj, dict) or obj.get("kind") not in (TRAINING_KIND, GENERATOR_KIND):
        raise UserError(f"{path} is not a scenegan checkpoint (no generator in it)")
    if obj.get("version") != VERSION:
        raise UserError(f"{path} has checkpoint version {obj.get('version')}, expected {VERSION}")
    return obj


def _read_torch_file(path: Path, device: str | torch.device) -> object:
    """A torch file of tensors and plain values (`weights_only`: no code runs while it loads)."""
    try:
        return torch.load(path, map_location=device, weights_only=True)
    except Exception as error:  # noqa: BLE001 - a damaged file can fail anywhere in the unpickler
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error)
        if str(first_line).startswith("Weights only load failed"):
            first_line = "it holds more than tensors and plain values, or is damaged"
        reason = _foreign_kind(path) or first_line
        raise UserError(f"{path} is not a readable torch checkpoint ({reason})") from None


def is_safetensors(path: Path | str) -> bool:
    """Whether `path` starts as a safetensors file does: an 8-byte little-endian header length
    that fits the file, then the JSON header's `{`."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(9)
        size = Path(path).stat().st_size
    except OSError:
        return False
    if len(head) < 9:
        return False
    (header_length,) = struct.unpack("<Q", head[:8])
    return head[8:9] == b"{" and 8 + header_length <= size


def read_safetensors(path: Path | str, device: str | torch.device = "cpu") -> dict:
    """An exported generator written as safetensors, as the dict a torch file of it holds:
    `G_ema` (its tensors) and the header's metadata. No pickle: tensors and JSON only."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt", device=str(torch.device(device))) as handle:
            metadata = handle.metadata() or {}
            if metadata.get("kind") not in (GENERATOR_KIND, TRAINING_KIND):
                return {}  # another program's safetensors: read_checkpoint says so
            weights = {name: handle.get_tensor(name) for name in handle.keys()}
        obj = {
            key: value if key in METADATA_TEXT else json.loads(value)
            for key, value in metadata.items()
            if key not in METADATA_FORMAT
        }
    except (SafetensorError, OSError, ValueError) as error:
        first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise UserError(f"{path} is not a readable safetensors file ({first_line})") from None
    return {**obj, "G_ema": weights}


def safetensors_bytes(obj: dict) -> bytes:
    """An exported generator's dict as a safetensors file: `G_ema`'s tensors, and every other
    key in the header (METADATA_TEXT as text, the rest as JSON)."""
    from safetensors.torch import save

    metadata = dict(METADATA_FORMAT)
    for key, value in obj.items():
        if key == "G_ema":
            continue
        metadata[key] = value if key in METADATA_TEXT else json.dumps(value, sort_keys=True)
    weights = {name: tensor.detach().cpu().contiguous() for name, tensor in obj["G_ema"].items()}
    return save(weights, metadata=metadata)


def write_generator(obj: dict, path: Path, file_format: str) -> None:
    """Write an exported generator's dict atomically as `file_format` (EXPORT_FORMATS)."""
    if file_format == "pt":
        atomic_save(obj, path)
        return
    if file_format != "safetensors":
        raise ValueError(f"file_format must be one of {EXPORT_FORMATS}, not {file_format!r}")
    data = safetensors_bytes(obj)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, fsync=True) as handle:
        handle.write(data)


def export_format(out: Path | str, chosen: str | None = None) -> str:
    """The format `export` writes to `out`: the one chosen, else a torch file for a name ending
    in .pt or .pth (what the name says it holds), else safetensors. A choice the name
    contradicts is a UserError: torch.load reads a `.safetensors` name as safetensors, and a
    safetensors file named .pt would be given to the unpickler by every other program."""
    suffix = Path(out).suffix.lower()
    named = {".safetensors": "safetensors", **dict.fromkeys(TORCH_SUFFIXES, "pt")}.get(suffix)
    if chosen is not None and named is not None and chosen != named:
        wanted = ".safetensors" if chosen == "safetensors" else ".pt"
        raise UserError(
            f"--format {chosen} into {out}, a {named} name: name the file {wanted} "
            f"(or leave --format out to write {named})"
        )
    return chosen or named or "safetensors"


# Leading bytes of files given as a checkpoint by mistake: (offset, signature, what it is).
_FOREIGN_SIGNATURES = (
    (0, b"\x89HDF\r\n\x1a\n", "an HDF5 file, e.g. a dataset shard"),
    (0, b"GIF8", "a GIF image"),
    (0, b"\x89PNG", "a PNG image"),
    (0, b"\xff\xd8\xff", "a JPEG image"),
    (4, b"ftyp", "an MP4 or MOV video"),
    (0, b"SQLite format 3", "an SQLite database, e.g. the fetch manifest"),
    # torch.save writes a zip; one torch cannot read is cut short or damaged
    (0, b"PK\x03\x04", "cut short or damaged: a zip file torch cannot read"),
)


def _foreign_kind(path: Path) -> str | None:
    """What a file that is no torch checkpoint is, if its first bytes say so."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(4096)
    except OSError:
        return None
    for offset, signature, kind in _FOREIGN_SIGNATURES:
        if head[offset : offset + len(signature)] == signature:
            return kind if kind.startswith("cut short") else f"it is {kind}"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return None
    printable = text and all(c.isprintable() or c in "\n\r\t" for c in text)
    return "it is a text file" if printable else None


def check_matches(obj: dict, path: Path | str, *, arch: str, stage: str) -> None:
    """A checkpoint of another architecture or stage is a UserError that says which."""
    if canonical_arch(obj["arch"]) != canonical_arch(arch):
        raise UserError(
            f"{path} holds a {obj['arch']!r} model, not {arch!r}; pass --arch {obj['arch']} "
            "or another checkpoint"
        )
    if obj["stage"] != stage:
        raise UserError(
            f"{path} is a stage {obj['stage']!r} checkpoint, not {stage!r}; "
            "use a checkpoint of this stage or another --out"
        )


def dataset_record(index: DatasetIndex) -> dict:
    """What a checkpoint records of the dataset it was trained on (`dataset`): its frame rate,
    clip format and format version, so `sample` and `serve` play its animations at that rate
    from the file alone."""
    return {"fps": index.fps, "clip_format": index.fmt.to_dict(), "format_version": FORMAT_VERSION}


def trained_fps(obj: dict) -> float:
    """The frame rate of the dataset a checkpoint (or its info dict) was trained on: what its
    `dataset` records (or, in files written before that, a generator that takes the rate as an
    argument, its `G_args["fps"]`). Other older files, and the hand-made baselines, play at
    DEFAULT_FPS, the rate `build-dataset` makes by default."""
    recorded = (obj.get("dataset") or {}).get("fps", (obj.get("G_args") or {}).get("fps"))
    return DEFAULT_FPS if recorded is None else float(recorded)


def trained_format(obj: dict) -> ClipFormat:
    """The dataset format a checkpoint was trained on (stage large's): what its generator's
    arguments record; files written before colour and size existed hold gray 80 x 45."""
    recorded = (obj.get("G_args") or {}).get("clip_format")
    return CLIP if recorded is None else ClipFormat.from_dict(recorded)


def check_format(
    obj: dict, path: Path | str, clip: ClipFormat, dataset: Path | str, otherwise: str = ""
) -> None:
    """A checkpoint trained on clips of another colour, size or length than the dataset's is a
    UserError that names both and how to build a dataset of the checkpoint's format;
    `otherwise` adds the caller's other way out."""
    trained = trained_format(obj)
    if trained != clip:
        frames = f" --frames {trained.n_frames}" if trained.n_frames != CLIP.n_frames else ""
        raise UserError(
            f"{path} was trained on {trained.describe()} clips, but the dataset at {dataset} "
            f"holds {clip.describe()} clips; use a dataset of the checkpoint's format "
            f"(scenegan build-dataset --color {trained.color} --size {trained.size}{frames})"
            f"{otherwise}"
        )


def find_latest(out_dir: Path | str) -> Path | None:
    """The newest training state in `out_dir`: the one `latest` names, else the highest step."""
    out_dir = Path(out_dir)
    latest = out_dir / LATEST_NAME
    if latest.is_file():
        named = out_dir / latest.read_text().strip()
        if named.is_file():
            return named
    states = sorted(
        (int(m.group(1)), p)
        for p in out_dir.glob("training-state-*.pt")
        if (m := STATE_PATTERN.search(p.name))
    )
    return states[-1][1] if states else None


# What a training state holds, besides kind and version. `rng_ranks` is each rank's numpy
# generator state; files written before it existed hold one `rng` instead. `dataset` is
# dataset_record()'s; files written before it existed have none.
TRAINING_KEYS = (
    "arch",
    "stage",
    "step",
    "alpha",
    "G_args",
    "D_args",
    "G",
    "D",
    "G_ema",
    "opt_G",
    "opt_D",
    "rng_ranks",
    "config",
    "clip_format",
    "dataset",
)


def training_state(**parts) -> dict:
    """The dict a training state file holds: exactly TRAINING_KEYS."""
    if set(parts) != set(TRAINING_KEYS):
        raise ValueError(f"a training state holds {TRAINING_KEYS}, got {sorted(parts)}")
    return parts


def rank_rng_states(state: dict) -> list:
    """The numpy generator state of every rank that wrote `state` (old files: one `rng`)."""
    return state.get("rng_ranks") or [state["rng"]]


def save_training_state(state: dict, out_dir: Path, *, keep: int = 3) -> Path:
    """Write `training-state-<step>.pt`, point `latest` at it, keep only the newest `keep`."""
    path = out_dir / state_name(state["step"])
    atomic_save({"kind": TRAINING_KIND, "version": VERSION, **state}, path)
    atomic_write_text(out_dir / LATEST_NAME, path.name + "\n")
    states = sorted(
        (int(m.group(1)), p)
        for p in out_dir.glob("training-state-*.pt")
        if (m := STATE_PATTERN.search(p.name))
    )
    for _, old in states[:-keep] if keep > 0 else []:
        old.unlink(missing_ok=True)
    return path


def generator_info(obj: dict) -> dict:
    """What an exported generator keeps of a training state besides G_ema (and `kind`)."""
    info = {
        "arch": obj["arch"],
        "stage": obj["stage"],
        "step": obj["step"],
        "alpha": obj.get("alpha", 1.0),
        "config": obj["config"],
        "clip_format": obj["clip_format"],
        "G_args": obj["G_args"],
        "kind": obj["kind"],
    }
    for key in ("dataset", "calibration"):  # files written before these existed have none
        if key in obj:
            info[key] = obj[key]
    return info


def export_generator(
    checkpoint: Path | str, out_path: Path | str, file_format: str | None = None
) -> Path:
    """Write the small shippable file of a training state (or of an exported generator, in the
    other format): EMA generator weights, constructor args, config, step; as `file_format`,
    by default export_format()'s."""
    obj = read_checkpoint(checkpoint)
    _usable_generator(obj, checkpoint)  # never ship a file that cannot be loaded
    info = generator_info(obj)
    exported = {"kind": GENERATOR_KIND, "version": VERSION, "G_ema": obj["G_ema"]}
    exported.update({k: v for k, v in info.items() if k != "kind"})
    out_path = Path(out_path)
    write_generator(exported, out_path, export_format(out_path, file_format))
    return out_path


def check_generator_values(obj: dict, path: Path | str) -> None:
    """Before a generator is built from `obj`: the formats and frame rate it records are ones
    scenegan makes (not 0 x 0 pixels, not 1e-9 fps) and its weights are finite (NaN weights
    animate every photo to black). Anything else is a UserError naming the file."""
    formats = [obj.get("clip_format"), (obj.get("G_args") or {}).get("clip_format")]
    problems = [format_problem(ClipFormat.from_dict(f)) for f in formats if f is not None]
    recorded = [obj.get(key) for key in ("dataset", "G_args", "config")]
    problems += [fps_problem(fps) for fps in _recorded_frame_rates(recorded)]
    for problem in filter(None, problems):
        raise UserError(f"{path} does not hold a usable scenegan generator (it claims {problem})")
    weights = obj["G_ema"]
    if not isinstance(weights, dict):
        raise UserError(f"{path} does not hold a usable scenegan generator (no weights in it)")
    for name, tensor in weights.items():
        if (
            torch.is_tensor(tensor)
            and tensor.is_floating_point()
            and not bool(torch.isfinite(tensor).all())
        ):
            raise UserError(
                f"{path} holds NaN or infinite generator weights ({name}); it would animate "
                "every photo to garbage: use an earlier checkpoint, or train again with a "
                "lower --lr"
            )


def _recorded_frame_rates(config) -> list:
    """Every `fps` / `dataset_fps` value recorded anywhere in `config` (a checkpoint's
    `dataset`, `G_args` and `config`)."""
    found, stack = [], [config]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            found += [item[key] for key in ("fps", "dataset_fps") if item.get(key) is not None]
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def check_export_target(checkpoint: Path, out: Path) -> None:
    """`export` writes a new file: never over the checkpoint it reads, nor over a training
    state (which it would replace with the generator alone), nor onto a folder."""
    if out.is_dir():
        example = out / "generator.safetensors"
        raise UserError(f"{out} is a directory; give the file to write, e.g. {example}")
    if same_file(checkpoint, out):
        raise UserError(
            f"{out} is the checkpoint export reads; give the generator another file name"
        )
    if STATE_PATTERN.search(out.name) or out.name == LATEST_NAME or _is_training_state(out):
        raise UserError(
            f"{out} is (the name of) a training state; export would replace it with the "
            "generator alone: give the generator another file name"
        )


def _is_training_state(path: Path) -> bool:
    if not path.is_file() or is_safetensors(path):
        return False
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception:  # noqa: BLE001 - not a readable checkpoint: not a training state either
        return False
    return isinstance(obj, dict) and obj.get("kind") == TRAINING_KIND


def load_generator(path: Path | str, device: str | torch.device = "cpu") -> tuple[nn.Module, dict]:
    """The EMA generator of a training state or exported file, in eval mode, and its info dict."""
    obj = read_checkpoint(path, device)
    G, info = _usable_generator(obj, path)
    G.to(device).eval().requires_grad_(False)
    return G, info


def _usable_generator(obj: dict, path: Path | str) -> tuple[nn.Module, dict]:
    """The generator `obj` describes, with its weights loaded, and its info dict; a file whose
    parts are missing or do not fit the architecture it names is a UserError saying so."""
    try:
        check_generator_values(obj, path)
        G = build_generator(obj["arch"], obj["G_args"])
        G.load_state_dict(obj["G_ema"])
        info = generator_info(obj)
    except (KeyError, TypeError, ValueError, RuntimeError) as error:
        if isinstance(error, KeyError):
            reason = f"it has no {error}"
        elif isinstance(error, RuntimeError) and "state_dict" in str(error):
            # "Error(s) in loading state_dict for X:" then one line per missing or odd weight
            details = [line.strip() for line in str(error).splitlines()[1:] if line.strip()]
            reason = f"its weights do not fit the {obj['arch']!r} architecture it names"
            if details:
                first = details[0]
                reason += f": {first[:157]}..." if len(first) > 160 else f": {first}"
        else:
            reason = str(error).strip().splitlines()[0]
        raise UserError(f"{path} does not hold a usable scenegan generator ({reason})") from None
    return G, info


def find_checkpoint(
    checkpoint: str | None, root: Path = Path("."), shipped: Path = SHIPPED_CHECKPOINT
) -> str:
    """The given checkpoint, else the shipped one (in the package), else the newest `.pt` or
    `.safetensors` file in `root`/checkpoints/."""
    if checkpoint is not None:
        return checkpoint
    if shipped.is_file():
        return str(shipped)
    found = [
        *(root / "checkpoints").glob("**/*.pt"),
        *(root / "checkpoints").glob("**/*.safetensors"),
    ]
    candidates = sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)
    if not candidates:
        raise UserError(
            f"no checkpoint found (the shipped {shipped} is missing and there is no "
            "checkpoints/*.pt or *.safetensors here); pass --checkpoint PATH or train one "
            "with `scenegan train`"
        )
    return str(candidates[0])


def is_baseline(checkpoint: str) -> bool:
    """Whether `checkpoint` names a hand-made baseline (`baseline:copy`) rather than a file."""
    return checkpoint.startswith(BASELINE_PREFIX)


def load_any_generator(
    checkpoint: str, device: str = "cpu", fmt: ClipFormat = CLIP
) -> tuple[torch.nn.Module, dict]:
    """A trained generator from a checkpoint file, or a baseline named `baseline:<name>`
    animating clips of `fmt` (a checkpoint's format is its own)."""
    if is_baseline(checkpoint):
        name = checkpoint[len(BASELINE_PREFIX) :]
        if name not in BASELINES:
            raise UserError(f"unknown baseline {name!r}; use one of {', '.join(BASELINES)}")
        G = BASELINES[name](fmt=fmt).to(device).eval()
        return G, {"arch": checkpoint, "config": {}, "clip_format": fmt.to_dict()}
    if not Path(checkpoint).is_file():
        raise UserError(f"no checkpoint at {checkpoint}")
    return load_generator(checkpoint, device=device)
