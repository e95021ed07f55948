"""Seaborn figures of the study: each takes a tidy long-form table and returns a figure; only the report saves it.

One theme for all (seaborn's colour-blind palette, paper context), axis labels with units, the chance level drawn on
every loss axis, and error bars or bands that are Student-t intervals across seeds (`stages.reporting.stats`). A loss
is drawn on a log axis, so its band is the t-interval of the log loss (symmetric on the drawn scale, never below 0),
and its curve the geometric mean across seeds, the centre of that band. Every colour drawn is in the figure's legend,
but for the greys of reference lines, which the line under the title names.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Callable

import matplotlib

matplotlib.use("Agg")  # headless: the pipeline runs on servers and in CI

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib import ticker  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from stages.reporting.stats import ACCURACY, ACCURACY_DIFFERENCE, UNBOUNDED, t_interval  # noqa: E402
from stages.reporting.words import PROTOCOLS, STATES  # noqa: E402

PASS_ORDER = ["update", "frozen"]
PASS_LABELS = {"update": "update pass (weights change after every update)", "frozen": "frozen pass (no updates)"}
MECHANISM_LABELS = {
    "update_pass_accuracy": "update pass, last epoch",
    "train_replayed_accuracy": "frozen, replayed initial states",
    "train_fresh_accuracy": "frozen, fresh initial states",
    "train_zero_accuracy": "frozen, zero initial states",
    "heldout_accuracy": "frozen, held-out sequences",
}
# The panels of the story figure, by the protocol of the cell each shows (the headline cell, then the fix).
STORY_TITLES = {
    "per_chunk": "The write-up's loop: state carried across chunks",
    "stateless": "The fix: a fresh state for every chunk (stateless)",
    "burn_in": "The fix: each chunk's state rebuilt from the steps before it (burn_in)",
}
HEADLINE = ("SameRandom", "Random")  # data mode and initial states of the headline cell, marked where it is drawn
WIDTH = 7.0  # inches: a blog column at the report's dpi
ACCURACY_TICKS = [0.0, 0.25, 0.5, 0.75, 1.0]


def setup_theme() -> None:
    sns.set_theme(context="paper", style="whitegrid", palette="colorblind", font_scale=1.05)
    # Reproducible SVG bytes: fixed ids instead of random ones, no creation date.
    matplotlib.rcParams["svg.hashsalt"] = "tbptt-pitfall"


LOSS_FLOOR = 1e-3  # nats: the bottom of log-scaled loss axes, unless a curve or band reaches lower
LOSS_RESOLUTION = 1e-8  # nats: below float32 training's smallest positive loss (1.2e-7); a loss of 0 is drawn here


def interval_of(confidence: float, bounds: tuple[float, float] = UNBOUNDED) -> Callable[[np.ndarray],
                                                                                         tuple[float, float]]:
    """seaborn `errorbar` callable: the Student-t interval across seeds within `bounds`, the range of the quantity
    (`stages.reporting.stats`)."""

    def limits(values: np.ndarray) -> tuple[float, float]:
        interval = t_interval(values, confidence, bounds)
        return (interval.low, interval.high) if interval.n > 1 else (interval.mean, interval.mean)

    return limits


def _chance(ax: plt.Axes, chance: float, *, vertical: bool = False, zorder: float = 0) -> None:
    line = ax.axvline if vertical else ax.axhline
    line(chance, color="0.3", linestyle="--", linewidth=1, zorder=zorder, label="_chance")


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
    lines = note.count("\n") + 1 if note else 0
    figure.suptitle(title, x=centre, y=1.0 + (0.04 + 0.15 * lines + (0.07 if note else 0)) * inch, va="bottom")


def _legend_below(ax: plt.Axes, inches: float, ncol: int) -> None:
    """The axis's legend centred under it, its top `inches` below the axis whatever the figure's height."""
    height = ax.get_position().height * ax.figure.get_figheight()
    sns.move_legend(ax, "upper center", bbox_to_anchor=(0.5, -inches / height), ncol=ncol, title=None, frameon=False)


def _wrap(label: str, width: int) -> str:
    return "\n".join(textwrap.wrap(label, width)) or label


def _states(state: str) -> str:
    """Initial states in words: "random initial states"."""
    return STATES.get(state, f"{state} states").replace(" states", " initial states")


# --- losses on a log axis -------------------------------------------------------------------------------------------


def log_loss_summary(table: pd.DataFrame, by: list[str], confidence: float) -> pd.DataFrame:
    """Per group of `by` (the seeds of one point of a curve): the geometric mean of the loss across seeds, and the
    Student-t interval of the log loss taken back to the loss scale: a band that is symmetric on a log axis and
    positive (no band where there is one seed). A loss of 0 counts as LOSS_RESOLUTION."""
    rows = []
    for key, group in table.groupby(by, sort=False):
        logs = np.log(np.maximum(group["loss"].to_numpy(dtype=float), LOSS_RESOLUTION))
        interval = t_interval(logs, confidence)
        low, high = (interval.low, interval.high) if interval.n > 1 else (math.nan, math.nan)
        rows.append({**dict(zip(by, key)), "loss": math.exp(interval.mean), "low": math.exp(low),
                     "high": math.exp(high)})
    return pd.DataFrame(rows, columns=[*by, "loss", "low", "high"])


def _loss_limits(summary: pd.DataFrame) -> tuple[float, float]:
    """The bottom of a log loss axis (LOSS_FLOOR, or the power of ten under the lowest curve or band, half a decade
    of room under a curve, never under LOSS_RESOLUTION) and its top (10 nats, or above the highest band)."""
    lows = pd.concat([summary["loss"] * 0.5, summary["low"]]).dropna()
    lowest = float(lows[lows > 0].min()) if (lows > 0).any() else LOSS_FLOOR
    floor = max(min(LOSS_FLOOR, 10 ** math.floor(math.log10(lowest))), LOSS_RESOLUTION)
    highs = pd.concat([summary["loss"], summary["high"]]).dropna()
    top = max(10.0, 1.5 * float(highs.max())) if len(highs) else 10.0
    return floor, top


def _pass_styles() -> dict[str, dict[str, dict]]:
    """How each pass is drawn. The two stay apart where their curves lie on each other (on the chance line): the
    update pass solid with small filled circles, the frozen pass dash-dotted with larger open squares, drawn over
    it. Bands: the update pass's light and filled, the frozen pass's hatched, so that where they overlap no mixed
    colour appears that the legend does not show."""
    update, frozen = sns.color_palette("colorblind")[:2]
    light = tuple(1 - 0.3 * (1 - c) for c in update)  # opaque: the same colour in the legend as on the panel
    return {
        "update": {"line": dict(color=update, linestyle="-", marker="o", markersize=3.5, markeredgewidth=0,
                                linewidth=1.3, zorder=4),
                   "band": dict(facecolor=light, edgecolor="none", linewidth=0, zorder=1)},
        "frozen": {"line": dict(color=frozen, linestyle=(0, (5, 1.5, 1.5, 1.5)), marker="s", markersize=5,
                                markerfacecolor="none", markeredgewidth=1.0, linewidth=1.3, zorder=5),
                   "band": dict(facecolor="none", edgecolor="none", hatchcolor=frozen, hatch="////", linewidth=0,
                                zorder=2)},
    }


def _loss_legend(figure: plt.Figure, chance: float, confidence: float) -> None:
    """The passes, their bands and the chance line (ln of the number of classes), centred under the panels."""
    styles = _pass_styles()
    lines = [Line2D([], [], label=PASS_LABELS[p], **styles[p]["line"]) for p in PASS_ORDER]
    chance_line = Line2D([], [], color="0.3", linestyle="--", linewidth=1,
                         label=f"chance: ln {round(math.exp(chance))} = {chance:.3f} nats")
    bands = [Patch(label=f"{p} pass: {confidence:.0%} t-interval across seeds",
                   **{k: v for k, v in styles[p]["band"].items() if k != "zorder"}) for p in PASS_ORDER]
    # Two columns filled top-down: the passes and chance, then their bands.
    figure.legend(handles=[*lines, chance_line, *bands], loc="upper center", bbox_to_anchor=(_panels_centre(figure), 0),
                  ncol=2, frameon=False, fontsize=8.5, handlelength=3)


def _log_loss_axis(ax: plt.Axes, floor: float, top: float) -> None:
    """One log scale and one tick format (powers of ten) on every loss axis."""
    ax.set_yscale("log")
    ax.set_ylim(floor, top)
    ax.yaxis.set_major_locator(ticker.LogLocator(base=10, numticks=6))
    ax.yaxis.set_major_formatter(ticker.LogFormatterSciNotation(base=10))
    ax.yaxis.set_minor_locator(ticker.LogLocator(base=10, subs=(), numticks=6))
    ax.yaxis.set_minor_formatter(ticker.NullFormatter())


def _mark_headline(ax: plt.Axes) -> None:
    """A dark frame around the headline cell's panel."""
    for spine in ax.spines.values():
        spine.set_visible(True)
        spine.set_edgecolor("0.1")
        spine.set_linewidth(2.0)


