"""Stage `report`: gather every cell of the grid in params.yaml into tidy tables, draw the figures, write report.md.

The cells are enumerated from `sweep` in params.yaml, never by listing folders, so outputs of cells that were
dropped from the sweep cannot leak into the report. Every number in the Markdown comes from those tables.

    python -m stages.report --sequences data/sequences --train data/train --evaluate data/evaluate --out reports
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from stages import figures
from stages.data import load_split
from stages.findings import CHANCE_LOSS, Finding, all_findings
from stages.io import atomic_path, read_json, require_file, write_table, write_text
from stages.params import Cell, Params, ParamsError, cells, load_params

FIGURES = {
    "inputs": "inputs.png",
    "loss_per_epoch": "loss_per_epoch.png",
    "loss_last_epoch": "loss_last_epoch.png",
    "final_gap": "final_gap.png",
}


def _cell_columns(cell: Cell) -> dict:
    return {
        "data_type": cell.data_type,
        "initial_state_type": cell.initial_state_type,
        "bptt_size": cell.bptt_size,
        "setting": figures.setting_label(cell.initial_state_type, cell.bptt_size),
    }


def onset_epoch(history: pd.DataFrame, threshold: float) -> float:
    """First epoch whose updating loss is below `threshold`, or NaN when none is."""
    below = history.loc[history["update_pass_loss"] < threshold, "epoch"]
    return float(below.iloc[0]) if len(below) else math.nan


def gather(params: Params, train_dir: Path, evaluate_dir: Path) -> dict[str, pd.DataFrame]:
    """Tidy tables: one row per cell; per epoch and pass; per chunk of the last epoch and pass."""
    threshold = CHANCE_LOSS - params.report.chance_margin
    cell_rows, epoch_tables, chunk_tables = [], [], []
    for cell in cells(params.sweep):
        history = pd.read_csv(require_file(train_dir / cell.name / "epochs.csv", f"training history of {cell.name}"))
        last_epoch = pd.read_csv(require_file(train_dir / cell.name / "last_epoch.csv", f"last epoch of {cell.name}"))
        metrics = read_json(require_file(evaluate_dir / f"{cell.name}.json", f"metrics of {cell.name}"))
        last = history.iloc[-1]
        cell_rows.append({
            **_cell_columns(cell),
            "epochs": int(last["epoch"]),
            "updates_per_epoch": int(last["updates"]),
            "update_pass_loss": float(last["update_pass_loss"]),
            "frozen_pass_loss": float(last["frozen_pass_loss"]),
            "gap": float(last["frozen_pass_loss"] - last["update_pass_loss"]),
            "update_pass_accuracy": float(last["update_pass_accuracy"]),
            "frozen_pass_accuracy": float(last["frozen_pass_accuracy"]),
            "onset_epoch": onset_epoch(history, threshold),
            "train_frozen_loss": metrics["train"]["loss"],
            "heldout_loss": metrics["heldout"]["loss"],
            "heldout_accuracy": metrics["heldout"]["accuracy"],
            "heldout_final_step_accuracy": metrics["heldout"]["final_step_accuracy"],
        })
        long = history.melt(
            id_vars="epoch", value_vars=["update_pass_loss", "frozen_pass_loss"], var_name="pass", value_name="loss"
        )
        long["pass"] = long["pass"].str.removesuffix("_pass_loss")
        epoch_tables.append(long.assign(**_cell_columns(cell)))
        chunk_tables.append(last_epoch.assign(**_cell_columns(cell)))
    return {
        "cells": pd.DataFrame(cell_rows),
        "epochs": pd.concat(epoch_tables, ignore_index=True),
        "last_epoch": pd.concat(chunk_tables, ignore_index=True),
    }


def input_table(params: Params, sequences_dir: Path) -> pd.DataFrame:
    """The first steps of a few training sequences per class and mode, long-form, for the input figure."""
    frames = []
    shown, steps = params.report.sequences_shown, min(params.report.steps_shown, params.data.seq_size)
    for data_type in params.sweep.data_type:
        split = load_split(sequences_dir / data_type, "train")
        for label in np.unique(split.labels):
            for number, index in enumerate(np.flatnonzero(split.labels == label)[:shown]):
                frames.append(pd.DataFrame({
                    "data_type": data_type, "label": int(label), "sequence": f"{label}-{number}",
                    "step": np.arange(steps), "value": split.inputs[index, :steps, 0],
                }))
    return pd.concat(frames, ignore_index=True)


def _results_table(table: pd.DataFrame) -> str:
    columns = {
        "data_type": "data", "initial_state_type": "initial states", "bptt_size": "bptt",
        "updates_per_epoch": "updates / epoch", "update_pass_loss": "updating loss",
        "frozen_pass_loss": "frozen loss", "gap": "gap", "onset_epoch": "onset epoch",
        "heldout_loss": "held-out loss", "heldout_accuracy": "held-out acc.",
    }
    header = "| " + " | ".join(columns.values()) + " |\n|" + "---|" * len(columns) + "\n"
    lines = []
    for row in table[list(columns)].itertuples(index=False):
        cells_text = []
        for name, value in zip(columns, row):
            if isinstance(value, float):
                cells_text.append("none" if math.isnan(value) else f"{value:.0f}" if name == "onset_epoch" else f"{value:.3f}")
            else:
                cells_text.append(f"`{value}`" if name == "data_type" else str(value))
        lines.append("| " + " | ".join(cells_text) + " |")
    return header + "\n".join(lines) + "\n"


def render_markdown(params: Params, tables: dict[str, pd.DataFrame], findings: list[Finding]) -> str:
    p = params
    threshold = CHANCE_LOSS - p.report.chance_margin
    verdicts = "\n".join(f"| {f.title} | **{f.verdict}** |" for f in findings)
    sections = "\n\n".join(f"### {i}. {f.title}\n\n**Verdict: {f.verdict}.** {f.text}" for i, f in enumerate(findings, 1))
    return f"""# Truncated BPTT on long single-label sequences: the network learns the initial state, not the input

