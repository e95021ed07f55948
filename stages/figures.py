"""Seaborn figures of the study: each takes a tidy long-form table and returns a figure; only the report saves it."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")  # headless: the pipeline runs on servers and in CI

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import ticker  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

CHANCE_LOSS = math.log(2)  # cross-entropy of a fair guess between the two classes
PASS_ORDER = ["update", "frozen"]
PASS_LABELS = {"update": "update pass (weights change after every chunk)", "frozen": "frozen pass (no updates)"}


def setup_theme() -> None:
    sns.set_theme(context="paper", style="whitegrid", palette="colorblind", font_scale=1.1)


def _pass_palette() -> dict[str, tuple]:
    colours = sns.color_palette("colorblind")
    return {"update": colours[0], "frozen": colours[1]}


def _loss_axes(grid: sns.FacetGrid, *, integer_x: bool) -> None:
    """Log loss axis with plain numbers, the chance level drawn on every panel."""
    for ax in grid.axes.flat:
        ax.set_yscale("log")
        ax.yaxis.set_major_locator(ticker.LogLocator(base=10, subs=(1.0,)))
        ax.yaxis.set_major_formatter(ticker.FormatStrFormatter("%g"))
        ax.yaxis.set_minor_formatter(ticker.NullFormatter())
        if integer_x:
            ax.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
        ax.axhline(CHANCE_LOSS, color="0.3", linestyle="--", linewidth=1, zorder=0)
    grid.figure.text(0.01, 0.005, "dashed line: chance, ln 2 = 0.693 nats", fontsize=9, color="0.3")


def setting_label(initial_state_type: str, bptt_size: int) -> str:
    return f"{initial_state_type} initial states, bptt {bptt_size}"


def input_sequences(inputs: pd.DataFrame) -> sns.FacetGrid:
    """inputs: data_type, label, sequence, step, value -> one panel per data mode."""
    grid = sns.relplot(
        data=inputs, kind="line", x="step", y="value", hue="label", units="sequence", estimator=None,
        col="data_type", col_wrap=2, height=2.4, aspect=2.2, linewidth=0.8, alpha=0.8,
        palette="colorblind", facet_kws={"sharey": True},
    )
    grid.set_titles(col_template="{col_name}")
    grid.set_axis_labels("time step", "input value")
    sns.move_legend(grid, "upper center", bbox_to_anchor=(0.5, 0.0), ncol=2, title="class label", frameon=False)
    grid.figure.suptitle("First steps of the training sequences of each data mode", y=1.02)
    return grid


def loss_per_epoch(epochs: pd.DataFrame) -> sns.FacetGrid:
    """epochs: data_type, setting, epoch, pass, loss -> rows of data modes, columns of settings."""
    grid = sns.relplot(
        data=epochs.assign(**{"pass": epochs["pass"].map(PASS_LABELS)}), kind="line", x="epoch", y="loss",
        hue="pass", style="pass", markers=True, dashes=False, row="data_type", col="setting",
        hue_order=[PASS_LABELS[p] for p in PASS_ORDER],
        palette=[_pass_palette()[p] for p in PASS_ORDER], height=2.2, aspect=1.3,
        facet_kws={"margin_titles": True},
    )
    grid.set_titles(row_template="{row_name}", col_template="{col_name}")
    grid.set_axis_labels("epoch", "mean loss (nats, log)")
    _loss_axes(grid, integer_x=True)
    sns.move_legend(grid, "upper center", bbox_to_anchor=(0.5, 0.0), ncol=2, title=None, frameon=False)
    grid.figure.suptitle("Loss per epoch, with and without weight updates", y=1.01)
    return grid


def loss_last_epoch(last_epoch: pd.DataFrame) -> sns.FacetGrid:
    """last_epoch: data_type, setting, chunk, pass, loss -> the loss of each chunk in the last epoch."""
    grid = sns.relplot(
        data=last_epoch.assign(**{"pass": last_epoch["pass"].map(PASS_LABELS)}), kind="line", x="chunk",
        y="loss", hue="pass", row="data_type", col="setting", hue_order=[PASS_LABELS[p] for p in PASS_ORDER],
        palette=[_pass_palette()[p] for p in PASS_ORDER], height=2.2, aspect=1.3, linewidth=0.8,
        facet_kws={"margin_titles": True, "sharex": False},
    )
    grid.set_titles(row_template="{row_name}", col_template="{col_name}")
    grid.set_axis_labels("chunk of the last epoch", "loss (nats, log)")
    _loss_axes(grid, integer_x=True)
    sns.move_legend(grid, "upper center", bbox_to_anchor=(0.5, 0.0), ncol=2, title=None, frameon=False)
    grid.figure.suptitle("Loss of each chunk in the last epoch (in the update pass, one update per chunk)", y=1.01)
    return grid


def final_gap(cells: pd.DataFrame) -> plt.Figure:
    """cells: data_type, setting, gap -> heatmap of frozen minus updating loss in the last epoch."""
    table = cells.pivot(index="data_type", columns="setting", values="gap")
    table = table.loc[list(dict.fromkeys(cells["data_type"])), list(dict.fromkeys(cells["setting"]))]
    width = 1.8 + 1.6 * table.shape[1]
    figure, ax = plt.subplots(figsize=(width, 0.8 + 0.7 * table.shape[0]))
    limit = max(float(abs(table).max().max()), 0.1)
    sns.heatmap(
        table, annot=True, fmt=".2f", cmap="vlag", center=0.0, vmin=-limit, vmax=limit, ax=ax,
        cbar_kws={"label": "frozen − updating loss (nats)"}, linewidths=0.5,
    )
    ax.set_xlabel("initial states and bptt size")
    ax.set_ylabel("data mode")
    ax.set_title("Gap between the frozen and the updating pass, last epoch")
    plt.setp(ax.get_xticklabels(), rotation=30, ha="right")
    figure.tight_layout()
    return figure


def save(figure: plt.Figure, path: str, dpi: int) -> None:
    # No metadata: the bytes then depend on the data only, so DVC sees an unchanged figure as unchanged.
    figure.savefig(path, dpi=dpi, bbox_inches="tight", metadata={"Software": None})
    plt.close(figure)
