"""Spread the sweep's cells over machines that share a DVC remote, through DVC's run-cache.

Each worker trains and evaluates its share of the cells (round-robin over the cell list), pulling whatever the
remote already holds, then pushes its outputs and run records. The coordinator's `dvc repro --pull` afterwards finds
every cell in the run-cache and only aggregates and reports.

    python -m tools.sweep list        # the stages of every cell, e.g. train@<key>, evaluate@<key>
    python -m tools.sweep run --share 0 --of 4               # this worker's quarter of the cells, then push
    python -m tools.sweep run --share $SLURM_ARRAY_TASK_ID --of $SLURM_ARRAY_TASK_COUNT --dry-run
    dvc repro --pull                                          # the coordinator, once every worker has finished

`--remote NAME` chooses where `dvc push` sends the results. `dvc repro --pull` (DVC 3.x has no remote option for
repro) always reads the default remote, so a worker should have NAME as its default remote too.
"""

from __future__ import annotations

import argparse
import subprocess
import sys

from stages.core.params import Cell, ParamsError, cells, load_params

DVC = [sys.executable, "-m", "dvc"]


def stages_of(cell: Cell) -> list[str]:
    """The DVC stages of one cell, in order: its training stage, then its evaluation stage if it has one."""
    return cell.stages


def share_of(all_cells: list[Cell], share: int, of: int) -> list[Cell]:
    """Cells `share`, `share + of`, `share + 2 of`, ...: round-robin, so every share gets a mix of the sweep axes."""
    return all_cells[share::of]


def repro_command(cell: Cell) -> list[str]:
    # A cell's evaluation stage depends on its training and generate stages, so one target brings the whole cell.
    # --pull: fetch the run-cache first; a stage whose command, deps and params already ran elsewhere is restored
    #   from the remote ("is cached - skipping run") instead of rerun, and a stage that dvc.lock records is pulled.
    #   What the remote lacks is run here, so after this call the cell's outputs are in this clone, ready to push.
    # No --allow-missing: in DVC 3.67 it skips a stage that dvc.lock records as unchanged without checking that the
    #   remote has its outputs. With this repository's committed dvc.lock and a remote nobody pushed to, every
    #   worker then did nothing (so the coordinator would train every cell); and when the training params changed,
    #   the skipped generate stage left train without its input ("Checkout failed for data/sequences/...").
    return [*DVC, "repro", "--pull", stages_of(cell)[-1]]


def push_command(done: list[Cell], remote: str | None) -> list[str]:
    # --run-cache sends the run records (and their outputs) that let other clones skip these stages. Naming the
    # finished cells (--with-deps: and their train and generate stages) keeps push away from dvc.lock entries of
    # other workers' cells, whose outputs this clone never had.
    command = [*DVC, "push", "--run-cache", "--with-deps", *(stages_of(cell)[-1] for cell in done)]
    return command + (["--remote", remote] if remote else [])


def _validate(args: argparse.Namespace) -> list[Cell]:
    """The run's cells; raise ParamsError naming the bad argument before any DVC work starts."""
    if args.of < 1:
        raise ParamsError(f"--of: the number of shares must be >= 1, got {args.of}")
    if not 0 <= args.share < args.of:
        raise ParamsError(f"--share: must be between 0 and {args.of - 1} (--of {args.of}), got {args.share}")
    return cells(_load(args.params))


def _load(path: str):
    try:
        return load_params(path)
    except ParamsError as error:
        raise ParamsError(f"--params: {error}") from None


def _list(args: argparse.Namespace) -> int:
    for cell in cells(_load(args.params)):
        for stage in stages_of(cell):
            print(stage)
    return 0


def _run(args: argparse.Namespace) -> int:
    all_cells = _validate(args)
    mine = share_of(all_cells, args.share, args.of)
    tag = f"[sweep {args.share}/{args.of}]"
    if not mine:
        # More shares than cells (e.g. a generous Slurm array): nothing to do is not an error.
        print(f"{tag} no cells in this share ({len(all_cells)} cells, {args.of} shares)", flush=True)
        return 0
    done: list[Cell] = []
    failed: list[Cell] = []
    for number, cell in enumerate(mine, 1):
        command = repro_command(cell)
        # flush: the line must come out before DVC's own output, which goes straight to the same terminal or log.
        print(f"{tag} cell {number}/{len(mine)}: {cell.name}", flush=True)
        if args.dry_run:
            print("  " + " ".join(command[2:]), flush=True)
            continue
        # Keep going after a failed cell: the other cells' results are still worth pushing.
        (done if subprocess.run(command).returncode == 0 else failed).append(cell)
    command = push_command(mine if args.dry_run else done, args.remote)
    if args.dry_run:
        print("  " + " ".join(command[2:]), flush=True)
        return 0
    if done:
        print(f"{tag} pushing {len(done)} cell(s) and the run-cache", flush=True)
        if subprocess.run(command).returncode != 0:
            print(f"{tag} error: dvc push failed", file=sys.stderr)
            return 1
    if failed:
        print(f"{tag} error: failed cells: {', '.join(cell.name for cell in failed)}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--params", default="params.yaml", help="parameter file (default: params.yaml)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", parents=[common], help="print the training and evaluation stages of every cell")
    run = commands.add_parser(
        "run", parents=[common], help="reproduce one share of the cells, then push them and the run-cache"
    )
    run.add_argument("--share", type=int, required=True, help="this worker's share, 0-based")
    run.add_argument("--of", type=int, required=True, help="the number of shares (workers)")
    run.add_argument("--remote", help="DVC remote to push to (default: the default remote)")
    run.add_argument("--dry-run", action="store_true", help="print the DVC commands without running them")
    args = parser.parse_args(argv)
    try:
        return _list(args) if args.command == "list" else _run(args)
    except ParamsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
