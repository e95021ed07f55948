"""What a rerun reproduced: every output of one `dvc.lock` against another's, byte for byte (by DVC's md5), grouped by
kind, with the timing files apart from the results.

    python -m tools.lockdiff                         # the workspace's dvc.lock against the committed one (git HEAD)
    python -m tools.lockdiff OTHER.lock              # the workspace's dvc.lock against another lock file
    python -m tools.lockdiff A.lock B.lock --list    # ... and every output that differs, by name
    python -m tools.lockdiff --findings A/tables/findings.csv B/tables/findings.csv   # and how far verdicts move
    python -m tools.lockdiff --summary A/tables/summary.csv B/tables/summary.csv      # and each cell's estimates

A DVC output's md5 is that of the file, or for a folder that of the list of its files' md5s, so equal md5s mean
equal bytes. Outputs that only one lock records (stages added or dropped) are counted apart. The timing files
(`data/timing/`) change on every run and are never results; nor is the report, which prints them. Compare two
reports by the findings they state instead (`--findings`): verdicts, and how far each estimate moves.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections import Counter
from pathlib import Path

import yaml

# An output's kind, from where it lives; the order is the table's.
KINDS = (("data/sequences/", "data"), ("data/baseline/", "baselines"), ("data/train/", "training"),
         ("data/evaluate/", "evaluation"), ("data/probe/", "probes"), ("data/record/", "recordings"),
         ("data/timing/", "timing (not results)"), ("reports/", "report (holds the wall times)"))


def kind_of(path: str) -> str:
    return next((kind for prefix, kind in KINDS if path.startswith(prefix)), "other")


def outputs(lock: dict) -> dict[str, str]:
    """Every output path recorded in a parsed dvc.lock -> its md5."""
    found = {}
    for stage in (lock.get("stages") or {}).values():
        for out in stage.get("outs", []):
            found[out["path"]] = out.get("md5", "")
    return found


def read_lock(source: str) -> dict:
    """A dvc.lock from a file, or from git as `REV:PATH` (e.g. HEAD:dvc.lock)."""
    if Path(source).is_file():
        return yaml.safe_load(Path(source).read_text()) or {}
    shown = subprocess.run(["git", "show", source], capture_output=True, text=True)
    if shown.returncode:
        raise FileNotFoundError(f"{source}: neither a file nor a git revision:path ({shown.stderr.strip()})")
    return yaml.safe_load(shown.stdout) or {}


def compare(first: dict[str, str], second: dict[str, str]) -> list[dict]:
    """Per kind: outputs in both locks that are identical, that differ, and that only one lock has."""
    counts: dict[str, Counter] = {}
    for path in sorted(set(first) | set(second)):
        outcome = ("only in one" if path not in first or path not in second
                   else "identical" if first[path] == second[path] else "differ")
        counts.setdefault(kind_of(path), Counter())[outcome] += 1
    order = [kind for _, kind in KINDS] + ["other"]
    return [{"kind": kind, "identical": counts[kind]["identical"], "differ": counts[kind]["differ"],
             "only in one": counts[kind]["only in one"]} for kind in order if kind in counts]


def differing(first: dict[str, str], second: dict[str, str]) -> list[str]:
    return sorted(path for path in set(first) & set(second)
                  if first[path] != second[path] and not kind_of(path).startswith(("timing", "report")))


def table(rows: list[dict]) -> str:
    """A Markdown table of the comparison, the results' total on its own line."""
    lines = ["| outputs | identical | differ | only in one lock |", "|---|---|---|---|"]
    lines += [f"| {r['kind']} | {r['identical']} | {r['differ']} | {r['only in one']} |" for r in rows]
    results = [r for r in rows if not r["kind"].startswith(("timing", "report"))]
    lines.append(f"| **results, in all** | {sum(r['identical'] for r in results)} | "
                 f"{sum(r['differ'] for r in results)} | {sum(r['only in one'] for r in results)} |")
    return "\n".join(lines)


def findings_moves(first: Path, second: Path) -> str:
    """The findings both reports state: how many verdicts agree, and the largest move of an estimate."""
    import pandas as pd

    a, b = (pd.read_csv(path).set_index("key") for path in (first, second))
    shared = a.index.intersection(b.index)
    same = int((a.loc[shared, "verdict"] == b.loc[shared, "verdict"]).sum())
    moves = (a.loc[shared, "estimate"] - b.loc[shared, "estimate"]).abs().dropna()
    lines = [f"findings in both: {len(shared)}; same verdict: {same}; different verdict: {len(shared) - same}"]
    if len(moves):
        lines.append(f"estimates: median move {moves.median():.3f}, largest {moves.max():.3f} ({moves.idxmax()})")
    for key in shared:
        if a.loc[key, "verdict"] != b.loc[key, "verdict"]:
            lines.append(f"  {key}: {a.loc[key, 'verdict']} -> {b.loc[key, 'verdict']}")
    return "\n".join(lines)


MOVED_METRICS = ("accuracy_gap", "update_pass_accuracy", "frozen_pass_accuracy", "heldout_accuracy")


def summary_moves(first: Path, second: Path, metrics: tuple[str, ...] = MOVED_METRICS) -> str:
    """How far the per-cell estimates (mean over seeds) of two runs' summary tables move, metric by metric, over the
    cells both ran: what a rerun on another processor changes even where every verdict stays."""
    import pandas as pd

    a, b = (pd.read_csv(path).set_index(["cell", "metric"])["mean"] for path in (first, second))
    shared = a.index.intersection(b.index)
    lines = []
    for metric in metrics:
        keys = [key for key in shared if key[1] == metric]
        if not keys:
            continue
        moves = (a[keys] - b[keys]).abs().dropna()
        lines.append(f"{metric}: {len(moves)} cells, median move {moves.median():.3f}, largest {moves.max():.3f} "
                     f"({moves.idxmax()[0]})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("locks", nargs="*", help="two lock files (or git REV:PATH); one: compared with dvc.lock; "
                                                 "none: dvc.lock against HEAD:dvc.lock")
    parser.add_argument("--list", action="store_true", help="also print every result output that differs")
    parser.add_argument("--findings", nargs=2, type=Path, metavar=("A", "B"),
                        help="two findings.csv files: verdicts that agree and how far the estimates move")
    parser.add_argument("--summary", nargs=2, type=Path, metavar=("A", "B"),
                        help="two summary.csv files: how far each cell's estimates move")
    args = parser.parse_args(argv)
    if len(args.locks) > 2:
        parser.error("give at most two lock files")
    sources = {0: ["HEAD:dvc.lock", "dvc.lock"], 1: [args.locks[0] if args.locks else "", "dvc.lock"],
               2: args.locks}[len(args.locks)]
    try:
        first, second = (outputs(read_lock(source)) for source in sources)
    except FileNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"{sources[0]} against {sources[1]}\n")
    print(table(compare(first, second)))
    if args.list:
        print("\n".join(["", "results that differ:", *differing(first, second)]))
    if args.findings:
        print("\n" + findings_moves(*args.findings))
    if args.summary:
        print("\n" + summary_moves(*args.summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