def _loss_panel(ax: plt.Axes, summary: pd.DataFrame, x: str, floor: float) -> None:
    """Both passes' curves and bands in one panel; on long curves a marker every tenth of the points, the two passes'
    markers between each other."""
    styles = _pass_styles()
    for p in PASS_ORDER:
        rows = summary[summary["pass"] == p].sort_values(x)
        if rows.empty:
            continue
        step = max(1, math.ceil(len(rows) / 12))
        start = 0 if p == "update" else step // 2
        if rows["low"].notna().any():
            ax.fill_between(rows[x].to_numpy(float), rows["low"].clip(lower=floor).to_numpy(float),
                            rows["high"].to_numpy(float), label=f"_band:{p}", **styles[p]["band"])
        ax.plot(rows[x].to_numpy(float), rows["loss"].to_numpy(float), label=f"_curve:{p}",
                markevery=(start, step) if step > 1 else None, **styles[p]["line"])


def _loss_panels(panels: list[tuple[str, pd.DataFrame, bool]], x: str, *, ncols: int, height: float,
                 width: float = WIDTH, ylabel: str = "loss (nats, log)") -> plt.Figure:
    """One panel per (title, summary rows, headline?) on shared log loss axes, `ncols` to a row."""
    nrows = math.ceil(len(panels) / ncols)
    figure, axes = plt.subplots(nrows, ncols, figsize=(width, height * nrows), sharex=True, sharey=True,
                                squeeze=False)
    floor, top = _loss_limits(pd.concat([rows for _, rows, _ in panels]))
    for ax, (title, rows, headline) in zip(axes.flat, panels):
        _loss_panel(ax, rows, x, floor)
        ax.set_title(title + ("\n(headline)" if headline and "\n" not in title else
                              " (headline)" if headline else ""), fontsize=9,
                     fontweight="bold" if headline else "normal")
        if headline:
            _mark_headline(ax)
        _log_loss_axis(ax, floor, top)
        ax.xaxis.set_major_locator(ticker.MaxNLocator(nbins=5, integer=True))
    for ax in axes.flat[len(panels):]:
        figure.delaxes(ax)
    shown = list(axes.flat[:len(panels)])
    for index, ax in enumerate(shown):
        row, column = divmod(index, ncols)
        lowest = not any(divmod(other, ncols)[1] == column and divmod(other, ncols)[0] > row
                         for other in range(len(shown)))
        ax.tick_params(labelbottom=lowest, labelleft=column == 0)
        if column == 0:
            ax.set_ylabel(ylabel)
    return figure


