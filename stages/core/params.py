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
INITIAL_STATE_TYPES = ("Zeros", "Random", "Learned")
RNN_CELLS = ("GRU", "LSTM")
LOSS_ON = ("last", "every")
# How an update pass feeds the chunks (README, "Protocols"): the write-up's loop and four remedies.
PROTOCOLS = ("per_chunk", "per_sequence", "stateless", "interleaved", "burn_in")
DEVICES = ("cpu", "cuda", "auto")


@dataclass(frozen=True)
class RealDataset:
    """The published shape of a real data set (stages/realdata.py checks the files against it), known here so that
    params.yaml can be validated before any file is read."""

    steps: int  # time steps per sequence
    input_size: int  # features per step
    classes: int
    train_per_class: int  # training sequences per class in the published split
    heldout_per_class: int  # test sequences per class in the published split
    about: str  # what the recordings are and where they come from, for the report


# Real labelled long sequences that ship inside a package (no download): UCR ACSF1, appliance power recordings.
REAL_DATASETS = {
    "ACSF1": RealDataset(
        steps=1460, input_size=1, classes=10, train_per_class=10, heldout_per_class=10,
        about="power consumption of home appliances (mobile phone chargers, coffee machines, computer stations, "
              "fridges and freezers, Hi-Fi systems, lamps, laptop chargers, microwave ovens, printers, televisions), "
              "from the ACS-F1 database (Gisler et al., 2013) as edited for the UCR time-series classification "
              "archive (Dau et al., 2019), which z-normalised each recording",
    ),
}


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
class ReplicatesParams:
    count: int  # independent seeds per cell (data draw, initial weights, initial states)
    primary_count: int  # seeds of the cells that carry a primary finding (`primary_cells`)
    primary_cells: tuple[str, ...]  # cells (family/key) trained from `primary_count` seeds instead of `count`
    confidence: float  # level of the t-intervals across seeds in the report


@dataclass(frozen=True)
class ModelParams:
    cell: str  # GRU | LSTM
    hidden_size: int
    num_layers: int


@dataclass(frozen=True)
class TrainParams:
    epochs: int
    learning_rate: float
    weight_decay: float
    grad_clip: float  # maximum global gradient norm per update
    loss_on: str  # "last": loss at the last step of each chunk (the write-up); "every": at every step
    interleave_groups: int  # protocol interleaved: the sequences split into this many groups, updated in turn
    burn_in_steps: int  # protocol burn_in: steps replayed without loss or gradient to rebuild each chunk's state
    sequences_per_update: int  # protocol per_sequence: sequences whose whole length one optimizer step averages
    #                            over (0: every training sequence, one step per pass)
    seed: int  # initial weights and initial states of the training passes
    device: str  # cpu | cuda | auto
    flush_denormal: bool  # CPU: flush subnormal floats to zero (gradients fading over long chunks)
    log_every: int  # print a progress line every this many epochs


@dataclass(frozen=True)
class EvaluateParams:
    seed: int  # initial states of the evaluation passes (fresh, never the training ones)
    draws: int  # independent draws of fresh initial states averaged in each random-state pass (forward-only)


@dataclass(frozen=True)
class SweepParams:
    """Stage `train`: the write-up's grid, with its own loop (protocol per_chunk) and `model.cell`."""

    data_type: tuple[str, ...]
    initial_state_type: tuple[str, ...]
    bptt_size: tuple[int, ...]


@dataclass(frozen=True)
class RemediesParams:
    """Stage `remedy`: every protocol other than per_chunk, at one bptt size."""

    protocol: tuple[str, ...]
    data_type: tuple[str, ...]
    initial_state_type: tuple[str, ...]
    bptt_size: int


@dataclass(frozen=True)
class ArchitectureParams:
    """Stage `architecture`: the write-up's loop with another recurrent cell."""

    cell: tuple[str, ...]
    data_type: tuple[str, ...]
    initial_state_type: tuple[str, ...]
    bptt_size: int


@dataclass(frozen=True)
class OnsetParams:
    """Stage `onset`: hidden size x learning rate, on one data mode and initial-state mode, the write-up's loop."""

    hidden_size: tuple[int, ...]
    learning_rate: tuple[float, ...]
    data_type: str
    initial_state_type: str
    bptt_size: int


