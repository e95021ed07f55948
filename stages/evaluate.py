"""Stages `evaluate*`: frozen passes with a cell's final weights that differ in one thing only, for every replicate.

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

    python -m stages.evaluate --cell grid/SameRandom-Random-10 --data data/sequences/SameRandom \
        --model data/train/grid/SameRandom-Random-10 --out data/evaluate/grid/SameRandom-Random-10.json
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from stages.data import SPLITS, SequenceSet, cell_sequences, load_split
from stages.io import require_file, write_json
from stages.model import ModelConfig, ReplicaClassifier
from stages.params import Cell, Params, ParamsError, find_cell, load_params, sequence_shape
from stages.tbptt import run_pass
from stages.train import (NumericsError, configure_numerics, pass_settings, replicate_seeds, resolve_device,
                          state_generators, state_source, write_timing)

if TYPE_CHECKING:  # a fifth of a second to import, paid by every stage process: imported where used
    import pandas as pd

PASSES = ("train_replayed", "train_fresh", "train_zero", "heldout")


def load_model(path: Path, params: Params, cell: Cell, device: torch.device) -> tuple[ReplicaClassifier, list]:
    """The final weights and the saved generator states of the last update pass."""
    # weights_only: a checkpoint is data, never code to execute.
    checkpoint = torch.load(require_file(path, "model checkpoint"), map_location=device, weights_only=True)
    config = ModelConfig(**checkpoint["model_config"])
    expected = (sequence_shape(params, cell.data_type)[1], cell.hidden_size, params.model.num_layers, cell.cell,
                cell.replicates)
    found = (config.input_size, config.hidden_size, config.num_layers, config.cell, config.replicas)
    if found != expected:
        raise ParamsError(
            f"{path}: checkpoint has input_size, hidden_size, num_layers, cell, replicates = {found} but params.yaml "
            f"asks for {expected}; rerun the train stage"
        )
    model = ReplicaClassifier(config, replicate_seeds(params, 0, cell.replicates)).to(device)
    model.load_state_dict(checkpoint["state_dict"])
    return model.eval(), list(checkpoint["last_update_states"])


def _scores(result, draws: int, sequences: int) -> dict:
    # Sequence level (primary): each sequence's prediction at its last step, after it has been read whole.
    # Chunk level (secondary): the prediction at the end of every chunk, as the write-up scores its passes.
    return {
        "final_step_accuracy": result.final_step_accuracy.tolist(),
        "final_step_loss": result.final_step_loss.tolist(),
        "accuracy": result.mean_accuracy.tolist(),
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
    fresh = state_generators(replicate_seeds(params, 2, cell.replicates, root=params.evaluate.seed))
    sources = {
        "train_replayed": ("train", state_source(cell.initial_state_type, model, replayed, device)),
        "train_fresh": ("train", state_source(cell.initial_state_type, model, fresh, device)),
        "train_zero": ("train", state_source("Zeros", model, fresh, device)),
        "heldout": ("heldout", state_source(cell.initial_state_type, model, fresh, device)),
    }
    last = history[history["epoch"] == history["epoch"].max()].sort_values("replicate")
    metrics: dict = {
        "last_epoch": {
            "update_pass_loss": last["update_pass_loss"].tolist(),
            "frozen_pass_loss": last["frozen_pass_loss"].tolist(),
            "update_final_step_accuracy": last["update_final_step_accuracy"].tolist(),
            "gap": (last["frozen_pass_loss"] - last["update_pass_loss"]).tolist(),
        }
    }
    with torch.no_grad():
        for name, (split, source) in sources.items():
            data, draws = splits[split], draws_of(cell, params, name)
            # The draws side by side as more sequences of one batch: one forward pass, each copy of a sequence
            # with its own initial state.
            inputs = torch.from_numpy(data.inputs).to(device).repeat(1, draws, 1, 1)
            labels = torch.from_numpy(data.labels).to(device).repeat(1, draws)
            result = run_pass(model, inputs, labels, source, settings, where=f"cell {cell.name}, evaluation {name}")
            metrics[name] = _scores(result, draws, data.labels.shape[1])
    # Scalars for `dvc metrics show` and `dvc exp show`, which do not average lists.
    metrics["mean"] = {
        "update_pass_loss": sum(metrics["last_epoch"]["update_pass_loss"]) / len(last),
        "frozen_pass_loss": sum(metrics["last_epoch"]["frozen_pass_loss"]) / len(last),
        **{f"{name}_loss": sum(metrics[name]["loss"]) / len(last) for name in PASSES},
        "heldout_accuracy": sum(metrics["heldout"]["final_step_accuracy"]) / len(last),
    }
    return metrics


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--cell", required=True, help="family/key, e.g. grid/SameRandom-Random-10")
    parser.add_argument("--data", required=True, type=Path)
    parser.add_argument("--model", required=True, type=Path, help="folder written by the training stage")
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--timing", type=Path, help="JSON file for the wall time of the evaluation passes")
    args = parser.parse_args(argv)
    try:
        params = load_params(args.params)
        configure_numerics(params, first=True)  # before loading the weights starts PyTorch's threads
        cell = find_cell(params, args.cell)
        device = resolve_device(params.train.device)
        model, last_update_states = load_model(args.model / "model.pt", params, cell, device)
        import pandas as pd

        history = pd.read_csv(require_file(args.model / "epochs.csv", "training history"))
        # A missing file fails before any pass.
        splits = {split: cell_sequences(load_split(args.data, split), params, args.data, cell, split)
                  for split in SPLITS}
    except (ParamsError, FileNotFoundError, NumericsError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    metrics = evaluate_cell(params, cell, model, last_update_states, splits, history)
    write_json(args.out, metrics)
    if args.timing is not None:
        write_timing(args.timing, time.perf_counter() - started, device)
    losses = ", ".join(f"{name} {metrics['mean'][name + '_loss']:.4f}" for name in PASSES)
    print(f"[{cell.name}] mean frozen loss: {losses}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