This report is written by the `report` stage of the DVC pipeline from the results of every cell of the sweep in
`params.yaml`; no number in it is typed by hand. It reproduces and tests the write-up "Problems with BPTT for long
sequence classification": a GRU reads long sequences in chunks of `bptt_size` steps, carrying its detached hidden
state from chunk to chunk, with a loss at the end of each chunk and a weight update after every chunk (the
*update pass*); then it reads the same data again from fresh initial states without updates (the *frozen pass*).

**Settings of this run.** {2 * p.data.examples_per_class} training sequences ({p.data.examples_per_class} per class)
of {p.data.seq_size:,} steps with {p.data.input_size} feature(s), {2 * p.data.heldout_examples_per_class} held-out
sequences; a {p.model.num_layers}-layer GRU of {p.model.hidden_size} units; Adam, learning rate
{p.train.learning_rate:g}, weight decay {p.train.weight_decay:g}, gradient norm clipped at {p.train.grad_clip:g};
loss at the {"last step of each chunk" if p.train.loss_on == "last" else "every step"}; {p.train.epochs} epochs;
seeds: data {p.data.seed}, training {p.train.seed}, evaluation {p.evaluate.seed}. Sweep: data modes
{", ".join(f"`{d}`" for d in p.sweep.data_type)}; initial states {", ".join(f"`{s}`" for s in p.sweep.initial_state_type)};
bptt sizes {", ".join(str(b) for b in p.sweep.bptt_size)}. All losses are cross-entropies in nats; chance is
ln 2 = {CHANCE_LOSS:.3f}. A loss counts as *below chance* when it is below {threshold:.3f} (ln 2 − `report.chance_margin`
= {p.report.chance_margin:g}). The *gap* is the frozen pass's mean loss minus the update pass's, in the last epoch.
Each cell is one training run from one seed, and single runs of this system are chaotic: changing only the rounding
of the optimizer's arithmetic moves last-epoch losses by whole nats (README, "Reproducibility"). Read the verdicts,
which compare each loss with chance by a margin, rather than the exact magnitudes.

## Findings

| finding | verdict |
|---|---|
{verdicts}

{sections}

## Results of every cell (last epoch)

Updating and frozen losses are means over the chunks of the last epoch's two passes; the onset epoch is the first
epoch whose updating loss is below chance; held-out scores come from a frozen pass of the final weights over
sequences drawn independently of the training ones (`evaluate` stage). The full table is `tables/cells.csv`.

