"""Seaborn figures of the study: each takes a tidy long-form table and returns a figure; only the report saves it.

One theme for all (seaborn's colour-blind palette, paper context), axis labels with units, the chance level drawn on
every loss axis, and error bars or bands that are Student-t intervals across seeds (`stages.reporting.stats`).
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

from stages.reporting.stats import ACCURACY, ACCURACY_DIFFERENCE, NON_NEGATIVE, UNBOUNDED, t_interval  # noqa: E402

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


def interval_of(confidence: float, bounds: tuple[float, float] = UNBOUNDED,
                floor: float | None = None) -> Callable[[np.ndarray], tuple[float, float]]:
    """seaborn `errorbar` callable: the Student-t interval across seeds within `bounds`, the range of the quantity
    (`stages.reporting.stats`). On a log axis an interval is drawn down to at most `floor`, the bottom of the axis."""

    def limits(values: np.ndarray) -> tuple[float, float]:
        interval = t_interval(values, confidence, bounds)
        low, high = (interval.low, interval.high) if interval.n > 1 else (interval.mean, interval.mean)
        return (max(low, floor), high) if floor is not None else (low, high)

    return limits


def _chance(ax: plt.Axes, chance: float, *, vertical: bool = False) -> None:
    line = ax.axvline if vertical else ax.axhline
    line(chance, color="0.3", linestyle="--", linewidth=1, zorder=0)


def _panels_centre(figure: plt.Figure) -> float:
    """The horizontal centre of the panels in figure coordinates: titles centred on the figure sit off-centre when
    the figure also holds a colour bar or room for a legend."""
    boxes = [ax.get_position() for ax in figure.axes if ax.get_label() != "<colorbar>"]
    return (min(box.x0 for box in boxes) + max(box.x1 for box in boxes)) / 2


def _heading(figure: plt.Figure, title: str, note: str | None = None) -> None:
    """The title, and a grey line of explanation under it, above the panels and centred on them. Placed in inches
    above the figure's top edge, so that they clear each other and the panels' own titles at any figure height."""
    inch = 1 / figure.get_figheight()  # one inch in figure coordinates
    centre = _panels_centre(figure)
    if note:
        figure.text(centre, 1.0 + 0.04 * inch, note, fontsize=8, color="0.3", ha="center", va="bottom",
                    transform=figure.transFigure)
    figure.suptitle(title, x=centre, y=1.0 + (0.26 if note else 0.04) * inch, va="bottom")


def _legend_below(ax: plt.Axes, inches: float, ncol: int) -> None:
    """The axis's legend centred under it, its top `inches` below the axis whatever the figure's height."""
    height = ax.get_position().height * ax.figure.get_figheight()
    sns.move_legend(ax, "upper center", bbox_to_anchor=(0.5, -inches / height), ncol=ncol, title=None, frameon=False)


def _chance_text(chance: float, band: str) -> str:
    return f"dashed line: chance (ln of the number of classes) = {chance:.3f} nats; {band}"


def _loss_floor(losses: pd.Series) -> float:
    """The bottom of a log loss axis: LOSS_FLOOR, or lower (a power of ten) when a curve would sink below it."""
    positive = losses[losses > 0]
    lowest = float(positive.min()) if len(positive) else LOSS_FLOOR
    return min(LOSS_FLOOR, 10 ** np.floor(np.log10(0.5 * lowest)))  # half a decade of room under the lowest


def _log_loss_axes(grid: sns.FacetGrid, chance: float, top: float, bottom: float = LOSS_FLOOR) -> None:
    for ax in grid.axes.flat:
        ax.set_yscale("log")
        ax.set_ylim(bottom, top)
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
    _heading(grid.figure, "First steps of training sequences of each data mode (first seed)")
    return grid.figure


def _loss_per_epoch_panels(epochs: pd.DataFrame, chance: float, confidence: float, *, row: str, titles: str,
                           columns_per_width: int, height: float) -> sns.FacetGrid:
    """Both passes' loss per epoch, one panel per `row` value and initial-state mode, log loss axis with chance."""
    grid = sns.relplot(
        data=epochs.assign(**{"pass": epochs["pass"].map(PASS_LABELS)}), kind="line", x="epoch", y="loss",
        hue="pass", style="pass", markers=True, dashes=False, row=row, col="initial_state_type",
        hue_order=[PASS_LABELS[p] for p in PASS_ORDER], errorbar=interval_of(confidence, NON_NEGATIVE, LOSS_FLOOR),
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
    _heading(grid.figure, f"Mean loss per epoch with and without weight updates (bptt {bptt})",
             _chance_text(chance, f"bands: {confidence:.0%} t-interval across seeds"))
    return grid.figure


def loss_last_epoch(last_epoch: pd.DataFrame, chance: float, confidence: float, bptt: int) -> plt.Figure:
    """last_epoch: data_type, initial_state_type, chunk, replicate, pass, loss (grid cells at one bptt)."""
    # The axis floor follows the lowest mean curve, so that an updating loss near 0 stays in view.
    means = last_epoch.groupby(["data_type", "initial_state_type", "pass", "chunk"])["loss"].mean()
    floor = _loss_floor(means)
    grid = sns.relplot(
        data=last_epoch.assign(**{"pass": last_epoch["pass"].map(PASS_LABELS)}), kind="line", x="chunk", y="loss",
        hue="pass", row="data_type", col="initial_state_type", hue_order=[PASS_LABELS[p] for p in PASS_ORDER],
        errorbar=interval_of(confidence, NON_NEGATIVE, floor), height=1.7, aspect=WIDTH / 3 / 1.7, linewidth=0.8,
    )
    grid.set_titles(template="{row_name} data\n{col_name} states", size=9)
    # One x label for the whole grid: three copies of a long label ran into each other.
    grid.set_axis_labels("", "loss (nats, log)")
    _log_loss_axes(grid, chance, top=max(10.0, 1.5 * float(last_epoch["loss"].max())), bottom=floor)
    sns.move_legend(grid, "upper center", bbox_to_anchor=(0.5, 0.0), ncol=1, title=None, frameon=False)
    grid.figure.supxlabel("update (chunk) of the last epoch", x=_panels_centre(grid.figure), y=0.02, fontsize=10)
    _heading(grid.figure, f"Loss of each chunk in the last epoch (bptt {bptt})",
             _chance_text(chance, f"bands: {confidence:.0%} t-interval across seeds"))
    return grid.figure


def real_loss_per_epoch(epochs: pd.DataFrame, chance: float, confidence: float, dataset: str, classes: int,
                        bptt: int) -> plt.Figure:
    """epochs: protocol, initial_state_type, epoch, replicate, pass, loss (the real-data cells of one data set)."""
    grid = _loss_per_epoch_panels(epochs, chance, confidence, row="protocol",
                                  titles="protocol {row_name}\n{col_name} states", columns_per_width=2, height=1.9)
    _heading(grid.figure, f"{dataset} ({classes} classes): loss per epoch with and without updates (bptt {bptt})",
             _chance_text(chance, f"bands: {confidence:.0%} t-interval across seeds"))
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
    # Two short lines per column instead of rotated labels, whose slanted boxes crowd each other.
    ax.set_xticklabels([label.get_text().replace(", ", "\n") for label in ax.get_xticklabels()], rotation=0,
                       fontsize=8)
    figure.tight_layout()
    return figure


def mechanism(passes: pd.DataFrame, chance: float, confidence: float) -> plt.Figure:
    """passes: data_type, initial_state_type, pass (a MECHANISM_LABELS key), replicate, accuracy."""
    data = passes.assign(**{"pass": passes["pass"].map(MECHANISM_LABELS)})
    # Data modes on the vertical axis: their names read horizontally, and the five passes of a mode are spread
    # along it far enough apart that no marker hides another.
    modes = list(dict.fromkeys(passes["data_type"]))
    # Panels share the width, but a lone panel (one state mode) keeps room for seaborn's legend beside it, which
    # `move_legend` only moves below afterwards.
    height, panels = 0.6 + 0.55 * len(modes), max(passes["initial_state_type"].nunique(), 2)
    grid = sns.catplot(
        data=data, kind="point", y="data_type", x="accuracy", hue="pass", col="initial_state_type",
        hue_order=list(MECHANISM_LABELS.values()), order=modes, errorbar=interval_of(confidence, ACCURACY),
        dodge=0.7, linestyle="none", markers=["o", "s", "D", "^", "v"], markersize=4, height=height,
        aspect=WIDTH / panels / height,
    )
    grid.set_titles(col_template="{col_name} initial states")
    grid.set_axis_labels("", "data mode")
    for ax in grid.axes.flat:
        _chance(ax, chance, vertical=True)
        ax.set_xlim(-0.05, 1.05)
    sns.move_legend(grid, "upper center", bbox_to_anchor=(0.5, 0.0), ncol=2, title=None, frameon=False)
    grid.figure.supxlabel("accuracy (fraction of sequences)", x=_panels_centre(grid.figure), y=0.02, fontsize=10)
    _heading(grid.figure, "Final weights, frozen passes that differ only in their initial states or data",
             f"dashed line: chance accuracy {chance:.2f}; error bars: {confidence:.0%} t-interval across seeds")
    return grid.figure


def relearning(relearn: pd.DataFrame, confidence: float, threshold: float) -> plt.Figure:
    """relearn: label, epoch, replicate, updates (until an update's loss first fell below `threshold`)."""
    # Only series with at least one epoch that reached the threshold: the legend lists what is drawn.
    relearn = relearn[relearn.groupby("label")["updates"].transform(lambda updates: updates.notna().any())]
    figure, ax = plt.subplots(figsize=(WIDTH, 3.0))
    if relearn.empty:
        ax.text(0.5, 0.5, f"no cell's loss fell below {threshold:g} nats in any epoch", ha="center", va="center",
                transform=ax.transAxes, color="0.3")
        ax.set_title("Re-learning each epoch's new initial states: updates needed, per epoch", pad=22)
        ax.set_xlabel("epoch")
        ax.set_ylabel(f"updates until loss < {threshold:g} nats")
        return figure
    sns.lineplot(data=relearn, x="epoch", y="updates", hue="label", style="label", markers=True, dashes=False,
                 errorbar=interval_of(confidence, (1.0, np.inf)), ax=ax)
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
        bounds = ACCURACY_DIFFERENCE if "gap" in measure else ACCURACY
        sns.pointplot(data=comparison[comparison["measure"] == measure], y="remedy", x="value",
                      errorbar=interval_of(confidence, bounds), linestyle="none", ax=ax, color=sns.color_palette()[0])
        ax.set_title(measure.replace(" on ", "\non "))
        ax.set_ylabel("")
        if "gap" in measure:
            ax.axvline(0, color="0.6", linewidth=0.8, zorder=0)
            ax.axvline(margin, color="0.3", linestyle=":", linewidth=1, zorder=0)
            ax.set_xlabel("accuracy gap\n(updating − frozen)")
        else:
            _chance(ax, chance, vertical=True)
            ax.set_xlabel("held-out accuracy")
    figure.tight_layout(w_pad=3)
    _heading(figure, "Remedies beside the write-up's loop (equal passes over the data)",
             f"dotted: the margin {margin:g} a closed gap must stay under; dashed: chance accuracy {chance:.2f}; "
             f"error bars: {confidence:.0%} t-interval across seeds")
    return figure


DECOMPOSITION_LABELS = {
    "accuracy_gap": "whole gap (updating − frozen)",
    "replay_recovery": "from the states (replayed − fresh)",
    "within_epoch_accuracy_gap": "within the epoch (updating − replayed)",
    "stale_state_part": "  of which: stale carried state (updating − own state)",
    "last_update_part": "  of which: the last update (own state − replayed)",
}


def decomposition(parts: pd.DataFrame, confidence: float) -> plt.Figure:
    """parts: cell, part (a DECOMPOSITION_LABELS key), replicate, value (an accuracy difference)."""
    data = parts.assign(part=parts["part"].map(DECOMPOSITION_LABELS))
    cells = list(dict.fromkeys(parts["cell"]))
    figure, ax = plt.subplots(figsize=(WIDTH, 1.4 + 0.55 * len(cells)))
    sns.pointplot(data=data, y="cell", x="value", hue="part", order=cells,
                  hue_order=list(DECOMPOSITION_LABELS.values()), errorbar=interval_of(confidence, ACCURACY_DIFFERENCE),
                  dodge=0.6, linestyle="none", markers=["o", "s", "D", "v", "^"], markersize=4, ax=ax)
    ax.axvline(0, color="0.3", linestyle="--", linewidth=1, zorder=0)
    ax.set_xlabel("accuracy difference (fraction of sequences)")
    ax.set_ylabel("")
    # 0.55 inch: clear of the tick labels and the axis label at any number of cells.
    _legend_below(ax, 0.55, ncol=1)
    _heading(figure, "Where the gap comes from: the initial states, the carried state, the last update",
             f"parts add up seed by seed (the last two to the within-epoch part); dashed: no difference; error "
             f"bars: {confidence:.0%} t-interval")
    return figure


def lags(scores: pd.DataFrame, confidence: float) -> plt.Figure:
    """scores: cell, lag (updates), replicate, accuracy (chunk level, at the probe points)."""
    cells = list(dict.fromkeys(scores["cell"]))
    figure, ax = plt.subplots(figsize=(WIDTH, 3.6))
    sns.pointplot(data=scores, x="lag", y="accuracy", hue="cell", hue_order=cells, order=sorted(scores["lag"].unique()),
                  errorbar=interval_of(confidence, ACCURACY), dodge=0.4, markers=["o", "s", "D", "v", "^"][:len(cells)],
                  markersize=4, linewidth=1.2, ax=ax)
    ax.set_xlabel("age of the weights that score the chunk (updates before the update pass's own)")
    ax.set_ylabel("accuracy at the chunk's last step")
    ax.set_ylim(0, 1.02)
    _legend_below(ax, 0.55, ncol=2)
    _heading(figure, "How fast the fit to a chunk fades as the weights move on",
             f"each chunk from the state the update pass carried into it; 0: the update pass itself; error bars: "
             f"{confidence:.0%} t-interval across seeds")
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


CAPACITY_LABELS = {
    "update_pass_accuracy": "update pass, last epoch",
    "train_replayed_accuracy": "frozen, replayed initial states",
    "frozen_pass_accuracy": "frozen, fresh initial states",
}


def capacity(scores: pd.DataFrame, chance: float, bound: int, confidence: float) -> plt.Figure:
    """scores: sequences (training sequences in all), pass (a CAPACITY_LABELS key), replicate, accuracy."""
    # Each pass a little to the side of the size it belongs to (a sixth of a doubling), so no bar hides another.
    offsets = {key: 2 ** (0.17 * (i - 1)) for i, key in enumerate(CAPACITY_LABELS)}
    data = scores.assign(**{"pass": scores["pass"].map(CAPACITY_LABELS),
                            "position": scores["sequences"] * scores["pass"].map(offsets)})
    figure, ax = plt.subplots(figsize=(WIDTH, 3.4))
    sns.lineplot(data=data, x="position", y="accuracy", hue="pass", style="pass",
                 hue_order=list(CAPACITY_LABELS.values()), style_order=list(CAPACITY_LABELS.values()), markers=True,
                 dashes=False, err_style="bars", errorbar=interval_of(confidence, ACCURACY),
                 err_kws={"capsize": 3}, ax=ax)
    ax.set_xscale("log", base=2)
    sizes = sorted(scores["sequences"].unique())
    ax.set_xticks(sizes)
    ax.xaxis.set_major_formatter(ticker.FormatStrFormatter("%d"))
    ax.xaxis.set_minor_locator(ticker.NullLocator())
    ax.axvline(bound, color="0.3", linestyle=":", linewidth=1, zorder=0)
    _chance(ax, chance)
    ax.set_ylim(-0.05, 1.05)
    ax.set_xlabel("training sequences (both classes; log scale)")
    ax.set_ylabel("accuracy (fraction of sequences)")
    _legend_below(ax, 0.62, ncol=2)
    _heading(figure, "Capacity: the write-up's loop on `SameRandom`, more and more sequences",
             f"dotted: Cover's bound, {bound} sequences; dashed: chance {chance:.2f}; error bars: {confidence:.0%} "
             f"t-interval across seeds")
    return figure


def capacity_epochs(epochs: pd.DataFrame, chance: float, confidence: float) -> plt.Figure:
    """epochs: sequences, epoch, replicate, pass ('update' | 'frozen'), accuracy (sequence level, each epoch)."""
    data = epochs.assign(**{"pass": epochs["pass"].map(PASS_LABELS),
                            "training sequences": epochs["sequences"].astype(str)})
    order = [str(n) for n in sorted(epochs["sequences"].unique())]
    grid = sns.relplot(data=data, kind="line", x="epoch", y="accuracy", hue="training sequences", hue_order=order,
                       col="pass", col_order=[PASS_LABELS[p] for p in PASS_ORDER], palette="colorblind",
                       errorbar=interval_of(confidence, ACCURACY), height=2.8, aspect=WIDTH / 2 / 2.8)
    grid.set_titles(col_template="{col_name}")
    grid.set_axis_labels("epoch", "accuracy (fraction of sequences)")
    for ax in grid.axes.flat:
        _chance(ax, chance)
        ax.set_ylim(-0.05, 1.05)
        ax.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
    sns.move_legend(grid, "upper center", bbox_to_anchor=(0.5, 0.0), ncol=len(order), frameon=False)
    _heading(grid.figure, "Capacity axis, epoch by epoch: when the update pass starts to score, and how far",
             f"dashed: chance {chance:.2f}; bands: {confidence:.0%} t-interval across seeds")
    return grid.figure


def save(figure: plt.Figure, path_without_suffix: str, dpi: int) -> None:
    """PNG for the page, SVG for print. No metadata: the bytes depend on the data only, so DVC sees an unchanged
    figure as unchanged."""
    figure.savefig(f"{path_without_suffix}.png", dpi=dpi, bbox_inches="tight", metadata={"Software": None})
    figure.savefig(f"{path_without_suffix}.svg", bbox_inches="tight", metadata={"Date": None, "Creator": None})
    plt.close(figure)

