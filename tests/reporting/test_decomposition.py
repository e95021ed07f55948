"""The gap in two parts (from the initial states, within the epoch): they add up to it seed by seed, a fixed initial
state leaves the first part at zero, and the report reads which part carries the gap from the parts' intervals."""

from __future__ import annotations

import pandas as pd
import pytest

from stages.core.params import parse_params
from stages.reporting.findings import decomposition_cells
from stages.reporting.tables import _probe_reading, _reading, decomposition

CELL = "grid/X-Random-10"


def _summary(gap: tuple, states: tuple, within: tuple) -> pd.DataFrame:
    rows = [{"cell": CELL, "metric": metric, "mean": m, "low": lo, "high": hi} for metric, (m, lo, hi) in (
        ("accuracy_gap", gap), ("replay_recovery", states), ("within_epoch_accuracy_gap", within))]
    return pd.DataFrame(rows)


@pytest.mark.parametrize("states, within, expected", [
    ((0.4, 0.2, 0.6), (0.05, -0.1, 0.2), "the write-up's explanation is the whole story"),
    ((0.05, -0.1, 0.2), (0.4, 0.2, 0.6), "the initial states do not carry it"),
    ((0.3, 0.1, 0.5), (0.2, 0.05, 0.35), "both parts"),
    ((0.2, -0.1, 0.5), (0.2, -0.1, 0.5), "undecided"),
])
def test_the_part_whose_interval_lies_above_zero_is_said_to_carry_the_gap(states, within, expected):
    gap = (states[0] + within[0], 0.3, 0.6)
    assert _reading(_summary(gap, states, within), CELL, fixed_states=False).startswith(expected)


def test_a_gap_whose_interval_covers_zero_has_nothing_to_explain():
    reading = _reading(_summary((0.05, -0.1, 0.2), (0.3, 0.1, 0.5), (-0.25, -0.5, 0.0)), CELL, fixed_states=False)
    assert reading.startswith("no gap to explain")


def test_with_fixed_initial_states_the_whole_gap_is_read_as_within_the_epoch():
    reading = _reading(_summary((0.25, 0.1, 0.4), (0.0, 0.0, 0.0), (0.25, 0.1, 0.4)), CELL, fixed_states=True)
    assert "none of the gap is theirs" in reading and "covers 0" not in reading


def test_the_decomposed_cells_are_the_probed_cells_of_params(tiny_raw):
    params = parse_params(tiny_raw)
    assert decomposition_cells(params) == [
        "grid/SameRandom-Random-10", "grid/DiffDistRandom-Zeros-10", "real/ACSF1-per_chunk-Random"]
    tiny_raw["probe"]["grid"] = {"DiffDistRandom-Random-10": "DiffDistRandom"}
    assert decomposition_cells(parse_params(tiny_raw)) == ["grid/DiffDistRandom-Random-10",
                                                           "real/ACSF1-per_chunk-Random"]


@pytest.mark.parametrize("stale, last, expected", [
    ((0.3, 0.2, 0.4), (0.0, -0.1, 0.1), "the stale carried state carries it; the other part covers 0"),
    ((0.0, -0.1, 0.1), (0.3, 0.2, 0.4), "the last update carries it; the other part covers 0"),
    ((0.2, 0.1, 0.3), (0.1, 0.05, 0.2), "both parts"),
    ((0.2, -0.1, 0.5), (0.1, -0.1, 0.3), "undecided"),
])
def test_the_part_of_the_within_epoch_gap_whose_interval_lies_above_zero_is_said_to_carry_it(stale, last, expected):
    within = (stale[0] + last[0], 0.2, 0.5)
    rows = [{"cell": CELL, "metric": metric, "mean": m, "low": lo, "high": hi} for metric, (m, lo, hi) in (
        ("within_epoch_accuracy_gap", within), ("stale_state_part", stale), ("last_update_part", last))]
    assert _probe_reading(pd.DataFrame(rows), CELL).startswith(expected)


def test_a_run_without_decomposed_cells_says_so():
    assert "No cell" in decomposition(pd.DataFrame(columns=["cell", "metric"]), [CELL],
                                      pd.DataFrame(columns=["cell", "initial_state_type"]))
