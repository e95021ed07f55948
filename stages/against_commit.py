"""The cost of a seed-epoch with an earlier commit's trainer, beside this tree's, on the same machine at the same time.

The speed issue asks, once the statistics work has changed the default's seeds, for the cost per seed-epoch halved.
Runs from different days cannot show that: this project's hosts have differed in speed by up to twice from one day
to the next, and even in processor (AMD EPYC hosts on which MKL takes its AVX2 path, an Intel Xeon on which it takes
AVX-512). So this trains one cell with the earlier commit's code (checked out in a temporary `git worktree`) and
with this tree's, each from its own generated data, in fresh processes that alternate round after round, and
compares the medians. Each process is the stage's own command (`python -m stages.train --timing ...`), and the figure
is the timing file's `seconds_per_epoch` (training only: no start-up, no data, no evaluation). Where both sides train
the same number of seeds it also says whether their last epoch's losses agree, since a speed change that keeps the
results must keep them to the printed digit.

    python -m stages.against_commit 2d34929                          # the speed issue's code at its 3 seeds
    python -m stages.against_commit 2d34929 --then-seeds 3 --now-seeds 3 5 16 --epochs 4 --rounds 4

Nothing here asserts a speed; it prints the table and writes `--out`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import yaml

from stages.io import write_json

# The progress line of a cell's last epoch, as the trainer prints it (the same words since the first batched trainer).
_LOSSES = re.compile(r"epoch (\d+)/\1\s+update-pass loss ([0-9.]+).*frozen-pass loss ([0-9.]+)")


def with_seeds_and_epochs(params_text: str, seeds: int, epochs: int) -> str:
    """A tree's params.yaml with every cell at `seeds` seeds and `epochs` epochs (primary cells included)."""
    params = yaml.safe_load(params_text)
    params["replicates"]["count"] = seeds
    params["train"]["epochs"] = epochs
    if "primary_count" in params["replicates"]:
        params["replicates"]["primary_count"] = seeds  # else a primary cell would train primary_count seeds
    return yaml.safe_dump(params, sort_keys=False)


def last_epoch_losses(log: str) -> tuple[str, str] | None:
    """The update-pass and frozen-pass losses of the last epoch's progress line, as printed; None if absent."""
    found = _LOSSES.findall(log)
    return (found[-1][1], found[-1][2]) if found else None


def resolve_commit(commit: str) -> str:
    """The full hash of `commit` in this repository, or a ValueError naming it."""
    found = subprocess.run(["git", "rev-parse", "--verify", "--quiet", f"{commit}^{{commit}}"],
                           capture_output=True, text=True)
    if found.returncode:
        raise ValueError(f"commit: {commit!r} is not a commit of this repository")
    return found.stdout.strip()


@contextlib.contextmanager
def worktree(commit: str, parent: Path) -> Iterator[Path]:
    """`commit` checked out in a temporary worktree under `parent`, removed afterwards."""
    where = parent / f"tree-{commit[:12]}"
    subprocess.run(["git", "worktree", "add", "--detach", str(where), commit], check=True, capture_output=True)
    try:
        yield where
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(where)], capture_output=True)


