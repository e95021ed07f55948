"""Rebuild a published profile's report from its published tables, without retraining anything.

    python -m tools.republish paper        # reports/paper/: report.md, index.html, findings.json, tables, figures
    python -m tools.republish real supplement

A profile publishes its tidy tables (`reports/<name>/tables/`), its parameters and its `dvc.lock`. When the report
code changes how findings are decided (the analysis plan, stages/reporting/plan.yaml) or how the report reads, this
rebuilds the profile's report from exactly those tables: the same per-seed numbers, decided and written by the
current code. Its dvc.lock and params.yaml stay as published: they record what was trained. Two inputs the tables do
not carry are recomputed, both deterministic and cheap: the real data sets' baselines (stage `baseline_real`'s code,
on the same published split) and their number of classes (from their published shape). The last epoch's per-chunk
losses are read back from the figure table that was published for them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from stages.baseline import baselines, first_replicate
from stages.core.data import dataset_for
from stages.core.params import REAL_DATASETS, Params, ParamsError
from stages.reporting.compose import write_report
from stages.reporting.findings import verdict_bptt
from stages.reporting.gather import Gathered, summarise
from stages.reporting.published import current_table, published_params

REPORTS = Path(__file__).resolve().parents[1] / "reports"
TABLES = ("replicates", "epochs", "epoch_scores", "relearn", "inputs", "timing")


def last_epoch(folder: Path, params: Params) -> pd.DataFrame:
    """The last epoch's per-chunk losses of the grid cells at the verdict's bptt, from the figure table they were
    published in (the full per-seed table is left out of a publication for its size)."""
    table = pd.read_csv(folder / "figures" / "loss_last_epoch.csv")
    bptt = verdict_bptt(params)
    cells = "grid/" + table["data_type"] + "-" + table["initial_state_type"] + f"-{bptt}"
    return table.assign(cell=cells, family="grid", bptt_size=bptt)


def gathered_from(folder: Path, params: Params) -> Gathered:
    """Everything the report reads, from a publication's tables (and the two cheap recomputations)."""
    frames = {name: current_table(pd.read_csv(folder / "tables" / f"{name}.csv")) for name in TABLES}
    frames["summary"] = summarise(frames["replicates"], params.replicates.confidence)
    frames["last_epoch"] = last_epoch(folder, params)
    if "processor" not in frames["timing"]:
        frames["timing"] = frames["timing"].assign(processor="not recorded")
    classes = {dataset: REAL_DATASETS[dataset].classes for dataset in params.realdata.dataset}
    scores = {}
    for dataset in classes:
        splits = dataset_for(params, dataset)
        scores[dataset] = baselines(first_replicate(splits["train"]), first_replicate(splits["heldout"]),
                                    params.replicates.confidence)
    return Gathered(frames, classes, scores)


def republish(name: str, reports: Path = REPORTS) -> None:
    folder = reports / name
    _, params = published_params(folder)
    write_report(params, gathered_from(folder, params), folder, reports)
    print(f"rebuilt {folder / 'report.md'} and {folder / 'index.html'} from {folder / 'tables'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("profiles", nargs="+", help="published profiles to rebuild (folders of reports/)")
    parser.add_argument("--reports", type=Path, default=REPORTS, help="the folder of the published reports")
    args = parser.parse_args(argv)
    try:
        for name in args.profiles:
            folder = args.reports / name
            for needed in (folder / "params.yaml", *(folder / "tables" / f"{t}.csv" for t in TABLES),
                           folder / "figures" / "loss_last_epoch.csv"):
                if not needed.is_file():
                    raise FileNotFoundError(f"{needed}: not published, so {name} cannot be rebuilt from its tables")
            published_params(folder)
    except (ParamsError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for name in args.profiles:
        republish(name, args.reports)
    return 0


if __name__ == "__main__":
    sys.exit(main())