{_results_table(tables["cells"])}
## Figures

![Input sequences](figures/{FIGURES["inputs"]})

*Figure 1. The first {min(p.report.steps_shown, p.data.seq_size)} steps of {p.report.sequences_shown} training
sequences per class for each data mode. In `SameRandom` the two classes overlap exactly.*

![Loss per epoch](figures/{FIGURES["loss_per_epoch"]})

*Figure 2. Mean loss per epoch of the update pass and the frozen pass, for every cell (rows: data mode; columns:
initial states and bptt size). Log scale; the dashed line is chance. Data: `tables/epochs.csv`.*

![Loss across the last epoch](figures/{FIGURES["loss_last_epoch"]})

*Figure 3. Loss of each chunk in the last epoch. In the update pass each chunk is followed by one weight update:
where the effect is present the updating loss drops within the first chunks of the epoch, as the network learns the
new epoch's initial states. Data: `tables/last_epoch.csv`.*

![Gap per cell](figures/{FIGURES["final_gap"]})

*Figure 4. Frozen minus updating loss in the last epoch, per cell. Positive: the updating pass scores better than
the same weights do on the same data from fresh states. Data: `tables/cells.csv`.*

## Reproduce

`dvc repro` regenerates every number and figure here from `params.yaml`; `dvc exp run --set-param KEY=VALUE` runs an
ablation, and `dvc exp show` compares it with this run.
"""


def write_report(params: Params, sequences_dir: Path, train_dir: Path, evaluate_dir: Path, out: Path) -> None:
    tables = gather(params, train_dir, evaluate_dir)
    inputs = input_table(params, sequences_dir)
    findings = all_findings(tables["cells"], params.report.chance_margin, params.report.verdict_bptt)
    figures.setup_theme()
    dpi = params.report.figure_dpi
    with atomic_path(out / "figures", directory=True) as folder:
        figures.save(figures.input_sequences(inputs).figure, str(folder / FIGURES["inputs"]), dpi)
        figures.save(figures.loss_per_epoch(tables["epochs"]).figure, str(folder / FIGURES["loss_per_epoch"]), dpi)
        figures.save(figures.loss_last_epoch(tables["last_epoch"]).figure, str(folder / FIGURES["loss_last_epoch"]), dpi)
        figures.save(figures.final_gap(tables["cells"]), str(folder / FIGURES["final_gap"]), dpi)
    with atomic_path(out / "tables", directory=True) as folder:
        for name, table in tables.items():
            write_table(folder / f"{name}.csv", table)
        write_table(folder / "inputs.csv", inputs)
    # One file per cell, wide, for `dvc plots show` (top-level plots in dvc.yaml render every file of a folder).
    with atomic_path(out / "plots", directory=True) as folder:
        for kind, index in (("loss_per_epoch", "epoch"), ("last_epoch", "chunk")):
            (folder / kind).mkdir()
            source = tables["epochs" if kind == "loss_per_epoch" else "last_epoch"]
            for cell in cells(params.sweep):
                mine = source[source["setting"].eq(figures.setting_label(cell.initial_state_type, cell.bptt_size))
                              & source["data_type"].eq(cell.data_type)]
                wide = mine.pivot(index=index, columns="pass", values="loss").reset_index()
                wide = wide.rename(columns={"update": "update_pass_loss", "frozen": "frozen_pass_loss"})
                write_table(folder / kind / f"{cell.name}.csv", wide[[index, "update_pass_loss", "frozen_pass_loss"]])
    write_text(out / "report.md", render_markdown(params, tables, findings))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--sequences", required=True, type=Path)
    parser.add_argument("--train", required=True, type=Path)
    parser.add_argument("--evaluate", required=True, type=Path)
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args(argv)
    try:
        params = load_params(args.params)
        for cell in cells(params.sweep):  # every input present before anything is drawn
            for path in (args.train / cell.name / "epochs.csv", args.train / cell.name / "last_epoch.csv",
                         args.evaluate / f"{cell.name}.json"):
                require_file(path, f"output of cell {cell.name}")
        for data_type in params.sweep.data_type:
            load_split(args.sequences / data_type, "train")
    except (ParamsError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    write_report(params, args.sequences, args.train, args.evaluate, args.out)
    print(f"wrote {args.out / 'report.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
