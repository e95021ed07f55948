"""Figures as a reader meets them, read from the drawn artists (never from pixels): no two texts overlap, titles sit
over the panels' centre, error bars stay inside the range of their quantity, legends list only what is drawn and
every colour drawn, a loss near zero stays on its log axis, loss bands are t-intervals of the log loss, the two passes
stay apart where their curves coincide, and cells are named in words."""

from __future__ import annotations

import functools
import itertools
import math
import re

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_rgba
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.text import Text

from stages.core.params import cells, parse_params
from stages.reporting import figures
from stages.reporting.figure_tables import drawings, figure_tables, remedy_words, story_cells, zero_by_construction
from stages.reporting.stats import t_interval

CHANCE, CONFIDENCE = math.log(2), 0.95
MODES = ["Zeros", "SameRandom", "SameDistRandom", "DiffDistRandom"]
STATES = ["Zeros", "Random", "Learned"]
SEEDS = 3


@pytest.fixture(autouse=True)
def _theme():
    figures.setup_theme()


def _rng(*key: int) -> np.random.Generator:
    return np.random.default_rng(list(key))


def _losses(rows: list[dict], passes=("update", "frozen")) -> list[dict]:
    return [{**row, "pass": p} for row in rows for p in passes]


def epochs_table() -> pd.DataFrame:
    rng = _rng(1)
    rows = [{"data_type": d, "initial_state_type": s, "epoch": e, "replicate": r}
            for d in MODES for s in STATES for e in range(1, 11) for r in range(SEEDS)]
    table = pd.DataFrame(_losses(rows))
    # The updating loss of one cell falls far below the usual floor, as the headline cell's does.
    falling = ((table["pass"] == "update") & (table["data_type"] == "SameRandom")
               & (table["initial_state_type"] == "Random"))
    table["loss"] = np.where(falling, 10.0 ** -(table["epoch"] / 2), rng.uniform(0.6, 3.0, len(table)))
    return table


def last_epoch_table() -> pd.DataFrame:
    table = epochs_table().rename(columns={"epoch": "chunk"})
    return table.assign(chunk=table["chunk"] * 20)


def real_table() -> pd.DataFrame:
    rng = _rng(2)
    rows = [{"protocol": p, "initial_state_type": s, "epoch": e, "replicate": r}
            for p in ["per_chunk", "per_sequence", "stateless", "burn_in"] for s in ["Zeros", "Random"]
            for e in range(1, 11) for r in range(SEEDS)]
    table = pd.DataFrame(_losses(rows))
    return table.assign(loss=rng.uniform(0.1, 4.0, len(table)))


def story_table(fix: bool = True) -> pd.DataFrame:
    # The headline cell splits (updating loss falls, frozen rises); the fix stays on chance in both passes, where
    # the two curves lie on each other.
    rng = _rng(11)
    rows = [{"protocol": protocol, "bptt_size": 10, "epoch": e, "replicate": r}
            for protocol in (["per_chunk", "stateless"] if fix else ["per_chunk"]) for e in range(1, 11)
            for r in range(SEEDS)]
    table = pd.DataFrame(_losses(rows))
    split = table["protocol"] == "per_chunk"
    noise = rng.lognormal(0.0, 0.5, len(table))
    loss = np.where(table["pass"] == "update", 0.693 * 10.0 ** -(table["epoch"] / 3) * noise, 0.693 * table["epoch"]
                    * noise)
    return table.assign(loss=np.where(split, loss, math.log(2)))


def mechanism_table() -> pd.DataFrame:
    rng = _rng(3)
    rows = [{"data_type": d, "initial_state_type": s, "pass": p, "replicate": r,
             "accuracy": float(np.clip(rng.normal(0.97 if p == "update_pass_accuracy" else 0.5, 0.2), 0, 1))}
            for d in MODES for s in STATES for p in figures.MECHANISM_LABELS for r in range(SEEDS)]
    return pd.DataFrame(rows)


def decomposition_table() -> pd.DataFrame:
    # Five cells like the report's, with parts that reach the ends of their range: the bars must stay inside it.
    rng = _rng(7)
    settings = ["SameRandom, random states, bptt 10", "DiffDistRandom, zero states, bptt 10",
                "DiffDistRandom, random states, bptt 10", "ACSF1, zero states", "ACSF1, random states"]
    rows = []
    for setting in settings:
        for r in range(SEEDS):
            states = 0.0 if "zero" in setting else float(rng.uniform(0.0, 1.0))
            within = float(rng.uniform(-0.2, 1.0 - states))
            stale = float(rng.uniform(0.0, 1.0)) * within
            for part, value in (("accuracy_gap", states + within), ("replay_recovery", states),
                                ("within_epoch_accuracy_gap", within), ("stale_state_part", stale),
                                ("last_update_part", within - stale)):
                rows.append({"setting": setting, "replicate": r, "part": part, "value": value})
    return pd.DataFrame(rows)


