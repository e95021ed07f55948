"""Stage `baseline_real`: simple classifiers on a real data set's published split, computed by the study itself on
the same recordings the networks are scored on, so that a held-out accuracy has something to be compared with.

- `nearest_neighbour`: 1-nearest-neighbour with Euclidean distance over the whole recording (the UCR archive's
  standard straw man), fitted on the training split, scored on the published test split;
- `majority_class`: the most frequent training label (ties: the smallest), what a classifier that ignores its
  input scores.

Both are deterministic, so the test recordings are the only source of variation: each accuracy comes with an exact
binomial (Clopper-Pearson) interval over them at `replicates.confidence`, which stays inside [0, 1].

    python -m stages.baseline --dataset ACSF1
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from scipy import stats

from stages.core import command
from stages.core.data import SPLITS, SequenceSet, load_split
from stages.core.files import Layout, write_json
from stages.core.params import Params


def nearest_neighbour_predictions(train: SequenceSet, test: SequenceSet) -> np.ndarray:
    """The label of each test recording's nearest training recording (Euclidean; ties: the first)."""
    train_x = train.inputs.reshape(len(train.inputs), -1).astype(np.float64)
    test_x = test.inputs.reshape(len(test.inputs), -1).astype(np.float64)
    # |a - b|^2 = |a|^2 - 2 a.b + |b|^2; |a|^2 is the same for every candidate of one test row, so it is left out.
    distances = (train_x**2).sum(axis=1)[None, :] - 2 * test_x @ train_x.T
    return train.labels[np.argmin(distances, axis=1)]


def majority_predictions(train: SequenceSet, test: SequenceSet) -> np.ndarray:
    return np.full(len(test.labels), np.bincount(train.labels).argmax())


BASELINES = {"nearest_neighbour": nearest_neighbour_predictions, "majority_class": majority_predictions}


def score(predictions: np.ndarray, labels: np.ndarray, confidence: float) -> dict:
    """Accuracy with its exact binomial interval over the recordings."""
    correct = int((predictions == labels).sum())
    interval = stats.binomtest(correct, len(labels)).proportion_ci(confidence_level=confidence, method="exact")
    return {"accuracy": correct / len(labels), "low": float(interval.low), "high": float(interval.high),
            "correct": correct, "recordings": len(labels)}


def first_replicate(sequences: SequenceSet) -> SequenceSet:
    """The generate stage stores one copy of a real split per replicate seed; the copies are identical."""
    return SequenceSet(inputs=sequences.inputs[0], labels=sequences.labels[0])


def baselines(train: SequenceSet, test: SequenceSet, confidence: float) -> dict:
    return {name: score(predict(train, test), test.labels, confidence) for name, predict in BASELINES.items()}


def arguments(parser) -> None:
    parser.add_argument("--dataset", required=True, help="a real data set of realdata.dataset, e.g. ACSF1")
    parser.add_argument("--root", type=Path, default=Layout.root, help="the pipeline's data folder (default: data)")


def prepare(args, params: Params) -> tuple[str, Path, SequenceSet, SequenceSet, float]:
    layout = Layout(args.root)
    folder = layout.sequences / args.dataset
    train, test = (first_replicate(load_split(folder, split)) for split in SPLITS)
    return args.dataset, layout.baseline_of(args.dataset), train, test, params.replicates.confidence


def work(job: tuple[str, Path, SequenceSet, SequenceSet, float]) -> None:
    name, out, train, test, confidence = job
    results = baselines(train, test, confidence)
    write_json(out, results)
    print(f"[{name}] " + ", ".join(
        f"{kind} {r['accuracy']:.2f} [{r['low']:.2f}, {r['high']:.2f}]" for kind, r in results.items()))


def main(argv: list[str] | None = None) -> int:
    return command.run(__doc__, arguments, prepare, work, argv)


if __name__ == "__main__":
    sys.exit(main())
