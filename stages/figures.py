"""Seaborn figures of the study: each takes a tidy long-form table and returns a figure; only the report saves it.

One theme for all (seaborn's colour-blind palette, paper context), axis labels with units, the chance level drawn on
every loss axis, and error bars or bands that are Student-t intervals across seeds (`stages.stats`).
"""

from __future__ import annotations

from collections.abc import Callable

import matplotlib

matplotlib.use("Agg")  # headless: the pipeline runs on servers and in CI

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib import ticker  # noqa: E402

from stages.stats import t_interval  # noqa: E402

PASS_ORDER = ["update", "frozen"]
PASS_LABELS = {"update": "update pass (weights change after every update)", "frozen": "frozen pass (no updates)"}
MECHANISM_LABELS = {
    "update_pass_accuracy": "update pass, last epoch",
    "train_replayed_accuracy": "frozen, replayed initial states",
    "train_fresh_accuracy": "frozen, fresh initial states",
    "train_zero_accuracy": "frozen, zero initial states",
    "heldout_accuracy": "frozen, held-out sequences",
}
WIDTH = 7.0  # inches: a blog column at the report's dpi


def setup_theme() -> None:
    sns.set_theme(context="paper", style="whitegrid", palette="colorblind", font_scale=1.05)
    # Reproducible SVG bytes: fixed ids instead of random ones, no creation date.
    matplotlib.rcParams["svg.hashsalt"] = "tbptt-pitfall"


LOSS_FLOOR = 1e-3  # nats: the bottom of log-scaled loss axes


def interval_of(confidence: float, floor: float | None = None) -> Callable[[np.ndarray], tuple[float, float]]:
    """seaborn `errorbar` callable: the Student-t interval across seeds. On a log axis an interval that reaches
    below zero (three chaotic seeds) is drawn down to `floor`, the bottom of the axis."""

    def bounds(values: np.ndarray) -> tuple[float, float]:
        interval = t_interval(values, confidence)
        low, high = (interval.low, interval.high) if interval.n > 1 else (interval.mean, interval.mean)
        return (max(low, floor), high) if floor is not None else (low, high)

    return bounds


def _chance(ax: plt.Axes, chance: float, *, vertical: bool = False) -> None:
    line = ax.axvline if vertical else ax.axhline
    line(chance, color="0.3", linestyle="--", linewidth=1, zorder=0)


def _note(figure: plt.Figure, text: str) -> None:
    """A grey line of explanation above the plot, under the title (below, it would collide with tick labels)."""
    figure.text(0.5, 1.0, text, fontsize=8, color="0.3", ha="center", va="bottom", transform=figure.transFigure)


def _chance_note(figure: plt.Figure, chance: float, band: str) -> None:
    _note(figure, f"dashed line: chance (ln of the number of classes) = {chance:.3f} nats; {band}")


def _log_loss_axes(grid: sns.FacetGrid, chance: float, top: float) -> None:
    for ax in grid.axes.flat:
        ax.set_yscale("log")
        ax.set_ylim(LOSS_FLOOR, top)
        ax.yaxis.set_major_locator(ticker.LogLocator(base=10, numticks=6))
        ax.yaxis.set_major_formatter(ticker.FormatStrFormatter("%g"))
        ax.yaxis.set_minor_formatter(ticker.NullFormatter())
        _chance(ax, chance)


def input_sequences(inputs: pd.DataFrame) -> plt.Figure:
    """inputs: data_type, label, sequence, step, value -> one panel per data mode."""
    grid = sns.relplot(
        data=inputs, kind="line", x="step", y="value", hue="label", units="sequence", estimator=None,
        col="data_type", col_wrap=2, height=1.9, aspect=WIDTH / 2 / 1.9, linewidth=0.8, alpha=0.8,
        palette="colorblind", facet_kws={"sharey": True},
    )
    grid.set_titles(col_template="{col_name}")
    grid.set_axis_labels("time step", "input value")
    sns.move_legend(grid, "upper center", bbox_to_anchor=(0.5, 0.0), ncol=2, title="class label", frameon=False)
    grid.figure.suptitle("First steps of training sequences of each data mode (first seed)", y=1.02)
    return grid.figure


