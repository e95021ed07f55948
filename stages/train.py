"""Stages `train`, `remedy`, `architecture`, `onset`, `capacity`, `real`: one cell, all its seeds trained together.

Each epoch is an update pass under the cell's protocol (the write-up's: Adam step after every chunk, state carried
and detached) followed by a frozen pass over the same sequences (same chunks, same loss, no updates), each from
fresh initial states. The gap between the two losses is the study's measurement: a network that has learned the
input scores the same in both passes; one that has learned, within the epoch, to recognise this epoch's initial
states loses that skill in the frozen pass, which starts from new ones.

    python -m stages.train --cell grid/SameRandom-Random-10
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from stages.core import command
from stages.core.data import SequenceSet, cell_sequences, load_split, num_classes
from stages.core.files import EPOCHS, LAST_EPOCH, LAST_EPOCH_START, UPDATE_LOSSES, Layout, atomic_path, write_table
from stages.core.params import Cell, Params, ParamsError, find_cell, probe_cells
from stages.learning.model import ReplicaClassifier, build_model, make_optimizer, save_model, save_whole, state_source
from stages.learning.runtime import (
    SCHEDULE,
    TRAINING_STATES,
    configure_numerics,
    derived_seed,
    replicate_seeds,
    resolve_device,
    state_generators,
    write_timing,
)
from stages.learning.tbptt import PassResult, pass_settings, run_pass

if TYPE_CHECKING:  # a fifth of a second to import, paid by every stage process: imported where used
    import pandas as pd


@dataclass(frozen=True)
class TrainResult:
    model: ReplicaClassifier
    epochs: pd.DataFrame  # one row per epoch and replicate: both passes' mean loss and accuracy, step counts
    last_epoch: pd.DataFrame  # one row per update (or chunk) of the last epoch, pass and replicate
    update_losses: np.ndarray  # (epochs, updates, replicates): the loss every update stepped on, every epoch
    last_update_states: list[torch.Tensor]  # per replicate: its state generator as the last update pass began
    epoch_seconds: list[float]  # wall time of each epoch (both passes), including epochs before a resume
    # For a cell in `probe.grid`/`probe.real`: weights, optimizer and generators as the last update pass began, from
    # which stage `probe` replays that pass exactly. None for every other cell.
    last_epoch_start: dict | None = None


@dataclass
class Run:
    """Everything that moves during a cell's training and must survive a resume: the model, the optimizer, the
    generators, and what the epochs so far have recorded."""

    model: ReplicaClassifier
    optimizer: torch.optim.Adam
    generators: list[torch.Generator]  # initial states of the training passes, one per seed
    schedule_generator: torch.Generator  # protocol interleaved's groups and order, per_sequence's minibatches
    epoch_rows: list[dict] = field(default_factory=list)
    last_epoch_rows: list[dict] = field(default_factory=list)
    update_losses: list[torch.Tensor] = field(default_factory=list)
    last_update_states: list[torch.Tensor] = field(default_factory=list)
    epoch_seconds: list[float] = field(default_factory=list)
    last_epoch_start: dict | None = None
    epoch: int = 0  # the last epoch completed

    def checkpoint(self, fingerprint: str) -> dict:
        return {
            "fingerprint": fingerprint, "epoch": self.epoch, "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "state_generators": [generator.get_state() for generator in self.generators],
            "schedule_generator": self.schedule_generator.get_state(), "epoch_rows": self.epoch_rows,
            "last_epoch_rows": self.last_epoch_rows, "update_losses": self.update_losses,
            "last_update_states": self.last_update_states, "epoch_seconds": self.epoch_seconds,
            "last_epoch_start": self.last_epoch_start,
        }

    def restore(self, saved: dict) -> None:
        self.model.load_state_dict(saved["model"])
        self.optimizer.load_state_dict(saved["optimizer"])
        for generator, state in zip(self.generators, saved["state_generators"]):
            generator.set_state(state)
        self.schedule_generator.set_state(saved["schedule_generator"])
        self.epoch_rows, self.last_epoch_rows = list(saved["epoch_rows"]), list(saved["last_epoch_rows"])
        self.update_losses = list(saved["update_losses"])
        self.last_update_states = list(saved["last_update_states"])
        self.epoch_seconds = list(saved["epoch_seconds"])
        self.last_epoch_start = saved.get("last_epoch_start")
        self.epoch = saved["epoch"]


def fingerprint(params: Params, cell: Cell, sequences: SequenceSet) -> str:
    """What a checkpoint must match to be resumed: every setting that changes the result, and the data itself."""
    settings = {
        "data": dataclasses.asdict(params.data),
        "replicates": dataclasses.asdict(params.replicates),
        "model": dataclasses.asdict(params.model),
        "train": {k: v for k, v in dataclasses.asdict(params.train).items() if k != "log_every"},
        "cell": dataclasses.asdict(cell),
        "probed": cell.name in probe_cells(params),  # a probed cell's checkpoint also keeps its last epoch's start
    }
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
    digest.update(np.ascontiguousarray(sequences.inputs).tobytes())
    digest.update(np.ascontiguousarray(sequences.labels).tobytes())
    return digest.hexdigest()


def _epoch_rows(epoch: int, updating: PassResult, frozen: PassResult) -> list[dict]:
    rows = []
    for replicate in range(len(updating.mean_loss)):
        rows.append({
            "epoch": epoch,
            "replicate": replicate,
            # The write-up's scores: the mean over the pass's chunks (stages.core.files, "column names").
            "update_pass_loss": float(updating.mean_loss[replicate]),
            "update_pass_chunk_accuracy": float(updating.mean_chunk_accuracy[replicate]),
            "frozen_pass_loss": float(frozen.mean_loss[replicate]),
            "frozen_pass_chunk_accuracy": float(frozen.mean_chunk_accuracy[replicate]),
            # Sequence level: each sequence's prediction at its last step, after it has been read whole.
            "update_pass_final_step_loss": float(updating.final_step_loss[replicate]),
            "update_pass_accuracy": float(updating.final_step_accuracy[replicate]),
            "frozen_pass_final_step_loss": float(frozen.final_step_loss[replicate]),
            "frozen_pass_accuracy": float(frozen.final_step_accuracy[replicate]),
            "updates": len(updating.losses),
            "optimizer_steps": updating.optimizer_steps,
            # Compute of the epoch in sequence-steps: forward with a graph (each also run backward), forward without.
            "steps_with_gradient": updating.steps_with_gradient + frozen.steps_with_gradient,
            "steps_without_gradient": updating.steps_without_gradient + frozen.steps_without_gradient,
        })
    return rows


def _chunk_rows(updating: PassResult, frozen: PassResult) -> list[dict]:
    """The last epoch, update by update (chunk by chunk in the frozen pass), per seed."""
    rows = []
    for pass_name, result in (("update", updating), ("frozen", frozen)):
        for index in range(len(result.losses)):
            for replicate in range(result.losses.shape[1]):
                rows.append({
                    "pass": pass_name, "chunk": index + 1, "replicate": replicate,
                    "loss": float(result.losses[index, replicate]),
                    "accuracy": float(result.accuracies[index, replicate]),
                })
    return rows


def _start(run: Run) -> dict:
    """Weights, optimizer and generators as an update pass begins: where stage `probe` replays it from."""
    return {
        "model": {name: value.detach().clone() for name, value in run.model.state_dict().items()},
        "optimizer": copy.deepcopy(run.optimizer.state_dict()),  # fused Adam updates its moments in place
        "state_generators": [generator.get_state() for generator in run.generators],
        "schedule_generator": run.schedule_generator.get_state(),
    }


def _progress(cell: Cell, epoch: int, first: int, started: float, seconds: float, updating: PassResult,
              frozen: PassResult) -> str:
    """One line per epoch: both passes' losses (mean and range over seeds), accuracies, seconds, time left."""
    def spread(values: torch.Tensor) -> str:
        return f"{values.mean():.4f} [{values.min():.3f}-{values.max():.3f}]"

    left = (time.perf_counter() - started) / (epoch - first + 1) * (cell.epochs - epoch)
    return (f"[{cell.name}] epoch {epoch}/{cell.epochs}  "
            f"update-pass loss {spread(updating.mean_loss)} acc {updating.mean_chunk_accuracy.mean():.3f}  "
            f"frozen-pass loss {spread(frozen.mean_loss)} acc {frozen.mean_chunk_accuracy.mean():.3f}  "
            f"({len(updating.mean_loss)} seeds)  {seconds:.1f} s  ~{left:.0f} s left")


