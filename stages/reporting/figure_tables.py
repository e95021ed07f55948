"""Which figures a run draws, and the tidy long-form table behind each (saved as CSV beside the figure).

`figure_tables` shapes the gathered tables into one frame per figure; `drawings` says which figures this run draws
(a family left out of the run has none) and with which settings. `stages.reporting.figures` draws them.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pandas as pd

from stages.core.data import NUM_CLASSES
from stages.core.params import Params, cell_name, cells, families_run, probe_cells
from stages.reporting import figures
from stages.reporting.findings import capacity_bound, decomposition_cells, remedy_cells, verdict_bptt
from stages.reporting.gather import real_rows
from stages.reporting.plan import plan_margin
from stages.reporting.words import PROTOCOLS, STATES, axes_of, cell_words

FIXES = ("stateless", "burn_in")  # the protocols that the story figure shows as the fix, the first one run


def story_cells(params: Params) -> list[str]:
    """The story figure's cells: the headline cell (the write-up's loop on `SameRandom` with random states, at the
    verdict's bptt) and its fix (the same data and states with a fresh or a rebuilt state for every chunk), where the
    run has them. None without the headline cell."""
    run = {cell.name for cell in cells(params)}
    headline = cell_name("grid", data_type="SameRandom", initial_state_type="Random", bptt_size=verdict_bptt(params))
    if headline not in run:
        return []
    fixes = [cell_name("remedy", protocol=protocol, data_type="SameRandom", initial_state_type="Random")
             for protocol in FIXES]
    return [headline, *[fix for fix in fixes if fix in run][:1]]


def remedy_words(cell: str) -> str:
    """A remedy row named by its SameRandom cell, in words and short: "the write-up's loop (baseline)",
    "stateless", "the write-up's loop, zero states" (random initial states unless named)."""
    family, axes = axes_of(cell)
    state = axes["initial_state_type"]
    name = PROTOCOLS["per_chunk"] if family == "grid" else PROTOCOLS[axes["protocol"]]
    if state != "Random":
        return f"{name}, {STATES[state]}"
    return f"{name} (baseline)" if family == "grid" else name


def zero_by_construction(cell: str) -> bool:
    """Whether a cell's accuracy gap is zero whatever the training: on `SameRandom` the two classes hold identical
    inputs, and zero or learned initial states are identical too, so both classes get identical predictions in
    every pass."""
    _, axes = axes_of(cell)
    return axes["data_type"] == "SameRandom" and axes["initial_state_type"] in ("Zeros", "Learned")


def drawings(params: Params, classes: dict[str, int]) -> dict[str, Callable[[pd.DataFrame], object]]:
    """Each figure this run draws, by name: a family left out of the run (an empty matrix axis) has none."""
    chance = math.log(NUM_CLASSES)
    level, bptt = params.replicates.confidence, verdict_bptt(params)
    margin = plan_margin("remedy_{protocol}_{initial_state_type}", NUM_CLASSES)  # the remedies' equivalence margin
    every = {
        "story": lambda t: figures.story(t, chance, level),
        "loss_per_epoch": lambda t: figures.loss_per_epoch(t, chance, level, bptt),
        "loss_last_epoch": lambda t: figures.loss_last_epoch(t, chance, level, bptt),
        "final_gap": figures.final_gap,
        "mechanism": lambda t: figures.mechanism(t, 1 / NUM_CLASSES, level),
        "decomposition": lambda t: figures.decomposition(t, level),
        "lags": lambda t: figures.lags(t, level),
        "relearning": lambda t: figures.relearning(t, level, params.report.relearn_loss),
        "remedies": lambda t: figures.remedies(t, 1 / NUM_CLASSES, margin, level),
        "onset": lambda t: figures.onset(t, params.train.epochs),
        "capacity": lambda t: figures.capacity(t, 1 / NUM_CLASSES, capacity_bound(params), level),
        "capacity_epochs": lambda t: figures.capacity_epochs(t, 1 / NUM_CLASSES, level),
        "inputs": figures.input_sequences,
        **{f"real_{dataset}": (lambda t, d=dataset, c=count: figures.real_loss_per_epoch(
            t, math.log(c), level, d, c, params.realdata.bptt_size)) for dataset, count in classes.items()},
    }
    ran = families_run(params)
    drawn_if = {"story": bool(story_cells(params)), "decomposition": bool(decomposition_cells(params)),
                "lags": bool(probe_cells(params)), "remedies": ran["remedy"], "onset": ran["onset"],
                "capacity": ran["capacity"], "capacity_epochs": ran["capacity"]}
    return {name: draw for name, draw in every.items() if drawn_if.get(name, True)}


def figure_tables(params: Params, tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The long-form table behind each figure (saved as CSV beside it): only the columns the figure draws, cells
    named in words where a figure labels them."""
    bptt = verdict_bptt(params)
    grid_at = lambda t: t[(t["family"] == "grid") & (t["bptt_size"] == bptt)]  # noqa: E731
    replicates = tables["replicates"]
    mechanism = grid_at(replicates).melt(
        id_vars=["data_type", "initial_state_type", "replicate"], value_vars=list(figures.MECHANISM_LABELS),
        var_name="pass", value_name="accuracy")
    relearn = tables["relearn"]
    shown = relearn[(relearn["initial_state_type"] != "Zeros") & relearn["protocol"].eq("per_chunk")
                    & relearn["data_type"].isin(["Zeros", "SameRandom"])
                    & ((relearn["family"] == "architecture") | (relearn["bptt_size"] == bptt))]
    shown = shown.assign(label=shown["rnn"] + ", " + shown["data_type"] + " data, "
                         + shown["initial_state_type"].map(STATES) + ", bptt " + shown["bptt_size"].astype(str))
    comparison = []
    for _, _, unlearnable, learnable in remedy_cells(params):
        for cell, measure, metric in ((unlearnable, "accuracy gap on SameRandom", "accuracy_gap"),
                                      (learnable, "held-out accuracy on DiffDistRandom", "heldout_accuracy")):
            rows = replicates[replicates["cell"] == cell]
            comparison.append(pd.DataFrame({
                "remedy": remedy_words(unlearnable), "measure": measure, "replicate": rows["replicate"],
                "value": rows[metric], "by_construction": metric == "accuracy_gap" and zero_by_construction(cell)}))
    decomposed = decomposition_cells(params)
    in_words = {cell: cell_words(cell, code=False) for cell in decomposed}
    probed = replicates[replicates["cell"].isin(decomposed)].assign(setting=lambda t: t["cell"].map(in_words))
    parts = probed.sort_values("cell", key=lambda cell: cell.map(decomposed.index), kind="stable").melt(
        id_vars=["setting", "replicate"], value_vars=list(figures.DECOMPOSITION_LABELS), var_name="part",
        value_name="value")
    lag_columns = [c for c in replicates.columns if c.startswith("lag_")]
    lag_scores = probed.melt(id_vars=["cell", "setting", "replicate"], value_vars=lag_columns, var_name="lag",
                             value_name="accuracy")
    lag_scores["lag"] = lag_scores["lag"].str.removeprefix("lag_").str.removesuffix("_chunk_accuracy").astype(int)
    lag_scores = lag_scores.sort_values(["lag", "cell"], key=lambda c: c.map(decomposed.index) if c.name == "cell"
                                        else c, kind="stable")[["setting", "lag", "replicate", "accuracy"]]
    grid_summary = tables["summary"][(tables["summary"]["family"] == "grid") & (tables["summary"]["metric"] == "gap")]
    on_axis = replicates[replicates["family"] == "capacity"]
    capacity_scores = on_axis.assign(sequences=on_axis["examples_per_class"] * NUM_CLASSES).melt(
        id_vars=["sequences", "replicate"], value_vars=list(figures.CAPACITY_LABELS), var_name="pass",
        value_name="accuracy")
    sequences = dict(zip(on_axis["cell"], on_axis["examples_per_class"] * NUM_CLASSES))
    scores = tables["epoch_scores"]
    capacity_epochs = scores[scores["cell"].isin(sequences)].rename(
        columns={"update_accuracy": "update", "frozen_accuracy": "frozen"})
    capacity_epochs = capacity_epochs.assign(sequences=capacity_epochs["cell"].map(sequences)).melt(
        id_vars=["sequences", "epoch", "replicate"], value_vars=["update", "frozen"], var_name="pass",
        value_name="accuracy")
    epochs = tables["epochs"]
    told = story_cells(params)
    story = epochs[epochs["cell"].isin(told)].sort_values("cell", key=lambda cell: cell.map(told.index),
                                                           kind="stable")
    curve = ["data_type", "initial_state_type", "replicate", "pass", "loss"]
    return {
        "story": story[["protocol", "bptt_size", "epoch", "replicate", "pass", "loss"]],
        "loss_per_epoch": grid_at(epochs)[["epoch", *curve]],
        "loss_last_epoch": grid_at(tables["last_epoch"])[["chunk", *curve]],
        "final_gap": grid_summary.assign(
            setting=grid_summary["initial_state_type"].map(STATES) + ", bptt " + grid_summary["bptt_size"].astype(str),
            gap=grid_summary["mean"])[["data_type", "setting", "gap"]],
        "mechanism": mechanism,
        "decomposition": parts,
        "lags": lag_scores,
        "relearning": shown[["label", "epoch", "replicate", "updates"]],
        "remedies": pd.concat(comparison, ignore_index=True),
        "onset": replicates[replicates["family"] == "onset"][["hidden_size", "learning_rate", "replicate",
                                                              "onset_epoch"]],
        "capacity": capacity_scores,
        "capacity_epochs": capacity_epochs,
        # The cell stays beside the panels' protocol and states: the real data's findings name it.
        **{f"real_{dataset}": real_rows(epochs, dataset)[["cell", "protocol", "initial_state_type", "epoch",
                                                          "replicate", "pass", "loss"]]
           for dataset in params.realdata.dataset},
    }
