"""Parse and validate `params.yaml` into frozen dataclasses.

Every stage calls `load_params` before it does any work, so a typo, a missing key, a wrong type or a sweep value
that cannot work (an unknown mode, a bptt size that does not divide the sequence) stops the pipeline with one
message naming the key, before any output is written.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args, get_origin, get_type_hints

import yaml

# The write-up's names for its data and initial-state modes, kept so readers can map one study to the other.
DATA_TYPES = ("Zeros", "SameRandom", "SameDistRandom", "DiffDistRandom")
INITIAL_STATE_TYPES = ("Zeros", "Random")
LOSS_ON = ("last", "every")
DEVICES = ("cpu", "cuda", "auto")


class ParamsError(ValueError):
    """A parameter that cannot be used; the message names the key."""


@dataclass(frozen=True)
class DataParams:
    input_size: int  # features per time step
    examples_per_class: int  # training sequences per class
    heldout_examples_per_class: int  # held-out sequences per class, drawn independently
    seq_size: int  # time steps per sequence
    seed: int  # root seed of every data draw


@dataclass(frozen=True)
class ModelParams:
    hidden_size: int
    num_layers: int


@dataclass(frozen=True)
class TrainParams:
    epochs: int
    learning_rate: float
    weight_decay: float
    grad_clip: float  # maximum global gradient norm per update
    loss_on: str  # "last": loss at the last step of each chunk (the write-up); "every": at every step
    seed: int  # initial weights and initial states of the training passes
    device: str  # cpu | cuda | auto
    flush_denormal: bool  # CPU: flush subnormal floats to zero (gradients fading over long chunks)
    threads: int  # CPU threads per training process; 0 keeps PyTorch's default (one per core)
    log_every: int  # print a progress line every this many epochs


@dataclass(frozen=True)
class EvaluateParams:
    seed: int  # initial states of the evaluation passes (fresh, never the training ones)


@dataclass(frozen=True)
class SweepParams:
    data_type: tuple[str, ...]
    initial_state_type: tuple[str, ...]
    bptt_size: tuple[int, ...]


@dataclass(frozen=True)
class ReportParams:
    chance_margin: float  # a loss counts as "below chance" only if below ln(2) - chance_margin
    verdict_bptt: int  # claims are judged at this bptt size (the write-up's 10), else at the smallest swept
    sequences_shown: int  # sequences per class drawn in the input figure
    steps_shown: int  # leading time steps drawn in the input figure
    figure_dpi: int


@dataclass(frozen=True)
class Params:
    data: DataParams
    model: ModelParams
    train: TrainParams
    evaluate: EvaluateParams
    sweep: SweepParams
    report: ReportParams


# Keys whose value must be strictly positive, or at least zero.
_POSITIVE = {
    "data.input_size", "data.examples_per_class", "data.heldout_examples_per_class", "data.seq_size",
    "model.hidden_size", "model.num_layers",
    "train.epochs", "train.learning_rate", "train.grad_clip", "train.log_every",
    "report.sequences_shown", "report.steps_shown", "report.figure_dpi", "report.verdict_bptt", "sweep.bptt_size",
}
_NON_NEGATIVE = {
    "data.seed", "train.seed", "train.threads", "train.weight_decay", "evaluate.seed", "report.chance_margin",
}
_CHOICES = {
    "train.loss_on": LOSS_ON,
    "train.device": DEVICES,
    "sweep.data_type": DATA_TYPES,
    "sweep.initial_state_type": INITIAL_STATE_TYPES,
}


def _check_scalar(key: str, value: Any, kind: type) -> Any:
    # bool is a subclass of int in Python; `epochs: true` is a typo, not 1.
    if kind is bool and not isinstance(value, bool):
        raise ParamsError(f"{key}: expected true or false, got {value!r}")
    if kind is not bool and (isinstance(value, bool) or not isinstance(value, (int, float) if kind is float else kind)):
        raise ParamsError(f"{key}: expected {kind.__name__}, got {value!r} ({type(value).__name__})")
    if kind is float:
        value = float(value)
        if not math.isfinite(value):
            raise ParamsError(f"{key}: expected a finite number, got {value!r}")
    if key in _POSITIVE and value <= 0:
        raise ParamsError(f"{key}: must be > 0, got {value!r}")
    if key in _NON_NEGATIVE and value < 0:
        raise ParamsError(f"{key}: must be >= 0, got {value!r}")
    if key in _CHOICES and value not in _CHOICES[key]:
        raise ParamsError(f"{key}: unknown value {value!r}; expected one of {', '.join(_CHOICES[key])}")
    return value


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _build(cls: type, raw: Any, prefix: str) -> Any:
    if not isinstance(raw, dict):
        raise ParamsError(f"{prefix or 'top level'}: expected a mapping of keys, got {raw!r}")
    hints = get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(raw) - set(names))
    if unknown:
        raise ParamsError(f"{_join(prefix, unknown[0])}: unknown key (known keys: {', '.join(names)})")
    missing = [n for n in names if n not in raw]
    if missing:
        raise ParamsError(f"{_join(prefix, missing[0])}: missing key")
    values = {}
    for name in names:
        key, hint, value = _join(prefix, name), hints[name], raw[name]
        if dataclasses.is_dataclass(hint):
            values[name] = _build(hint, value, key)
        elif get_origin(hint) is tuple:
            item_kind = get_args(hint)[0]
            if not isinstance(value, list) or not value:
                raise ParamsError(f"{key}: expected a non-empty list, got {value!r}")
            items = tuple(_check_scalar(key, item, item_kind) for item in value)
            if len(set(items)) != len(items):
                raise ParamsError(f"{key}: repeated value in {value!r}")
            values[name] = items
        else:
            values[name] = _check_scalar(key, value, hint)
    return cls(**values)


def _check_consistency(params: Params) -> None:
    seq_size = params.data.seq_size
    for bptt in params.sweep.bptt_size:
        if bptt > seq_size:
            raise ParamsError(f"sweep.bptt_size: {bptt} is longer than data.seq_size ({seq_size})")
        if seq_size % bptt:
            raise ParamsError(
                f"sweep.bptt_size: {bptt} does not divide data.seq_size ({seq_size}); "
                "every chunk must have the same length so that each step is seen exactly once"
            )


def parse_params(raw: Any, source: str = "params.yaml") -> Params:
    """Validate a parsed YAML document; raise ParamsError naming the first bad key."""
    try:
        parsed = _build(Params, raw, "")
        _check_consistency(parsed)
    except ParamsError as error:
        raise ParamsError(f"{source}: {error}") from None
    return parsed


def load_params(path: str | Path = "params.yaml") -> Params:
    path = Path(path)
    if not path.is_file():
        raise ParamsError(f"{path}: parameter file not found")
    with path.open() as handle:
        try:
            raw = yaml.safe_load(handle)
        except yaml.YAMLError as error:
            raise ParamsError(f"{path}: not valid YAML: {error}") from None
    return parse_params(raw, str(path))


@dataclass(frozen=True)
class Cell:
    """One combination of the sweep axes; its name is DVC's `${key}` for the matrix item."""

    data_type: str
    initial_state_type: str
    bptt_size: int

    @property
    def name(self) -> str:
        return f"{self.data_type}-{self.initial_state_type}-{self.bptt_size}"


def cells(sweep: SweepParams) -> list[Cell]:
    """The grid in the order DVC expands the matrix: data type, then initial state, then bptt size."""
    return [
        Cell(data_type, initial_state_type, bptt_size)
        for data_type in sweep.data_type
        for initial_state_type in sweep.initial_state_type
        for bptt_size in sweep.bptt_size
    ]


def require_cell(params: Params, data_type: str, initial_state_type: str, bptt_size: int) -> Cell:
    """A cell named on a stage's command line must be one of the sweep's cells."""
    cell = Cell(data_type, initial_state_type, bptt_size)
    if cell not in cells(params.sweep):
        raise ParamsError(
            f"cell {cell.name} is not in the sweep of params.yaml "
            f"(sweep.data_type={list(params.sweep.data_type)}, "
            f"sweep.initial_state_type={list(params.sweep.initial_state_type)}, "
            f"sweep.bptt_size={list(params.sweep.bptt_size)})"
        )
    return cell
