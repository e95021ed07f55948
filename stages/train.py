"""Stages `train`, `remedy`, `architecture`, `onset`: one cell, all its replicate seeds trained together.

Each epoch is an update pass under the cell's protocol (the write-up's: Adam step after every chunk, state carried
and detached) followed by a frozen pass over the same sequences (same chunks, same loss, no updates), each from
fresh initial states. The gap between the
two losses is the study's measurement: a network that has learned the input scores the same in both passes; one
that has learned, within the epoch, to recognise this epoch's initial states loses that skill in the frozen pass,
which starts from new ones.

    python -m stages.train --cell grid/SameRandom-Random-10 --data data/sequences/SameRandom \
        --out data/train/grid/SameRandom-Random-10
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import hashlib
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from stages.data import SequenceSet, cell_sequences, load_split, num_classes
from stages.io import atomic_path, write_json, write_table
from stages.model import ModelConfig, ReplicaClassifier, initial_states
from stages.params import Cell, Params, ParamsError, find_cell, load_params, probe_cells, sequence_shape
from stages.tbptt import PassResult, PassSettings, run_pass

if TYPE_CHECKING:  # a fifth of a second to import, paid by every stage process: imported where used
    import pandas as pd


LAST_EPOCH_START = "last_epoch_start.pt"  # in a probed cell's folder: where stage `probe` replays from


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


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ParamsError("train.device: 'cuda' requested but no CUDA device is available (use cpu or auto)")
    return torch.device(name)


class NumericsError(RuntimeError):
    """The floating-point mode could not be set on every thread of the process."""


def configure_numerics(params: Params, *, first: bool = False) -> None:
    """Threads and subnormal handling for this process. A stage's entry point calls it with `first=True` before any
    tensor operation, which also checks that the setting reached every thread: each thread of PyTorch's pool copies
    the floating-point mode of the thread that starts it, so a pool started earlier keeps computing subnormals
    exactly on its share of the work while the main thread flushes them, and the result then depends on how the
    work was split. (The evaluation stage once loaded its weights first, which allowed exactly that; outputs that
    changed between runs were seen once, and could not be reproduced before or after the fix.)"""
    if params.train.threads:
        torch.set_num_threads(params.train.threads)
    # Gradients that fade over a long chunk reach subnormal floats, which x86 CPUs process many times slower.
    torch.set_flush_denormal(params.train.flush_denormal)
    if first:
        start_vector_math()
    if first and params.train.flush_denormal and not flushes_on_every_thread():
        raise NumericsError(
            "train.flush_denormal: a thread pool started before the setting kept computing with subnormal floats; "
            "call configure_numerics before any tensor operation"
        )


def start_vector_math() -> None:
    """Initialise MKL's vector math, which computes `torch.tanh` and `torch.exp` on the CPU, from this thread alone.

    Its first call, made at once from two threads (any element-wise tanh or exp large enough to be split), sometimes
    leaves one thread computing that call to about 5e-5 relative error instead of full precision: the first pass
    of a process then differs from every later one in its first step, on that thread's half of the elements. Seen
    on an Intel Xeon host (2026-12-02) in 9 of 40 fresh processes for a bare `torch.tanh`, and in 3 of 38 evaluation
    outputs of a pipeline run (the first pass, `train_replayed`, as in the speed issue's load-dependent outputs);
    after one small call from one thread first, in none of 85. The call is below PyTorch's parallel grain, so it runs
    on this thread and starts no pool."""
    torch.tanh(torch.zeros(16))


def flushes_on_every_thread() -> bool:
    """Whether an element-wise product split across all of the pool's threads flushes a subnormal input to 0
    everywhere (a few milliseconds)."""
    # Written as bits (the smallest subnormal), not converted from a float, which flush-to-zero would already zero.
    subnormal = torch.full((1 << 20,), 1, dtype=torch.int32).view(torch.float32)
    return not bool(torch.count_nonzero(subnormal * 1.0))


def make_optimizer(model: torch.nn.Module, *, learning_rate: float, weight_decay: float) -> torch.optim.Adam:
    # fused: one kernel updates every parameter instead of a loop of small ops per parameter (about 20% faster per
    # update at 64 units on the CPU); the same Adam update up to float rounding.
    return torch.optim.Adam(model.parameters(), lr=learning_rate, weight_decay=weight_decay, fused=True)


def derived_seed(*parts: int) -> int:
    """A seed for one purpose, independent of the streams derived from other parts."""
    return int(np.random.SeedSequence(list(parts)).generate_state(1)[0])


def replicate_seeds(params: Params, purpose: int, count: int, root: int | None = None) -> list[int]:
    """One seed per replicate for one purpose (0 weights, 1 training states, 2 evaluation states); replicate r's
    seed is the same whatever the count."""
    root = params.train.seed if root is None else root
    return [derived_seed(root, replicate, purpose) for replicate in range(count)]


def state_generators(seeds: list[int]) -> list[torch.Generator]:
    return [torch.Generator().manual_seed(seed) for seed in seeds]


def build_model(params: Params, cell: Cell, num_classes: int, device: torch.device) -> ReplicaClassifier:
    config = ModelConfig(
        input_size=sequence_shape(params, cell.data_type)[1],
        hidden_size=cell.hidden_size,
        num_layers=params.model.num_layers,
        num_classes=num_classes,
        cell=cell.cell,
        replicas=cell.replicates,
        learned_initial_state=cell.initial_state_type == "Learned",
    )
    # Replicate r starts from the same weights in every cell of the same size, so cells differ only by their setting.
    return ReplicaClassifier(config, replicate_seeds(params, 0, cell.replicates)).to(device)


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


def pass_settings(params: Params, cell: Cell) -> PassSettings:
    """The settings of every pass of this cell, update or frozen (shared by training and evaluation)."""
    return PassSettings(
        protocol=cell.protocol, bptt_size=cell.bptt_size, loss_on=params.train.loss_on,
        grad_clip=params.train.grad_clip, burn_in_steps=params.train.burn_in_steps,
        interleave_groups=params.train.interleave_groups, sequences_per_update=params.train.sequences_per_update,
    )


def state_source(
    mode: str, model: ReplicaClassifier, generators: list[torch.Generator], device: torch.device
) -> Callable[[int], torch.Tensor]:
    def fresh(batch: int) -> torch.Tensor:
        return initial_states(mode, model=model, batch=batch, generators=generators, device=device)

    return fresh


def _epoch_rows(epoch: int, updating: PassResult, frozen: PassResult) -> list[dict]:
    rows = []
    for replicate in range(len(updating.mean_loss)):
        rows.append({
            "epoch": epoch,
            "replicate": replicate,
            "update_pass_loss": float(updating.mean_loss[replicate]),
            "update_pass_accuracy": float(updating.mean_accuracy[replicate]),
            "frozen_pass_loss": float(frozen.mean_loss[replicate]),
            "frozen_pass_accuracy": float(frozen.mean_accuracy[replicate]),
            # Sequence level: each sequence's prediction at its last step, after it has been read whole.
            "update_final_step_loss": float(updating.final_step_loss[replicate]),
            "update_final_step_accuracy": float(updating.final_step_accuracy[replicate]),
            "frozen_final_step_loss": float(frozen.final_step_loss[replicate]),
            "frozen_final_step_accuracy": float(frozen.final_step_accuracy[replicate]),
            "updates": len(updating.losses),
            "optimizer_steps": updating.optimizer_steps,
            # Compute of the epoch in sequence-steps: forward with a graph (each also run backward), forward without.
            "steps_with_gradient": updating.steps_with_gradient + frozen.steps_with_gradient,
            "steps_without_gradient": updating.steps_without_gradient + frozen.steps_without_gradient,
        })
    return rows


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
                          f"{sequences.inputs.shape[0]}; read them with stages.data.cell_sequences")
    device = resolve_device(params.train.device)
    configure_numerics(params)
    classes = num_classes(sequences)
    model = build_model(params, cell, classes, device)
    optimizer = make_optimizer(model, learning_rate=cell.learning_rate, weight_decay=params.train.weight_decay)
    inputs = torch.from_numpy(sequences.inputs).to(device)
    labels = torch.from_numpy(sequences.labels).to(device)
    generators = state_generators(replicate_seeds(params, 1, cell.replicates))
    schedule_generator = torch.Generator().manual_seed(derived_seed(params.train.seed, 3))
    fresh_states = state_source(cell.initial_state_type, model, generators, device)
    settings = pass_settings(params, cell)

    key = fingerprint(params, cell, sequences) if checkpoint else ""
    epoch_rows, last_epoch_rows, update_losses, epoch_seconds, first_epoch = [], [], [], [], 1
    last_update_states: list[torch.Tensor] = []
    last_epoch_start = None
    probed = cell.name in probe_cells(params)
    if checkpoint is not None and checkpoint.is_file():
        saved = torch.load(checkpoint, map_location=device, weights_only=True)
        if saved.get("fingerprint") == key:
            model.load_state_dict(saved["model"])
            optimizer.load_state_dict(saved["optimizer"])
            for generator, state in zip(generators, saved["state_generators"]):
                generator.set_state(state)
            schedule_generator.set_state(saved["schedule_generator"])
            epoch_rows, last_epoch_rows = list(saved["epoch_rows"]), list(saved["last_epoch_rows"])
            update_losses = list(saved["update_losses"])
            last_update_states = list(saved["last_update_states"])
            epoch_seconds = list(saved["epoch_seconds"])
            last_epoch_start = saved.get("last_epoch_start")
            first_epoch = saved["epoch"] + 1
            log(f"[{cell.name}] resuming after epoch {saved['epoch']} from {checkpoint}")
        else:
            log(f"[{cell.name}] ignoring {checkpoint}: it was written for other parameters or data")

    started = time.perf_counter()
    for epoch in range(first_epoch, cell.epochs + 1):
        epoch_started = time.perf_counter()
        where = f"cell {cell.name}, epoch {epoch}"
        # Kept so that evaluation can replay exactly the initial states this epoch's update pass started from.
        last_update_states = [generator.get_state() for generator in generators]
        if probed and epoch == cell.epochs:
            last_epoch_start = {
                "model": {name: value.detach().clone() for name, value in model.state_dict().items()},
                "optimizer": copy.deepcopy(optimizer.state_dict()),  # fused Adam updates its moments in place
                "state_generators": last_update_states,
                "schedule_generator": schedule_generator.get_state(),
            }
        updating = run_pass(
            model, inputs, labels, fresh_states, settings, optimizer=optimizer,
            schedule_generator=schedule_generator, where=f"{where}, update pass",
        )
        frozen = run_pass(
            model, inputs, labels, fresh_states, settings, schedule_generator=schedule_generator,
            where=f"{where}, frozen pass",
        )
        seconds = time.perf_counter() - epoch_started
        epoch_seconds.append(seconds)
        epoch_rows += _epoch_rows(epoch, updating, frozen)
        update_losses.append(updating.losses)
        if epoch == cell.epochs:
            for pass_name, result in (("update", updating), ("frozen", frozen)):
                for index in range(len(result.losses)):
                    for replicate in range(result.losses.shape[1]):
                        last_epoch_rows.append({
                            "pass": pass_name, "chunk": index + 1, "replicate": replicate,
                            "loss": float(result.losses[index, replicate]),
                            "accuracy": float(result.accuracies[index, replicate]),
                        })
        if checkpoint is not None:
            save_checkpoint(checkpoint, {
                "fingerprint": key, "epoch": epoch, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "state_generators": [generator.get_state() for generator in generators],
                "schedule_generator": schedule_generator.get_state(), "epoch_rows": epoch_rows,
                "last_epoch_rows": last_epoch_rows, "update_losses": update_losses,
                "last_update_states": last_update_states, "epoch_seconds": epoch_seconds,
                "last_epoch_start": last_epoch_start,
            })
        if epoch % params.train.log_every == 0 or epoch == cell.epochs:
            elapsed = time.perf_counter() - started
            left = elapsed / (epoch - first_epoch + 1) * (cell.epochs - epoch)
            log(
                f"[{cell.name}] epoch {epoch}/{cell.epochs}  "
                f"update-pass loss {_spread(updating.mean_loss)} acc {updating.mean_accuracy.mean():.3f}  "
                f"frozen-pass loss {_spread(frozen.mean_loss)} acc {frozen.mean_accuracy.mean():.3f}  "
                f"({len(updating.mean_loss)} seeds)  {seconds:.1f} s  ~{left:.0f} s left"
            )
    import pandas as pd

    return TrainResult(
        model=model, epochs=pd.DataFrame(epoch_rows), last_epoch=pd.DataFrame(last_epoch_rows),
        update_losses=torch.stack(update_losses).numpy(), last_update_states=last_update_states,
        epoch_seconds=epoch_seconds, last_epoch_start=last_epoch_start,
    )


def _spread(values: torch.Tensor) -> str:
    """Mean over replicates and their range, for the progress line."""
    return f"{values.mean():.4f} [{values.min():.3f}-{values.max():.3f}]"


def save_checkpoint(path: Path, state: dict) -> None:
    # Written whole or not at all: a kill during the save leaves the previous epoch's checkpoint in place.
    with atomic_path(path) as temporary:
        torch.save(state, temporary)


def save_cell(result: TrainResult, params: Params, cell: Cell, out: Path) -> None:
    with atomic_path(out, directory=True) as folder:
        checkpoint = {
            "model_config": result.model.config.to_dict(),
            "state_dict": {k: v.detach().cpu() for k, v in result.model.state_dict().items()},
            "cell": dataclasses.asdict(cell),
            "loss_on": params.train.loss_on,
            "last_update_states": result.last_update_states,
        }
        torch.save(checkpoint, folder / "model.pt")
        write_table(folder / "epochs.csv", result.epochs)
        write_table(folder / "last_epoch.csv", result.last_epoch)
        np.save(folder / "update_losses.npy", result.update_losses.astype(np.float32))
        if result.last_epoch_start is not None:
            torch.save(result.last_epoch_start, folder / LAST_EPOCH_START)


def write_timing(path: Path, seconds: float, device: torch.device, **details: float) -> None:
    """Wall time of one stage of one cell, for the report's timing table. Kept apart from the results (an output of
    its own) because it changes from run to run while the results do not: result files stay byte-identical."""
    write_json(path, {"seconds": round(seconds, 3), "device": str(device), "threads": torch.get_num_threads(),
                      **{key: round(value, 3) for key, value in details.items()}})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--cell", required=True, help="family/key, e.g. grid/SameRandom-Random-10")
    parser.add_argument("--data", required=True, type=Path, help="folder written by the generate stage")
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--checkpoint", type=Path,
                        help="per-epoch checkpoint: resumed if it matches, removed at the end")
    parser.add_argument("--timing", type=Path, help="JSON file for the wall time of the cell's epochs")
    args = parser.parse_args(argv)
    try:
        params = load_params(args.params)
        configure_numerics(params, first=True)  # before any tensor operation starts PyTorch's threads
        cell = find_cell(params, args.cell)
        device = resolve_device(params.train.device)
        sequences = cell_sequences(load_split(args.data, "train"), params, args.data, cell)
    except (ParamsError, FileNotFoundError, NumericsError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    result = train_cell(params, cell, sequences, log=lambda line: print(line, flush=True), checkpoint=args.checkpoint)
    save_cell(result, params, cell, args.out)
    if args.timing is not None:
        total = sum(result.epoch_seconds)
        write_timing(args.timing, total, device, seconds_per_epoch=total / len(result.epoch_seconds))
    if args.checkpoint is not None:
        args.checkpoint.unlink(missing_ok=True)  # the cell is complete; its outputs now hold the result
    return 0


if __name__ == "__main__":
    sys.exit(main())
