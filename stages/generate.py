"""Stages `generate`, `generate_capacity` and `generate_real`: the training and held-out sequences of one toy mode
(at `data.examples_per_class`, or at one size of the capacity axis), or the published train/test split of one real
data set (read from the package that ships it), one copy per replicate seed, as many seeds as the cell that reads
the folder with the most.

    python -m stages.generate --data-type SameRandom                          # data/sequences/SameRandom
    python -m stages.generate --data-type SameRandom --examples-per-class 64  # data/sequences/capacity/64
    python -m stages.generate --data-type ACSF1                               # data/sequences/ACSF1
"""

from __future__ import annotations

import sys
from pathlib import Path

from stages.core import command
from stages.core.data import SequenceSet, dataset_for, save_dataset
from stages.core.files import Layout, atomic_path
from stages.core.params import Params


def arguments(parser) -> None:
    parser.add_argument("--data-type", required=True, help="a toy mode (sweep.data_type) or a real data set")
    parser.add_argument("--examples-per-class", type=int,
                        help="a size of capacity.examples_per_class (a toy mode of the capacity axis)")
    parser.add_argument("--root", type=Path, default=Layout.root, help="the pipeline's data folder (default: data)")


def prepare(args, params: Params) -> tuple[str, Path, dict[str, SequenceSet]]:
    sequences = Layout(args.root).sequences
    out = (sequences / args.data_type if args.examples_per_class is None
           else sequences / "capacity" / str(args.examples_per_class))
    return args.data_type, out, dataset_for(params, args.data_type, args.examples_per_class)


def work(job: tuple[str, Path, dict[str, SequenceSet]]) -> None:
    name, out, dataset = job
    with atomic_path(out, directory=True) as folder:
        save_dataset(dataset, folder)
    sizes = ", ".join(f"{split} {tuple(s.inputs.shape)}" for split, s in dataset.items())
    print(f"[{name}] wrote {out}: {sizes}")


def main(argv: list[str] | None = None) -> int:
    return command.run(__doc__, arguments, prepare, work, argv)


if __name__ == "__main__":
    sys.exit(main())
