"""Stages `evaluate*`: frozen passes with a cell's final weights that differ in one thing only, for every replicate.

The write-up's explanation is that the network classifies the initial hidden state rather than the input. With
the final weights, this stage runs frozen passes (the cell's protocol, no updates) that differ only in where the
initial states come from, or in the data:

- `train_replayed`: the training sequences from exactly the initial states the last update pass started from;
- `train_fresh`: the training sequences from fresh initial states of the cell's mode (seeded by `evaluate.seed`);
- `train_zero`: the training sequences from zero initial states;
- `heldout`: sequences drawn independently of the training ones, from fresh initial states.

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

import pandas as pd
import torch

from stages.data import SPLITS, SequenceSet, check_replicates, load_split
from stages.io import require_file, write_json
from stages.model import ModelConfig, ReplicaClassifier
from stages.params import Cell, Params, ParamsError, find_cell, load_params, sequence_shape
from stages.tbptt import run_pass
from stages.train import (configure_numerics, pass_kwargs, replicate_seeds, resolve_device, state_generators,
                          state_source, write_timing)

PASSES = ("train_replayed", "train_fresh", "train_zero", "heldout")


def load_model(path: Path, params: Params, cell: Cell, device: torch.device) -> tuple[ReplicaClassifier, list]:
    """The final weights and the saved generator states of the last update pass."""
    # weights_only: a checkpoint is data, never code to execute.
    checkpoint = torch.load(require_file(path, "model checkpoint"), map_location=device, weights_only=True)
    config = ModelConfig(**checkpoint["model_config"])
    expected = (sequence_shape(params, cell.data_type)[1], cell.hidden_size, params.model.num_layers, cell.cell, params.replicates.count)
    found = (config.input_size, config.hidden_size, config.num_layers, config.cell, config.replicas)
    if found != expected:
        raise ParamsError(
            f"{path}: checkpoint has input_size, hidden_size, num_layers, cell, replicates = {found} but params.yaml "
            f"asks for {expected}; rerun the train stage"
        )
    model = ReplicaClassifier(config, replicate_seeds(params, 0)).to(device)
    model.load_state_dict(checkpoint["state_dict"])
    return model.eval(), list(checkpoint["last_update_states"])


def _scores(result) -> dict[str, list[float]]:
    return {
        "loss": result.mean_loss.tolist(),
        "accuracy": result.mean_accuracy.tolist(),
        "final_step_loss": result.final_step_loss.tolist(),
        "final_step_accuracy": result.final_step_accuracy.tolist(),
    }


def evaluate_cell(
    params: Params,
    cell: Cell,
    model: ReplicaClassifier,
    last_update_states: list[torch.Tensor],
    splits: dict[str, SequenceSet],
    history: pd.DataFrame,
) -> dict:
    """Per replicate (lists in replicate order): each frozen pass's scores, and the last epoch's training losses."""
    configure_numerics(params)
    device = next(model.parameters()).device
    settings = pass_kwargs(params, cell)
    replayed = state_generators([0] * params.replicates.count)
    for generator, state in zip(replayed, last_update_states):
        generator.set_state(state)
    fresh = state_generators(replicate_seeds(params, 2, root=params.evaluate.seed))
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
            "gap": (last["frozen_pass_loss"] - last["update_pass_loss"]).tolist(),
        }
    }
    with torch.no_grad():
        for name, (split, source) in sources.items():
            data = splits[split]
            result = run_pass(
                model, torch.from_numpy(data.inputs).to(device), torch.from_numpy(data.labels).to(device), source,
                where=f"cell {cell.name}, evaluation {name}", **settings,
            )
            metrics[name] = _scores(result)
    # Scalars for `dvc metrics show` and `dvc exp show`, which do not average lists.
    metrics["mean"] = {
        "update_pass_loss": sum(metrics["last_epoch"]["update_pass_loss"]) / len(last),
        "frozen_pass_loss": sum(metrics["last_epoch"]["frozen_pass_loss"]) / len(last),
        **{f"{name}_loss": sum(metrics[name]["loss"]) / len(last) for name in PASSES},
        "heldout_accuracy": sum(metrics["heldout"]["accuracy"]) / len(last),
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
        cell = find_cell(params, args.cell)
        device = resolve_device(params.train.device)
        model, last_update_states = load_model(args.model / "model.pt", params, cell, device)
        history = pd.read_csv(require_file(args.model / "epochs.csv", "training history"))
        splits = {split: load_split(args.data, split) for split in SPLITS}  # a missing file fails before any pass
        for split in splits.values():
            check_replicates(split, params, args.data, cell.data_type)
    except (ParamsError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    metrics = evaluate_cell(params, cell, model, last_update_states, splits, history)
    write_json(args.out, metrics)
    if args.timing is not None:
        write_timing(args.timing, time.perf_counter() - started, device)
    print(f"[{cell.name}] mean frozen loss: " + ", ".join(f"{name} {metrics['mean'][name + '_loss']:.4f}" for name in PASSES))
    return 0


if __name__ == "__main__":
    sys.exit(main())