def _chance_lines(figure: plt.Figure, chance: float) -> None:
    for ax in figure.axes:
        _chance(ax, chance, zorder=3)  # over the opaque bands, under the curves


def _loss_note(confidence: float) -> str:
    return f"lines: geometric mean over seeds; bands: {confidence:.0%} t-interval of the log loss across seeds"


def _state_title(data_type: str, state: str) -> str:
    return f"{data_type} data\n{STATES.get(state, state)}"


def story(epochs: pd.DataFrame, chance: float, confidence: float) -> plt.Figure:
    """epochs: protocol, bptt_size, epoch, replicate, pass, loss of the headline cell (protocol per_chunk) and, where
    the run has it, its fix (the same data and states, protocol stateless or burn_in): one panel each, in that
    order."""
    summary = log_loss_summary(epochs, ["protocol", "bptt_size", "pass", "epoch"], confidence)
    shown = list(dict.fromkeys(zip(epochs["protocol"], epochs["bptt_size"])))
    one_bptt = len({b for _, b in shown}) == 1
    panels = []
    for protocol, bptt in shown:
        title = _wrap(STORY_TITLES.get(protocol, f"protocol {PROTOCOLS.get(protocol, protocol)}"), 40)
        rows = summary[(summary["protocol"] == protocol) & (summary["bptt_size"] == bptt)]
        panels.append((title if one_bptt else f"{title}, bptt {bptt}", rows, False))
    figure = _loss_panels(panels, "epoch", ncols=len(panels), height=2.7,
                          width=WIDTH if len(panels) > 1 else WIDTH * 0.6, ylabel="loss per epoch (nats, log scale)")
    for ax in figure.axes:
        ax.set_xlabel("epoch")
    figure.tight_layout(w_pad=2)
    _chance_lines(figure, chance)
    _loss_legend(figure, chance, confidence)
    setting = "SameRandom data (the two classes are the same random sequences), random initial states"
    _heading(figure, "Loss with and without weight updates, on two classes that cannot be told apart",
             f"{setting}{f', bptt {shown[0][1]}' if one_bptt else ''}\n{_loss_note(confidence)}")
    return figure


