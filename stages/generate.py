"""Stage `generate`: the training and held-out sequences of one data mode.

    python -m stages.generate --data-type SameRandom --out data/generated/SameRandom
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from stages.data import generate_dataset, save_dataset
from stages.io import atomic_path
from stages.params import ParamsError, load_params


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--data-type", required=True)
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args(argv)
    try:
        params = load_params(args.params)
        if args.data_type not in params.sweep.data_type:
            raise ParamsError(f"--data-type {args.data_type!r} is not in sweep.data_type {list(params.sweep.data_type)}")
    except ParamsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    dataset = generate_dataset(params.data, args.data_type, params.replicates.count)
    with atomic_path(args.out, directory=True) as folder:
        save_dataset(dataset, folder)
    sizes = ", ".join(f"{split} {tuple(s.inputs.shape)}" for split, s in dataset.items())
    print(f"[{args.data_type}] wrote {args.out}: {sizes}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
