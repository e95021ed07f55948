"""The cost floor of a finished run: how long its training and evaluation would take if every recurrent step ran at
the rate of that step's own matrix product on this machine, beside how long they took.

A step of the GRU (LSTM) is one batched product of the states (replicas x sequences x H) with the recurrent weights
(H x 3H, or 4H), plus element-wise work; backward is two such products. That product, timed alone at the exact
shape a pass uses, is the ceiling every trainer built from it can reach (the speed issue's own yardstick), so the
floor says how much any kernel work can still win, and whether a wall-time target is within reach at all.

What is counted, per cell, from the run's own tables and params.yaml:
- training: the sequence-steps each seed fed with a gradient (x 3: forward and the two products of backward) at
  the update pass's batch, and those fed without one (frozen pass, burn-in) at the whole set's batch, every epoch
  (`replicates.csv`: `steps_with_gradient`, `steps_without_gradient`);
- evaluation: the four frozen passes of stage `evaluate` (replayed, fresh with `evaluate.draws` draws side by side,
  zero, held-out), each as many steps as the training frozen pass over its own sequences;
- measured: the seconds of each cell's training and evaluation (`timing.csv`). Probes and everything outside the
  stages' measured work (process start-up, DVC) are reported as measured, not floored.

    python -m tools.floor                           # the default run's tables in reports/tables/
    python -m tools.floor --wall 3494               # also: what the rest of a 3,494 s run took
    python -m tools.floor --tables reports/real/tables --params reports/real/params.yaml

It measures; it asserts nothing. The rates move with the machine's load: run it on an idle machine.
"""

from __future__ import annotations

import argparse
import functools
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from stages.core.data import NUM_CLASSES
from stages.core.files import require_file, write_json
from stages.core.params import REAL_DATASETS, Cell, Params, ParamsError, cells, load_params, sequence_shape
from stages.evaluate import draws_of
from stages.learning.runtime import configure_numerics
from stages.learning.tbptt import pass_settings

if TYPE_CHECKING:  # a fifth of a second to import: imported where used
    import pandas as pd

GATES = {"GRU": 3, "LSTM": 4}
TARGET_SECONDS = 35 * 60  # the speed issue's target for the default run from a fresh clone, install included


@dataclass(frozen=True)
class Product:
    """One recurrent step's matrix product: (replicas, rows, hidden) x (replicas, hidden, gates x hidden)."""

    replicas: int
    rows: int
    hidden: int
    gates: int

    @property
    def flops(self) -> float:
        return 2.0 * self.replicas * self.rows * self.hidden * self.gates * self.hidden


def seconds_per_call(call: Callable[[], object], *, min_seconds: float) -> float:
    """Seconds of one `call`, after a warm-up call, timed in rounds of 4, 16, 64, ... calls until one round lasts
    `min_seconds`."""
    call()
    repeats, elapsed = 1, 0.0
    while elapsed < min_seconds:
        repeats *= 4
        started = time.perf_counter()
        for _ in range(repeats):
            call()
        elapsed = time.perf_counter() - started
    return elapsed / repeats


def product_seconds(product: Product, *, min_seconds: float = 0.05) -> float:
    """Seconds of one product at this shape, timed alone (after a warm-up) for at least `min_seconds`."""
    states = torch.randn(product.replicas, product.rows, product.hidden)
    weights = torch.randn(product.replicas, product.hidden, product.gates * product.hidden)
    out = torch.empty(product.replicas, product.rows, product.gates * product.hidden)
    return seconds_per_call(lambda: torch.bmm(states, weights, out=out), min_seconds=min_seconds)


def sequence_counts(params: Params, cell: Cell) -> tuple[int, int]:
    """(training, held-out) sequences per seed of a cell."""
    if cell.data_type in REAL_DATASETS:
        dataset = REAL_DATASETS[cell.data_type]
        return dataset.classes * dataset.train_per_class, dataset.classes * dataset.heldout_per_class
    return NUM_CLASSES * cell.examples_per_class, NUM_CLASSES * params.data.heldout_examples_per_class


def update_rows(params: Params, cell: Cell, sequences: int) -> int:
    """Sequences per seed that one step of the update pass feeds at once."""
    settings = pass_settings(params, cell)
    if settings.protocol == "interleaved":
        return sequences // settings.interleave_groups
    if settings.protocol == "per_sequence" and 0 < settings.sequences_per_update < sequences:
        return settings.sequences_per_update
    return sequences


def step_counts(params: Params, cell: Cell, with_gradient: int, without_gradient: int) -> dict[tuple[str, int], float]:
    """Sequence-steps per seed of a cell, by (part, sequences fed at once): the training ones of all epochs, counted
    as forward-step equivalents (backward = 2), and the evaluation ones. `with_gradient`/`without_gradient` are one
    epoch's counts of one seed, as training recorded them."""
    train, heldout = sequence_counts(params, cell)
    # The update pass and the frozen pass feed the same chunks (and burn-ins); the update pass feeds its chunks with
    # a gradient, the frozen pass everything without, so one frozen pass is half of an epoch's steps.
    frozen = (with_gradient + without_gradient) / 2
    draws = draws_of(cell, params, "train_fresh")
    counts: dict[tuple[str, int], float] = {}

    def add(part: str, rows: int, steps: float) -> None:
        counts[(part, rows)] = counts.get((part, rows), 0.0) + steps

    add("train", update_rows(params, cell, train), 3 * with_gradient * cell.epochs)
    add("train", train, without_gradient * cell.epochs)
    if cell.evaluated:  # the onset family has no evaluation stage
        add("evaluate", train, 2 * frozen)  # replayed and zero states
        add("evaluate", train * draws, frozen * draws)  # fresh states, the draws side by side
        add("evaluate", heldout, frozen * heldout / train)
    return counts