def lags_table() -> pd.DataFrame:
    # Accuracies near 1 for young weights and near chance for old ones: bars must stay inside [0, 1].
    rng = _rng(10)
    rows = [{"setting": setting, "lag": lag, "replicate": r,
             "accuracy": float(np.clip(rng.normal(1.0 - lag / 100, 0.05), 0, 1))}
            for setting in ("SameRandom, random states, bptt 10", "DiffDistRandom, zero states, bptt 10",
                            "ACSF1, zero states")
            for lag in (0, 1, 5, 20, 50) for r in range(SEEDS)]
    return pd.DataFrame(rows)


def relearn_table() -> pd.DataFrame:
    rows = []
    for label, reached in (("GRU, SameRandom data, random states, bptt 10", True),
                           ("LSTM, SameRandom data, random states, bptt 10", False)):
        rows += [{"label": label, "epoch": e, "replicate": r, "updates": float(10 + e + r) if reached else math.nan}
                 for e in range(1, 11) for r in range(SEEDS)]
    return pd.DataFrame(rows)


REMEDIES = ["the write-up's loop (baseline)", "per_sequence", "stateless", "interleaved", "burn_in",
            "the write-up's loop, learned states", "the write-up's loop, zero states"]
FIXED = REMEDIES[-2:]  # zero and learned initial states on SameRandom: the gap is zero by construction


def remedies_table() -> pd.DataFrame:
    rng = _rng(4)
    rows = []
    for remedy in REMEDIES:
        for measure, centre in (("accuracy gap on SameRandom", 0.9), ("held-out accuracy on DiffDistRandom", 0.95)):
            fixed = "gap" in measure and remedy in FIXED
            rows += [{"remedy": remedy, "measure": measure, "replicate": r, "by_construction": fixed,
                      "value": 0.0 if fixed else float(np.clip(rng.normal(centre, 0.25), -1 if "gap" in measure
                                                                else 0, 1))}
                     for r in range(SEEDS)]
    return pd.DataFrame(rows)


def final_gap_table() -> pd.DataFrame:
    rng = _rng(5)
    rows = [{"data_type": d, "setting": f"{s} states, bptt {b}", "gap": float(rng.normal(0, 2))}
            for d in MODES for s in ("zero", "random", "learned") for b in (10, 50, 200)]
    return pd.DataFrame(rows)


def onset_table() -> pd.DataFrame:
    rows = [{"hidden_size": h, "learning_rate": lr, "replicate": r, "onset_epoch": math.nan if lr == 0.002 else 5.0}
            for h in (64, 128, 256) for lr in (0.002, 0.005, 0.01) for r in range(SEEDS)]
    return pd.DataFrame(rows)


def inputs_table() -> pd.DataFrame:
    rng = _rng(6)
    rows = [{"data_type": d, "label": label, "sequence": f"{label}-{n}", "step": t, "value": float(rng.normal())}
            for d in MODES for label in (0, 1) for n in range(2) for t in range(50)]
    return pd.DataFrame(rows)


def capacity_table() -> pd.DataFrame:
    # Accuracies near both ends of their range at the smallest and the largest size: bars must stay inside [0, 1].
    rng = _rng(8)
    rows = []
    for sequences, centre in ((4, 0.99), (16, 0.95), (64, 0.8), (256, 0.55)):
        for p in figures.CAPACITY_LABELS:
            mean = centre if p == "update_pass_accuracy" else 0.75 * centre if "replayed" in p else 0.5
            rows += [{"sequences": sequences, "pass": p, "replicate": r,
                      "accuracy": float(np.clip(rng.normal(mean, 0.2), 0, 1))} for r in range(SEEDS)]
    return pd.DataFrame(rows)


def capacity_epochs_table() -> pd.DataFrame:
    rng = _rng(9)
    rows = [{"sequences": n, "epoch": e, "replicate": r, "pass": p,
             "accuracy": float(np.clip(rng.normal(0.5 + (0.45 if p == "update" and e > 10 else 0), 0.1), 0, 1))}
            for n in (4, 16, 64, 256) for e in range(1, 31) for r in range(SEEDS) for p in ("update", "frozen")]
    return pd.DataFrame(rows)


