"""Stage `evaluate`: frozen passes with a cell's final weights over its training and its held-out sequences.

The passes start from fresh initial states (seeded by `evaluate.seed`, never the training ones), feed the same
chunks and take the loss at the same steps as training. The metrics file also carries the last training epoch's
update-pass and frozen-pass losses, so `dvc metrics show` puts the gap and the held-out score side by side.

    python -m stages.evaluate --data-type SameRandom --initial-state-type Random --bptt-size 10 \
        --data data/generated/SameRandom --model results/train/SameRandom-Random-10 \
        --out results/evaluate/SameRandom-Random-10.json
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd
import torch

from stages.data import SPLITS, SequenceSet, load_split
from stages.io import require_file, write_json
from stages.model import ModelConfig, SequenceClassifier, initial_states
from stages.params import Cell, Params, ParamsError, load_params, require_cell
from stages.tbptt import run_pass, to_chunks
from stages.train import configure_numerics, derived_seed, resolve_device


def load_model(path: Path, params: Params, device: torch.device) -> SequenceClassifier:
    # weights_only: a checkpoint is data, never code to execute.
    checkpoint = torch.load(require_file(path, "model checkpoint"), map_location=device, weights_only=True)
    config = ModelConfig(**checkpoint["model_config"])
    expected = (params.data.input_size, params.model.hidden_size, params.model.num_layers)
    if (config.input_size, config.hidden_size, config.num_layers) != expected:
        raise ParamsError(
            f"{path}: checkpoint has input_size={config.input_size}, hidden_size={config.hidden_size}, "
            f"num_layers={config.num_layers} but params.yaml asks for {expected}; rerun the train stage"
        )
    model = SequenceClassifier(config).to(device)
    model.load_state_dict(checkpoint["state_dict"])
    return model.eval()


def frozen_scores(
    model: SequenceClassifier, sequences: SequenceSet, cell: Cell, params: Params, generator: torch.Generator
) -> dict[str, float]:
    device = next(model.parameters()).device
    states = initial_states(
        cell.initial_state_type, num_layers=model.config.num_layers, batch=len(sequences.labels),
        hidden_size=model.config.hidden_size, generator=generator, device=device,
    )
    result = run_pass(
        model, to_chunks(torch.from_numpy(sequences.inputs), cell.bptt_size).to(device),
        torch.from_numpy(sequences.labels).to(device), states, loss_on=params.train.loss_on,
        where=f"cell {cell.name}, evaluation",
    )
    return {
        "loss": result.mean_loss,
        "accuracy": result.mean_accuracy,
        "final_step_loss": result.final_step_loss,
        "final_step_accuracy": result.final_step_accuracy,
    }


def evaluate_cell(
    params: Params, cell: Cell, model: SequenceClassifier, splits: dict[str, SequenceSet], history: pd.DataFrame
) -> dict:
    configure_numerics(params)
    generator = torch.Generator().manual_seed(derived_seed(params.evaluate.seed, 2))
    last = history.iloc[-1]
    metrics = {
        "last_epoch": {
            "update_pass_loss": float(last["update_pass_loss"]),
            "frozen_pass_loss": float(last["frozen_pass_loss"]),
            "gap": float(last["frozen_pass_loss"] - last["update_pass_loss"]),
        }
    }
    with torch.no_grad():
        for split in SPLITS:
            metrics[split] = frozen_scores(model, splits[split], cell, params, generator)
    return metrics


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--data-type", required=True)
    parser.add_argument("--initial-state-type", required=True)
    parser.add_argument("--bptt-size", required=True, type=int)
    parser.add_argument("--data", required=True, type=Path)
    parser.add_argument("--model", required=True, type=Path, help="folder written by the train stage")
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args(argv)
    try:
        params = load_params(args.params)
        cell = require_cell(params, args.data_type, args.initial_state_type, args.bptt_size)
        device = resolve_device(params.train.device)
        model = load_model(args.model / "model.pt", params, device)
        history = pd.read_csv(require_file(args.model / "epochs.csv", "training history"))
        splits = {split: load_split(args.data, split) for split in SPLITS}  # a missing file fails before any pass
    except (ParamsError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    metrics = evaluate_cell(params, cell, model, splits, history)
    write_json(args.out, metrics)
    print(
        f"[{cell.name}] frozen pass on training data: loss {metrics['train']['loss']:.4f}; "
        f"on held-out data: loss {metrics['heldout']['loss']:.4f} acc {metrics['heldout']['accuracy']:.3f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
