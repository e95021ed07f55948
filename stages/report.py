"""Stage `report`: gather every cell of params.yaml into tidy tables, compute the claims, draw the figures, and
write report.md and its self-contained HTML twin, index.html.

The cells are enumerated from params.yaml, never by listing folders, so outputs of cells that were dropped cannot
leak into the report. Every number in the report comes from those tables; every verdict from `stages.findings`.

    python -m stages.report --sequences data/sequences --train data/train --evaluate data/evaluate \
        --timing data/timing --out reports
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import platform
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from stages import figures
from stages.data import NUM_CLASSES, load_split
from stages.evaluate import PASSES
from stages.findings import Claim, Results, all_claims, real_claims, remedy_cells, verdict_bptt
from stages.io import atomic_path, read_json, require_file, write_table, write_text
from stages.page import render_page
from stages.realdata import num_classes
from stages.params import REAL_DATASETS, Cell, Params, ParamsError, cells, load_params
from stages.sweep import EVALUATE_STAGE
from stages.stats import t_interval

TITLE = "Truncated BPTT on long single-label sequences: the network learns the initial state, not the input"
SUMMARY_METRICS = [
    "update_pass_loss", "frozen_pass_loss", "gap", "update_pass_accuracy", "frozen_pass_accuracy", "accuracy_gap",
    "train_replayed_loss", "train_fresh_loss", "train_zero_loss", "heldout_loss",
    "train_replayed_accuracy", "train_fresh_accuracy", "train_zero_accuracy", "heldout_accuracy", "onset_epoch",
]


def _describe(cell: Cell) -> dict:
    return {
        "cell": cell.name, "family": cell.family, "data_type": cell.data_type,
        "initial_state_type": cell.initial_state_type, "bptt_size": cell.bptt_size, "protocol": cell.protocol,
        "rnn": cell.cell, "hidden_size": cell.hidden_size, "learning_rate": cell.learning_rate,
    }


def onset_epoch(history: pd.DataFrame, threshold: float) -> float:
    """First epoch whose updating loss is below `threshold`, or NaN when none is (one replicate's history)."""
    below = history.loc[history["update_pass_loss"] < threshold, "epoch"]
    return float(below.iloc[0]) if len(below) else math.nan


def updates_to_threshold(update_losses: np.ndarray, threshold: float) -> np.ndarray:
    """(epochs, updates, replicates) -> (epochs, replicates): 1-based index of the first update whose loss is below
    `threshold` in each epoch, NaN when none is."""
    below = update_losses < threshold
    first = below.argmax(axis=1).astype(float) + 1
    first[~below.any(axis=1)] = math.nan
    return first


def gather(params: Params, train_dir: Path, evaluate_dir: Path) -> dict[str, pd.DataFrame]:
    """Tidy tables: per cell and seed; per epoch, seed and pass; per chunk of the last epoch; re-learning speed."""
    onset_threshold, relearn_threshold = params.report.onset_loss, params.report.relearn_loss
    bptt = verdict_bptt(params)
    rows, epoch_tables, chunk_tables, relearn_tables = [], [], [], []
    for cell in cells(params):
        folder = train_dir / cell.name
        history = pd.read_csv(require_file(folder / "epochs.csv", f"training history of {cell.name}"))
        last = history[history["epoch"] == history["epoch"].max()].sort_values("replicate")
        metrics = None
        if cell.family != "onset":
            metrics = read_json(require_file(evaluate_dir / f"{cell.name}.json", f"metrics of {cell.name}"))
        for position, replicate_row in enumerate(last.itertuples()):
            replicate = int(replicate_row.replicate)
            row = {
                **_describe(cell), "replicate": replicate,
                "update_pass_loss": replicate_row.update_pass_loss,
                "frozen_pass_loss": replicate_row.frozen_pass_loss,
                "gap": replicate_row.frozen_pass_loss - replicate_row.update_pass_loss,
                "update_pass_accuracy": replicate_row.update_pass_accuracy,
                "frozen_pass_accuracy": replicate_row.frozen_pass_accuracy,
                "accuracy_gap": replicate_row.update_pass_accuracy - replicate_row.frozen_pass_accuracy,
                "onset_epoch": onset_epoch(history[history["replicate"] == replicate], onset_threshold),
                "updates_per_epoch": int(replicate_row.updates),
                "optimizer_steps_per_epoch": int(replicate_row.optimizer_steps),
                "steps_with_gradient": int(replicate_row.steps_with_gradient),
                "steps_without_gradient": int(replicate_row.steps_without_gradient),
            }
            for name in PASSES:
                row[f"{name}_loss"] = metrics[name]["loss"][position] if metrics else math.nan
                row[f"{name}_accuracy"] = metrics[name]["accuracy"][position] if metrics else math.nan
            row["heldout_final_step_accuracy"] = (
                metrics["heldout"]["final_step_accuracy"][position] if metrics else math.nan
            )
            rows.append(row)
        long = history.melt(id_vars=["epoch", "replicate"], value_vars=["update_pass_loss", "frozen_pass_loss"],
                            var_name="pass", value_name="loss")
        long["pass"] = long["pass"].str.removesuffix("_pass_loss")
        epoch_tables.append(long.assign(**_describe(cell)))
        if cell.family != "onset" and (cell.family != "grid" or cell.bptt_size == bptt):
            last_epoch = pd.read_csv(require_file(folder / "last_epoch.csv", f"last epoch of {cell.name}"))
            chunk_tables.append(last_epoch.assign(**_describe(cell)))
        if cell.family != "onset":
            losses = np.load(require_file(folder / "update_losses.npy", f"update losses of {cell.name}"))
            first = updates_to_threshold(losses, relearn_threshold)
            epochs, replicates = np.meshgrid(np.arange(1, first.shape[0] + 1), np.arange(first.shape[1]), indexing="ij")
            relearn_tables.append(pd.DataFrame({
                "epoch": epochs.ravel(), "replicate": replicates.ravel(), "updates": first.ravel(),
                "updates_per_epoch": losses.shape[1],
            }).assign(**_describe(cell)))
    replicates = pd.DataFrame(rows)
    replicates["compute_step_equivalents"] = (
        3 * replicates["steps_with_gradient"] + replicates["steps_without_gradient"]
    )  # forward = 1, backward = 2 forward steps' worth of work
    return {
        "replicates": replicates,
        "summary": summarise(replicates, params.replicates.confidence),
        "epochs": pd.concat(epoch_tables, ignore_index=True),
        "last_epoch": pd.concat(chunk_tables, ignore_index=True),
        "relearn": pd.concat(relearn_tables, ignore_index=True),
    }


def summarise(replicates: pd.DataFrame, confidence: float) -> pd.DataFrame:
    """Per cell and metric: mean over seeds, the t-interval, and the number of seeds."""
    rows = []
    descriptors = ["cell", "family", "data_type", "initial_state_type", "bptt_size", "protocol", "rnn",
                   "hidden_size", "learning_rate"]
    for _, group in replicates.groupby("cell", sort=False):
        head = group.iloc[0]
        for metric in SUMMARY_METRICS:
            interval = t_interval(group[metric], confidence)
            rows.append({**{k: head[k] for k in descriptors}, "metric": metric, "mean": interval.mean,
                         "low": interval.low, "high": interval.high, "seeds": interval.n})
    return pd.DataFrame(rows)


def input_table(params: Params, sequences_dir: Path) -> pd.DataFrame:
    """The first steps of a few training sequences per class and mode (first seed), long-form."""
    frames = []
    shown, steps = params.report.sequences_shown, min(params.report.steps_shown, params.data.seq_size)
    for data_type in params.sweep.data_type:
        split = load_split(sequences_dir / data_type, "train")
        inputs, labels = split.inputs[0], split.labels[0]
        for label in np.unique(labels):
            for number, index in enumerate(np.flatnonzero(labels == label)[:shown]):
                frames.append(pd.DataFrame({
                    "data_type": data_type, "label": int(label), "sequence": f"{label}-{number}",
                    "step": np.arange(steps), "value": inputs[index, :steps, 0],
                }))
    return pd.concat(frames, ignore_index=True)


def figure_tables(params: Params, tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The long-form table behind each figure (saved as CSV beside it)."""
    bptt = verdict_bptt(params)
    grid_at = lambda t: t[(t["family"] == "grid") & (t["bptt_size"] == bptt)]  # noqa: E731
    replicates = tables["replicates"]
    mechanism = grid_at(replicates).melt(
        id_vars=["cell", "data_type", "initial_state_type", "replicate"], value_vars=list(figures.MECHANISM_LABELS),
        var_name="pass", value_name="accuracy")
    relearn = tables["relearn"]
    shown = relearn[(relearn["initial_state_type"] != "Zeros") & relearn["protocol"].eq("per_chunk")
                    & relearn["data_type"].isin(["Zeros", "SameRandom"])
                    & ((relearn["family"] == "architecture") | (relearn["bptt_size"] == bptt))]
    shown = shown.assign(label=shown["rnn"] + ", " + shown["data_type"] + " data, " + shown["initial_state_type"]
                         + " states, bptt " + shown["bptt_size"].astype(str))
    comparison = []
    for label, unlearnable, learnable in remedy_cells(params):
        for cell, measure, metric in ((unlearnable, "accuracy gap on SameRandom", "accuracy_gap"),
                                      (learnable, "held-out accuracy on DiffDistRandom", "heldout_accuracy")):
            rows = replicates[replicates["cell"] == cell]
            comparison.append(pd.DataFrame({"remedy": label, "cell": cell, "measure": measure,
                                            "replicate": rows["replicate"], "value": rows[metric],
                                            "optimizer_steps_per_epoch": rows["optimizer_steps_per_epoch"],
                                            "compute_step_equivalents": rows["compute_step_equivalents"]}))
    grid_summary = tables["summary"][(tables["summary"]["family"] == "grid") & (tables["summary"]["metric"] == "gap")]
    return {
        "loss_per_epoch": grid_at(tables["epochs"]),
        "loss_last_epoch": grid_at(tables["last_epoch"]),
        "final_gap": grid_summary.assign(
            setting=grid_summary["initial_state_type"] + ", bptt " + grid_summary["bptt_size"].astype(str),
            gap=grid_summary["mean"]),
        "mechanism": mechanism,
        "relearning": shown,
        "remedies": pd.concat(comparison, ignore_index=True),
        "onset": replicates[replicates["family"] == "onset"][["hidden_size", "learning_rate", "replicate",
                                                              "onset_epoch"]],
        **{f"real_{dataset}": real_rows(tables["epochs"], dataset) for dataset in params.realdata.dataset},
    }


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _interval_text(summary: pd.DataFrame, cell: str, metric: str, digits: int = 3) -> str:
    row = summary[(summary["cell"] == cell) & (summary["metric"] == metric)]
    if row.empty or math.isnan(row["mean"].iloc[0]):
        return "–"
    mean, low, high = row[["mean", "low", "high"]].iloc[0]
    return f"{mean:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def _cells_table(summary: pd.DataFrame, replicates: pd.DataFrame, family: str) -> str:
    first = replicates[replicates["family"] == family].drop_duplicates("cell")
    rows = []
    for row in first.itertuples():
        rows.append([f"`{row.cell}`", str(row.optimizer_steps_per_epoch)]
                    + [_interval_text(summary, row.cell, m) for m in ("update_pass_loss", "frozen_pass_loss")]
                    + [_interval_text(summary, row.cell, m, 2) for m in
                       ("update_pass_accuracy", "frozen_pass_accuracy", "train_replayed_accuracy",
                        "train_fresh_accuracy", "heldout_accuracy")])
    return _md_table(["cell", "optimizer steps / epoch", "updating loss", "frozen loss", "updating acc.",
                      "frozen acc.", "replayed-states acc.", "fresh-states acc.", "held-out acc."], rows)


def _remedies_table(params: Params, summary: pd.DataFrame, replicates: pd.DataFrame) -> str:
    rows = []
    for label, unlearnable, learnable in remedy_cells(params):
        mine = replicates[replicates["cell"] == unlearnable]
        steps = str(int(mine["optimizer_steps_per_epoch"].iloc[0])) if len(mine) else "–"
        compute = f"{mine['compute_step_equivalents'].iloc[0] / 1e3:,.0f}k" if len(mine) else "–"
        rows.append([label, steps, compute, _interval_text(summary, unlearnable, "accuracy_gap", 2),
                     _interval_text(summary, unlearnable, "gap"),
                     _interval_text(summary, unlearnable, "update_pass_loss"),
                     _interval_text(summary, learnable, "heldout_accuracy", 2),
                     _interval_text(summary, learnable, "heldout_loss")])
    return _md_table(["remedy", "optimizer steps / epoch", "compute / epoch", "accuracy gap on `SameRandom`",
                      "loss gap on `SameRandom`", "updating loss on `SameRandom`",
                      "held-out acc. on `DiffDistRandom`", "held-out loss on `DiffDistRandom`"], rows)


def _onset_table(replicates: pd.DataFrame) -> str:
    onset = replicates[replicates["family"] == "onset"]
    rows = []
    for (hidden, rate), group in onset.groupby(["hidden_size", "learning_rate"]):
        epochs = ", ".join("none" if math.isnan(v) else f"{v:.0f}" for v in group.sort_values("replicate")["onset_epoch"])
        rows.append([str(hidden), f"{rate:g}", epochs])
    return _md_table(["hidden units", "learning rate", "onset epoch per seed"], rows)


def real_rows(table: pd.DataFrame, dataset: str) -> pd.DataFrame:
    """The rows of a tidy table that belong to the real-data cells of one data set."""
    return table[(table["family"] == "real") & (table["data_type"] == dataset)]


def timing_table(params: Params, timing_dir: Path) -> pd.DataFrame:
    """Wall time of every cell's training and evaluation stage, from the timing files (outputs of those stages)."""
    rows = []
    for cell in cells(params):
        train = read_json(require_file(timing_dir / f"{cell.name}.train.json", f"training wall time of {cell.name}"))
        evaluate = (read_json(require_file(timing_dir / f"{cell.name}.evaluate.json",
                                           f"evaluation wall time of {cell.name}"))
                    if cell.family in EVALUATE_STAGE else None)
        rows.append({"cell": cell.name, "family": cell.family, "training_seconds": train["seconds"],
                     "seconds_per_epoch": train["seconds_per_epoch"],
                     "evaluation_seconds": evaluate["seconds"] if evaluate else math.nan,
                     "device": train["device"], "threads": train["threads"]})
    return pd.DataFrame(rows)


def seconds_text(seconds: float) -> str:
    """Wall time as the report prints it: tenths from 10 s up, hundredths below (tiny cells take milliseconds)."""
    return "–" if math.isnan(seconds) else f"{seconds:.1f}" if seconds >= 10 else f"{seconds:.2f}"


def _timing_section(timing: pd.DataFrame) -> str:
    rows = [[f"`{row.cell}`", seconds_text(row.training_seconds), seconds_text(row.seconds_per_epoch),
             seconds_text(row.evaluation_seconds), f"{row.device}, {row.threads}"] for row in timing.itertuples()]
    total = timing["training_seconds"].sum() + timing["evaluation_seconds"].sum(skipna=True)
    return (f"Training and evaluation of all {len(timing)} cells took {total:,.0f} s ({total / 60:.1f} min) in all "
            "(process start-up and DVC's own work not included). These are the only numbers in this report that "
            "change from one run to the next: they are measured when a cell is trained (or restored with its results "
            "from DVC's run-cache) and kept in files of their own (`data/timing/`), so every result file stays "
            "byte-identical between runs.\n\n"
            + _md_table(["cell", "training (s)", "s / epoch", "evaluation (s)", "device, threads"], rows))


def _real_section(params: Params, dataset: str, classes: int, summary: pd.DataFrame, replicates: pd.DataFrame,
                  figure_md) -> str:
    shape, first = REAL_DATASETS[dataset], real_rows(replicates, dataset).drop_duplicates("cell")
    rows = []
    for row in first.itertuples():
        rows.append([f"`{row.protocol}`", f"`{row.initial_state_type}`", str(row.optimizer_steps_per_epoch)]
                    + [_interval_text(summary, row.cell, m) for m in ("update_pass_loss", "frozen_pass_loss", "gap")]
                    + [_interval_text(summary, row.cell, m, 2) for m in
                       ("update_pass_accuracy", "frozen_pass_accuracy", "accuracy_gap", "heldout_accuracy")]
                    + [_interval_text(summary, row.cell, "heldout_loss")])
    table = _md_table(["protocol", "initial states", "optimizer steps / epoch", "updating loss", "frozen loss",
                       "loss gap (frozen − updating)", "updating acc.", "frozen acc.",
                       "accuracy gap (updating − frozen)", "held-out acc.", "held-out loss"], rows)
    bptt = params.realdata.bptt_size
    return f"""The same loop and protocols on real labelled long sequences: `{dataset}`, {shape.about}.
{classes * shape.train_per_class} training and {classes * shape.heldout_per_class} test recordings of
{shape.steps:,} steps, {classes} classes, the archive's published split (the test split is the held-out set here),
read from the files shipped inside the `sktime` wheel and checked against their SHA-256. Chance is
ln {classes} = {math.log(classes):.3f} nats and accuracy 1/{classes} = {1 / classes:.2f}; the number of classes is read
from the data. bptt {bptt} ({shape.steps // bptt} chunks per recording), the model, optimizer and epochs of the toy
study. The data are the same for every seed: here a seed changes the initial weights and the initial states only, so
the intervals measure how much a result depends on them.

{table}
{figure_md(f"real_{dataset}", f"Mean loss per epoch of the update pass and the frozen pass on `{dataset}` (log scale), for each protocol and initial-state mode; dashed: chance, ln {classes}.")}"""


def render_markdown(params: Params, tables: dict[str, pd.DataFrame], claims: list[Claim], chance: float,
                    environment: dict[str, str], real_classes: dict[str, int]) -> str:
    p, summary, replicates = params, tables["summary"], tables["replicates"]
    threshold = chance - p.report.chance_margin
    bptt = verdict_bptt(params)
    seeds, level = p.replicates.count, p.replicates.confidence
    claims_rows = [[str(i), c.title, f"**{c.verdict}**", c.evidence] for i, c in enumerate(claims, 1)]
    rules = "\n".join(f"{i}. {c.rule}." for i, c in enumerate(claims, 1))
    figure_number = iter(range(1, 100))
    figure_md = lambda key, caption: (  # noqa: E731
        f"![{key}](figures/{key}.png)\n\n*Figure {next(figure_number)}. {caption} Data: `figures/{key}.csv`; "
        f"print version: `figures/{key}.svg`.*\n")
    settings = {section.name: dataclasses.asdict(getattr(params, section.name))
                for section in dataclasses.fields(params)}
    settings_lines = "\n".join(f"- `{name}`: " + ", ".join(f"{k} = {v}" for k, v in values.items())
                               for name, values in settings.items())
    environment_lines = "\n".join(f"- {k}: {v}" for k, v in environment.items())
    return f"""# {TITLE}

This report is written by the `report` stage of the DVC pipeline from the results of every cell in `params.yaml`;
no number or verdict in it is typed by hand. It tests the write-up "Problems with BPTT for long sequence
classification": a GRU reads long sequences in chunks of `bptt_size` steps, carrying its detached hidden state from
chunk to chunk, with a loss at the end of each chunk and a weight update after every chunk (the *update pass*); then
it reads the same data again from fresh initial states without updates (the *frozen pass*).

Every cell is trained from {seeds} independent seeds (each seed sets the data draw, the initial weights and the
initial states). Every number is the mean over seeds with its {level:.0%} Student-t interval in brackets
(n − 1 = {seeds - 1} degrees of freedom). Losses are cross-entropies in nats; chance is ln 2 = {chance:.3f}.

## Claims

| # | claim | verdict | measured (mean [{level:.0%} interval]) |
|---|---|---|---|
""" + "\n".join("| " + " | ".join(row) + " |" for row in claims_rows) + f"""

**How verdicts are computed.** With the margin m = `report.chance_margin` = {p.report.chance_margin:g}: the
updating loss is *below chance* when its whole interval lies below ln 2 − m = {threshold:.3f} nats and *not below
chance* when its whole interval lies at or above that. Whether a pass *classifies* (the frozen pass, held-out
sequences, replayed states) is judged on its accuracy: *above chance* when the whole interval lies above
0.5 + m = {0.5 + p.report.chance_margin:.2f}, *not above chance* when it lies at or below that. Accuracy, not loss,
because the loss of a network that is confidently wrong grows without bound, so frozen losses vary by whole nats
from seed to seed (see the tables in section 6) while the accuracy says whether the pass classified. A claim resting
on an interval that straddles its threshold is *inconclusive*. Gaps and recoveries are paired per seed (the same
seed's data and initial weights). Claims about the write-up's grid are judged at bptt {bptt}. Claims on real
recordings use that data set's number of classes C instead of 2 (chance ln C nats, accuracy 1/C + m) and, since a
network may learn real inputs, judge the gap itself: the paired accuracy gap (updating minus frozen) against the
margin m. The rule of each claim:

{rules}

## Settings of this run

{2 * p.data.examples_per_class} training sequences ({p.data.examples_per_class} per class) of {p.data.seq_size:,} steps,
{2 * p.data.heldout_examples_per_class} held-out sequences, per seed; a {p.model.num_layers}-layer {p.model.cell} of
{p.model.hidden_size} units; Adam at learning rate {p.train.learning_rate:g}; gradient norm clipped at
{p.train.grad_clip:g} per seed; {p.train.epochs} epochs. The write-up's grid: data modes
{", ".join(f"`{d}`" for d in p.sweep.data_type)}, initial states {", ".join(f"`{s}`" for s in p.sweep.initial_state_type)}
(`Learned`: one trainable vector per layer, shared by all sequences), bptt sizes
{", ".join(str(b) for b in p.sweep.bptt_size)}. Every parameter:

{settings_lines}

Computed with: 
{environment_lines}

## 1. The write-up's effect, reproduced

{figure_md("loss_per_epoch", f"Mean loss per epoch of the update pass and the frozen pass, bptt {bptt} (log scale). Where the effect is present the two curves split: the updating loss falls below chance while the frozen pass over the same data stays at or above it.")}
{figure_md("loss_last_epoch", f"Loss of each chunk in the last epoch, bptt {bptt}. In the update pass each chunk is followed by one update; where the effect is present the updating loss drops within the first updates of the epoch, as the network learns the new epoch's initial states.")}
{figure_md("final_gap", "Frozen minus updating loss in the last epoch, every cell of the grid, mean over seeds.")}
## 2. The mechanism

With the final weights of each cell, four frozen passes differ in one thing only: the training sequences from the
initial states the last update pass started from (*replayed*), from fresh ones, from zeros, and held-out sequences
from fresh states. If the network classifies its initial states, replaying the states it has just learned must
recover part of the updating loss, while fresh states must not.

{figure_md("mechanism", f"Accuracy of the last update pass and of the four frozen passes, grid cells at bptt {bptt}; dashed: chance, 0.5.")}
How fast the network re-learns each epoch's states: the number of updates into an epoch until one update's loss first
falls below `report.relearn_loss` = {p.report.relearn_loss:g} nats.

{figure_md("relearning", "Updates needed per epoch to score below the threshold again, for the cells whose inputs cannot be told apart (so that any low loss must come from the initial states).")}
## 3. Remedies

Each protocol is trained for the same number of passes over the data as the write-up's loop; what differs is how many
optimizer steps those passes give (column 2) and the compute, counted in forward-step equivalents per epoch (a
backward step counts as two; burn-in and frozen passes as one). `per_sequence` makes {1} optimizer step per epoch, so
where it learns little its step count is the first explanation to check. A remedy must close the gap on data that
cannot be learned without destroying learning on `DiffDistRandom`.

{_remedies_table(params, summary, replicates)}
{figure_md("remedies", "The accuracy gap (updating minus frozen) on `SameRandom` (a closed gap stays under the margin) and the held-out accuracy on `DiffDistRandom` for each remedy, with random initial states unless named.")}
## 4. When it starts: model size and learning rate

The onset epoch is the first whose mean updating loss is below `report.onset_loss` = {p.report.onset_loss:g} nats,
on `{p.onset.data_type}` data with `{p.onset.initial_state_type}` initial states at bptt {p.onset.bptt_size}, over
{p.train.epochs} epochs.

{_onset_table(replicates)}
{figure_md("onset", "Median onset epoch over seeds for each hidden size and learning rate.")}
## 5. Real recordings

""" + "\n".join(_real_section(params, dataset, classes, summary, replicates, figure_md)
                for dataset, classes in real_classes.items()) + f"""
## 6. Every cell

Grid (the write-up's loop, `{p.model.cell}`):

{_cells_table(summary, replicates, "grid")}
Remedies:

{_cells_table(summary, replicates, "remedy")}
Other recurrent cells:

{_cells_table(summary, replicates, "architecture")}
The per-seed numbers are in `tables/replicates.csv`, the intervals in `tables/summary.csv`.

## Wall time per cell

{_timing_section(tables["timing"])}
## Input data

{figure_md("inputs", "The first steps of training sequences of each data mode. In `SameRandom` the two classes overlap exactly.")}
## Reproduce

`dvc repro` regenerates every number and figure here from `params.yaml`; `dvc exp run --set-param KEY=VALUE` runs an
ablation, and `dvc exp show` compares it with this run.
"""


def environment() -> dict[str, str]:
    """What computed these numbers: versions and hardware that do not change from run to run on one machine."""
    import torch

    try:
        import dvc

        dvc_version = dvc.__version__
    except ImportError:  # the report can be rendered outside a DVC install
        dvc_version = "not installed"
    return {
        "Python": platform.python_version(),
        "PyTorch": torch.__version__,
        "DVC": dvc_version,
        "processor": platform.machine() + (f", {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else ""),
        "PyTorch CPU threads": str(torch.get_num_threads()),
    }


def write_report(params: Params, sequences_dir: Path, train_dir: Path, evaluate_dir: Path, timing_dir: Path,
                 out: Path) -> None:
    tables = gather(params, train_dir, evaluate_dir)
    tables["inputs"] = input_table(params, sequences_dir)
    tables["timing"] = timing_table(params, timing_dir)
    chance = math.log(NUM_CLASSES)
    confidence, margin = params.replicates.confidence, params.report.chance_margin
    toy = tables["replicates"][tables["replicates"]["family"] != "real"]
    claims = all_claims(Results(toy, confidence, NUM_CLASSES, margin), params)
    # The number of classes from the labels the generate stage wrote, never assumed.
    real_classes = {dataset: num_classes(load_split(sequences_dir / dataset, "train"))
                    for dataset in params.realdata.dataset}
    for dataset, classes in real_classes.items():
        claims += real_claims(Results(real_rows(tables["replicates"], dataset), confidence, classes, margin), dataset)
    tables["claims"] = pd.DataFrame([dataclasses.asdict(claim) for claim in claims])
    per_figure = figure_tables(params, tables)
    per_figure["inputs"] = tables["inputs"]
    figures.setup_theme()
    dpi, level, bptt = params.report.figure_dpi, params.replicates.confidence, verdict_bptt(params)
    drawings = {
        "loss_per_epoch": lambda t: figures.loss_per_epoch(t, chance, level, bptt),
        "loss_last_epoch": lambda t: figures.loss_last_epoch(t, chance, level, bptt),
        "final_gap": figures.final_gap,
        "mechanism": lambda t: figures.mechanism(t, 1 / NUM_CLASSES, level),
        "relearning": lambda t: figures.relearning(t, level, params.report.relearn_loss),
        "remedies": lambda t: figures.remedies(t, 1 / NUM_CLASSES, params.report.chance_margin, level),
        "onset": lambda t: figures.onset(t, params.train.epochs),
        "inputs": figures.input_sequences,
        **{f"real_{dataset}": (lambda t, d=dataset, c=classes: figures.real_loss_per_epoch(
            t, math.log(c), level, d, c, params.realdata.bptt_size)) for dataset, classes in real_classes.items()},
    }
    with atomic_path(out / "figures", directory=True) as folder:
        for name, draw in drawings.items():
            figures.save(draw(per_figure[name]), str(folder / name), dpi)
            write_table(folder / f"{name}.csv", per_figure[name])
    with atomic_path(out / "tables", directory=True) as folder:
        for name, table in tables.items():
            write_table(folder / f"{name}.csv", table)
    # One file per grid cell, wide, mean over seeds, for `dvc plots show` / `dvc plots diff`.
    with atomic_path(out / "plots", directory=True) as folder:
        for kind, index, source in (("loss_per_epoch", "epoch", tables["epochs"]),
                                    ("last_epoch", "chunk", tables["last_epoch"])):
            (folder / kind).mkdir()
            for cell in cells(params, "grid"):
                mine = source[source["cell"] == cell.name]
                if mine.empty:
                    continue
                wide = mine.groupby([index, "pass"])["loss"].mean().unstack("pass").reset_index()
                wide = wide.rename(columns={"update": "update_pass_loss", "frozen": "frozen_pass_loss"})
                write_table(folder / kind / f"{cell.key}.csv", wide[[index, "update_pass_loss", "frozen_pass_loss"]])
    markdown = render_markdown(params, tables, claims, chance, environment(), real_classes)
    write_text(out / "report.md", markdown)
    write_text(out / "index.html", render_page(markdown, base_dir=out, title=TITLE))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--sequences", required=True, type=Path)
    parser.add_argument("--train", required=True, type=Path)
    parser.add_argument("--evaluate", required=True, type=Path)
    parser.add_argument("--timing", required=True, type=Path, help="folder of the training and evaluation wall times")
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args(argv)
    try:
        params = load_params(args.params)
        for cell in cells(params):  # every input present before anything is drawn
            required = [args.train / cell.name / "epochs.csv"]
            if cell.family != "onset":
                required += [args.train / cell.name / "last_epoch.csv", args.train / cell.name / "update_losses.npy",
                             args.evaluate / f"{cell.name}.json"]
            required.append(args.timing / f"{cell.name}.train.json")
            if cell.family in EVALUATE_STAGE:
                required.append(args.timing / f"{cell.name}.evaluate.json")
            for path in required:
                require_file(path, f"output of cell {cell.name}")
        for data_type in (*params.sweep.data_type, *params.realdata.dataset):
            load_split(args.sequences / data_type, "train")
    except (ParamsError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    write_report(params, args.sequences, args.train, args.evaluate, args.timing, args.out)
    print(f"wrote {args.out / 'report.md'} and {args.out / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