DRAWINGS = {
    "story": lambda: figures.story(story_table(), CHANCE, CONFIDENCE),
    "story_alone": lambda: figures.story(story_table(fix=False), CHANCE, CONFIDENCE),
    "inputs": lambda: figures.input_sequences(inputs_table()),
    "loss_per_epoch": lambda: figures.loss_per_epoch(epochs_table(), CHANCE, CONFIDENCE, 10),
    "loss_last_epoch": lambda: figures.loss_last_epoch(last_epoch_table(), CHANCE, CONFIDENCE, 10),
    "real": lambda: figures.real_loss_per_epoch(real_table(), math.log(10), CONFIDENCE, "ACSF1", 10, 10),
    "final_gap": lambda: figures.final_gap(final_gap_table()),
    "mechanism": lambda: figures.mechanism(mechanism_table(), 0.5, CONFIDENCE),
    "decomposition": lambda: figures.decomposition(decomposition_table(), CONFIDENCE),
    "lags": lambda: figures.lags(lags_table(), CONFIDENCE),
    "relearning": lambda: figures.relearning(relearn_table(), CONFIDENCE, 0.3),
    "remedies": lambda: figures.remedies(remedies_table(), 0.5, 0.1, CONFIDENCE),
    "onset": lambda: figures.onset(onset_table(), 10),
    "capacity": lambda: figures.capacity(capacity_table(), 0.5, 64, CONFIDENCE),
    "capacity_epochs": lambda: figures.capacity_epochs(capacity_epochs_table(), 0.5, CONFIDENCE),
}


@functools.cache
def _drawn(name: str) -> plt.Figure:
    return DRAWINGS[name]()


# Each figure is drawn once and read by every test (the artists stay readable after pyplot lets go of them).
FIGURES = {name: functools.partial(_drawn, name) for name in DRAWINGS}


def _in_view(axis, location: float) -> bool:
    low, high = sorted(axis.get_view_interval())
    return low - 1e-9 <= location <= high + 1e-9


def drawn_texts(figure: plt.Figure) -> list[Text]:
    """Every text a reader sees: titles, axis and tick labels of ticks in view, annotations, legends."""
    texts = list(figure.texts)
    texts += [t for t in (getattr(figure, "_suptitle", None), getattr(figure, "_supxlabel", None)) if t is not None]
    texts += [text for legend in figure.legends for text in legend.get_texts()]
    for ax in figure.axes:
        texts += [ax.title, ax._left_title, ax._right_title, ax.xaxis.label, ax.yaxis.label, *ax.texts]
        for axis in (ax.xaxis, ax.yaxis):
            texts += [tick.label1 for tick in axis.get_major_ticks() if _in_view(axis, tick.get_loc())]
        if ax.get_legend() is not None:
            texts += list(ax.get_legend().get_texts())
    unique = {id(t): t for t in texts}  # the suptitle is also one of the figure's texts
    return [t for t in unique.values() if t.get_visible() and t.get_text().strip()]


def _renderer(figure: plt.Figure):
    """The figure drawn, and its renderer (a figure pyplot has let go of gets a canvas again)."""
    canvas = figure.canvas if hasattr(figure.canvas, "get_renderer") else FigureCanvasAgg(figure)
    canvas.draw()
    return canvas.get_renderer()


def overlapping_texts(figure: plt.Figure) -> list[tuple[str, str]]:
    renderer = _renderer(figure)
    boxes = [(text.get_text(), text.get_window_extent(renderer)) for text in drawn_texts(figure)]
    return [(a, b) for (a, box_a), (b, box_b) in itertools.combinations(boxes, 2) if box_a.overlaps(box_b)]


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_no_two_texts_of_a_figure_overlap(name):
    figure = FIGURES[name]()
    assert overlapping_texts(figure) == []


def test_the_overlap_check_catches_overlapping_labels():
    figure, ax = plt.subplots(figsize=(2, 2))
    ax.set_xticks([0.0, 0.01])
    ax.set_xticklabels(["a long tick label", "another long one"])
    assert overlapping_texts(figure)


@pytest.mark.parametrize("name", ["story", "story_alone", "inputs", "loss_per_epoch", "loss_last_epoch", "real",
                                  "mechanism", "remedies", "decomposition", "capacity", "capacity_epochs"])
