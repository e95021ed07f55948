"""Stages `evaluate*`: frozen passes with a cell's final weights that differ in one thing only, for every seed.

The write-up's explanation is that the network classifies the initial hidden state rather than the input. With
the final weights, this stage runs frozen passes (the cell's protocol, no updates) that differ only in where the
initial states come from, or in the data:

- `train_replayed`: the training sequences from exactly the initial states the last update pass started from;
- `train_fresh`: the training sequences from fresh initial states of the cell's mode (seeded by `evaluate.seed`);
- `train_zero`: the training sequences from zero initial states;
- `heldout`: sequences drawn independently of the training ones, from fresh initial states.

Where the states are random, the fresh-state pass over the training sequences averages `evaluate.draws` independent
draws of them (forward-only, so cheap beside training): a seed's frozen score then rests on draws x sequences
outcomes, not on one draw of 16. Every pass is scored per sequence at its last step (primary) and per chunk
(secondary).

If the claim holds, on `SameRandom` data the replayed states recover part of the updating loss and fresh ones do
not. The metrics file also carries the last training epoch's update-pass and frozen-pass losses, so
`dvc metrics show` puts the gap and the held-out score side by side.

    python -m stages.evaluate --cell grid/SameRandom-Random-10
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from stages.core import command
from stages.core.data import SPLITS, SequenceSet, cell_sequences, load_split
from stages.core.files import EPOCHS, PASSES, Layout, require_file, write_json
from stages.core.params import Cell, Params, find_cell
from stages.learning.model import ReplicaClassifier, load_model, state_source
from stages.learning.runtime import (
    EVALUATION_STATES,
    configure_numerics,
    replicate_seeds,
    resolve_device,
    state_generators,
    write_timing,
)
from stages.learning.tbptt import pass_settings, run_pass

if TYPE_CHECKING:  # a fifth of a second to import, paid by every stage process: imported where used
    import pandas as pd


def _scores(result, draws: int, sequences: int) -> dict:
    # Sequence level (primary): each sequence's prediction at its last step, after it has been read whole.
    # Chunk level (secondary): the prediction at the end of every chunk, as the write-up scores its passes.
    return {
        "accuracy": result.final_step_accuracy.tolist(),
        "final_step_loss": result.final_step_loss.tolist(),
        "chunk_accuracy": result.mean_chunk_accuracy.tolist(),
        "loss": result.mean_loss.tolist(),
        "draws": draws,
        "sequences_per_draw": sequences,
    }


def draws_of(cell: Cell, params: Params, source: str) -> int:
    """Independent draws of initial states that a pass averages over: `evaluate.draws` for the training sequences
    from fresh random states; one elsewhere. Fixed states (zero, learned, replayed) would repeat the same pass, and
    held-out sequences are themselves independent draws, so their number (`data.heldout_examples_per_class`) buys
    the same precision without reading a sequence twice."""
    return params.evaluate.draws if source == "train_fresh" and cell.initial_state_type == "Random" else 1


def _last_epoch(history: pd.DataFrame) -> dict:
    last = history[history["epoch"] == history["epoch"].max()].sort_values("replicate")
    return {
        "update_pass_loss": last["update_pass_loss"].tolist(),
        "frozen_pass_loss": last["frozen_pass_loss"].tolist(),
        "update_pass_accuracy": last["update_pass_accuracy"].tolist(),
        "gap": (last["frozen_pass_loss"] - last["update_pass_loss"]).tolist(),
    }


def evaluate_cell(
    params: Params,
    cell: Cell,
    model: ReplicaClassifier,
    last_update_states: list[torch.Tensor],
    splits: dict[str, SequenceSet],
    history: pd.DataFrame,
) -> dict:
    """Per replicate (lists in replicate order): each frozen pass's scores, averaged over its sequences and over the
    draws of initial states (`draws_of`), and the last epoch's training scores."""
    configure_numerics(params)
    device = next(model.parameters()).device
    settings = pass_settings(params, cell)
    replayed = state_generators([0] * cell.replicates)
    for generator, state in zip(replayed, last_update_states):
        generator.set_state(state)
    fresh = state_generators(replicate_seeds(params, EVALUATION_STATES, cell.replicates, root=params.evaluate.seed))
    sources = {
        "train_replayed": ("train", state_source(cell.initial_state_type, model, replayed, device)),
        "train_fresh": ("train", state_source(cell.initial_state_type, model, fresh, device)),
        "train_zero": ("train", state_source("Zeros", model, fresh, device)),
        "heldout": ("heldout", state_source(cell.initial_state_type, model, fresh, device)),
    }
    metrics: dict = {"last_epoch": _last_epoch(history)}
    with torch.no_grad():
        for name in PASSES:
            split, source = sources[name]
            data, draws = splits[split], draws_of(cell, params, name)
            # The draws side by side as more sequences of one batch: one forward pass, each copy of a sequence
            # with its own initial state.
            inputs = torch.from_numpy(data.inputs).to(device).repeat(1, draws, 1, 1)
            labels = torch.from_numpy(data.labels).to(device).repeat(1, draws)
            result = run_pass(model, inputs, labels, source, settings, where=f"cell {cell.name}, evaluation {name}")
            metrics[name] = _scores(result, draws, data.labels.shape[1])
    # Scalars for `dvc metrics show` and `dvc exp show`, which do not average lists.
    seeds = cell.replicates
    metrics["mean"] = {
        "update_pass_loss": sum(metrics["last_epoch"]["update_pass_loss"]) / seeds,
        "frozen_pass_loss": sum(metrics["last_epoch"]["frozen_pass_loss"]) / seeds,
        **{f"{name}_loss": sum(metrics[name]["loss"]) / seeds for name in PASSES},
        "heldout_accuracy": sum(metrics["heldout"]["accuracy"]) / seeds,
    }
    return metrics


@dataclass(frozen=True)
class Job:
    params: Params
    cell: Cell
    layout: Layout
    model: ReplicaClassifier
    last_update_states: list
    history: pd.DataFrame
    splits: dict[str, SequenceSet]


def prepare(args, params: Params) -> Job:
    configure_numerics(params, first=True)  # before loading the weights starts PyTorch's threads
    cell, layout = find_cell(params, args.cell), Layout(args.root)
    folder = layout.training(cell)
    model, last_update_states = load_model(folder, params, cell, resolve_device(params.train.device))
    import pandas as pd

    history = pd.read_csv(require_file(folder / EPOCHS, "training history"))
    data = layout.data_of(cell)  # a missing file fails here, before any pass
    splits = {split: cell_sequences(load_split(data, split), params, data, cell, split) for split in SPLITS}
    return Job(params, cell, layout, model, last_update_states, history, splits)


def work(job: Job) -> None:
    started = time.perf_counter()
    metrics = evaluate_cell(job.params, job.cell, job.model, job.last_update_states, job.splits, job.history)
    write_json(job.layout.evaluation(job.cell), metrics)
    write_timing(job.layout.timing_of(job.cell, "evaluate"), time.perf_counter() - started,
                 next(job.model.parameters()).device)
    losses = ", ".join(f"{name} {metrics['mean'][name + '_loss']:.4f}" for name in PASSES)
    print(f"[{job.cell.name}] mean frozen loss: {losses}")


def main(argv: list[str] | None = None) -> int:
    return command.run(__doc__, command.cell_arguments, prepare, work, argv)


if __name__ == "__main__":
    sys.exit(main())
