"""Figures as a reader meets them, read from the drawn artists (never from pixels): no two texts overlap, titles sit
over the panels' centre, error bars stay inside the range of their quantity, legends list only what is drawn, and a
loss near zero stays on its log axis."""

from __future__ import annotations

import functools
import itertools
import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.text import Text

from stages.reporting import figures

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


def mechanism_table() -> pd.DataFrame:
    rng = _rng(3)
    rows = [{"data_type": d, "initial_state_type": s, "pass": p, "replicate": r,
             "accuracy": float(np.clip(rng.normal(0.97 if p == "update_pass_accuracy" else 0.5, 0.2), 0, 1))}
            for d in MODES for s in STATES for p in figures.MECHANISM_LABELS for r in range(SEEDS)]
    return pd.DataFrame(rows)


def decomposition_table() -> pd.DataFrame:
    # Five cells like the report's, with parts that reach the ends of their range: the bars must stay inside it.
    rng = _rng(7)
    cells = ["grid/SameRandom-Random-10", "grid/DiffDistRandom-Zeros-10", "grid/DiffDistRandom-Random-10",
             "real/ACSF1-per_chunk-Zeros", "real/ACSF1-per_chunk-Random"]
    rows = []
    for cell in cells:
        for r in range(SEEDS):
            states = 0.0 if "Zeros" in cell else float(rng.uniform(0.0, 1.0))
            within = float(rng.uniform(-0.2, 1.0 - states))
            stale = float(rng.uniform(0.0, 1.0)) * within
            for part, value in (("accuracy_gap", states + within), ("replay_recovery", states),
                                ("within_epoch_accuracy_gap", within), ("stale_state_part", stale),
                                ("last_update_part", within - stale)):
                rows.append({"cell": cell, "replicate": r, "part": part, "value": value})
    return pd.DataFrame(rows)


def lags_table() -> pd.DataFrame:
    # Accuracies near 1 for young weights and near chance for old ones: bars must stay inside [0, 1].
    rng = _rng(10)
    rows = [{"cell": cell, "lag": lag, "replicate": r,
             "accuracy": float(np.clip(rng.normal(1.0 - lag / 100, 0.05), 0, 1))}
            for cell in ("grid/SameRandom-Random-10", "grid/DiffDistRandom-Zeros-10", "real/ACSF1-per_chunk-Zeros")
            for lag in (0, 1, 5, 20, 50) for r in range(SEEDS)]
    return pd.DataFrame(rows)


def relearn_table() -> pd.DataFrame:
    rows = []
    for label, reached in (("GRU, SameRandom data, Random states, bptt 10", True),
                           ("LSTM, SameRandom data, Random states, bptt 10", False)):
        rows += [{"label": label, "epoch": e, "replicate": r, "updates": float(10 + e + r) if reached else math.nan}
                 for e in range(1, 11) for r in range(SEEDS)]
    return pd.DataFrame(rows)


def remedies_table() -> pd.DataFrame:
    rng = _rng(4)
    rows = []
    for remedy in ["the write-up's loop (per_chunk, random states; baseline)", "protocol per_sequence (random states)",
                   "protocol stateless (random states)", "protocol interleaved (random states)",
                   "protocol burn_in (random states)", "learned initial states (per_chunk)",
                   "zeros initial states (per_chunk)"]:
        for measure, centre in (("accuracy gap on SameRandom", 0.9), ("held-out accuracy on DiffDistRandom", 0.95)):
            rows += [{"remedy": remedy, "measure": measure, "replicate": r,
                      "value": float(np.clip(rng.normal(centre, 0.25), -1 if "gap" in measure else 0, 1))}
                     for r in range(SEEDS)]
    return pd.DataFrame(rows)


def final_gap_table() -> pd.DataFrame:
    rng = _rng(5)
    rows = [{"data_type": d, "setting": f"{s}, bptt {b}", "gap": float(rng.normal(0, 2))}
            for d in MODES for s in STATES for b in (10, 50, 200)]
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


def overlapping_texts(figure: plt.Figure) -> list[tuple[str, str]]:
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
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


@pytest.mark.parametrize("name", ["inputs", "loss_per_epoch", "loss_last_epoch", "real", "mechanism", "remedies",
                                  "decomposition", "capacity", "capacity_epochs"])
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
    assert labels == ["GRU, SameRandom data, Random states, bptt 10"]


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
    assert [ax.get_title() for ax in figure.axes if ax.get_title()] == [f"{s} initial states" for s in states]
    assert {text.get_text() for text in figure.legends[0].get_texts()} == set(figures.MECHANISM_LABELS.values())
    assert overlapping_texts(figure) == []