def _setup(params: Params, cell: Cell, sequences: SequenceSet, device: torch.device) -> Run:
    model = build_model(params, cell, num_classes(sequences), device)
    return Run(
        model=model,
        optimizer=make_optimizer(model, learning_rate=cell.learning_rate, weight_decay=params.train.weight_decay),
        generators=state_generators(replicate_seeds(params, TRAINING_STATES, cell.replicates)),
        schedule_generator=torch.Generator().manual_seed(derived_seed(params.train.seed, SCHEDULE)),
    )


def _resume(run: Run, checkpoint: Path | None, key: str, cell: Cell, device: torch.device,
            log: Callable[[str], None]) -> None:
    if checkpoint is None or not checkpoint.is_file():
        return
    saved = torch.load(checkpoint, map_location=device, weights_only=True)
    if saved.get("fingerprint") != key:
        log(f"[{cell.name}] ignoring {checkpoint}: it was written for other parameters or data")
        return
    run.restore(saved)
    log(f"[{cell.name}] resuming after epoch {run.epoch} from {checkpoint}")


def train_cell(
    params: Params,
    cell: Cell,
    sequences: SequenceSet,
    *,
    log: Callable[[str], None] = print,
    checkpoint: Path | None = None,
) -> TrainResult:
    """Train every replicate of one cell together. With `checkpoint`, save the state after every epoch there and
    resume from it if it matches."""
    if sequences.inputs.shape[0] != cell.replicates:
        raise ParamsError(f"{cell.name} trains {cell.replicates} seeds but was given the sequences of "
                          f"{sequences.inputs.shape[0]}; read them with stages.core.data.cell_sequences")
    device = resolve_device(params.train.device)
    configure_numerics(params)
    run = _setup(params, cell, sequences, device)
    inputs = torch.from_numpy(sequences.inputs).to(device)
    labels = torch.from_numpy(sequences.labels).to(device)
    fresh_states = state_source(cell.initial_state_type, run.model, run.generators, device)
    settings = pass_settings(params, cell)
    key = fingerprint(params, cell, sequences) if checkpoint else ""
    _resume(run, checkpoint, key, cell, device, log)
    probed, first, started = cell.name in probe_cells(params), run.epoch + 1, time.perf_counter()
    for epoch in range(first, cell.epochs + 1):
        epoch_started, where = time.perf_counter(), f"cell {cell.name}, epoch {epoch}"
        # Kept so that evaluation can replay exactly the initial states this epoch's update pass started from.
        run.last_update_states = [generator.get_state() for generator in run.generators]
        if probed and epoch == cell.epochs:
            run.last_epoch_start = _start(run)
        updating = run_pass(run.model, inputs, labels, fresh_states, settings, optimizer=run.optimizer,
                            schedule_generator=run.schedule_generator, where=f"{where}, update pass")
        frozen = run_pass(run.model, inputs, labels, fresh_states, settings,
                          schedule_generator=run.schedule_generator, where=f"{where}, frozen pass")
        seconds = time.perf_counter() - epoch_started
        run.epoch, run.epoch_rows = epoch, run.epoch_rows + _epoch_rows(epoch, updating, frozen)
        run.epoch_seconds.append(seconds)
        run.update_losses.append(updating.losses)
        if epoch == cell.epochs:
            run.last_epoch_rows = _chunk_rows(updating, frozen)
        if checkpoint is not None:
            save_whole(checkpoint, run.checkpoint(key))
        if epoch % params.train.log_every == 0 or epoch == cell.epochs:
            log(_progress(cell, epoch, first, started, seconds, updating, frozen))
    import pandas as pd

    return TrainResult(
        model=run.model, epochs=pd.DataFrame(run.epoch_rows), last_epoch=pd.DataFrame(run.last_epoch_rows),
        update_losses=torch.stack(run.update_losses).numpy(), last_update_states=run.last_update_states,
        epoch_seconds=run.epoch_seconds, last_epoch_start=run.last_epoch_start,
    )


