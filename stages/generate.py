"""Stages `generate` and `generate_real`: the training and held-out sequences of one toy mode, or the published
train/test split of one real data set (read from the package that ships it), one copy per replicate seed.

    python -m stages.generate --data-type SameRandom --out data/sequences/SameRandom
    python -m stages.generate --data-type ACSF1 --out data/sequences/ACSF1
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from stages.data import generate_dataset, save_dataset
from stages.io import atomic_path
from stages.params import ParamsError, load_params
from stages.realdata import load_real_dataset, replicated


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--data-type", required=True)
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args(argv)
    try:
        params = load_params(args.params)
        if args.data_type in params.realdata.dataset:
            # Read and checked (SHA-256, published shape) before anything is written.
            dataset = replicated(load_real_dataset(args.data_type), params.replicates.count)
        elif args.data_type in params.sweep.data_type:
            dataset = generate_dataset(params.data, args.data_type, params.replicates.count)
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