def test_main_title_sits_over_the_centre_of_the_panels(name):
    figure = FIGURES[name]()
    boxes = [ax.get_position() for ax in figure.axes]
    centre = (min(b.x0 for b in boxes) + max(b.x1 for b in boxes)) / 2
    assert figure._suptitle.get_position()[0] == pytest.approx(centre, abs=0.01)


def _error_bar_values(figure: plt.Figure, axis: int) -> np.ndarray:
    """The data coordinates of every error bar drawn (two-point lines along `axis`: 0 for x, 1 for y)."""
    values = []
    for ax in figure.axes:
        for line in ax.lines:
            data = np.column_stack(line.get_data()).astype(float)
            if len(data) == 2 and data[0, 1 - axis] == data[1, 1 - axis] and data[0, axis] != data[1, axis]:
                values += list(data[:, axis])
    return np.array(values)


def test_accuracy_error_bars_stay_between_0_and_1():
    bars = _error_bar_values(FIGURES["mechanism"](), axis=0)
    assert len(bars) and bars.min() >= 0 and bars.max() <= 1


def test_decomposition_error_bars_stay_between_minus_1_and_1_and_every_part_is_drawn():
    figure = FIGURES["decomposition"]()
    bars = _error_bar_values(figure, axis=0)
    assert len(bars) and bars.min() >= -1 and bars.max() <= 1
    labels = [text.get_text() for text in figure.axes[0].get_legend().get_texts()]
    assert labels == list(figures.DECOMPOSITION_LABELS.values())


def test_remedy_error_bars_stay_inside_their_ranges():
    bars = _error_bar_values(FIGURES["remedies"](), axis=0)
    assert len(bars) and bars.min() >= -1 and bars.max() <= 1


def test_relearning_legend_lists_only_series_that_are_drawn():
    figure = FIGURES["relearning"]()
    labels = [text.get_text() for text in figure.axes[0].get_legend().get_texts()]
    assert labels == ["GRU, SameRandom data, random states, bptt 10"]


def test_a_loss_near_zero_stays_on_the_log_axis():
    figure = FIGURES["loss_last_epoch"]()
    lowest = min(float(np.nanmin(line.get_ydata())) for ax in figure.axes for line in ax.lines
                 if len(line.get_ydata()) > 2)
    assert lowest > 0
    assert all(ax.get_ylim()[0] <= lowest for ax in figure.axes)


def test_capacity_error_bars_stay_between_0_and_1_and_the_bound_is_drawn():
    figure = FIGURES["capacity"]()
    bars = _error_bar_values(figure, axis=1)
    assert len(bars) and bars.min() >= 0 and bars.max() <= 1
    ax = figure.axes[0]
    verticals = [line.get_xdata()[0] for line in ax.lines
                 if len(line.get_xdata()) == 2 and line.get_xdata()[0] == line.get_xdata()[1]
                 and line.get_linestyle() == ":"]
    assert verticals == [64]
    assert [text.get_text() for text in ax.get_legend().get_texts()] == list(figures.CAPACITY_LABELS.values())
    assert [tick.get_text() for tick in ax.get_xticklabels()] == ["4", "16", "64", "256"]


def test_capacity_epochs_has_a_panel_per_pass_and_a_line_per_size():
    figure = FIGURES["capacity_epochs"]()
    assert [ax.get_title() for ax in figure.axes] == [figures.PASS_LABELS[p] for p in figures.PASS_ORDER]
    assert [text.get_text() for text in figure.legends[0].get_texts()] == ["4", "16", "64", "256"]


@pytest.mark.parametrize("states", [["Random"], ["Zeros", "Random"]])
def test_the_mechanism_figure_draws_a_run_with_fewer_state_modes(states):
    # A profile that runs only random (or zero and random) states: one or two panels, every pass in the legend, no
    # text over another (a lone narrow panel once left seaborn's legend no room: "left cannot be >= right").
    table = mechanism_table()
    figure = figures.mechanism(table[table["initial_state_type"].isin(states)], 0.5, CONFIDENCE)
    words = {"Zeros": "zero", "Random": "random"}
    assert [ax.get_title() for ax in figure.axes if ax.get_title()] == [f"{words[s]} initial states" for s in states]
    assert {text.get_text() for text in figure.legends[0].get_texts()} == set(figures.MECHANISM_LABELS.values())
    assert overlapping_texts(figure) == []