def _loss_per_epoch_panels(epochs: pd.DataFrame, chance: float, confidence: float, *, row: str, titles: str,
                           columns_per_width: int, height: float) -> sns.FacetGrid:
    """Both passes' loss per epoch, one panel per `row` value and initial-state mode, log loss axis with chance."""
    grid = sns.relplot(
        data=epochs.assign(**{"pass": epochs["pass"].map(PASS_LABELS)}), kind="line", x="epoch", y="loss",
        hue="pass", style="pass", markers=True, dashes=False, row=row, col="initial_state_type",
        hue_order=[PASS_LABELS[p] for p in PASS_ORDER], errorbar=interval_of(confidence, LOSS_FLOOR),
        height=height, aspect=WIDTH / columns_per_width / height,
    )
    # Plain panel titles: seaborn's margin titles squeezed these panels to slivers.
    grid.set_titles(template=titles, size=9)
    grid.set_axis_labels("epoch", "loss (nats, log)")
    for ax in grid.axes.flat:
        ax.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
    _log_loss_axes(grid, chance, top=max(10.0, 1.5 * float(epochs["loss"].max())))
    sns.move_legend(grid, "upper center", bbox_to_anchor=(0.5, 0.0), ncol=1, title=None, frameon=False)
    return grid


def loss_per_epoch(epochs: pd.DataFrame, chance: float, confidence: float, bptt: int) -> plt.Figure:
    """epochs: data_type, initial_state_type, epoch, replicate, pass, loss (grid cells at one bptt)."""
    grid = _loss_per_epoch_panels(epochs, chance, confidence, row="data_type",
                                  titles="{row_name} data\n{col_name} states", columns_per_width=3, height=1.7)
    grid.figure.suptitle(f"Mean loss per epoch with and without weight updates (bptt {bptt})", y=1.05)
    _chance_note(grid.figure, chance, f"bands: {confidence:.0%} t-interval across seeds")
    return grid.figure


def loss_last_epoch(last_epoch: pd.DataFrame, chance: float, confidence: float, bptt: int) -> plt.Figure:
    """last_epoch: data_type, initial_state_type, chunk, replicate, pass, loss (grid cells at one bptt)."""
    grid = sns.relplot(
        data=last_epoch.assign(**{"pass": last_epoch["pass"].map(PASS_LABELS)}), kind="line", x="chunk", y="loss",
        hue="pass", row="data_type", col="initial_state_type", hue_order=[PASS_LABELS[p] for p in PASS_ORDER],
        errorbar=interval_of(confidence, LOSS_FLOOR), height=1.7, aspect=WIDTH / 3 / 1.7, linewidth=0.8,
    )
    grid.set_titles(template="{row_name} data\n{col_name} states", size=9)
    grid.set_axis_labels("update (chunk) of the last epoch", "loss (nats, log)")
    _log_loss_axes(grid, chance, top=max(10.0, 1.5 * float(last_epoch["loss"].max())))
    sns.move_legend(grid, "upper center", bbox_to_anchor=(0.5, 0.0), ncol=1, title=None, frameon=False)
    grid.figure.suptitle(f"Loss of each chunk in the last epoch (bptt {bptt})", y=1.05)
    _chance_note(grid.figure, chance, f"bands: {confidence:.0%} t-interval across seeds")
    return grid.figure


def real_loss_per_epoch(epochs: pd.DataFrame, chance: float, confidence: float, dataset: str, classes: int,
                        bptt: int) -> plt.Figure:
    """epochs: protocol, initial_state_type, epoch, replicate, pass, loss (the real-data cells of one data set)."""
    grid = _loss_per_epoch_panels(epochs, chance, confidence, row="protocol",
                                  titles="protocol {row_name}\n{col_name} states", columns_per_width=2, height=1.9)
    # Title and note placed in inches above the panels, so that they clear each other however many rows there are.
    height = grid.figure.get_figheight()
    _chance_note(grid.figure, chance, f"bands: {confidence:.0%} t-interval across seeds")
    grid.figure.suptitle(f"{dataset} ({classes} classes): loss per epoch with and without updates (bptt {bptt})",
                         y=1.0 + 0.2 / height, va="bottom")
    return grid.figure


