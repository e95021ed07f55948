"""Gather the outputs of every cell of params.yaml into tidy long-form tables, and shape each figure's table.

The cells are enumerated from params.yaml, never by listing folders, so outputs of cells that were dropped cannot
leak into the report. Every number in the report comes from these tables.
"""

from __future__ import annotations

import importlib.metadata
import math
import platform
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from stages.core.data import load_split, num_classes
from stages.core.files import EPOCHS, LAST_EPOCH, PASSES, TRAJECTORIES, UPDATE_LOSSES, Layout, read_json, require_file
from stages.core.params import Cell, Params, cells, probe_cells
from stages.reporting.findings import bounds_of, verdict_bptt
from stages.reporting.stats import t_interval

SUMMARY_METRICS = [
    "update_pass_loss", "frozen_pass_loss", "gap", "update_pass_accuracy", "frozen_pass_accuracy", "accuracy_gap",
    "update_pass_chunk_accuracy", "frozen_pass_chunk_accuracy", "chunk_accuracy_gap", "train_replayed_chunk_accuracy",
    "train_replayed_loss", "train_fresh_loss", "train_zero_loss", "heldout_loss",
    "train_replayed_accuracy", "train_fresh_accuracy", "train_zero_accuracy", "heldout_accuracy", "replay_recovery",
    "within_epoch_accuracy_gap", "state_loss_gap", "within_epoch_loss_gap", "onset_epoch",
]
# Stage `probe`, for its cells only (NaN elsewhere): sequence-level scores at the last chunk of the replayed epoch,
# the two parts of the within-epoch gap they give, chunk-level scores along the epoch, and the replay's exactness.
PROBE_FINAL = ("own_state", *TRAJECTORIES)
PROBE_METRICS = [
    *(f"{name}_accuracy" for name in PROBE_FINAL), "stale_state_part", "last_update_part",
    *(f"{name}_chunk_accuracy" for name in PROBE_FINAL if name != "own_state"),
    "own_state_points_chunk_accuracy", "update_points_chunk_accuracy", "stale_state_chunk_part",
    "relative_state_distance", "swap_flip_rate",
    "replay_loss_difference", "replay_weights_difference", "recording_loss_difference",
]


@dataclass(frozen=True)
class Gathered:
    """Everything the report reads, as tables: it needs nothing else from data/."""

    frames: dict[str, pd.DataFrame]  # replicates, summary, epochs, epoch_scores, last_epoch, relearn, inputs, timing
    classes: dict[str, int]  # real data set -> its number of classes, read from its labels, never assumed
    baselines: dict[str, dict]  # real data set -> stage `baseline_real`'s scores


def gather_all(params: Params, layout: Layout) -> Gathered:
    """Every cell's outputs, the input sequences shown, the wall times, and the real data sets' classes and
    baselines."""
    frames = gather(params, layout)
    frames["inputs"] = input_table(params, layout)
    frames["timing"] = timing_table(params, layout)
    classes = {dataset: num_classes(load_split(layout.sequences / dataset, "train"))
               for dataset in params.realdata.dataset}
    baselines = {dataset: read_json(layout.baseline_of(dataset)) for dataset in classes}
    return Gathered(frames, classes, baselines)


def required_files(params: Params, layout: Layout) -> list[tuple[Path, str]]:
    """Every file the report reads, with what it is: checked before anything is drawn."""
    required = []
    for cell in cells(params):
        folder = layout.training(cell)
        required += [(folder / EPOCHS, f"training history of {cell.name}"),
                     (layout.timing_of(cell, "train"), f"training wall time of {cell.name}")]
        if cell.evaluated:
            required += [(folder / LAST_EPOCH, f"last epoch of {cell.name}"),
                         (folder / UPDATE_LOSSES, f"update losses of {cell.name}"),
                         (layout.evaluation(cell), f"metrics of {cell.name}"),
                         (layout.timing_of(cell, "evaluate"), f"evaluation wall time of {cell.name}")]
    required += [(layout.probe / f"{name}.json", f"probes of cell {name}") for name in probe_cells(params)]
    required += [(layout.sequences / data_type / "train_inputs.npy", f"sequences of {data_type}")
                 for data_type in (*params.sweep.data_type, *params.realdata.dataset)]
    required += [(layout.baseline_of(dataset), f"baseline scores of {dataset}") for dataset in params.realdata.dataset]
    return required