# --- colours and legends ---------------------------------------------------------------------------------------------


def _hue(colour) -> tuple[float, float, float] | None:
    """A colour as a reader sees it on white (a translucent fill shows lighter than its line), or None for what no
    legend needs: nothing (transparent) and greys (reference lines, frames, white marker edges)."""
    red, green, blue, alpha = to_rgba(colour)
    if alpha == 0:
        return None
    seen = tuple(round(alpha * c + (1 - alpha) * 1.0, 2) for c in (red, green, blue))
    return None if max(seen) - min(seen) < 0.05 else seen


def _line_hues(line: Line2D) -> set:
    hues = {_hue(line.get_color())} if line.get_linestyle() not in ("None", "none", "", " ") else set()
    if line.get_marker() not in (None, "None", "none", "", " "):
        hues |= {_hue(line.get_markerfacecolor()), _hue(line.get_markeredgecolor())}
    return hues


def _collection_hues(collection) -> set:
    hues = {_hue(c) for c in collection.get_facecolor()}
    if np.any(np.asarray(collection.get_linewidth()) > 0):
        hues |= {_hue(c) for c in collection.get_edgecolor()}
    if collection.get_hatch():
        hues |= {_hue(c) for c in np.atleast_2d(collection.get_hatchcolor())}
    return hues


def drawn_hues(figure: plt.Figure) -> set:
    """Every colour drawn in the panels: lines, markers, bands, error bars, hatching."""
    hues = set()
    for ax in figure.axes:
        for line in ax.lines:
            if line.get_visible() and len(line.get_xdata()):
                hues |= _line_hues(line)
        for collection in ax.collections:
            if collection.get_visible():
                hues |= _collection_hues(collection)
        for patch in ax.patches:
            hues |= {_hue(patch.get_facecolor())}
    return hues - {None}


def _legends(figure: plt.Figure) -> list:
    return [*figure.legends, *(ax.get_legend() for ax in figure.axes if ax.get_legend() is not None)]


def legend_hues(figure: plt.Figure) -> set:
    hues = set()
    for legend in _legends(figure):
        for handle in legend.legend_handles:
            if isinstance(handle, Line2D):
                hues |= _line_hues(handle)
            elif isinstance(handle, Patch):
                hues |= {_hue(handle.get_facecolor()), _hue(handle.get_hatchcolor()) if handle.get_hatch() else None}
            else:
                hues |= _collection_hues(handle)
    return hues - {None}


LEGENDED = sorted(set(DRAWINGS) - {"final_gap", "onset"})  # the heatmaps have colour bars instead


@pytest.mark.parametrize("name", LEGENDED)
def test_every_colour_drawn_is_in_the_legend_and_the_legend_shows_only_colours_drawn(name):
    figure = FIGURES[name]()
    drawn, shown = drawn_hues(figure), legend_hues(figure)
    assert drawn, "nothing coloured was drawn"
    assert drawn <= shown, f"drawn but not in the legend: {drawn - shown}"
    assert shown <= drawn, f"in the legend but not drawn: {shown - drawn}"


def test_the_colour_check_catches_translucent_bands_that_blend():
    figure, ax = plt.subplots()
    ax.plot([0, 1], [0, 1], color="C0", label="a")
    ax.fill_between([0, 1], [0, 0], [1, 1], color="C0", alpha=0.2)
    ax.legend()
    assert not drawn_hues(figure) <= legend_hues(figure)


# --- loss figures: bands, passes, ticks, the headline ----------------------------------------------------------------

LOSS_FIGURES = ["story", "story_alone", "loss_per_epoch", "loss_last_epoch", "real"]


def _named(ax: plt.Axes, name: str) -> list:
    """The artists a figure names for its readers' tests (a label starting "_", which no legend shows)."""
    return [artist for artist in [*ax.lines, *ax.collections, *ax.patches] if artist.get_label() == f"_{name}"]


@pytest.mark.parametrize("name", LOSS_FIGURES)
def test_the_two_passes_differ_in_line_style_and_marker_in_every_panel(name):
    figure = FIGURES[name]()
    for ax in figure.axes:
        (update,), (frozen,) = _named(ax, "curve:update"), _named(ax, "curve:frozen")
        assert update.get_linestyle() != frozen.get_linestyle()
        assert update.get_marker() != frozen.get_marker()
        # Open markers over filled ones: where the curves coincide both stay visible.
        assert frozen.get_markerfacecolor() == "none" and update.get_zorder() < frozen.get_zorder()


