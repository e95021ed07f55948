"""The write-up's toy data: two classes of long sequences, one label per sequence.

- `Zeros`: every step of every sequence is 0, so nothing separates the classes (nothing to learn or memorise).
- `SameRandom`: one N(0, 1) tensor is used for both classes, so each sequence appears once with label 0 and once
  with label 1 (nothing to learn or memorise).
- `SameDistRandom`: independent N(0, 1) draws for each class (can be memorised, cannot generalise).
- `DiffDistRandom`: class c is drawn from N(0.5 * c, 1) (can be learned and generalises).

Held-out sequences are a second, independent draw from the same generator. Every replicate seed of the study gets
its own draw of both splits, stacked along a first axis.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from stages.core.params import DATA_TYPES, Cell, DataParams, Params, ParamsError, data_replicates, sequence_shape

NUM_CLASSES = 2
SPLITS = ("train", "heldout")
# Mean of class c in DiffDistRandom is DIFF_DIST_SHIFT * c: the write-up's definition of the mode, not a knob.
DIFF_DIST_SHIFT = 0.5


@dataclass(frozen=True)
class SequenceSet:
    inputs: np.ndarray  # ([replicates,] sequences, steps, input_size) float32; class 0 first, then class 1
    labels: np.ndarray  # ([replicates,] sequences) int64, one label per sequence


def generate_sequences(
    data_type: str, *, examples_per_class: int, seq_size: int, input_size: int, rng: np.random.Generator
) -> SequenceSet:
    if data_type not in DATA_TYPES:
        raise ValueError(f"data_type: unknown mode {data_type!r}; expected one of {', '.join(DATA_TYPES)}")
    shape = (examples_per_class, seq_size, input_size)
    same = rng.standard_normal(shape, dtype=np.float32) if data_type == "SameRandom" else None
    blocks = []
    for label in range(NUM_CLASSES):
        if data_type == "Zeros":
            blocks.append(np.zeros(shape, dtype=np.float32))
        elif data_type == "SameRandom":
            blocks.append(same)
        elif data_type == "SameDistRandom":
            blocks.append(rng.standard_normal(shape, dtype=np.float32))
        else:  # DiffDistRandom
            blocks.append(rng.standard_normal(shape, dtype=np.float32) + np.float32(DIFF_DIST_SHIFT * label))
    labels = np.repeat(np.arange(NUM_CLASSES, dtype=np.int64), examples_per_class)
    return SequenceSet(inputs=np.ascontiguousarray(np.concatenate(blocks)), labels=labels)


def split_rng(data: DataParams, data_type: str, split: str, replicate: int) -> np.random.Generator:
    """An independent stream per (mode, split, replicate): adding a mode, a split or a replicate never changes
    another's draw, and replicate r's data is the same whatever the replicate count."""
    return np.random.default_rng([data.seed, DATA_TYPES.index(data_type), SPLITS.index(split), replicate])


def generate_dataset(data: DataParams, data_type: str, replicates: int) -> dict[str, SequenceSet]:
    """Both splits of one mode, one independent draw per replicate: inputs (R, N, T, I), labels (R, N)."""
    sizes = {"train": data.examples_per_class, "heldout": data.heldout_examples_per_class}
    dataset = {}
    for split in SPLITS:
        draws = [
            generate_sequences(
                data_type,
                examples_per_class=sizes[split],
                seq_size=data.seq_size,
                input_size=data.input_size,
                rng=split_rng(data, data_type, split, replicate),
            )
            for replicate in range(replicates)
        ]
        dataset[split] = SequenceSet(
            inputs=np.stack([draw.inputs for draw in draws]), labels=np.stack([draw.labels for draw in draws])
        )
    return dataset


def dataset_for(params: Params, data_type: str, examples_per_class: int | None = None) -> dict[str, SequenceSet]:
    """The folder of sequences one generate stage writes: a toy mode at `data.examples_per_class`, a toy mode at one
    size of the capacity axis (`examples_per_class`), or a real data set's published split (read from the package
    that ships it and checked before anything is written); as many seeds as the cell that reads it with the most."""
    if examples_per_class is not None:
        capacity = params.capacity
        if examples_per_class not in capacity.examples_per_class or data_type != capacity.data_type:
            raise ParamsError(f"--data-type {data_type} --examples-per-class {examples_per_class} is not on the "
                              f"capacity axis ({capacity.data_type}, capacity.examples_per_class "
                              f"{list(capacity.examples_per_class)})")
        data = dataclasses.replace(params.data, examples_per_class=examples_per_class)
        return generate_dataset(data, data_type, data_replicates(params, data_type, examples_per_class))
    if data_type in params.realdata.dataset:
        from stages.core.realdata import load_real_dataset, replicated  # it reads this module's types

        return replicated(load_real_dataset(data_type), data_replicates(params, data_type))
    if data_type in params.sweep.data_type:
        return generate_dataset(params.data, data_type, data_replicates(params, data_type))
    raise ParamsError(f"--data-type {data_type!r} is neither in sweep.data_type {list(params.sweep.data_type)} nor "
                      f"in realdata.dataset {list(params.realdata.dataset)}")


def num_classes(sequences: SequenceSet) -> int:
    """The number of classes a model must output for these labels, which run 0..C-1: the largest label plus one
    (a split that happened to lack the last class would still need its output)."""
    if sequences.labels.size == 0:
        raise ValueError("sequences: no labels, so no number of classes")
    return int(sequences.labels.max()) + 1


def save_dataset(dataset: dict[str, SequenceSet], folder: Path) -> None:
    for split, sequences in dataset.items():
        # .npy rather than .npz: a zip archive stamps the time into its bytes, which would churn dvc.lock.
        np.save(folder / f"{split}_inputs.npy", sequences.inputs)
        np.save(folder / f"{split}_labels.npy", sequences.labels)


def load_split(folder: str | Path, split: str) -> SequenceSet:
    folder = Path(folder)
    paths = [folder / f"{split}_inputs.npy", folder / f"{split}_labels.npy"]
    for path in paths:
        if not path.is_file():
            raise FileNotFoundError(f"dataset file not found: {path} (run the generate stage first: dvc repro)")
    return SequenceSet(inputs=np.load(paths[0]), labels=np.load(paths[1]))


def cell_sequences(sequences: SequenceSet, params: Params, folder: str | Path, cell: Cell,
                   split: str = "train") -> SequenceSet:
    """The first `cell.replicates` seeds' sequences of one split: a data folder holds as many seeds as the cell that
    reads it with the most (`data_replicates`). Data written for other parameters fails here, naming the key, before
    any training starts."""
    if sequences.inputs.ndim != 4 or sequences.inputs.shape[0] < cell.replicates:
        key = "replicates.primary_count" if cell.name in params.replicates.primary_cells else "replicates.count"
        raise ParamsError(
            f"{key}: {cell.name} trains {cell.replicates} seeds but {folder} holds data of shape "
            f"{tuple(sequences.inputs.shape)}; rerun the generate stage (dvc repro)"
        )
    steps, features = sequence_shape(params, cell.data_type)
    length_key = "data.seq_size" if cell.data_type in DATA_TYPES else f"the published length of {cell.data_type}"
    if sequences.inputs.shape[2] != steps:
        raise ParamsError(f"{length_key}: {steps} but {folder} holds sequences of {sequences.inputs.shape[2]} steps")
    if sequences.inputs.shape[3] != features:
        raise ParamsError(
            f"data.input_size: {features} but {folder} holds {sequences.inputs.shape[3]} features per step")
    if split == "train" and cell.data_type in DATA_TYPES:
        expected = NUM_CLASSES * cell.examples_per_class
        if sequences.inputs.shape[1] != expected:
            key = "capacity.examples_per_class" if cell.family == "capacity" else "data.examples_per_class"
            raise ParamsError(f"{key}: {cell.examples_per_class} per class but {folder} holds "
                              f"{sequences.inputs.shape[1]} training sequences; rerun the generate stage (dvc repro)")
    count = cell.replicates
    return SequenceSet(inputs=sequences.inputs[:count], labels=sequences.labels[:count])
