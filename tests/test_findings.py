"""The report's verdicts follow from the numbers by the stated rule."""

from __future__ import annotations

import pandas as pd

from stages.findings import all_findings, headline, learnable_data_generalises, zero_states_do_not_save_you

MARGIN = 0.1
BPTT = 10  # the bptt size verdicts are taken at


def _cells(rows: list[tuple]) -> pd.DataFrame:
    columns = ["data_type", "initial_state_type", "bptt_size", "update_pass_loss", "frozen_pass_loss",
               "frozen_pass_accuracy", "heldout_loss", "heldout_accuracy", "updates_per_epoch"]
    table = pd.DataFrame(rows, columns=columns)
    return table.assign(gap=table["frozen_pass_loss"] - table["update_pass_loss"])


def test_headline_holds_when_updating_falls_below_chance_and_frozen_does_not():
    cells = _cells([("SameRandom", "Random", 10, 0.05, 4.5, 0.5, 4.2, 0.5, 200)])
    assert headline(cells, MARGIN, BPTT).verdict == "holds"
    assert "updating 0.050, frozen 4.500" in headline(cells, MARGIN, BPTT).text


def test_headline_does_not_hold_when_both_passes_stay_at_chance():
    cells = _cells([("SameRandom", "Random", 10, 0.693, 0.693, 0.5, 0.693, 0.5, 200)])
    assert headline(cells, MARGIN, BPTT).verdict == "does not hold"


def test_headline_does_not_hold_when_the_frozen_pass_also_learns():
    cells = _cells([("SameRandom", "Random", 10, 0.05, 0.06, 1.0, 0.7, 0.5, 200)])
    assert headline(cells, MARGIN, BPTT).verdict == "does not hold"


def test_headline_is_judged_at_the_writeups_bptt_and_counts_the_others():
    cells = _cells([
        ("SameRandom", "Random", 10, 0.05, 4.5, 0.5, 4.2, 0.5, 200),
        ("SameRandom", "Random", 50, 0.693, 0.693, 0.5, 0.693, 0.5, 40),
    ])
    finding = headline(cells, MARGIN, BPTT)
    assert finding.verdict == "holds"
    assert "holds in 1 of 2 cells" in finding.text


def test_zero_state_claim_notes_a_frozen_pass_worse_than_chance():
    cells = _cells([("SameDistRandom", "Zeros", 10, 0.683, 3.4, 0.5, 3.4, 0.5, 200)])
    finding = zero_states_do_not_save_you(cells, MARGIN, BPTT)
    assert finding.verdict == "does not hold"
    assert "frozen pass was worse than chance in bptt 10" in finding.text


def test_generalisation_is_counted_per_initial_state_mode():
    cells = _cells([
        ("DiffDistRandom", "Zeros", 10, 0.02, 0.01, 1.0, 0.02, 0.99, 200),
        ("DiffDistRandom", "Random", 10, 0.03, 1.07, 0.6, 1.77, 0.8, 200),
    ])
    finding = learnable_data_generalises(cells, MARGIN)
    assert finding.verdict == "mixed"
    assert "Zeros states: 1 of 1 cells; Random states: 0 of 1 cells" in finding.text


def test_claims_without_their_cells_say_so():
    cells = _cells([("DiffDistRandom", "Zeros", 10, 0.02, 0.01, 1.0, 0.02, 0.99, 200)])
    verdicts = {f.title.split(":")[0]: f.verdict for f in all_findings(cells, MARGIN, BPTT)}
    assert verdicts["Headline"] == "not in this sweep"