def loss_per_epoch(epochs: pd.DataFrame, chance: float, confidence: float, bptt: int) -> plt.Figure:
    """epochs: data_type, initial_state_type, epoch, replicate, pass, loss (grid cells at one bptt)."""
    summary = log_loss_summary(epochs, ["data_type", "initial_state_type", "pass", "epoch"], confidence)
    figure = _loss_panels(_grid_panels(epochs, summary), "epoch", ncols=epochs["initial_state_type"].nunique(),
                          height=1.8)
    _loss_axis_labels(figure, "epoch")
    _chance_lines(figure, chance)
    _loss_legend(figure, chance, confidence)
    _heading(figure, f"Mean loss per epoch with and without weight updates (bptt {bptt})", _loss_note(confidence))
    return figure


def _grid_panels(table: pd.DataFrame, summary: pd.DataFrame) -> list[tuple[str, pd.DataFrame, bool]]:
    """A panel per data mode (rows) and initial-state mode (columns), the headline cell marked."""
    modes, states = (list(dict.fromkeys(table[c])) for c in ("data_type", "initial_state_type"))
    return [(_state_title(mode, state),
             summary[(summary["data_type"] == mode) & (summary["initial_state_type"] == state)],
             (mode, state) == HEADLINE) for mode in modes for state in states]


def _loss_axis_labels(figure: plt.Figure, xlabel: str) -> None:
    """One x label for the whole grid (copies under each column crowd), with room kept for it under the panels."""
    inch = 1 / figure.get_figheight()
    figure.tight_layout(h_pad=0.6, rect=(0, 0.22 * inch, 1, 1))
    figure.supxlabel(xlabel, x=_panels_centre(figure), y=0.0, va="bottom", fontsize=10)


def loss_last_epoch(last_epoch: pd.DataFrame, chance: float, confidence: float, bptt: int) -> plt.Figure:
    """last_epoch: data_type, initial_state_type, chunk, replicate, pass, loss (grid cells at one bptt)."""
    summary = log_loss_summary(last_epoch, ["data_type", "initial_state_type", "pass", "chunk"], confidence)
    figure = _loss_panels(_grid_panels(last_epoch, summary), "chunk",
                          ncols=last_epoch["initial_state_type"].nunique(), height=1.8)
    for ax in figure.axes:
        for line in ax.lines:
            line.set_linewidth(0.9)
    _loss_axis_labels(figure, "update (chunk) of the last epoch")
    _chance_lines(figure, chance)
    _loss_legend(figure, chance, confidence)
    _heading(figure, f"Loss of each chunk in the last epoch (bptt {bptt})", _loss_note(confidence))
    return figure


