"""Where every output lives, and how it is written: whole or not at all, and byte for byte the same on a rerun.

`Layout` is the one place that names a cell's files under `data/` (dvc.yaml spells the same paths for DVC, and
tests/pipeline/test_dependencies.py checks that both agree).

A stage killed mid-way must leave nothing that DVC (or a reader) could take for a finished result, so each output is
written under a temporary name beside its final place and renamed into place only once it is complete. Tables and
JSON are written with a fixed key order and float format so that rerunning a stage gives byte-identical files.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # a fifth of a second to import, paid by every stage that imports this module: types only
    import pandas as pd

    from stages.core.params import Cell

# Column and key names, in every file of the study: `accuracy` is sequence level (each sequence's prediction at its
# last step, after it has read the whole sequence: the study's score), `chunk_accuracy` the mean over the chunks of a
# pass (the write-up's score); `loss` is the mean over the chunks of a pass (the write-up's), `final_step_loss` the
# sequence-level one. A name means the same in epochs.csv, an evaluation file and the report's tables.

# A training folder (data/train/<family>/<key>/).
MODEL = "model.pt"  # final weights, model config, the state generators of the last update pass
EPOCHS = "epochs.csv"  # per epoch and seed: both passes' losses and accuracies, step counts
LAST_EPOCH = "last_epoch.csv"  # per update (chunk), pass and seed of the last epoch
UPDATE_LOSSES = "update_losses.npy"  # (epochs, updates, seeds): the loss every update stepped on
LAST_EPOCH_START = "last_epoch_start.pt"  # probed cells only: where stage `probe` replays the last epoch from
# The frozen passes of an evaluation file (data/evaluate/<family>/<key>.json), in the order they run.
PASSES = ("train_replayed", "train_fresh", "train_zero", "heldout")
# The forward passes that run along the replayed last epoch in a probe file (data/probe/<family>/<key>.json), beside
# the update pass itself and the own-state pass.
TRAJECTORIES = ("trajectory_fresh", "trajectory_zero", "trajectory_heldout", "trajectory_swapped")


def _folder(name: str) -> property:
    """A folder of the pipeline under the layout's root."""
    return property(lambda layout: layout.root / name, doc=f"data/{name}/ under the root")


@dataclass(frozen=True)
class Layout:
    """The pipeline's folders under one root (`data/`), and every file of a cell in them."""

    root: Path = Path("data")

    sequences, train, evaluate = _folder("sequences"), _folder("train"), _folder("evaluate")
    probe, record, timing = _folder("probe"), _folder("record"), _folder("timing")
    baseline, checkpoints = _folder("baseline"), _folder("checkpoints")

    def data_of(self, cell: Cell) -> Path:
        """The folder of sequences a cell reads: its mode's or data set's, or one size of the capacity axis."""
        if cell.family == "capacity":
            return self.sequences / "capacity" / str(cell.examples_per_class)
        return self.sequences / cell.data_type

    def training(self, cell: Cell) -> Path:
        return self.train / cell.name

    def evaluation(self, cell: Cell) -> Path:
        return self.evaluate / f"{cell.name}.json"

    def probing(self, cell: Cell) -> Path:
        return self.probe / f"{cell.name}.json"

    def recording(self, cell: Cell) -> Path:
        return self.record / f"{cell.name}.npz"

    def checkpoint(self, cell: Cell) -> Path:
        """Not an output: the state after each epoch, so that an interrupted cell resumes."""
        return self.checkpoints / f"{cell.name}.pt"

    def timing_of(self, cell: Cell, stage: str) -> Path:
        """Wall time of one stage kind (train, evaluate, probe) of a cell."""
        return self.timing / f"{cell.name}.{stage}.json"

    def baseline_of(self, dataset: str) -> Path:
        return self.baseline / f"{dataset}.json"


@contextlib.contextmanager
def atomic_path(path: str | Path, *, directory: bool = False) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces `path`, on failure it is removed."""
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    if directory:
        temporary = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".partial", dir=final.parent))
    else:
        handle, name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".partial", dir=final.parent)
        os.close(handle)
        temporary = Path(name)
    try:
        yield temporary
        # mkstemp/mkdtemp create private (0600/0700) entries; give the output the usual permissions.
        umask = os.umask(0)
        os.umask(umask)
        temporary.chmod((0o777 if directory else 0o666) & ~umask)
        if final.is_dir() and not final.is_symlink():
            shutil.rmtree(final)
        elif final.exists() or final.is_symlink():
            final.unlink()
        os.replace(temporary, final)
    except BaseException:
        if temporary.is_dir():
            shutil.rmtree(temporary, ignore_errors=True)
        else:
            temporary.unlink(missing_ok=True)
        raise


def write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as temporary:
        temporary.write_text(text)


def rounded(payload: Any, digits: int = 6) -> Any:
    """Floats to `digits` significant digits, as in the CSV tables: thread scheduling moves the last bits of a sum,
    and a metrics file should not change (and churn dvc.lock) over a difference of 1e-9."""
    if isinstance(payload, float):
        return float(f"{payload:.{digits}g}")
    if isinstance(payload, dict):
        return {key: rounded(value, digits) for key, value in payload.items()}
    if isinstance(payload, (list, tuple)):
        return [rounded(value, digits) for value in payload]
    return payload


def write_json(path: str | Path, payload: Any) -> None:
    write_text(path, json.dumps(rounded(payload), indent=2, sort_keys=True) + "\n")


def write_table(path: str | Path, table: pd.DataFrame) -> None:
    with atomic_path(path) as temporary:
        table.to_csv(temporary, index=False, float_format="%.6g", lineterminator="\n")


def read_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text())


def require_file(path: str | Path, what: str) -> Path:
    """Fail early, naming the missing input, instead of deep inside a stage."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{what} not found: {path} (run the stage that produces it first: dvc repro)")
    return path