class Side:
    """One tree's code at one seed count: its params file and data, prepared once, then trained each round."""

    def __init__(self, label: str, tree: Path, seeds: int, epochs: int, cell: str, work: Path) -> None:
        self.label, self.tree, self.seeds, self.cell = label, tree, seeds, cell
        self.work = work / f"{label}-{seeds}"
        self.work.mkdir(parents=True)
        self.params = self.work / "params.yaml"
        self.params.write_text(with_seeds_and_epochs((tree / "params.yaml").read_text(), seeds, epochs))
        self.data = self.work / "data"
        self.seconds_per_epoch: list[float] = []
        self.losses: tuple[str, str] | None = None

    def _run(self, module: str, *arguments: str) -> str:
        # The tree's own package: `python -m` puts the working directory first on the path.
        command = [sys.executable, "-m", module, "--params", str(self.params), *arguments]
        done = subprocess.run(command, cwd=self.tree, capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(f"{self.label} at {self.seeds} seeds: {' '.join(command)} failed in {self.tree}:\n"
                               f"{done.stderr.strip()}")
        return done.stdout

    def generate(self) -> None:
        data_type = self.cell.split("/", 1)[1].split("-", 1)[0]
        self._run("stages.generate", "--data-type", data_type, "--out", str(self.data))

    def train(self) -> float:
        out, timing = self.work / "out", self.work / "timing.json"
        log = self._run("stages.train", "--cell", self.cell, "--data", str(self.data), "--out", str(out),
                        "--timing", str(timing))
        self.losses = last_epoch_losses(log)
        seconds = json.loads(timing.read_text())["seconds_per_epoch"]
        self.seconds_per_epoch.append(seconds)
        return seconds

    def row(self) -> dict:
        median = statistics.median(self.seconds_per_epoch)
        return {"code": self.label, "seeds": self.seeds, "seconds_per_epoch": self.seconds_per_epoch,
                "median_seconds_per_epoch": median, "median_seconds_per_seed_epoch": median / self.seeds,
                "last_epoch_losses": list(self.losses) if self.losses else None}


def compare(rows: list[dict]) -> list[dict]:
    """For each seed count of this tree: the earlier code's cost per seed-epoch over this tree's, and whether the
    last epoch's losses agree with the earlier code's at the same seed count (None where it trained no such count)."""
    then = [row for row in rows if row["code"] != "now"]
    baseline = then[0]["median_seconds_per_seed_epoch"]
    comparisons = []
    for row in (row for row in rows if row["code"] == "now"):
        same_count = next((other for other in then if other["seeds"] == row["seeds"]), None)
        comparisons.append({
            "seeds": row["seeds"],
            "seed_epoch_cost_then_over_now": baseline / row["median_seconds_per_seed_epoch"],
            "same_losses_as_then": None if same_count is None else same_count["last_epoch_losses"]
            == row["last_epoch_losses"],
        })
    return comparisons


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("commit", help="the earlier commit whose trainer is timed (e.g. 2d34929)")
    parser.add_argument("--cell", default="grid/SameDistRandom-Random-10",
                        help="a grid cell of both commits' sweeps (family/key)")
    parser.add_argument("--then-seeds", type=int, default=3, help="seeds of the earlier code's cell")
    parser.add_argument("--now-seeds", type=int, nargs="+", default=[3, 5, 16], help="seed counts of this tree's")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=4, help="alternations of all sides")
    parser.add_argument("--out", type=Path, default=Path("bench/against_commit.json"))
    args = parser.parse_args(argv)
    for name in ("then_seeds", "epochs", "rounds"):
        if getattr(args, name) <= 0:
            parser.error(f"--{name.replace('_', '-')} must be positive")
    if min(args.now_seeds) <= 0:
        parser.error("--now-seeds: every seed count must be positive")
    if not args.cell.startswith("grid/"):
        parser.error(f"--cell: {args.cell!r} is not a grid cell (grid/<data>-<init>-<bptt>)")
    try:
        commit = resolve_commit(args.commit)
    except ValueError as error:
        parser.error(str(error))
    with tempfile.TemporaryDirectory(prefix="against-commit-") as scratch, worktree(commit, Path(scratch)) as then:
        work = Path(scratch) / "work"
        sides = [Side(commit[:7], then, args.then_seeds, args.epochs, args.cell, work)]
        sides += [Side("now", Path.cwd(), seeds, args.epochs, args.cell, work) for seeds in args.now_seeds]
        for side in sides:
            side.generate()
        print(f"{args.cell}, {args.epochs} epochs a run, {args.rounds} rounds; seconds per epoch (training only)")
        for round_index in range(1, args.rounds + 1):
            for side in sides:
                seconds = side.train()
                print(f"round {round_index}/{args.rounds}  {side.label:>8} {side.seeds:>3} seeds  {seconds:.3f} s "
                      f"per epoch  {seconds / side.seeds:.3f} s per seed-epoch", flush=True)
    rows = [side.row() for side in sides]
    comparisons = compare(rows)
    print(f"{'code':>8} {'seeds':>5} {'median s/epoch':>15} {'s/seed-epoch':>13}  last epoch's losses")
    for row in rows:
        losses = "/".join(row["last_epoch_losses"] or ["?"])
        print(f"{row['code']:>8} {row['seeds']:>5} {row['median_seconds_per_epoch']:>15.3f} "
              f"{row['median_seconds_per_seed_epoch']:>13.3f}  {losses}")
    for comparison in comparisons:
        same = {None: "", True: "; same losses", False: "; LOSSES DIFFER"}[comparison["same_losses_as_then"]]
        print(f"{commit[:7]}'s seed-epoch at {args.then_seeds} seeds costs "
              f"{comparison['seed_epoch_cost_then_over_now']:.2f} times this tree's at {comparison['seeds']}{same}")
    write_json(args.out, {"commit": commit, "cell": args.cell, "epochs": args.epochs, "rounds": args.rounds,
                          "rows": rows, "comparisons": comparisons})
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