def real_loss_per_epoch(epochs: pd.DataFrame, chance: float, confidence: float, dataset: str, classes: int,
                        bptt: int) -> plt.Figure:
    """epochs: protocol, initial_state_type, epoch, replicate, pass, loss (the real-data cells of one data set)."""
    summary = log_loss_summary(epochs, ["protocol", "initial_state_type", "pass", "epoch"], confidence)
    protocols, states = (list(dict.fromkeys(epochs[c])) for c in ("protocol", "initial_state_type"))
    panels = [(f"{PROTOCOLS.get(protocol, protocol)}\n{_states(state)}",
               summary[(summary["protocol"] == protocol) & (summary["initial_state_type"] == state)], False)
              for protocol in protocols for state in states]
    figure = _loss_panels(panels, "epoch", ncols=len(states), height=1.9)
    _loss_axis_labels(figure, "epoch")
    _chance_lines(figure, chance)
    _loss_legend(figure, chance, confidence)
    _heading(figure, f"{dataset} ({classes} classes): loss per epoch with and without updates (bptt {bptt})",
             _loss_note(confidence))
    return figure


def input_sequences(inputs: pd.DataFrame) -> plt.Figure:
    """inputs: data_type, label, sequence, step, value -> one panel per data mode, each class in its own band (on the
    same scale, one above the other), so that neither hides the other where they coincide."""
    modes = list(dict.fromkeys(inputs["data_type"]))
    labels = sorted(inputs["label"].unique())
    reach = max(float(inputs["value"].abs().max()), 0.5)  # the farthest any value lies from 0
    spacing = 2.5 * reach
    tick = max(step for step in (0.5, 1, 2, 2.5, 5, 10, 20, 50, 100) if step <= 0.75 * reach or step == 0.5)
    ncols = min(2, len(modes))
    nrows = math.ceil(len(modes) / ncols)
    figure, axes = plt.subplots(nrows, ncols, figsize=(WIDTH, 0.4 + 1.25 * len(labels) * nrows), sharex=True,
                                sharey=True, squeeze=False)
    palette = sns.color_palette("colorblind")
    for ax, mode in zip(axes.flat, modes):
        for band, label in enumerate(labels):
            rows = inputs[(inputs["data_type"] == mode) & (inputs["label"] == label)]
            for _, sequence in rows.groupby("sequence", sort=False):
                sequence = sequence.sort_values("step")
                ax.plot(sequence["step"].to_numpy(float), sequence["value"].to_numpy(float) + band * spacing,
                        color=palette[band], linewidth=0.8, alpha=0.9, label=f"_class:{label}")
        ax.set_title(mode, fontsize=9.5)
    for ax in axes.flat[len(modes):]:
        figure.delaxes(ax)
    centres = [band * spacing for band in range(len(labels))]
    ticks = [centre + offset for centre in centres for offset in (-tick, 0.0, tick)]
    shown = list(axes.flat[:len(modes)])
    for index, ax in enumerate(shown):
        row, column = divmod(index, ncols)
        ax.set_yticks(ticks, labels=[f"{offset:g}" for _ in centres for offset in (-tick, 0.0, tick)])
        ax.set_ylim(-0.5 * spacing, centres[-1] + 0.5 * spacing)
        below = index + ncols < len(shown)
        ax.tick_params(labelbottom=not below, labelleft=column == 0)
        if not below:
            ax.set_xlabel("time step")
        if column == 0:
            ax.set_ylabel("input value")
    figure.tight_layout(h_pad=0.8)
    where = (lambda band: "lower band" if band == 0 else "upper band") if len(labels) == 2 else (
        lambda band: f"band {band + 1} from the bottom")
    handles = [Line2D([], [], color=palette[band], linewidth=1.2, label=f"class {label} ({where(band)})")
               for band, label in enumerate(labels)]
    figure.legend(handles=handles, loc="upper center", bbox_to_anchor=(_panels_centre(figure), 0), ncol=len(labels),
                  frameon=False)
    _heading(figure, "First steps of training sequences of each data mode (first seed)",
             "each class in its own band, on the same scale; in SameRandom both classes hold the same sequences")
    return figure


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
    ax.set_xticklabels([label.get_text().replace(" states", "").replace(", ", "\n")
                        for label in ax.get_xticklabels()], rotation=0,
                       fontsize=8)
    figure.tight_layout()
    return figure