def _describe(cell: Cell) -> dict:
    return {
        "cell": cell.name, "family": cell.family, "data_type": cell.data_type,
        "initial_state_type": cell.initial_state_type, "bptt_size": cell.bptt_size, "protocol": cell.protocol,
        "rnn": cell.cell, "hidden_size": cell.hidden_size, "learning_rate": cell.learning_rate,
        "examples_per_class": cell.examples_per_class, "epochs": cell.epochs,
    }


def onset_epoch(history: pd.DataFrame, threshold: float) -> float:
    """First epoch whose updating loss is below `threshold`, or NaN when none is (one replicate's history)."""
    below = history.loc[history["update_pass_loss"] < threshold, "epoch"]
    return float(below.iloc[0]) if len(below) else math.nan


def updates_to_threshold(update_losses: np.ndarray, threshold: float) -> np.ndarray:
    """(epochs, updates, replicates) -> (epochs, replicates): 1-based index of the first update whose loss is below
    `threshold` in each epoch, NaN when none is."""
    below = update_losses < threshold
    first = below.argmax(axis=1).astype(float) + 1
    first[~below.any(axis=1)] = math.nan
    return first


def probe_columns(probe: dict, position: int) -> dict:
    """One seed's columns from a probe file (stage `probe`): scores, parts and the lag curve."""
    final, chunk, own = probe["final_step"], probe["chunk"], probe["own_state"]
    row = {f"{name}_accuracy": final[name]["accuracy"][position] if name in final else math.nan
           for name in PROBE_FINAL}
    row |= {f"{name}_chunk_accuracy": chunk[name]["accuracy"][position] if name in chunk else math.nan
            for name in PROBE_FINAL if name != "own_state"}
    row["own_state_points_chunk_accuracy"] = own["own"]["accuracy"][position]
    row["update_points_chunk_accuracy"] = own["update"]["accuracy"][position]
    row["relative_state_distance"] = own["relative_state_distance"][position]
    row["swap_flip_rate"] = probe["swap_flips"][position] if probe["swap_flips"] is not None else math.nan
    row |= {f"lag_{lag}_chunk_accuracy": scores["accuracy"][position]
            for lag, scores in probe["lags"].items() if lag != "points"}
    exact = probe["exactness"]
    row |= {"replay_loss_difference": exact["update_loss_max_difference"],
            "replay_weights_difference": exact["final_weights_max_difference"],
            "recording_loss_difference": exact["recording_loss_max_difference"]}
    return row


def _seed_row(cell: Cell, history: pd.DataFrame, replicate_row, position: int, metrics: dict | None,
              probe: dict | None, onset_threshold: float) -> dict:
    """One seed of one cell: the last epoch's update pass, the evaluation's frozen passes, the probes' scores."""
    replicate = int(replicate_row.replicate)
    row = {
        **_describe(cell), "replicate": replicate,
        "update_pass_loss": replicate_row.update_pass_loss,
        "update_pass_accuracy": replicate_row.update_pass_accuracy,
        "update_pass_chunk_accuracy": replicate_row.update_pass_chunk_accuracy,
        "onset_epoch": onset_epoch(history[history["replicate"] == replicate], onset_threshold),
        "updates_per_epoch": int(replicate_row.updates),
        "optimizer_steps_per_epoch": int(replicate_row.optimizer_steps),
        "steps_with_gradient": int(replicate_row.steps_with_gradient),
        "steps_without_gradient": int(replicate_row.steps_without_gradient),
    }
    for name in PASSES:
        scores = metrics[name] if metrics else {}
        row[f"{name}_loss"] = scores["loss"][position] if scores else math.nan
        row[f"{name}_accuracy"] = scores["accuracy"][position] if scores else math.nan
        row[f"{name}_chunk_accuracy"] = scores["chunk_accuracy"][position] if scores else math.nan
    # The frozen pass of the final weights: the fresh-state pass averaged over evaluation draws where the cell has
    # one, else (onset cells) the last epoch's own frozen pass.
    row["frozen_pass_loss"] = row["train_fresh_loss"] if metrics else replicate_row.frozen_pass_loss
    row["frozen_pass_accuracy"] = row["train_fresh_accuracy"] if metrics else replicate_row.frozen_pass_accuracy
    row["frozen_pass_chunk_accuracy"] = (row["train_fresh_chunk_accuracy"] if metrics
                                         else replicate_row.frozen_pass_chunk_accuracy)
    return _with_parts(row | (probe_columns(probe, position) if probe else {}))