def final_gap(summary: pd.DataFrame) -> plt.Figure:
    """summary: data_type, setting, gap (mean over seeds) -> heatmap of frozen minus updating loss."""
    table = summary.pivot(index="data_type", columns="setting", values="gap")
    table = table.loc[list(dict.fromkeys(summary["data_type"])), list(dict.fromkeys(summary["setting"]))]
    figure, ax = plt.subplots(figsize=(WIDTH + 1, 0.9 + 0.55 * table.shape[0]))
    limit = max(float(abs(table).max().max()), 0.1)
    sns.heatmap(table, annot=True, fmt=".2f", cmap="vlag", center=0.0, vmin=-limit, vmax=limit, ax=ax,
                cbar_kws={"label": "frozen − updating loss (nats)"}, linewidths=0.5, annot_kws={"fontsize": 7})
    ax.set_xlabel("initial states, bptt size")
    ax.set_ylabel("data mode")
    ax.set_title("Gap between the frozen and the updating pass, last epoch (mean over seeds)")
    plt.setp(ax.get_xticklabels(), rotation=40, ha="right")
    figure.tight_layout()
    return figure


def mechanism(passes: pd.DataFrame, chance: float, confidence: float) -> plt.Figure:
    """passes: data_type, initial_state_type, pass (a MECHANISM_LABELS key), replicate, accuracy."""
    data = passes.assign(**{"pass": passes["pass"].map(MECHANISM_LABELS)})
    grid = sns.catplot(
        data=data, kind="point", x="data_type", y="accuracy", hue="pass", col="initial_state_type",
        hue_order=list(MECHANISM_LABELS.values()), errorbar=interval_of(confidence), dodge=0.5,
        linestyle="none", markers=["o", "s", "D", "^", "v"], height=2.6, aspect=WIDTH / 3 / 2.6,
    )
    grid.set_titles(col_template="{col_name} initial states")
    grid.set_axis_labels("data mode", "accuracy (fraction of chunks)")
    for ax in grid.axes.flat:
        _chance(ax, chance)
        plt.setp(ax.get_xticklabels(), rotation=30, ha="right")
    sns.move_legend(grid, "upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, title=None, frameon=False)
    grid.figure.suptitle("Final weights, frozen passes that differ only in their initial states or data", y=1.12)
    _note(grid.figure, f"dashed line: chance accuracy {chance:.2f}; error bars: {confidence:.0%} t-interval across seeds")
    return grid.figure


def relearning(relearn: pd.DataFrame, confidence: float, threshold: float) -> plt.Figure:
    """relearn: label, epoch, replicate, updates (until an update's loss first fell below `threshold`)."""
    figure, ax = plt.subplots(figsize=(WIDTH, 3.0))
    sns.lineplot(data=relearn, x="epoch", y="updates", hue="label", style="label", markers=True, dashes=False,
                 errorbar=interval_of(confidence), ax=ax)
    ax.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"updates until loss < {threshold:g} nats")
    ax.set_title("Re-learning each epoch's new initial states: updates needed, per epoch", pad=22)
    ax.set_ylim(bottom=0)
    sns.move_legend(ax, "upper center", bbox_to_anchor=(0.5, -0.2), ncol=1, title=None, frameon=False)
    ax.text(0.5, 1.02, f"missing points: the loss never fell below {threshold:g} in that epoch; bands: "
            f"{confidence:.0%} t-interval across seeds that reached it", transform=ax.transAxes, fontsize=8,
            color="0.3", ha="center", va="bottom")
    return figure