def mechanism(passes: pd.DataFrame, chance: float, confidence: float) -> plt.Figure:
    """passes: data_type, initial_state_type, pass (a MECHANISM_LABELS key), replicate, accuracy."""
    states = list(dict.fromkeys(passes["initial_state_type"]))
    data = passes.assign(**{"pass": passes["pass"].map(MECHANISM_LABELS),
                            "initial_state_type": passes["initial_state_type"].map(_states)})
    # Data modes on the vertical axis: their names read horizontally, and the five passes of a mode are spread
    # along it far enough apart that no marker hides another.
    modes = list(dict.fromkeys(passes["data_type"]))
    # Panels share the width, but a lone panel (one state mode) keeps room for seaborn's legend beside it, which
    # `move_legend` only moves below afterwards.
    height, panels = 0.6 + 0.55 * len(modes), max(len(states), 2)
    grid = sns.catplot(
        data=data, kind="point", y="data_type", x="accuracy", hue="pass", col="initial_state_type",
        col_order=[_states(s) for s in states], hue_order=list(MECHANISM_LABELS.values()), order=modes,
        errorbar=interval_of(confidence, ACCURACY), dodge=0.7, linestyle="none", markers=["o", "s", "D", "^", "v"],
        markersize=4, height=height, aspect=(WIDTH + 1) / panels / height,  # room for five accuracy ticks a panel
    )
    grid.set_titles(col_template="{col_name}")
    grid.set_axis_labels("", "data mode")
    for ax in grid.axes.flat:
        _chance(ax, chance, vertical=True)
        ax.set_xlim(-0.05, 1.05)
        ax.set_xticks(ACCURACY_TICKS)
        ax.xaxis.set_major_formatter(ticker.FormatStrFormatter("%g"))
        ax.tick_params(axis="x", labelsize=8)
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
    # Error bars, not bands: overlapping bands would blend into a colour that no series has.
    sns.lineplot(data=relearn, x="epoch", y="updates", hue="label", style="label", markers=True, dashes=False,
                 errorbar=interval_of(confidence, (1.0, np.inf)), err_style="bars", err_kws={"capsize": 2},
                 ax=ax)
    ax.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"updates until loss < {threshold:g} nats")
    ax.set_title("Re-learning each epoch's new initial states: updates needed, per epoch", pad=22)
    ax.set_ylim(bottom=0)
    sns.move_legend(ax, "upper center", bbox_to_anchor=(0.5, -0.2), ncol=1, title=None, frameon=False)
    ax.text(0.5, 1.02, f"missing points: the loss never fell below {threshold:g} in that epoch; error bars: "
            f"{confidence:.0%} t-interval across seeds that reached it", transform=ax.transAxes, fontsize=8,
            color="0.3", ha="center", va="bottom")
    return figure


BY_CONSTRUCTION = "zero by construction (hatched): identical inputs and initial states give identical predictions"