@pytest.mark.parametrize("name", LOSS_FIGURES)
def test_loss_bands_stay_on_their_log_axis(name):
    figure = FIGURES[name]()
    for ax in figure.axes:
        assert ax.get_yscale() == "log"
        bottom, top = ax.get_ylim()
        for band in _named(ax, "band:update") + _named(ax, "band:frozen"):
            heights = np.concatenate([path.vertices[:, 1] for path in band.get_paths()])
            assert heights.min() >= bottom and heights.max() <= top and heights.min() > 0


def test_a_loss_band_is_the_t_interval_of_the_log_loss():
    table = story_table()
    figure = FIGURES["story"]()
    ax = figure.axes[0]
    for p in ("update", "frozen"):
        (band,) = _named(ax, f"band:{p}")
        vertices = band.get_paths()[0].vertices
        for epoch in (2, 7):
            losses = table[(table["protocol"] == "per_chunk") & (table["pass"] == p) & (table["epoch"] == epoch)]
            interval = t_interval(np.log(losses["loss"]), CONFIDENCE)
            at = vertices[np.isclose(vertices[:, 0], epoch), 1]
            assert at.min() == pytest.approx(math.exp(interval.low), rel=1e-6)
            assert at.max() == pytest.approx(math.exp(interval.high), rel=1e-6)
        (curve,) = _named(ax, f"curve:{p}")
        mean = np.exp(np.log(losses["loss"]).mean())
        assert curve.get_ydata()[list(curve.get_xdata()).index(7)] == pytest.approx(mean, rel=1e-6)


def test_the_story_shows_the_headline_cell_beside_its_fix_with_a_named_dashed_chance_line():
    figure = FIGURES["story"]()
    assert len(figure.axes) == 2
    left, right = (ax.get_title().replace("\n", " ") for ax in figure.axes)
    assert left == "The write-up's loop: state carried across chunks"
    assert right == "The fix: a fresh state for every chunk (stateless)"
    assert figure.axes[0].get_ylabel() == "loss per epoch (nats, log scale)"
    assert all(ax.get_xlabel() == "epoch" for ax in figure.axes)
    for ax in figure.axes:
        (chance,) = _named(ax, "chance")
        assert chance.get_linestyle() == "--" and chance.get_ydata()[0] == pytest.approx(math.log(2))
    labels = [text.get_text() for text in figure.legends[0].get_texts()]
    assert "chance: ln 2 = 0.693 nats" in labels
    assert [label for label in labels if "pass" in label and "interval" not in label] == [
        figures.PASS_LABELS[p] for p in figures.PASS_ORDER]
    assert len(FIGURES["story_alone"]().axes) == 1


@pytest.mark.parametrize("name", ["loss_per_epoch", "loss_last_epoch"])
def test_the_headline_panel_is_marked(name):
    figure = FIGURES[name]()
    marked = [ax for ax in figure.axes if "(headline)" in ax.get_title()]
    assert len(marked) == 1 and marked[0].get_title() == "SameRandom data\nrandom states (headline)"
    others = [ax for ax in figure.axes if ax is not marked[0]]
    assert min(s.get_linewidth() for s in marked[0].spines.values()) > max(
        s.get_linewidth() for ax in others for s in ax.spines.values())


@pytest.mark.parametrize("name", LOSS_FIGURES)
def test_every_log_axis_labels_its_ticks_in_one_format(name):
    figure = FIGURES[name]()
    _renderer(figure)
    labels = [tick.label1.get_text() for ax in figure.axes for tick in ax.yaxis.get_major_ticks()
              if _in_view(ax.yaxis, tick.get_loc()) and tick.label1.get_visible() and tick.label1.get_text()]
    assert labels and all(re.fullmatch(r"\$\\mathdefault\{10\^\{-?\d+\}\}\$", label) for label in labels), labels


# --- the other figures' defects --------------------------------------------------------------------------------------


def test_mechanism_has_regular_accuracy_ticks_and_titles_in_words():
    figure = FIGURES["mechanism"]()
    _renderer(figure)
    for ax in figure.axes:
        assert list(ax.get_xticks()) == [0, 0.25, 0.5, 0.75, 1]
        assert [label.get_text() for label in ax.get_xticklabels()] == ["0", "0.25", "0.5", "0.75", "1"]
    assert [ax.get_title() for ax in figure.axes] == ["zero initial states", "random initial states",
                                                      "learned initial states"]