@dataclass(frozen=True)
class CapacityParams:
    """Stage `capacity`: the write-up's loop on one data mode and initial-state mode as the number of training
    sequences grows past what the initial states of a network this size can keep apart."""

    examples_per_class: tuple[int, ...]
    hidden_size: int
    learning_rate: float
    epochs: int  # more sequences delay the onset, so the axis runs longer than `train.epochs`
    data_type: str
    initial_state_type: str
    bptt_size: int


@dataclass(frozen=True)
class ChunksParams:
    """Stage `chunks`: the write-up's loop with longer chunks, trained for as many optimizer steps as the grid's cell
    at `reference_bptt` makes in `train.epochs` (so `train.epochs` x bptt_size / reference_bptt epochs): chunk length
    compared at equal optimizer steps, where the shorter chunk has already shown its gap."""

    bptt_size: tuple[int, ...]
    reference_bptt: int  # the grid's bptt whose optimizer steps the longer chunks match
    data_type: str
    initial_state_type: str

    def epochs(self, bptt: int, reference_epochs: int) -> int:
        return reference_epochs * bptt // self.reference_bptt


@dataclass(frozen=True)
class RealDataParams:
    """Stage `real`: protocols on real recordings, with the published train/test split and their own length."""

    dataset: tuple[str, ...]
    protocol: tuple[str, ...]
    initial_state_type: tuple[str, ...]
    bptt_size: int  # must divide each data set's length (ACSF1: 1,460 = 10 x 146 = 20 x 73)


@dataclass(frozen=True)
class ProbeParams:
    """Stages `probe`, `probe_real`: the last epoch of a few key cells replayed from its start, recorded, and probed
    with forward passes along the weight trajectory (which part of the gap the carried states, the moving weights and
    the initial states each carry)."""

    # Cell key -> the data it reads (the stage's data folder): grid cells (data-initial state-bptt) and real-data
    # cells (dataset-protocol-initial state) to record and probe.
    grid: dict[str, str]
    real: dict[str, str]
    every: int  # updates between the points where the state is recomputed by the current weights (staleness)
    lags: tuple[int, ...]  # how many updates old the weights applied to a chunk's carried state are
    record_every: int  # updates between the weight snapshots and carried states kept in the recording
    seed: int  # fresh initial states of the probes that run along the trajectory


@dataclass(frozen=True)
class ReportParams:
    verdict_bptt: int  # claims are judged at this bptt size (the write-up's 10), else at the smallest swept
    onset_loss: float  # onset epoch: the first whose mean updating loss is below this
    relearn_loss: float  # re-learning: updates into an epoch until one update's loss is first below this
    power: float  # seeds needed: the count at which an inconclusive finding would be decided with this probability
    sequences_shown: int  # sequences per class drawn in the input figure
    steps_shown: int  # leading time steps drawn in the input figure
    figure_dpi: int
    paper_agreement: bool  # compare the findings with those of the paper profile's report (reports/paper/)
    confirmation: bool  # give each finding the confirmation run's verdict (the profile `confirm`, reports/confirm/)


@dataclass(frozen=True)
class Params:
    data: DataParams
    replicates: ReplicatesParams
    model: ModelParams
    train: TrainParams
    evaluate: EvaluateParams
    sweep: SweepParams
    remedies: RemediesParams
    architecture: ArchitectureParams
    onset: OnsetParams
    capacity: CapacityParams
    chunks: ChunksParams
    realdata: RealDataParams
    probe: ProbeParams
    report: ReportParams