def remedies(comparison: pd.DataFrame, chance: float, margin: float, confidence: float) -> plt.Figure:
    """comparison: remedy (in words), measure ('accuracy gap on SameRandom' | 'held-out accuracy on DiffDistRandom'),
    replicate, value, by_construction (a gap that is zero whatever the training: both classes meet identical inputs
    and identical initial states); `chance` is the chance accuracy."""
    measures = list(dict.fromkeys(comparison["measure"]))
    names = list(dict.fromkeys(comparison["remedy"]))
    fixed = comparison["by_construction"] if "by_construction" in comparison else pd.Series(False, comparison.index)
    figure, axes = plt.subplots(1, len(measures), figsize=(WIDTH, 0.7 + 0.48 * len(names)), sharey=True,
                                squeeze=False)
    colour = sns.color_palette("colorblind")[0]
    for ax, measure in zip(axes.flat, measures):
        bounds = ACCURACY_DIFFERENCE if "gap" in measure else ACCURACY
        for position, name in enumerate(names):
            mine = (comparison["measure"] == measure) & (comparison["remedy"] == name)
            if not mine.any():
                continue
            interval = t_interval(comparison.loc[mine, "value"], confidence, bounds)
            if fixed[mine].any():
                # Not a result: drawn apart, in grey on a hatched row, so that it cannot pass for a winner.
                ax.axhspan(position - 0.4, position + 0.4, facecolor="none", edgecolor="none", hatchcolor="0.8",
                           hatch="////", linewidth=0, zorder=0, label="_by_construction")
                ax.plot([interval.mean], [position], marker="D", markersize=6, markerfacecolor="white",
                        markeredgecolor="0.35", markeredgewidth=1.2, linestyle="none", label="_by_construction")
                continue
            if interval.n > 1:
                ax.plot([interval.low, interval.high], [position, position], color=colour, linewidth=2,
                        solid_capstyle="butt")
            ax.plot([interval.mean], [position], marker="o", markersize=6, color=colour, linestyle="none")
        ax.set_title(measure.replace(" on ", "\non "))
        ax.set_yticks(range(len(names)), labels=[_wrap(name, 22) for name in names])
        ax.set_ylim(len(names) - 0.5, -0.5)
        if "gap" in measure:
            ax.axvline(0, color="0.6", linewidth=0.8, zorder=0)
            for edge in (-margin, margin):  # closing the gap is an equivalence: within plus or minus the margin
                ax.axvline(edge, color="0.3", linestyle=":", linewidth=1, zorder=0)
            ax.set_xlabel("accuracy gap\n(updating − frozen)")
        else:
            _chance(ax, chance, vertical=True)
            ax.set_xlabel("held-out accuracy")
    figure.tight_layout(w_pad=3)
    handles = [Line2D([], [], color=colour, marker="o", markersize=6, linewidth=2,
                      label=f"mean and {confidence:.0%} t-interval across seeds")]
    if fixed.any():
        handles.append(Line2D([], [], marker="D", markersize=6, markerfacecolor="white", markeredgecolor="0.35",
                              markeredgewidth=1.2, linestyle="none", label=BY_CONSTRUCTION))
    figure.legend(handles=handles, loc="upper center", bbox_to_anchor=(_panels_centre(figure), 0), ncol=1,
                  frameon=False, fontsize=8.5)
    _heading(figure, "Remedies beside the write-up's loop (equal passes over the data)",
             f"random initial states unless named; dotted: ±{margin:g}, the margins a closed gap stays within; "
             f"dashed: chance accuracy {chance:.2f}")
    return figure


DECOMPOSITION_LABELS = {
    "accuracy_gap": "whole gap (updating − frozen)",
    "replay_recovery": "from the states (replayed − fresh)",
    "within_epoch_accuracy_gap": "within the epoch (updating − replayed)",
    "stale_state_part": "  of which: stale carried state (updating − own state)",
    "last_update_part": "  of which: the last update (own state − replayed)",
}


def _legend_and_heading(figure: plt.Figure, ax: plt.Axes, columns: int, title: str, note: str) -> plt.Figure:
    """A one-axis figure's legend under it, 0.55 inch down (clear of the tick labels and the axis label at any number
    of rows), and its heading."""
    _legend_below(ax, 0.55, ncol=columns)
    _heading(figure, title, note)
    return figure


def decomposition(parts: pd.DataFrame, confidence: float) -> plt.Figure:
    """parts: setting (a cell in words), part (a DECOMPOSITION_LABELS key), replicate, value (an accuracy
    difference)."""
    data = parts.assign(part=parts["part"].map(DECOMPOSITION_LABELS), setting=parts["setting"].map(
        lambda setting: setting.replace(", ", ",\n", 1) if len(setting) > 20 else setting))
    settings = list(dict.fromkeys(data["setting"]))
    figure, ax = plt.subplots(figsize=(WIDTH, 1.4 + 0.55 * len(settings)))
    sns.pointplot(data=data, y="setting", x="value", hue="part", order=settings,
                  hue_order=list(DECOMPOSITION_LABELS.values()), errorbar=interval_of(confidence, ACCURACY_DIFFERENCE),
                  dodge=0.6, linestyle="none", markers=["o", "s", "D", "v", "^"], markersize=4, ax=ax)
    ax.axvline(0, color="0.3", linestyle="--", linewidth=1, zorder=0)
    ax.set(xlabel="accuracy difference (fraction of sequences)", ylabel="")
    return _legend_and_heading(figure, ax, 1, "Where the gap comes from: the initial states, the carried state, the "
                               "last update", f"parts add up seed by seed (the last two to the within-epoch part); "
                               f"dashed: no difference; error bars: {confidence:.0%} t-interval")