def _with_parts(row: dict) -> dict:
    """The gaps, and the parts they split into, seed by seed."""
    row["gap"] = row["frozen_pass_loss"] - row["update_pass_loss"]
    row["accuracy_gap"] = row["update_pass_accuracy"] - row["frozen_pass_accuracy"]
    row["chunk_accuracy_gap"] = row["update_pass_chunk_accuracy"] - row["frozen_pass_chunk_accuracy"]
    row["replay_recovery"] = row["train_replayed_accuracy"] - row["train_fresh_accuracy"]
    # The gap in two parts that add up to it (same seed, same sequences): what replaying the update pass's own
    # initial states recovers, and what the update pass scores beyond even that replay.
    row["within_epoch_accuracy_gap"] = row["update_pass_accuracy"] - row["train_replayed_accuracy"]
    row["state_loss_gap"] = row["train_fresh_loss"] - row["train_replayed_loss"]
    row["within_epoch_loss_gap"] = row["train_replayed_loss"] - row["update_pass_loss"]
    # The within-epoch part in two parts that add up to it (stage `probe`, at the last chunk): the carried state that
    # earlier weights wrote against the state the same weights compute themselves, and those weights against the
    # final ones (one update later), each on its own state.
    row["stale_state_part"] = row["update_pass_accuracy"] - row.get("own_state_accuracy", math.nan)
    row["last_update_part"] = row.get("own_state_accuracy", math.nan) - row["train_replayed_accuracy"]
    row["stale_state_chunk_part"] = (row.get("update_points_chunk_accuracy", math.nan)
                                     - row.get("own_state_points_chunk_accuracy", math.nan))
    return row