# Keys whose value must be strictly positive, or at least zero.
_POSITIVE = {
    "data.input_size", "data.examples_per_class", "data.heldout_examples_per_class", "data.seq_size",
    "replicates.count", "replicates.primary_count", "replicates.confidence",
    "model.hidden_size", "model.num_layers",
    "train.epochs", "train.learning_rate", "train.grad_clip", "train.log_every", "train.interleave_groups",
    "train.burn_in_steps",
    "report.sequences_shown", "report.steps_shown", "report.figure_dpi", "report.verdict_bptt", "report.onset_loss",
    "report.relearn_loss", "report.power", "evaluate.draws",
    "sweep.bptt_size", "remedies.bptt_size", "architecture.bptt_size", "onset.hidden_size", "onset.learning_rate",
    "onset.bptt_size", "realdata.bptt_size", "capacity.examples_per_class", "capacity.hidden_size",
    "capacity.learning_rate", "capacity.epochs", "capacity.bptt_size", "chunks.bptt_size", "chunks.reference_bptt",
    "probe.every", "probe.lags",
    "probe.record_every",
}
_NON_NEGATIVE = {
    "data.seed", "train.seed", "train.weight_decay", "evaluate.seed",
    "probe.seed", "train.sequences_per_update",
}
# A family's matrix axes: an empty list leaves the family out of the run (a profile that studies the grid alone).
# The grid's axes and every other list stay non-empty.
_MAY_BE_EMPTY = {
    "remedies.protocol", "remedies.data_type", "remedies.initial_state_type",
    "architecture.cell", "architecture.data_type", "architecture.initial_state_type",
    "onset.hidden_size", "onset.learning_rate", "capacity.examples_per_class", "chunks.bptt_size",
    "realdata.dataset", "realdata.protocol", "realdata.initial_state_type",
}
_CHOICES = {
    "model.cell": RNN_CELLS,
    "train.loss_on": LOSS_ON,
    "train.device": DEVICES,
    "sweep.data_type": DATA_TYPES,
    "sweep.initial_state_type": INITIAL_STATE_TYPES,
    "remedies.protocol": PROTOCOLS[1:],  # per_chunk is the grid's own protocol
    "remedies.data_type": DATA_TYPES,
    "remedies.initial_state_type": INITIAL_STATE_TYPES,
    "architecture.cell": RNN_CELLS,
    "architecture.data_type": DATA_TYPES,
    "architecture.initial_state_type": INITIAL_STATE_TYPES,
    "onset.data_type": DATA_TYPES,
    "onset.initial_state_type": INITIAL_STATE_TYPES,
    "capacity.data_type": DATA_TYPES,
    "capacity.initial_state_type": INITIAL_STATE_TYPES,
    "chunks.data_type": DATA_TYPES,
    "chunks.initial_state_type": INITIAL_STATE_TYPES,
    "realdata.dataset": tuple(REAL_DATASETS),
    "realdata.protocol": PROTOCOLS,
    "realdata.initial_state_type": INITIAL_STATE_TYPES,
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
        elif get_origin(hint) is dict:
            if not isinstance(value, dict):  # empty is allowed: a run may probe no cell of a family
                raise ParamsError(f"{key}: expected a mapping (names to names, or {{}}), got {value!r}")
            for item_key, item in value.items():
                if not isinstance(item_key, str) or not isinstance(item, str):
                    raise ParamsError(f"{key}: expected names mapped to names, got {item_key!r}: {item!r}")
            values[name] = dict(value)
        elif get_origin(hint) is tuple:
            item_kind = get_args(hint)[0]
            if not isinstance(value, list) or not (value or key in _MAY_BE_EMPTY):
                raise ParamsError(f"{key}: expected a non-empty list, got {value!r}")
            items = tuple(_check_scalar(key, item, item_kind) for item in value)
            if len(set(items)) != len(items):
                raise ParamsError(f"{key}: repeated value in {value!r}")
            values[name] = items
        else:
            values[name] = _check_scalar(key, value, hint)
    return cls(**values)


def _check_bptt(key: str, bptt: int, seq_size: int, length_of: str = "data.seq_size") -> None:
    if bptt > seq_size:
        raise ParamsError(f"{key}: {bptt} is longer than {length_of} ({seq_size})")
    if seq_size % bptt:
        raise ParamsError(
            f"{key}: {bptt} does not divide {length_of} ({seq_size}); "
            "every chunk must have the same length so that each step is seen exactly once"
        )


def _check_chunks(params: Params) -> None:
    chunks = params.chunks
    for bptt in chunks.bptt_size:
        _check_bptt("chunks.bptt_size", bptt, params.data.seq_size)
        if bptt <= chunks.reference_bptt or (params.train.epochs * bptt) % chunks.reference_bptt:
            raise ParamsError(f"chunks.bptt_size: {bptt} must be longer than chunks.reference_bptt "
                              f"({chunks.reference_bptt}) and make train.epochs x {bptt} / {chunks.reference_bptt} a "
                              f"whole number of epochs (train.epochs: {params.train.epochs})")
    if chunks.bptt_size and chunks.reference_bptt not in params.sweep.bptt_size:
        raise ParamsError(f"chunks.reference_bptt: {chunks.reference_bptt} is not in sweep.bptt_size "
                          f"{list(params.sweep.bptt_size)}: the longer chunks are compared with that grid cell")


def _check_interleave(groups: int, per_class: int, per_class_key: str) -> None:
    if groups < 2:
        raise ParamsError(f"train.interleave_groups: {groups}; interleaving needs at least 2 groups")
    if per_class % groups:
        raise ParamsError(
            f"train.interleave_groups: {groups} does not divide {per_class_key} ({per_class}); "
            "every group must hold the same number of sequences of each class"
        )


def _check_consistency(params: Params) -> None:
    seq_size = params.data.seq_size
    for bptt in params.sweep.bptt_size:
        _check_bptt("sweep.bptt_size", bptt, seq_size)
    for section in ("remedies", "architecture", "onset", "capacity"):
        _check_bptt(f"{section}.bptt_size", getattr(params, section).bptt_size, seq_size)
    _check_chunks(params)
    # The generate stage's matrix is sweep.data_type, so every other stage must train on one of those modes.
    generated = params.sweep.data_type
    # A family left out of the run (an empty axis) trains on nothing, so its data modes need not be generated.
    for key, used in (("remedies.data_type", params.remedies.data_type if cells(params, "remedy") else ()),
                      ("architecture.data_type",
                       params.architecture.data_type if cells(params, "architecture") else ()),
                      ("onset.data_type", (params.onset.data_type,) if cells(params, "onset") else ()),
                      ("chunks.data_type", (params.chunks.data_type,) if cells(params, "chunks") else ())):
        for data_type in used:
            if data_type not in generated:
                raise ParamsError(f"{key}: {data_type!r} is not generated; add it to sweep.data_type {list(generated)}")
    if not 0 < params.report.power < 1:
        raise ParamsError(f"report.power: must lie between 0 and 1, got {params.report.power!r}")
    if not 0 < params.replicates.confidence < 1:
        raise ParamsError(f"replicates.confidence: must lie between 0 and 1, got {params.replicates.confidence!r}")
    if params.replicates.count < 2:
        raise ParamsError(f"replicates.count: an interval needs at least 2 seeds, got {params.replicates.count}")
    if params.replicates.primary_count < params.replicates.count:
        raise ParamsError(f"replicates.primary_count: {params.replicates.primary_count} is fewer than "
                          f"replicates.count ({params.replicates.count}); primary cells get at least as many seeds")
    names = {cell.name for cell in cells(params)}
    for name in params.replicates.primary_cells:
        if name not in names:
            raise ParamsError(f"replicates.primary_cells: {name!r} is not a cell of this study"
                              f"{_known_cells(params, name)}")
    by_name = {cell.name: cell for cell in cells(params)}
    for family, keys in (("grid", params.probe.grid), ("real", params.probe.real)):
        for key in keys:
            name = f"{family}/{key}"
            if name not in by_name:
                raise ParamsError(f"probe.{family}: {key!r} is not a cell of this study{_known_cells(params, name)}")
            if by_name[name].protocol != "per_chunk":
                raise ParamsError(f"probe.{family}: {key!r} trains with protocol {by_name[name].protocol}; the probes "
                                  "follow the write-up's loop (per_chunk) only")
            if keys[key] != by_name[name].data_type:
                raise ParamsError(f"probe.{family}.{key}: the cell reads {by_name[name].data_type!r}, not "
                                  f"{keys[key]!r}")
    if "interleaved" in params.remedies.protocol:
        _check_interleave(params.train.interleave_groups, params.data.examples_per_class, "data.examples_per_class")
    for name in params.realdata.dataset:
        shape = REAL_DATASETS[name]
        _check_bptt("realdata.bptt_size", params.realdata.bptt_size, shape.steps, f"the length of {name}")
        if "interleaved" in params.realdata.protocol:
            _check_interleave(params.train.interleave_groups, shape.train_per_class,
                              f"the training sequences per class of {name}")


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
class Family:
    """A family of cells: the dvc.yaml stages that train, evaluate and probe them, and the matrix axes (with their
    vocabularies) whose values, joined by '-', name a cell (DVC's `${key}`)."""

    train_stage: str
    evaluate_stage: str | None  # None: not evaluated (an onset cell's frozen pass is its training's own)
    probe_stage: str | None  # None: none of its cells can be probed
    axes: dict[str, Any]

    @property
    def evaluated(self) -> bool:
        return self.evaluate_stage is not None


# Every family of the study, as dvc.yaml names its stages and matrix axes (tests/pipeline/test_dependencies.py
# checks that both agree).
FAMILY = {
    "grid": Family("train", "evaluate", "probe", {
        "data_type": DATA_TYPES, "initial_state_type": INITIAL_STATE_TYPES, "bptt_size": int}),
    "remedy": Family("remedy", "evaluate_remedy", None, {
        "protocol": PROTOCOLS[1:], "data_type": DATA_TYPES, "initial_state_type": INITIAL_STATE_TYPES}),
    "architecture": Family("architecture", "evaluate_architecture", None, {
        "cell": RNN_CELLS, "data_type": DATA_TYPES, "initial_state_type": INITIAL_STATE_TYPES}),
    "onset": Family("onset", None, None, {"hidden_size": int, "learning_rate": float}),
    "capacity": Family("capacity", "evaluate_capacity", None, {"examples_per_class": int}),
    "chunks": Family("chunks", "evaluate_chunks", None, {"bptt_size": int}),
    "real": Family("real", "evaluate_real", "probe_real", {
        "data_type": tuple(REAL_DATASETS), "protocol": PROTOCOLS, "initial_state_type": INITIAL_STATE_TYPES}),
}
FAMILIES = tuple(FAMILY)


@dataclass(frozen=True)
class Cell:
    """One trained configuration: a matrix item of one of the training stages.

    `family` is the stage (grid = `train`, remedy, architecture, onset, real); `key` is DVC's `${key}` for the item (its
    axis values joined by '-'), so `name` = family/key is also the cell's folder under data/train and data/evaluate.
    """

    family: str
    data_type: str
    initial_state_type: str
    bptt_size: int
    protocol: str
    cell: str  # GRU | LSTM
    hidden_size: int
    learning_rate: float
    examples_per_class: int  # training sequences per class
    epochs: int
    replicates: int  # seeds trained together (`replicates.primary_count` for a primary cell, else `count`)

    @property
    def key(self) -> str:
        return "-".join(str(getattr(self, axis)) for axis in FAMILY[self.family].axes)

    @property
    def name(self) -> str:
        return f"{self.family}/{self.key}"

    @property
    def evaluated(self) -> bool:
        return FAMILY[self.family].evaluated

    @property
    def stages(self) -> list[str]:
        """Its DVC stages, in order: training, then evaluation where it has one."""
        family = FAMILY[self.family]
        return [f"{stage}@{self.key}" for stage in (family.train_stage, family.evaluate_stage) if stage]


def sequence_shape(params: Params, data_type: str) -> tuple[int, int]:
    """(steps per sequence, features per step) of a toy mode (from `data`) or of a real data set (as published)."""
    if data_type in REAL_DATASETS:
        return REAL_DATASETS[data_type].steps, REAL_DATASETS[data_type].input_size
    return params.data.seq_size, params.data.input_size


def cells(params: Params, family: str | None = None) -> list[Cell]:
    """Every cell of the study (or of one family), in the order DVC expands each stage's matrix."""
    model, train, per_class = params.model, params.train, params.data.examples_per_class

    def cell(family: str, data_type: str, states: str, bptt: int, protocol: str, rnn: str, hidden: int,
             learning_rate: float, examples: int = per_class, epochs: int = train.epochs) -> Cell:
        made = Cell(family, data_type, states, bptt, protocol, rnn, hidden, learning_rate, examples, epochs,
                    params.replicates.count)
        primary = made.name in params.replicates.primary_cells
        return dataclasses.replace(made, replicates=params.replicates.primary_count) if primary else made

    found: list[Cell] = []
    if family in (None, "grid"):
        sweep = params.sweep
        found += [
            cell("grid", d, s, b, "per_chunk", model.cell, model.hidden_size, train.learning_rate)
            for d in sweep.data_type for s in sweep.initial_state_type for b in sweep.bptt_size
        ]
    if family in (None, "remedy"):
        remedies = params.remedies
        found += [
            cell("remedy", d, s, remedies.bptt_size, p, model.cell, model.hidden_size, train.learning_rate)
            for p in remedies.protocol for d in remedies.data_type for s in remedies.initial_state_type
        ]
    if family in (None, "architecture"):
        arch = params.architecture
        found += [
            cell("architecture", d, s, arch.bptt_size, "per_chunk", c, model.hidden_size, train.learning_rate)
            for c in arch.cell for d in arch.data_type for s in arch.initial_state_type
        ]
    if family in (None, "onset"):
        onset = params.onset
        found += [
            cell("onset", onset.data_type, onset.initial_state_type, onset.bptt_size, "per_chunk", model.cell, h, lr)
            for h in onset.hidden_size for lr in onset.learning_rate
        ]
    if family in (None, "capacity"):
        capacity = params.capacity
        found += [
            cell("capacity", capacity.data_type, capacity.initial_state_type, capacity.bptt_size, "per_chunk",
                 model.cell, capacity.hidden_size, capacity.learning_rate, examples, capacity.epochs)
            for examples in capacity.examples_per_class
        ]
    if family in (None, "chunks"):
        chunks = params.chunks
        found += [
            cell("chunks", chunks.data_type, chunks.initial_state_type, b, "per_chunk", model.cell, model.hidden_size,
                 train.learning_rate, epochs=chunks.epochs(b, train.epochs))
            for b in chunks.bptt_size
        ]
    if family in (None, "real"):
        real = params.realdata
        found += [
            cell("real", d, s, real.bptt_size, p, model.cell, model.hidden_size, train.learning_rate,
                 REAL_DATASETS[d].train_per_class)
            for d in real.dataset for p in real.protocol for s in real.initial_state_type
        ]
    return found


def families_run(params: Params) -> dict[str, bool]:
    """Which families this run trains: an empty matrix axis leaves one out (and the report says it was not run)."""
    return {family: bool(cells(params, family)) for family in FAMILIES}


def data_replicates(params: Params, data_type: str, examples_per_class: int | None = None) -> int:
    """The seeds a data folder must hold: the most that any cell reading it trains (replicate r's data is the same
    whatever the count, so a cell with fewer seeds reads the first ones). `examples_per_class` names a folder of the
    capacity axis; None the folder of `data_type` itself."""
    readers = [cell for cell in cells(params)
               if cell.data_type == data_type and (cell.family == "capacity") == (examples_per_class is not None)
               and (examples_per_class is None or cell.examples_per_class == examples_per_class)]
    return max((cell.replicates for cell in readers), default=params.replicates.count)


def cell_name(family: str, **axes: Any) -> str:
    """The name (family/key) of the cell of `family` with these axis values, spelled as `Cell.name` spells it.

    Code that refers to a cell by its settings goes through here, so a misspelt family, axis or value fails loudly
    instead of reading as a cell that is merely not part of this run."""
    if family not in FAMILY:
        raise ValueError(f"cell_name: unknown family {family!r}; expected one of {', '.join(FAMILIES)}")
    expected = FAMILY[family].axes
    if set(axes) != set(expected):
        raise ValueError(f"cell_name: {family} cells are named by {', '.join(expected)}; got {', '.join(axes)}")
    for axis, vocabulary in expected.items():
        value = axes[axis]
        known = isinstance(value, vocabulary) if isinstance(vocabulary, type) else value in vocabulary
        if not known:
            raise ValueError(f"cell_name: {family}.{axis} = {value!r} is not a known value")
    return f"{family}/" + "-".join(str(axes[axis]) for axis in expected)


def find_cell(params: Params, name: str) -> Cell:
    """The cell called `name` (family/key) on a stage's command line; it must be one of params.yaml's cells."""
    for cell in cells(params):
        if cell.name == name:
            return cell
    raise ParamsError(f"cell {name!r} is not in params.yaml{_known_cells(params, name)}")


def _known_cells(params: Params, name: str) -> str:
    """What to tell someone who named an unknown cell: the cells of its family, or the families."""
    family = name.split("/")[0]
    known = [cell.name for cell in cells(params, family)] if family in FAMILIES else []
    return f" (cells of {family}: {', '.join(known)})" if known else f" (families: {', '.join(FAMILIES)})"


def probe_cells(params: Params) -> list[str]:
    """The cells (family/key) whose last epoch is recorded and probed (`probe.grid`, `probe.real`)."""
    return [f"grid/{key}" for key in params.probe.grid] + [f"real/{key}" for key in params.probe.real]