def test_remedy_labels_are_short_and_gaps_zero_by_construction_are_drawn_apart():
    figure = FIGURES["remedies"]()
    renderer = _renderer(figure)
    widest = max(label.get_window_extent(renderer).width for label in figure.axes[0].get_yticklabels())
    assert widest < 0.2 * figure.bbox.width
    gap = figure.axes[0]
    marked = [line for line in gap.lines if line.get_label() == "_by_construction"]
    assert sorted(line.get_ydata()[0] for line in marked) == [REMEDIES.index(r) for r in FIXED]
    assert all(_hue(line.get_markeredgecolor()) is None and line.get_markerfacecolor() == "white"
               for line in marked)  # grey on white: not the colour of a result
    hatched = [span for span in gap.patches if span.get_label() == "_by_construction"]
    assert len(hatched) == len(FIXED) and all(span.get_hatch() for span in hatched)
    assert not [line for line in figure.axes[1].lines if line.get_label() == "_by_construction"]  # held-out: measured
    assert any("zero by construction" in text.get_text() for text in figure.legends[0].get_texts())


CELL_KEY = re.compile(r"\b(grid|remedy|real|architecture|onset|capacity|chunks)/")


@pytest.mark.parametrize("name", sorted(DRAWINGS))
def test_no_figure_names_a_cell_by_its_key(name):
    figure = FIGURES[name]()
    _renderer(figure)
    assert not [text.get_text() for text in drawn_texts(figure) if CELL_KEY.search(text.get_text())]


def test_decomposition_rows_are_cells_in_words():
    figure = FIGURES["decomposition"]()
    labels = [label.get_text().replace("\n", " ") for label in figure.axes[0].get_yticklabels()]
    assert labels == list(dict.fromkeys(decomposition_table()["setting"]))


def test_both_classes_of_every_data_mode_stay_visible():
    figure = FIGURES["inputs"]()
    assert len(figure.axes) == len(MODES) <= 4
    for ax in figure.axes:
        spans = {}
        for label in ("class:0", "class:1"):
            values = np.concatenate([line.get_ydata() for line in ax.lines if line.get_label() == f"_{label}"])
            spans[label] = (values.min(), values.max())
        assert spans["class:0"][1] < spans["class:1"][0]  # one above the other, never on top of each other
    assert [text.get_text() for text in figure.legends[0].get_texts()] == ["class 0 (lower band)",
                                                                         "class 1 (upper band)"]


@pytest.mark.parametrize("name", ["story", "story_alone", "inputs", "mechanism", "remedies", "decomposition", "lags",
                                  "capacity", "capacity_epochs", "relearning"])
def test_figures_of_the_report_body_have_at_most_four_panels(name):
    assert len([ax for ax in FIGURES[name]().axes if ax.get_label() != "<colorbar>"]) <= 4


# --- which figures a run draws, and their tables ---------------------------------------------------------------------


def test_the_story_shows_the_headline_and_the_first_fix_the_run_has(tiny_raw):
    tiny_raw["remedies"]["protocol"] = ["per_sequence", "burn_in", "stateless"]
    assert story_cells(parse_params(tiny_raw)) == ["grid/SameRandom-Random-10", "remedy/stateless-SameRandom-Random"]
    tiny_raw["remedies"]["protocol"] = ["burn_in"]
    assert story_cells(parse_params(tiny_raw)) == ["grid/SameRandom-Random-10", "remedy/burn_in-SameRandom-Random"]
    tiny_raw["remedies"]["protocol"] = ["per_sequence"]
    assert story_cells(parse_params(tiny_raw)) == ["grid/SameRandom-Random-10"]
    assert "story" in drawings(parse_params(tiny_raw), {})
    tiny_raw["sweep"]["initial_state_type"] = ["Zeros"]
    tiny_raw["replicates"]["primary_cells"] = ["grid/SameRandom-Zeros-10"]
    tiny_raw["probe"]["grid"] = {"DiffDistRandom-Zeros-10": "DiffDistRandom"}
    assert story_cells(parse_params(tiny_raw)) == [] and "story" not in drawings(parse_params(tiny_raw), {})