def _epoch_tables(cell: Cell, history: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per epoch and seed: the sequence-level accuracies (and the optimizer steps), and both passes' losses."""
    scores = pd.DataFrame({
        "cell": cell.name, "epoch": history["epoch"], "replicate": history["replicate"],
        "update_accuracy": history["update_pass_accuracy"],
        "frozen_accuracy": history["frozen_pass_accuracy"], "optimizer_steps": history["optimizer_steps"],
    })
    long = history.melt(id_vars=["epoch", "replicate"], value_vars=["update_pass_loss", "frozen_pass_loss"],
                        var_name="pass", value_name="loss")
    long["pass"] = long["pass"].str.removesuffix("_pass_loss")
    return scores, long.assign(**_describe(cell))


def _relearn_table(cell: Cell, losses: np.ndarray, threshold: float) -> pd.DataFrame:
    """Per epoch and seed: the updates into the epoch until one update's loss is first below `threshold`."""
    first = updates_to_threshold(losses, threshold)
    epochs, replicates = np.meshgrid(np.arange(1, first.shape[0] + 1), np.arange(first.shape[1]), indexing="ij")
    return pd.DataFrame({"epoch": epochs.ravel(), "replicate": replicates.ravel(), "updates": first.ravel(),
                         "updates_per_epoch": losses.shape[1]}).assign(**_describe(cell))


def gather(params: Params, layout: Layout) -> dict[str, pd.DataFrame]:
    """Tidy tables: per cell and seed; per epoch, seed and pass; per chunk of the last epoch; re-learning speed."""
    bptt, probed = verdict_bptt(params), probe_cells(params)
    rows, epoch_tables, chunk_tables, relearn_tables, score_tables = [], [], [], [], []
    for cell in cells(params):
        folder = layout.training(cell)
        history = pd.read_csv(require_file(folder / EPOCHS, f"training history of {cell.name}"))
        last = history[history["epoch"] == history["epoch"].max()].sort_values("replicate")
        metrics = (read_json(require_file(layout.evaluation(cell), f"metrics of {cell.name}")) if cell.evaluated
                   else None)
        probe = (read_json(require_file(layout.probing(cell), f"probes of {cell.name}")) if cell.name in probed
                 else None)
        rows += [_seed_row(cell, history, seed, position, metrics, probe, params.report.onset_loss)
                 for position, seed in enumerate(last.itertuples())]
        scores, losses = _epoch_tables(cell, history)
        score_tables.append(scores)
        epoch_tables.append(losses)
        if cell.evaluated and (cell.family != "grid" or cell.bptt_size == bptt):
            last_epoch = pd.read_csv(require_file(folder / LAST_EPOCH, f"last epoch of {cell.name}"))
            chunk_tables.append(last_epoch.assign(**_describe(cell)))
        if cell.evaluated:
            update_losses = np.load(require_file(folder / UPDATE_LOSSES, f"update losses of {cell.name}"))
            relearn_tables.append(_relearn_table(cell, update_losses, params.report.relearn_loss))
    replicates = pd.DataFrame(rows)
    replicates["compute_step_equivalents"] = (
        3 * replicates["steps_with_gradient"] + replicates["steps_without_gradient"]
    )  # forward = 1, backward = 2 forward steps' worth of work
    return {
        "replicates": replicates,
        "summary": summarise(replicates, params.replicates.confidence),
        "epochs": pd.concat(epoch_tables, ignore_index=True),
        "epoch_scores": pd.concat(score_tables, ignore_index=True),
        "last_epoch": pd.concat(chunk_tables, ignore_index=True),
        "relearn": pd.concat(relearn_tables, ignore_index=True),
    }


def summarise(replicates: pd.DataFrame, confidence: float) -> pd.DataFrame:
    """Per cell and metric: mean over seeds, the t-interval, and the number of seeds."""
    rows = []
    descriptors = ["cell", "family", "data_type", "initial_state_type", "bptt_size", "protocol", "rnn",
                   "hidden_size", "learning_rate", "examples_per_class", "epochs"]
    for _, group in replicates.groupby("cell", sort=False):
        head = group.iloc[0]
        probed = [m for m in [*PROBE_METRICS, *(c for c in group.columns if c.startswith("lag_"))]
                  if m in group and group[m].notna().any()]
        for metric in SUMMARY_METRICS + probed:
            interval = t_interval(group[metric], confidence, bounds_of(metric))
            rows.append({**{k: head[k] for k in descriptors}, "metric": metric, "mean": interval.mean,
                         "low": interval.low, "high": interval.high, "seeds": interval.n})
    return pd.DataFrame(rows)


def input_table(params: Params, layout: Layout) -> pd.DataFrame:
    """The first steps of a few training sequences per class and mode (first seed), long-form."""
    frames = []
    shown, steps = params.report.sequences_shown, min(params.report.steps_shown, params.data.seq_size)
    for data_type in params.sweep.data_type:
        split = load_split(layout.sequences / data_type, "train")
        inputs, labels = split.inputs[0], split.labels[0]
        for label in np.unique(labels):
            for number, index in enumerate(np.flatnonzero(labels == label)[:shown]):
                frames.append(pd.DataFrame({
                    "data_type": data_type, "label": int(label), "sequence": f"{label}-{number}",
                    "step": np.arange(steps), "value": inputs[index, :steps, 0],
                }))
    return pd.concat(frames, ignore_index=True)


def real_rows(table: pd.DataFrame, dataset: str) -> pd.DataFrame:
    """The rows of a tidy table that belong to the real-data cells of one data set."""
    return table[(table["family"] == "real") & (table["data_type"] == dataset)]


def timing_table(params: Params, layout: Layout) -> pd.DataFrame:
    """Wall time of every cell's training, evaluation and probe stages, from the timing files (outputs of those
    stages), and the processor that computed the cell."""
    rows, probed = [], probe_cells(params)

    def seconds(cell: Cell, stage: str) -> dict:
        return read_json(require_file(layout.timing_of(cell, stage), f"{stage} wall time of {cell.name}"))

    for cell in cells(params):
        train = seconds(cell, "train")
        rows.append({"cell": cell.name, "family": cell.family, "training_seconds": train["seconds"],
                     "seconds_per_epoch": train["seconds_per_epoch"],
                     "evaluation_seconds": seconds(cell, "evaluate")["seconds"] if cell.evaluated else math.nan,
                     "probe_seconds": seconds(cell, "probe")["seconds"] if cell.name in probed else math.nan,
                     "device": train["device"], "threads": train["threads"],
                     "processor": train.get("processor", "not recorded")})
    return pd.DataFrame(rows)


def environment() -> dict[str, str]:
    """What computed these numbers: versions and hardware that do not change from run to run on one machine. The
    versions are read from the installed packages, so the report imports no training code."""
    def version(package: str) -> str:
        try:
            return importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:  # the report can be rendered outside a DVC install
            return "not installed"

    return {"Python": platform.python_version(), "PyTorch": version("torch"), "DVC": version("dvc"),
            "processor": platform.machine()}
