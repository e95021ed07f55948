"""Stage `train`: one cell of the sweep (data mode x initial-state mode x bptt size), trained with truncated BPTT.

Each epoch is an update pass (Adam step after every chunk, state carried and detached) followed by a frozen pass
over the same sequences (same chunks, same loss, no updates), each from fresh initial states. The gap between the
two losses is the study's measurement: a network that has learned the input scores the same in both passes; one
that has learned, within the epoch, to recognise this epoch's initial states loses that skill in the frozen pass,
which starts from new ones.

    python -m stages.train --data-type SameRandom --initial-state-type Random --bptt-size 10 \
        --data data/generated/SameRandom --out results/train/SameRandom-Random-10
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from stages.data import NUM_CLASSES, SequenceSet, load_split
from stages.io import atomic_path, write_table
from stages.model import ModelConfig, SequenceClassifier, initial_states
from stages.params import Cell, Params, ParamsError, load_params, require_cell
from stages.tbptt import run_pass, to_chunks


@dataclass(frozen=True)
class TrainResult:
    model: SequenceClassifier
    epochs: pd.DataFrame  # one row per epoch: both passes' mean loss and accuracy, final-step scores, seconds
    last_epoch: pd.DataFrame  # one row per chunk of the last epoch and pass: the loss each update saw


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ParamsError("train.device: 'cuda' requested but no CUDA device is available (use cpu or auto)")
    return torch.device(name)


def configure_numerics(params: Params) -> None:
    # Gradients that fade over a long chunk reach subnormal floats, which x86 CPUs process many times slower.
    torch.set_flush_denormal(params.train.flush_denormal)
    if params.train.threads:
        torch.set_num_threads(params.train.threads)


def make_optimizer(model: torch.nn.Module, *, learning_rate: float, weight_decay: float) -> torch.optim.Adam:
    # fused: one kernel updates every parameter instead of a loop of small ops per parameter (about 20% faster per
    # update at 64 units on the CPU); the same Adam update up to float rounding.
    return torch.optim.Adam(model.parameters(), lr=learning_rate, weight_decay=weight_decay, fused=True)


def derived_seed(*parts: int) -> int:
    """A seed for one purpose, independent of the streams derived from other parts."""
    return int(np.random.SeedSequence(list(parts)).generate_state(1)[0])


def build_model(params: Params, device: torch.device) -> SequenceClassifier:
    config = ModelConfig(
        input_size=params.data.input_size,
        hidden_size=params.model.hidden_size,
        num_layers=params.model.num_layers,
        num_classes=NUM_CLASSES,
    )
    torch.manual_seed(params.train.seed)  # initial weights: identical in every cell for the same seed
    return SequenceClassifier(config).to(device)


def fingerprint(params: Params, cell: Cell, sequences: SequenceSet) -> str:
    """What a checkpoint must match to be resumed: every setting that changes the result, and the data itself."""
    settings = {
        "data": dataclasses.asdict(params.data),
        "model": dataclasses.asdict(params.model),
        "train": {k: v for k, v in dataclasses.asdict(params.train).items() if k != "log_every"},
        "cell": dataclasses.asdict(cell),
    }
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
    digest.update(np.ascontiguousarray(sequences.inputs).tobytes())
    digest.update(np.ascontiguousarray(sequences.labels).tobytes())
    return digest.hexdigest()


def train_cell(
    params: Params,
    cell: Cell,
    sequences: SequenceSet,
    *,
    log: Callable[[str], None] = print,
    checkpoint: Path | None = None,
) -> TrainResult:
    """Train one cell. With `checkpoint`, save the state after every epoch there and resume from it if it matches."""
    device = resolve_device(params.train.device)
    configure_numerics(params)
    model = build_model(params, device)
    optimizer = make_optimizer(model, learning_rate=params.train.learning_rate, weight_decay=params.train.weight_decay)
    chunks = to_chunks(torch.from_numpy(sequences.inputs), cell.bptt_size).to(device)
    labels = torch.from_numpy(sequences.labels).to(device)
    state_generator = torch.Generator().manual_seed(derived_seed(params.train.seed, 1))

    def fresh_states() -> torch.Tensor:
        return initial_states(
            cell.initial_state_type,
            num_layers=params.model.num_layers,
            batch=len(labels),
            hidden_size=params.model.hidden_size,
            generator=state_generator,
            device=device,
        )

    key = fingerprint(params, cell, sequences) if checkpoint else ""
    epoch_rows, last_epoch_rows, first_epoch = [], [], 1
    if checkpoint is not None and checkpoint.is_file():
        saved = torch.load(checkpoint, map_location=device, weights_only=True)
        if saved.get("fingerprint") == key:
            model.load_state_dict(saved["model"])
            optimizer.load_state_dict(saved["optimizer"])
            state_generator.set_state(saved["state_generator"])
            epoch_rows, last_epoch_rows = list(saved["epoch_rows"]), list(saved["last_epoch_rows"])
            first_epoch = saved["epoch"] + 1
            log(f"[{cell.name}] resuming after epoch {saved['epoch']} from {checkpoint}")
        else:
            log(f"[{cell.name}] ignoring {checkpoint}: it was written for other parameters or data")

    started = time.perf_counter()
    for epoch in range(first_epoch, params.train.epochs + 1):
        epoch_started = time.perf_counter()
        where = f"cell {cell.name}, epoch {epoch}"
        model.train()
        updating = run_pass(
            model, chunks, labels, fresh_states(), loss_on=params.train.loss_on,
            optimizer=optimizer, grad_clip=params.train.grad_clip, where=f"{where}, update pass",
        )
        model.eval()
        frozen = run_pass(model, chunks, labels, fresh_states(), loss_on=params.train.loss_on, where=f"{where}, frozen pass")
        seconds = time.perf_counter() - epoch_started
        epoch_rows.append({
            "epoch": epoch,
            "update_pass_loss": updating.mean_loss,
            "update_pass_accuracy": updating.mean_accuracy,
            "frozen_pass_loss": frozen.mean_loss,
            "frozen_pass_accuracy": frozen.mean_accuracy,
            "frozen_final_step_loss": frozen.final_step_loss,
            "frozen_final_step_accuracy": frozen.final_step_accuracy,
            "updates": len(updating.chunk_losses),
        })
        if epoch == params.train.epochs:
            for pass_name, result in (("update", updating), ("frozen", frozen)):
                for index, (loss, accuracy) in enumerate(zip(result.chunk_losses, result.chunk_accuracies), 1):
                    last_epoch_rows.append({"pass": pass_name, "chunk": index, "loss": loss, "accuracy": accuracy})
        if checkpoint is not None:
            save_checkpoint(checkpoint, {
                "fingerprint": key, "epoch": epoch, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "state_generator": state_generator.get_state(), "epoch_rows": epoch_rows,
                "last_epoch_rows": last_epoch_rows,
            })
        if epoch % params.train.log_every == 0 or epoch == params.train.epochs:
            elapsed = time.perf_counter() - started
            left = elapsed / (epoch - first_epoch + 1) * (params.train.epochs - epoch)
            log(
                f"[{cell.name}] epoch {epoch}/{params.train.epochs}  "
                f"update-pass loss {updating.mean_loss:.4f} acc {updating.mean_accuracy:.3f}  "
                f"frozen-pass loss {frozen.mean_loss:.4f} acc {frozen.mean_accuracy:.3f}  "
                f"{seconds:.1f} s  ~{left:.0f} s left"
            )
    return TrainResult(model=model, epochs=pd.DataFrame(epoch_rows), last_epoch=pd.DataFrame(last_epoch_rows))


def save_checkpoint(path: Path, state: dict) -> None:
    # Written whole or not at all: a kill during the save leaves the previous epoch's checkpoint in place.
    with atomic_path(path) as temporary:
        torch.save(state, temporary)


def save_cell(result: TrainResult, params: Params, cell: Cell, out: Path) -> None:
    with atomic_path(out, directory=True) as folder:
        checkpoint = {
            "model_config": result.model.config.to_dict(),
            "state_dict": {k: v.detach().cpu() for k, v in result.model.state_dict().items()},
            "cell": {"data_type": cell.data_type, "initial_state_type": cell.initial_state_type,
                     "bptt_size": cell.bptt_size},
            "loss_on": params.train.loss_on,
        }
        torch.save(checkpoint, folder / "model.pt")
        write_table(folder / "epochs.csv", result.epochs)
        write_table(folder / "last_epoch.csv", result.last_epoch)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--data-type", required=True)
    parser.add_argument("--initial-state-type", required=True)
    parser.add_argument("--bptt-size", required=True, type=int)
    parser.add_argument("--data", required=True, type=Path, help="folder written by the generate stage")
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--checkpoint", type=Path, help="per-epoch checkpoint: resumed if it matches, removed at the end")
    args = parser.parse_args(argv)
    try:
        params = load_params(args.params)
        cell = require_cell(params, args.data_type, args.initial_state_type, args.bptt_size)
        resolve_device(params.train.device)
        sequences = load_split(args.data, "train")
    except (ParamsError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    result = train_cell(params, cell, sequences, log=lambda line: print(line, flush=True), checkpoint=args.checkpoint)
    save_cell(result, params, cell, args.out)
    if args.checkpoint is not None:
        args.checkpoint.unlink(missing_ok=True)  # the cell is complete; its outputs now hold the result
    return 0


if __name__ == "__main__":
    sys.exit(main())