def remedies(comparison: pd.DataFrame, chance: float, margin: float, confidence: float) -> plt.Figure:
    """comparison: remedy, measure ('accuracy gap on SameRandom' | 'held-out accuracy on DiffDistRandom'), replicate,
    value; `chance` is the chance accuracy."""
    measures = list(dict.fromkeys(comparison["measure"]))
    figure, axes = plt.subplots(1, len(measures), figsize=(WIDTH + 1, 0.6 + 0.42 * comparison["remedy"].nunique()),
                                sharey=True)
    axes = np.atleast_1d(axes)
    for ax, measure in zip(axes, measures):
        sns.pointplot(data=comparison[comparison["measure"] == measure], y="remedy", x="value",
                      errorbar=interval_of(confidence), linestyle="none", ax=ax, color=sns.color_palette()[0])
        ax.set_title(measure.replace(" on ", "\non "))
        ax.set_ylabel("")
        if "gap" in measure:
            ax.axvline(0, color="0.6", linewidth=0.8, zorder=0)
            ax.axvline(margin, color="0.3", linestyle=":", linewidth=1, zorder=0)
            ax.set_xlabel("updating − frozen accuracy, last epoch")
        else:
            _chance(ax, chance, vertical=True)
            ax.set_xlabel("held-out accuracy")
    figure.suptitle("Remedies beside the write-up's loop (equal passes over the data)", y=1.08)
    figure.tight_layout()
    _note(figure, f"dotted: the margin {margin:g} a closed gap must stay under; dashed: chance accuracy "
                  f"{chance:.2f}; error bars: {confidence:.0%} t-interval across seeds")
    return figure


def onset(onsets: pd.DataFrame, epochs: int) -> plt.Figure:
    """onsets: hidden_size, learning_rate, replicate, onset_epoch (NaN = none) -> heatmap of the median onset."""
    def summary(values: pd.Series) -> float:
        # A seed without onset counts as later than the last epoch, so the median stays defined.
        return float(np.median(values.fillna(epochs + 1)))

    table = onsets.groupby(["hidden_size", "learning_rate"])["onset_epoch"].apply(summary).unstack("learning_rate")
    reached = onsets.groupby(["hidden_size", "learning_rate"])["onset_epoch"].apply(lambda v: int(v.notna().sum()))
    seeds = onsets.groupby(["hidden_size", "learning_rate"])["onset_epoch"].size()
    labels = table.copy().astype(object)
    for (hidden, rate), value in table.stack().items():
        count = f"{reached[(hidden, rate)]}/{seeds[(hidden, rate)]}"
        labels.loc[hidden, rate] = f"none\n({count})" if value > epochs else f"{value:g}\n({count})"
    figure, ax = plt.subplots(figsize=(1.6 + 1.3 * table.shape[1], 0.8 + 0.7 * table.shape[0]))
    sns.heatmap(table.where(table <= epochs), annot=labels.to_numpy(), fmt="", cmap="rocket_r", vmin=1, vmax=epochs,
                ax=ax, linewidths=0.5, cbar_kws={"label": "median onset epoch"}, annot_kws={"fontsize": 8})
    # seaborn leaves masked cells blank; say "none" there rather than leave readers guessing.
    for row, hidden in enumerate(table.index):
        for column, rate in enumerate(table.columns):
            if table.loc[hidden, rate] > epochs:
                ax.text(column + 0.5, row + 0.5, labels.loc[hidden, rate], ha="center", va="center", fontsize=8,
                        color="0.35")
    ax.set_xlabel("learning rate (Adam)")
    ax.set_ylabel("hidden units")
    ax.set_title(f"When the updating loss first falls below the onset threshold, within {epochs} epochs\n"
                 "(seeds that reached it / seeds; none: most seeds never did)")
    figure.tight_layout()
    return figure


def save(figure: plt.Figure, path_without_suffix: str, dpi: int) -> None:
    """PNG for the page, SVG for print. No metadata: the bytes depend on the data only, so DVC sees an unchanged
    figure as unchanged."""
    figure.savefig(f"{path_without_suffix}.png", dpi=dpi, bbox_inches="tight", metadata={"Software": None})
    figure.savefig(f"{path_without_suffix}.svg", bbox_inches="tight", metadata={"Date": None, "Creator": None})
    plt.close(figure)