def save_cell(result: TrainResult, params: Params, cell: Cell, out: Path) -> None:
    """A cell's training folder, written whole or not at all."""
    with atomic_path(out, directory=True) as folder:
        save_model(folder, result.model, cell, params.train.loss_on, result.last_update_states)
        write_table(folder / EPOCHS, result.epochs)
        write_table(folder / LAST_EPOCH, result.last_epoch)
        np.save(folder / UPDATE_LOSSES, result.update_losses.astype(np.float32))
        if result.last_epoch_start is not None:
            torch.save(result.last_epoch_start, folder / LAST_EPOCH_START)


@dataclass(frozen=True)
class Job:
    params: Params
    cell: Cell
    sequences: SequenceSet
    layout: Layout


def prepare(args, params: Params) -> Job:
    configure_numerics(params, first=True)  # before any tensor operation starts PyTorch's threads
    cell, layout = find_cell(params, args.cell), Layout(args.root)
    resolve_device(params.train.device)
    folder = layout.data_of(cell)
    return Job(params, cell, cell_sequences(load_split(folder, "train"), params, folder, cell), layout)


def work(job: Job) -> None:
    layout, cell = job.layout, job.cell
    checkpoint = layout.checkpoint(cell)
    result = train_cell(job.params, cell, job.sequences, log=lambda line: print(line, flush=True),
                        checkpoint=checkpoint)
    save_cell(result, job.params, cell, layout.training(cell))
    total = sum(result.epoch_seconds)
    write_timing(layout.timing_of(cell, "train"), total, resolve_device(job.params.train.device),
                 seconds_per_epoch=total / len(result.epoch_seconds))
    checkpoint.unlink(missing_ok=True)  # the cell is complete; its outputs now hold the result


def main(argv: list[str] | None = None) -> int:
    return command.run(__doc__, command.cell_arguments, prepare, work, argv)


if __name__ == "__main__":
    sys.exit(main())
