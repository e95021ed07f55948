"""Findings and controls: each verdict follows from the per-seed numbers by its stated comparison, can fail, and
the primary findings are corrected together."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from stages.core.params import parse_params
from stages.reporting.findings import (
    ABSENT,
    FAILS,
    FAILS_CHECK,
    HOLDS,
    INCONCLUSIVE,
    NOT_TESTED,
    PASSES,
    Results,
    bptt_findings,
    capacity_findings,
    controls,
    decide,
    gap_finding,
    generalises_finding,
    mechanism_finding,
    real_findings,
    real_remedy_findings,
    remedy_finding,
    toy_findings,
)

CONFIDENCE, MARGIN, POWER = 0.95, 0.1, 0.8
METRICS = ["update_pass_loss", "frozen_pass_loss", "update_pass_accuracy", "frozen_pass_accuracy",
           "train_replayed_loss", "train_fresh_loss", "train_zero_loss", "heldout_loss", "train_replayed_accuracy",
           "train_fresh_accuracy", "train_zero_accuracy", "heldout_accuracy"]
HEADLINE = "grid/SameRandom-Random-10"


def _results(cells: dict[str, dict[str, list[float]]], classes: int = 2) -> Results:
    rows = []
    for cell, metrics in cells.items():
        seeds = len(next(iter(metrics.values())))
        for replicate in range(seeds):
            row = {"cell": cell, "replicate": replicate, **{m: math.nan for m in METRICS}}
            row.update({m: values[replicate] for m, values in metrics.items()})
            rows.append(row)
    table = pd.DataFrame(rows)
    table["gap"] = table["frozen_pass_loss"] - table["update_pass_loss"]
    table["accuracy_gap"] = table["update_pass_accuracy"] - table["frozen_pass_accuracy"]
    table["replay_recovery"] = table["train_replayed_accuracy"] - table["train_fresh_accuracy"]
    return Results(table, CONFIDENCE, classes, MARGIN)


def _decided(*findings):
    return decide(list(findings), CONFIDENCE, POWER)


def _gap(update: list[float], frozen: list[float], **more: list[float]) -> dict[str, list[float]]:
    return {"update_pass_accuracy": update, "frozen_pass_accuracy": frozen, **more}


def test_headline_holds_when_the_update_pass_classifies_and_the_frozen_pass_does_not():
    results = _results({HEADLINE: _gap([0.99, 0.97, 1.0], [0.49, 0.53, 0.50], update_pass_loss=[0.05, 0.1, 0.07],
                                       frozen_pass_loss=[4.5, 1.3, 2.0])})
    (finding,) = _decided(gap_finding(results, "headline", "headline", HEADLINE, primary=True))
    assert finding.verdict == HOLDS
    assert finding.estimate.low > MARGIN and finding.estimate.high <= 1.0  # a difference of accuracies stays in range
    assert "loss updating 0.073 [" in finding.evidence


def test_headline_does_not_hold_when_the_update_pass_learns_nothing():
    results = _results({HEADLINE: _gap([0.50, 0.52, 0.49], [0.50, 0.49, 0.51])})
    (finding,) = _decided(gap_finding(results, "headline", "headline", HEADLINE, primary=True))
    assert finding.verdict == FAILS and finding.seeds_needed is None


def test_a_gap_straddling_the_margin_is_inconclusive_and_says_how_many_seeds_would_decide_it():
    results = _results({HEADLINE: _gap([0.9, 0.5, 0.7], [0.5, 0.5, 0.5])})
    (finding,) = _decided(gap_finding(results, "headline", "headline", HEADLINE))
    assert finding.verdict == INCONCLUSIVE
    assert finding.estimate.low < MARGIN < finding.estimate.high
    assert finding.seeds_needed is not None and finding.seeds_needed > 3


def test_holm_keeps_a_primary_finding_undecided_that_would_hold_alone():
    # Each gap alone: mean 0.4, sd 0.1 over 3 seeds, t = 5.2 against the margin, p = 0.035 < 0.05.
    cells = {f"grid/SameRandom-Random-{b}": _gap([0.8, 1.0, 0.9], [0.5, 0.5, 0.5]) for b in (10, 20, 40, 80)}
    results = _results(cells)
    alone = _decided(gap_finding(results, "a", "a", "grid/SameRandom-Random-10", primary=True))
    assert alone[0].verdict == HOLDS and alone[0].adjusted_p == pytest.approx(alone[0].p_value)
    family = _decided(*(gap_finding(results, cell, cell, cell, primary=True) for cell in cells))
    assert all(f.verdict == INCONCLUSIVE for f in family)
    assert all(f.adjusted_p == pytest.approx(4 * f.p_value) for f in family)
    secondary = _decided(*(gap_finding(results, cell, cell, cell) for cell in cells))
    assert all(f.verdict == HOLDS for f in secondary)  # secondary findings are read at the plain level


def test_mechanism_holds_when_replayed_states_recover_skill_that_fresh_ones_do_not():
    results = _results({HEADLINE: _gap([0.99, 0.98, 1.0], [0.5, 0.52, 0.49], train_replayed_accuracy=[0.9, 0.85, 0.8],
                                       train_fresh_accuracy=[0.5, 0.52, 0.49])})
    (finding,) = _decided(mechanism_finding(results, HEADLINE))
    assert finding.verdict == HOLDS and finding.primary
    no_recovery = _results({HEADLINE: _gap([0.99, 0.98, 1.0], [0.5, 0.52, 0.49],
                                           train_replayed_accuracy=[0.5, 0.51, 0.5],
                                           train_fresh_accuracy=[0.5, 0.5, 0.51])})
    assert _decided(mechanism_finding(no_recovery, HEADLINE))[0].verdict == FAILS


def test_a_cell_that_never_fitted_the_update_pass_is_not_tested():
    # The old report said "does not hold" for an LSTM that never left chance in either pass.
    lstm = "architecture/LSTM-SameRandom-Random"
    results = _results({lstm: _gap([0.5, 0.5, 0.5], [0.5, 0.5, 0.5]),
                        HEADLINE: _gap([0.5, 0.5, 0.5], [0.5, 0.5, 0.5])})
    (finding,) = _decided(gap_finding(results, "lstm", "lstm", lstm, needs_fit=True))
    assert finding.verdict == NOT_TESTED and "never classified above chance" in finding.evidence
    assert _decided(mechanism_finding(results, HEADLINE))[0].verdict == NOT_TESTED
    fitted = _results({lstm: _gap([0.95, 0.97, 0.99], [0.95, 0.96, 0.99])})
    assert _decided(gap_finding(fitted, "lstm", "lstm", lstm, needs_fit=True))[0].verdict == FAILS


def test_generalisation_reads_the_held_out_accuracy():
    good = _results({"grid/DiffDistRandom-Zeros-10": {"heldout_accuracy": [0.9, 0.92, 0.91],
                                                      "heldout_loss": [0.2, 0.3, 0.25]}})
    assert _decided(generalises_finding(good, "g", "g", "grid/DiffDistRandom-Zeros-10"))[0].verdict == HOLDS
    bad = _results({"grid/DiffDistRandom-Zeros-10": {"heldout_accuracy": [0.5, 0.52, 0.48]}})
    assert _decided(generalises_finding(bad, "g", "g", "grid/DiffDistRandom-Zeros-10"))[0].verdict == FAILS


def test_a_remedy_must_close_the_gap_and_keep_learning():
    closes = {"r/same": _gap([0.5, 0.51, 0.5], [0.5, 0.5, 0.49]),
              "r/diff": {"heldout_loss": [0.1, 0.2, 0.15], "heldout_accuracy": [0.9, 0.92, 0.91]}}
    assert _decided(remedy_finding(_results(closes), "k", "x", "r/same", "r/diff"))[0].verdict == HOLDS
    destroys = {**closes, "r/diff": {"heldout_loss": [0.69, 0.7, 0.69], "heldout_accuracy": [0.5, 0.51, 0.5]}}
    assert _decided(remedy_finding(_results(destroys), "k", "x", "r/same", "r/diff"))[0].verdict == FAILS
    keeps_gap = {**closes, "r/same": _gap([0.97, 0.98, 0.99], [0.5, 0.5, 0.5])}
    assert _decided(remedy_finding(_results(keeps_gap), "k", "x", "r/same", "r/diff"))[0].verdict == FAILS


def _epoch_scores(cells: dict[str, dict[int, tuple[list[float], list[float]]]]) -> pd.DataFrame:
    rows = []
    for cell, epochs in cells.items():
        for epoch, (update, frozen) in epochs.items():
            rows += [{"cell": cell, "epoch": epoch, "replicate": r, "update_accuracy": u, "frozen_accuracy": f}
                     for r, (u, f) in enumerate(zip(update, frozen))]
    return pd.DataFrame(rows)


def test_bptt_sizes_are_compared_at_equal_optimizer_steps_and_at_equal_passes(tiny_raw):
    # 40 steps, 2 epochs: bptt 10 makes 4 updates per epoch, bptt 20 two, so 1 epoch of bptt 10 matches both epochs
    # of bptt 20 in optimizer steps.
    tiny_raw["sweep"]["bptt_size"] = [10, 20]
    params = parse_params(tiny_raw)
    short, long = "grid/SameRandom-Random-10", "grid/SameRandom-Random-20"
    at_chance = ([0.5, 0.5, 0.5], [0.5, 0.5, 0.5])
    epochs = _epoch_scores({short: {1: at_chance, 2: ([1.0, 0.95, 0.98], [0.5, 0.5, 0.5])},
                            long: {1: at_chance, 2: at_chance}})
    results = _results({short: _gap([1, 1, 1], [0.5] * 3), long: _gap([0.5] * 3, [0.5] * 3)})
    equal_updates, equal_passes = _decided(*bptt_findings(results, params, epochs))
    assert equal_updates.key == "bptt_equal_updates" and "epoch 1" in equal_updates.evidence
    assert equal_updates.verdict == FAILS  # at equal steps neither has a gap: the chunk length did not matter
    assert equal_passes.verdict == HOLDS  # at equal passes the shorter chunks' extra steps open the gap
    assert "optimizer steps" in equal_updates.rule and "passes over the data" in equal_passes.rule


def test_unmatched_bptt_sizes_are_not_tested_at_equal_steps(tiny_raw):
    tiny_raw["sweep"]["bptt_size"] = [10, 40]  # 2 epochs x 10 / 40 is half an epoch
    params = parse_params(tiny_raw)
    equal_updates = bptt_findings(_results({HEADLINE: _gap([1] * 3, [0.5] * 3)}), params, _epoch_scores({}))[0]
    assert equal_updates.verdict == NOT_TESTED


def test_findings_without_their_cells_say_so(tiny_raw):
    params = parse_params(tiny_raw)
    results = _results({"grid/DiffDistRandom-Zeros-10": {"heldout_loss": [0.1, 0.2, 0.15],
                                                         "heldout_accuracy": [0.9, 0.92, 0.91]}})
    findings = decide(toy_findings(results, params, _epoch_scores({})), CONFIDENCE, POWER)
    verdicts = {finding.key: finding.verdict for finding in findings}
    assert verdicts["headline"] == ABSENT and verdicts["mechanism"] == ABSENT
    assert verdicts["diffdist_zeros_generalises"] == HOLDS
    primary = [finding.key for finding in findings if finding.primary]
    assert primary == ["headline", "mechanism", "zero_state_remark"]
    remedies = [finding for finding in findings if finding.key.startswith("remedy_")]
    assert len(remedies) == 1 + len(params.remedies.protocol) * len(params.remedies.initial_state_type) + 2


REAL_RANDOM, REAL_ZEROS = "real/ACSF1-per_chunk-Random", "real/ACSF1-per_chunk-Zeros"


def test_real_data_findings_use_ten_classes():
    results = _results({
        REAL_RANDOM: _gap([0.60, 0.55, 0.65], [0.15, 0.10, 0.20], heldout_accuracy=[0.12, 0.10, 0.14]),
        REAL_ZEROS: _gap([0.50, 0.52, 0.48], [0.49, 0.50, 0.49], heldout_accuracy=[0.40, 0.45, 0.42]),
    }, classes=10)
    gap, closed, generalises = _decided(*real_findings(results, "ACSF1"))
    assert (gap.verdict, closed.verdict, generalises.verdict) == (HOLDS, HOLDS, HOLDS)
    assert gap.primary and not closed.primary
    assert "(chance 0.10)" in generalises.evidence and "0.20" in generalises.rule  # 1/10 + margin
    noisy = _gap([0.9, 0.2, 0.5], [0.1, 0.2, 0.3], heldout_accuracy=[0.10, 0.10, 0.10])
    gap, _, generalises = _decided(*real_findings(_results({REAL_RANDOM: noisy, REAL_ZEROS: noisy}, 10), "ACSF1"))
    assert gap.verdict == INCONCLUSIVE and generalises.verdict == FAILS


def test_a_real_remedy_holds_when_it_closes_the_gap_and_still_classifies_the_test_split(tiny_raw):
    tiny_raw["realdata"].update({"protocol": ["per_chunk", "stateless", "per_sequence"],
                                 "initial_state_type": ["Zeros", "Learned"]})
    tiny_raw["probe"]["real"] = {}
    params = parse_params(tiny_raw)
    cell = lambda protocol, state: f"real/ACSF1-{protocol}-{state}"  # noqa: E731
    results = _results({
        cell("per_chunk", "Zeros"): _gap([0.99, 0.98, 1.0], [0.6, 0.5, 0.55], heldout_accuracy=[0.50, 0.55, 0.60]),
        cell("stateless", "Zeros"): _gap([0.90, 0.92, 0.91], [0.91, 0.92, 0.90], heldout_accuracy=[0.80, 0.82, 0.84]),
        cell("per_sequence", "Zeros"): _gap([0.3, 0.32, 0.31], [0.31, 0.3, 0.32], heldout_accuracy=[0.10, 0.11, 0.09]),
        cell("per_chunk", "Learned"): _gap([0.99, 0.98, 1.0], [0.6, 0.7, 0.65], heldout_accuracy=[0.6, 0.7, 0.65]),
    }, classes=10)
    found = {f.key: f for f in _decided(*real_remedy_findings(results, params, "ACSF1"))}
    # Only the cells this run trains, and never the write-up's loop itself (real_findings covers it).
    assert set(found) == {"real_ACSF1_stateless_Zeros", "real_ACSF1_per_sequence_Zeros", "real_ACSF1_per_chunk_Learned"}
    assert found["real_ACSF1_stateless_Zeros"].verdict == HOLDS
    assert "minus the write-up's loop with zero states 0.27 [" in found["real_ACSF1_stateless_Zeros"].evidence
    assert found["real_ACSF1_per_sequence_Zeros"].verdict == FAILS  # closes the gap by learning nothing
    assert found["real_ACSF1_per_chunk_Learned"].verdict == FAILS  # a learned state keeps the loop's gap
    assert "minus the write-up's loop with zero states" in found["real_ACSF1_per_chunk_Learned"].evidence


def _control_table(value: float, bptt: int = 10) -> dict[str, dict[str, list[float]]]:
    exact = {m: [0.5, 0.5, 0.5] for m in ("update_pass_accuracy", "frozen_pass_accuracy", "train_replayed_accuracy",
                                          "train_zero_accuracy", "heldout_accuracy", "train_fresh_accuracy")}
    exact["heldout_accuracy"] = [0.5, 0.5, value]
    losses = {f"train_{p}_loss": [0.7, 0.7, 0.7] for p in ("replayed", "fresh", "zero")}
    return {f"grid/SameRandom-Zeros-{bptt}": {**exact, **losses}}


def test_controls_check_what_holds_by_construction(tiny_raw):
    params = parse_params(tiny_raw)
    random = {HEADLINE: _gap([1.0] * 3, [0.45, 0.55, 0.5])}
    checks = {c.title.split(":")[0]: c for c in controls(_results({**_control_table(0.5), **random}), params)}
    assert checks["`grid/SameRandom-Zeros-10`"].check == PASSES
    assert checks[f"`{HEADLINE}`"].check == PASSES
    broken = {c.title: c.check for c in controls(_results({**_control_table(0.75), **random}), params)}
    assert FAILS_CHECK in broken.values()  # one prediction that differs between the two copies is a bug
    leaking = {HEADLINE: _gap([1.0] * 3, [0.9, 0.95, 0.92])}  # fresh random states that carry the label
    checks = {c.title.split(":")[0]: c for c in controls(_results({**_control_table(0.5), **leaking}), params)}
    assert checks[f"`{HEADLINE}`"].check == FAILS_CHECK


def _capacity_params(tiny_raw):
    tiny_raw["capacity"].update(examples_per_class=[2, 8, 32], hidden_size=4)
    return parse_params(tiny_raw)  # bound 8: 4, 16 and 64 sequences


def test_capacity_the_gap_shrinks_yet_survives_past_the_bound(tiny_raw):
    # Fewest sequences: the write-up's gap in full; most (8 times the bound): a smaller gap, still above the margin.
    results = _results({"capacity/2": _gap([1.0, 0.98, 0.99, 1.0], [0.5, 0.49, 0.52, 0.5]),
                        "capacity/32": _gap([0.75, 0.7, 0.8, 0.72], [0.5, 0.51, 0.49, 0.5])})
    persists, shrinks = _decided(*capacity_findings(results, _capacity_params(tiny_raw)))
    assert persists.key == "capacity_persists" and persists.verdict == HOLDS and "64 training sequences" in persists.title
    assert shrinks.key == "capacity_shrinks" and shrinks.verdict == HOLDS
    assert shrinks.estimate.mean == pytest.approx((0.5 + 0.49 + 0.47 + 0.5) / 4 - (0.25 + 0.19 + 0.31 + 0.22) / 4)


def test_capacity_the_gap_that_vanishes_past_the_bound_does_not_survive(tiny_raw):
    results = _results({"capacity/2": _gap([1.0, 0.98, 0.99], [0.5, 0.49, 0.52]),
                        "capacity/32": _gap([0.5, 0.51, 0.5], [0.5, 0.5, 0.5])})
    persists, shrinks = _decided(*capacity_findings(results, _capacity_params(tiny_raw)))
    assert persists.verdict == FAILS and shrinks.verdict == HOLDS


def test_capacity_is_not_tested_when_even_the_fewest_sequences_show_no_effect(tiny_raw):
    results = _results({"capacity/2": _gap([0.5, 0.52, 0.49], [0.5, 0.5, 0.5]),
                        "capacity/32": _gap([0.5, 0.5, 0.5], [0.5, 0.5, 0.5])})
    findings = _decided(*capacity_findings(results, _capacity_params(tiny_raw)))
    assert [f.verdict for f in findings] == [NOT_TESTED, NOT_TESTED]
    assert "never classified above chance" in findings[0].evidence


def test_capacity_pairs_only_the_seeds_both_sizes_have(tiny_raw):
    # The smaller size has two extra seeds (as a primary cell would): they cannot enter a paired difference.
    results = _results({"capacity/2": _gap([1.0, 0.95, 0.9, 0.9, 0.9], [0.5, 0.5, 0.5, 0.5, 0.5]),
                        "capacity/32": _gap([0.7, 0.7, 0.65], [0.5, 0.5, 0.5])})
    _, shrinks = _decided(*capacity_findings(results, _capacity_params(tiny_raw)))
    assert shrinks.estimate.n == 3 and shrinks.estimate.mean == pytest.approx((0.3 + 0.25 + 0.25) / 3)


def test_summary_states_the_capacity_axis_with_both_verdicts(tiny_raw):
    from stages.reporting.summary import summary_text

    results = _results({"capacity/2": _gap([1.0, 0.98, 0.99, 1.0], [0.5, 0.49, 0.52, 0.5]),
                        "capacity/32": _gap([0.5, 0.51, 0.5, 0.52], [0.5, 0.5, 0.5, 0.5])})
    results.table["family"] = "capacity"
    results.table["examples_per_class"] = results.table["cell"].map({"capacity/2": 2, "capacity/32": 32})
    results.table["hidden_size"] = 4
    findings = _decided(*capacity_findings(results, _capacity_params(tiny_raw)))
    text = summary_text(findings, results, {}, [], CONFIDENCE)
    assert "(4 units, Cover's bound 8), the gap is 0.49 [" in text and "] with 4 sequences and 0.01 [" in text
    assert "shrinks as the sequences outnumber the states: <span class=\"badge badge-holds\">holds</span>" in text
    assert "survives at 8 times the bound" in text and "badge-fails" in text  # the gap did not survive