def timed_products(min_seconds: float = 0.05) -> Callable[[Product], float]:
    """`product_seconds`, timed once per shape."""
    return functools.cache(functools.partial(product_seconds, min_seconds=min_seconds))


def floor_table(params: Params, replicates: pd.DataFrame, timing: pd.DataFrame,
                seconds_of: Callable[[Product], float]) -> pd.DataFrame:
    """One row per cell and part (train, evaluate): the floor, at `seconds_of` per product (`timed_products` on
    this machine), and the measured seconds."""
    import pandas as pd

    by_name = {cell.name: cell for cell in cells(params)}
    unknown = sorted(set(replicates["cell"]) - set(by_name))
    if unknown:
        raise ParamsError(f"the tables hold cells that params.yaml does not ({', '.join(unknown[:3])}); give the "
                          "params.yaml of the run that wrote them (--params)")
    measured = timing.set_index("cell")
    rows = []
    for name, seeds in replicates.groupby("cell", sort=False):
        cell = by_name[name]
        _, features = sequence_shape(params, cell.data_type)
        gates = GATES[cell.cell]
        per_part: dict[str, float] = {}
        # Every seed of a cell feeds the same counts; one seed's row stands for all.
        counts = step_counts(params, cell, int(seeds["steps_with_gradient"].iloc[0]),
                             int(seeds["steps_without_gradient"].iloc[0]))
        for (part, batch), sequence_steps in counts.items():
            product = Product(replicas=len(seeds), rows=batch, hidden=cell.hidden_size, gates=gates)
            # One product serves `batch` sequences of every seed for one step; the input's product (features wide,
            # not hidden) is a fraction features / hidden of it.
            per_part[part] = (per_part.get(part, 0.0)
                              + sequence_steps / batch * seconds_of(product) * (1 + features / cell.hidden_size))
        for part, floor_seconds in per_part.items():
            column = "training_seconds" if part == "train" else "evaluation_seconds"
            rows.append({"cell": name, "family": cell.family, "part": part, "seeds": len(seeds),
                         "floor_seconds": floor_seconds,
                         "measured_seconds": float(measured.loc[name, column]) if name in measured.index else math.nan})
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--params", default="params.yaml", help="the params.yaml of the run that wrote the tables")
    parser.add_argument("--tables", type=Path, default=Path("reports/tables"),
                        help="folder with the run's replicates.csv and timing.csv")
    parser.add_argument("--wall", type=float, help="the run's wall time in seconds, to show what lay outside the "
                                                   "stages' measured work")
    parser.add_argument("--min-seconds", type=float, default=0.05, help="least time spent timing each product shape")
    parser.add_argument("--out", type=Path, default=Path("bench/floor.json"))
    args = parser.parse_args(argv)
    if args.min_seconds <= 0:
        parser.error("--min-seconds must be positive")
    if args.wall is not None and args.wall <= 0:
        parser.error("--wall must be positive")
    try:
        params = load_params(args.params)
        configure_numerics(params)  # the threads of the pipeline's own stages (random products hold no subnormals)
        import pandas as pd

        replicates = pd.read_csv(require_file(args.tables / "replicates.csv", "replicates table"))
        timing = pd.read_csv(require_file(args.tables / "timing.csv", "timing table"))
        rows = floor_table(params, replicates, timing, timed_products(args.min_seconds))
    except (ParamsError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    families = rows.groupby(["family", "part"], sort=False)[["floor_seconds", "measured_seconds"]].sum()
    print(f"the step product's rate, timed alone at each pass's shape on {torch.get_num_threads()} thread(s)")
    print(f"{'family':>13} {'part':>9} {'floor s':>9} {'measured s':>11} {'floor/measured':>15}")
    for (family, part), row in families.iterrows():
        print(f"{family:>13} {part:>9} {row.floor_seconds:>9.0f} {row.measured_seconds:>11.0f} "
              f"{row.floor_seconds / row.measured_seconds:>14.0%}")
    floor_total, measured_total = rows["floor_seconds"].sum(), rows["measured_seconds"].sum()
    probes = float(timing["probe_seconds"].fillna(0).sum())
    print(f"{'all':>13} {'':>9} {floor_total:>9.0f} {measured_total:>11.0f} {floor_total / measured_total:>14.0%}")
    print(f"probes (not floored): {probes:.0f} s measured")
    summary = {"threads": torch.get_num_threads(), "floor_seconds": floor_total, "measured_seconds": measured_total,
               "probe_seconds": probes, "target_seconds": TARGET_SECONDS}
    if args.wall is not None:
        rest = args.wall - measured_total - probes
        best = floor_total + probes + rest
        print(f"outside the stages' measured work: {rest:.0f} s of the {args.wall:.0f} s run; with training and "
              f"evaluation at their floor and the rest unchanged the run would take {best:.0f} s "
              f"(target {TARGET_SECONDS} s with the install)")
        summary.update({"wall_seconds": args.wall, "outside_seconds": rest, "run_at_floor_seconds": best})
    write_json(args.out, {"summary": summary,
                          "families": [{"family": family, "part": part, **row.to_dict()}
                                       for (family, part), row in families.iterrows()],
                          "cells": rows.to_dict(orient="records")})
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
