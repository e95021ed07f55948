"""Stages `generate`, `generate_capacity` and `generate_real`: the training and held-out sequences of one toy mode
(at `data.examples_per_class`, or at one size of the capacity axis), or the published train/test split of one real
data set (read from the package that ships it), one copy per replicate seed, as many seeds as the cell that reads
the folder with the most.

    python -m stages.generate --data-type SameRandom --out data/sequences/SameRandom
    python -m stages.generate --data-type SameRandom --examples-per-class 64 --out data/sequences/capacity/64
    python -m stages.generate --data-type ACSF1 --out data/sequences/ACSF1
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from stages.data import generate_dataset, save_dataset
from stages.io import atomic_path
from stages.params import ParamsError, data_replicates, load_params
from stages.realdata import load_real_dataset, replicated


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--data-type", required=True)
    parser.add_argument("--examples-per-class", type=int,
                        help="a size of capacity.examples_per_class (a toy mode of the capacity axis)")
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args(argv)
    try:
        params = load_params(args.params)
        per_class = args.examples_per_class
        if per_class is not None:
            capacity = params.capacity
            if per_class not in capacity.examples_per_class or args.data_type != capacity.data_type:
                raise ParamsError(f"--data-type {args.data_type} --examples-per-class {per_class} is not on the "
                                  f"capacity axis ({capacity.data_type}, capacity.examples_per_class "
                                  f"{list(capacity.examples_per_class)})")
            data = dataclasses.replace(params.data, examples_per_class=per_class)
            dataset = generate_dataset(data, args.data_type, data_replicates(params, args.data_type, per_class))
        elif args.data_type in params.realdata.dataset:
            # Read and checked (SHA-256, published shape) before anything is written.
            dataset = replicated(load_real_dataset(args.data_type), data_replicates(params, args.data_type))
        elif args.data_type in params.sweep.data_type:
            dataset = generate_dataset(params.data, args.data_type, data_replicates(params, args.data_type))
        else:
            raise ParamsError(f"--data-type {args.data_type!r} is neither in sweep.data_type "
                              f"{list(params.sweep.data_type)} nor in realdata.dataset {list(params.realdata.dataset)}")
    except (ParamsError, FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    with atomic_path(args.out, directory=True) as folder:
        save_dataset(dataset, folder)
    sizes = ", ".join(f"{split} {tuple(s.inputs.shape)}" for split, s in dataset.items())
    print(f"[{args.data_type}] wrote {args.out}: {sizes}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