def lags(scores: pd.DataFrame, confidence: float) -> plt.Figure:
    """scores: setting (a cell in words), lag (updates), replicate, accuracy (chunk level, at the probe points)."""
    settings = list(dict.fromkeys(scores["setting"]))
    figure, ax = plt.subplots(figsize=(WIDTH, 3.6))
    sns.pointplot(data=scores, x="lag", y="accuracy", hue="setting", hue_order=settings,
                  order=sorted(scores["lag"].unique()), errorbar=interval_of(confidence, ACCURACY), dodge=0.4,
                  markers=["o", "s", "D", "v", "^"][:len(settings)], markersize=4, linewidth=1.2, ax=ax)
    ax.set(xlabel="age of the weights that score the chunk (updates before the update pass's own)",
           ylabel="accuracy at the chunk's last step", ylim=(0, 1.02))
    return _legend_and_heading(figure, ax, 2, "How fast the fit to a chunk fades as the weights move on",
                               f"each chunk from the state the update pass carried into it; 0: the update pass itself; "
                               f"error bars: {confidence:.0%} t-interval across seeds")


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
    figure, ax = plt.subplots(figsize=(max(4.5, 1.6 + 1.3 * table.shape[1]),
                                              max(2.2, 0.8 + 0.7 * table.shape[0])))
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
    figure.tight_layout()
    # Above the figure, not over the panel: a small grid's panel is narrower than the title.
    _heading(figure, "When the updating loss first falls below the onset threshold",
             f"within {epochs} epochs; each cell: the median onset epoch over seeds\n(seeds that reached it / seeds; "
             f"none: most seeds never reached it)")
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


def _outline_bands(ax: plt.Axes) -> None:
    """seaborn's translucent bands as outlines in their line's colour: overlapping fills of several series would
    blend into colours that no series has."""
    for band in ax.collections:
        colour = band.get_facecolor()
        if len(colour):
            band.set_alpha(None)  # seaborn's alpha would make the outline as pale as the fill was
            band.set_facecolor("none")
            band.set_edgecolor((*colour[0][:3], 1.0))
            band.set_linewidth(0.5)
            band.set_linestyle((0, (1.5, 1.5)))


def capacity_epochs(epochs: pd.DataFrame, chance: float, confidence: float) -> plt.Figure:
    """epochs: sequences, epoch, replicate, pass ('update' | 'frozen'), accuracy (sequence level, each epoch)."""
    data = epochs.assign(**{"pass": epochs["pass"].map(PASS_LABELS),
                            "training sequences": epochs["sequences"].astype(str)})
    order = [str(n) for n in sorted(epochs["sequences"].unique())]
    grid = sns.relplot(data=data, kind="line", x="epoch", y="accuracy", hue="training sequences", hue_order=order,
                       col="pass", col_order=[PASS_LABELS[p] for p in PASS_ORDER], palette="colorblind",
                       errorbar=interval_of(confidence, ACCURACY), height=2.8, aspect=WIDTH / 2 / 2.8,
                       linewidth=1.8)
    grid.set_titles(col_template="{col_name}")
    grid.set_axis_labels("epoch", "accuracy (fraction of sequences)")
    for ax in grid.axes.flat:
        _chance(ax, chance)
        ax.set_ylim(-0.05, 1.05)
        ax.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
        _outline_bands(ax)
    sns.move_legend(grid, "upper center", bbox_to_anchor=(0.5, 0.0), ncol=len(order), frameon=False)
    _heading(grid.figure, "Capacity axis, epoch by epoch: when the update pass starts to score, and how far",
             f"dashed: chance {chance:.2f}; dotted outlines: {confidence:.0%} t-interval across seeds")
    return grid.figure


def save(figure: plt.Figure, path_without_suffix: str, dpi: int) -> None:
    """PNG for the page, SVG for print. No metadata: the bytes depend on the data only, so DVC sees an unchanged
    figure as unchanged."""
    figure.savefig(f"{path_without_suffix}.png", dpi=dpi, bbox_inches="tight", metadata={"Software": None})
    figure.savefig(f"{path_without_suffix}.svg", bbox_inches="tight", metadata={"Date": None, "Creator": None})
    plt.close(figure)