def test_remedy_rows_are_named_in_words_and_zero_gaps_by_construction_are_flagged():
    assert remedy_words("grid/SameRandom-Random-10") == "the write-up's loop (baseline)"
    assert remedy_words("grid/SameRandom-Learned-10") == "the write-up's loop, learned states"
    assert remedy_words("remedy/stateless-SameRandom-Random") == "stateless"
    assert remedy_words("remedy/burn_in-SameRandom-Zeros") == "burn_in, zero states"
    assert [zero_by_construction(c) for c in ("grid/SameRandom-Zeros-10", "grid/SameRandom-Learned-10",
                                              "grid/SameRandom-Random-10", "grid/DiffDistRandom-Zeros-10")] == [
        True, True, False, False]


def _gathered(params) -> dict[str, pd.DataFrame]:
    """Frames shaped as `gather` shapes them, for every cell of `params`, with made-up scores."""
    rng = _rng(12)
    lags = [f"lag_{lag}_chunk_accuracy" for lag in (0, *params.probe.lags)]
    scores = [*figures.MECHANISM_LABELS, *figures.DECOMPOSITION_LABELS, *figures.CAPACITY_LABELS, "accuracy_gap",
              *lags]
    replicates, epochs, last, epoch_scores, relearn, summary = [], [], [], [], [], []
    for cell in cells(params):
        axes = {"cell": cell.name, "family": cell.family, "data_type": cell.data_type,
                "initial_state_type": cell.initial_state_type, "bptt_size": cell.bptt_size,
                "protocol": cell.protocol, "rnn": cell.cell, "hidden_size": cell.hidden_size,
                "learning_rate": cell.learning_rate, "examples_per_class": cell.examples_per_class}
        summary.append({**axes, "metric": "gap", "mean": float(rng.normal())})
        for r in range(cell.replicates):
            replicates.append({**axes, "replicate": r, "onset_epoch": 1.0,
                               **{score: float(rng.uniform()) for score in scores}})
            for e in range(1, cell.epochs + 1):
                epoch_scores.append({"cell": cell.name, "epoch": e, "replicate": r,
                                     "update_accuracy": float(rng.uniform()), "frozen_accuracy": float(rng.uniform())})
                relearn.append({**axes, "epoch": e, "replicate": r, "updates": float(rng.integers(1, 9))})
                for p in ("update", "frozen"):
                    epochs.append({**axes, "epoch": e, "replicate": r, "pass": p, "loss": float(rng.uniform(0.1, 1))})
            for chunk in range(1, 5):
                for p in ("update", "frozen"):
                    last.append({**axes, "chunk": chunk, "replicate": r, "pass": p,
                                 "loss": float(rng.uniform(0.1, 1))})
    return {"replicates": pd.DataFrame(replicates), "summary": pd.DataFrame(summary), "epochs": pd.DataFrame(epochs),
            "last_epoch": pd.DataFrame(last), "epoch_scores": pd.DataFrame(epoch_scores),
            "relearn": pd.DataFrame(relearn)}


def test_every_figure_a_run_draws_has_a_table_of_the_columns_it_draws(tiny_raw):
    tiny_raw["remedies"]["protocol"] = ["per_sequence", "stateless"]
    params = parse_params(tiny_raw)
    tables = figure_tables(params, _gathered(params))
    drawn = drawings(params, {"ACSF1": 10})
    assert list(drawn)[0] == "story" and set(drawn) - {"inputs"} <= set(tables)
    assert list(tables["story"].columns) == ["protocol", "bptt_size", "epoch", "replicate", "pass", "loss"]
    assert list(dict.fromkeys(tables["story"]["protocol"])) == ["per_chunk", "stateless"]
    assert list(tables["decomposition"].columns) == ["setting", "replicate", "part", "value"]
    assert list(dict.fromkeys(tables["decomposition"]["setting"])) == [
        "SameRandom, random states, bptt 10", "DiffDistRandom, zero states, bptt 10", "ACSF1, random states"]
    assert list(tables["lags"].columns) == ["setting", "lag", "replicate", "accuracy"]
    assert list(tables["remedies"].columns) == ["remedy", "measure", "replicate", "value", "by_construction"]
    fixed = tables["remedies"][tables["remedies"]["by_construction"]]
    assert set(fixed["remedy"]) == {"the write-up's loop, zero states"}  # the tiny grid has no learned states
    assert set(fixed["measure"]) == {"accuracy gap on SameRandom"}
    assert list(tables["final_gap"].columns) == ["data_type", "setting", "gap"]
    assert list(tables["relearning"].columns) == ["label", "epoch", "replicate", "updates"]
    for name in ("story", "remedies", "decomposition", "lags"):
        figure = drawn[name](tables[name])
        assert overlapping_texts(figure) == []
