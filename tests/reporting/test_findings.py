"""Findings and controls: each verdict follows from the per-seed numbers by the test its plan entry declares, can
fail, is *not tested* where an arm never learned, and is corrected with its family; the controls catch a broken
pipeline."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from stages.core.params import ParamsError, parse_params
from stages.reporting.findings import (
    ABSENT,
    FAILS,
    FAILS_CHECK,
    HOLDS,
    INCONCLUSIVE,
    NOT_TESTED,
    PASSES,
    Results,
    controls,
    decide,
    measure,
)
from stages.reporting.plan import PLAN, QUANTITIES, Declared, expand, load_plan

CONFIDENCE, POWER = 0.95, 0.8
FAMILIES = {"primary": "holm", "secondary": "holm"}
METRICS = ["update_pass_loss", "frozen_pass_loss", "update_pass_accuracy", "frozen_pass_accuracy",
           "train_replayed_loss", "train_fresh_loss", "train_zero_loss", "heldout_loss", "train_replayed_accuracy",
           "train_fresh_accuracy", "train_zero_accuracy", "heldout_accuracy", "own_state_accuracy"]
HEADLINE = "grid/SameRandom-Random-10"


def _results(cells: dict[str, dict[str, list[float]]], classes: int = 2, epochs: pd.DataFrame | None = None,
             scores: pd.DataFrame | None = None) -> Results:
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
    table["stale_state_part"] = table["update_pass_accuracy"] - table["own_state_accuracy"]
    return Results(table, CONFIDENCE, classes, epochs, scores)


def _declared(key="headline", *, quantity="accuracy_gap", cells=(HEADLINE,), test="superiority", margin=0.2,
              family="primary", pre=(("fitted", HEADLINE),), repeated=False) -> Declared:
    return Declared(key, f"the claim of {key}", family, quantity, tuple(cells), "first | second", "all else", test,
                    margin, tuple(pre), repeated)


def _decide(*pairs):
    """Measure each (declared, results) pair and decide them together, as the report does."""
    return decide([f for declared, results in pairs if (f := measure(declared, results)) is not None], FAMILIES,
                  CONFIDENCE, POWER)


def _gap(update: list[float], frozen: list[float], **more: list[float]) -> dict[str, list[float]]:
    return {"update_pass_accuracy": update, "frozen_pass_accuracy": frozen, **more}


def test_the_headline_holds_when_the_update_pass_classifies_and_the_frozen_pass_does_not():
    results = _results({HEADLINE: _gap([1.0, 0.97, 1.0, 0.98], [0.5, 0.45, 0.55, 0.5])})
    (finding,) = _decide((_declared(), results))
    assert finding.verdict == HOLDS
    assert finding.estimate.mean == pytest.approx(0.4875) and finding.margin == pytest.approx(0.1)
    assert finding.adjusted_p >= finding.p


def test_a_gap_shown_below_its_margin_does_not_hold():
    results = _results({HEADLINE: _gap([0.9, 0.92, 0.91, 0.9], [0.88, 0.9, 0.9, 0.89])})
    (finding,) = _decide((_declared(), results))
    assert finding.verdict == FAILS and finding.contrary_p < 0.05


def test_a_gap_straddling_the_margin_is_inconclusive_and_its_seeds_are_a_planning_figure():
    results = _results({HEADLINE: _gap([0.9, 0.75, 0.95, 0.7], [0.55, 0.7, 0.6, 0.65])})
    (finding,) = _decide((_declared(), results))
    assert finding.verdict == INCONCLUSIVE
    assert finding.seeds_to_decide is None or finding.seeds_to_decide > 4


def test_a_comparison_whose_arm_never_left_chance_is_not_tested():
    # Both arms at chance: a "gap" of 0 would otherwise read as a gap that does not exist.
    results = _results({HEADLINE: _gap([0.5, 0.5, 0.5], [0.5, 0.5, 0.5])})
    (finding,) = _decide((_declared(), results))
    assert finding.verdict == NOT_TESTED and "never left chance" in finding.evidence
    assert math.isnan(finding.p)  # a finding not tested enters no correction


def test_closing_the_gap_is_an_equivalence_so_an_update_pass_below_its_frozen_pass_does_not_pass():
    # The old one-sided rule let any gap below the margin pass, a negative one included: burn_in's -0.08 from an
    # update pass at 0.40. Under equivalence the interval must lie within +-margin.
    remedy, learner = "remedy/burn_in-SameRandom-Random", "remedy/burn_in-DiffDistRandom-Random"
    results = _results({remedy: _gap([0.40, 0.35, 0.45, 0.42, 0.38], [0.48, 0.5, 0.5, 0.47, 0.55]),
                        learner: {"heldout_accuracy": [0.85, 0.8, 0.9, 0.82, 0.88]}})
    declared = _declared("remedy_burn_in_Random", cells=(remedy,), test="equivalence", family="secondary",
                         pre=(("learns", learner),))
    (finding,) = _decide((declared, results))
    assert finding.estimate.mean == pytest.approx(-0.1)
    assert finding.verdict != HOLDS


def test_a_gap_closed_within_the_margin_by_a_remedy_that_learns_holds():
    remedy, learner = "remedy/stateless-SameRandom-Random", "remedy/stateless-DiffDistRandom-Random"
    results = _results({remedy: _gap([0.5, 0.51, 0.49, 0.5, 0.5, 0.5], [0.5, 0.5, 0.5, 0.49, 0.51, 0.5]),
                        learner: {"heldout_accuracy": [0.85, 0.8, 0.9, 0.82, 0.88, 0.86]}})
    declared = _declared("remedy_stateless_Random", cells=(remedy,), test="equivalence", family="secondary",
                         pre=(("learns", learner),))
    (finding,) = _decide((declared, results))
    assert finding.verdict == HOLDS


def test_a_remedy_that_learns_nothing_is_not_tested_however_closed_its_gap():
    remedy, learner = "remedy/per_sequence-SameRandom-Random", "remedy/per_sequence-DiffDistRandom-Random"
    results = _results({remedy: _gap([0.5] * 5, [0.5] * 5), learner: {"heldout_accuracy": [0.5, 0.55, 0.45, 0.5, 0.5]}})
    declared = _declared("remedy_per_sequence_Random", cells=(remedy,), test="equivalence", family="secondary",
                         pre=(("learns", learner),))
    (finding,) = _decide((declared, results))
    assert finding.verdict == NOT_TESTED and "learned nothing" in finding.evidence


def test_chunk_length_at_equal_steps_needs_the_shorter_chunk_to_show_its_gap_and_the_longer_to_fit(tiny_raw):
    # The shipped plan's own entry. At epoch 2 neither arm had started: both gaps 0.00, and the old report decided
    # "does not hold" on them. In the supplement's run bptt 50 never left chance in 50 epochs: a gap of 0 from a
    # network that fitted nothing says nothing of chunk length.
    tiny_raw["chunks"]["bptt_size"], tiny_raw["data"]["seq_size"] = [50], 200
    (declared,) = [d for d in expand(load_plan(), parse_params(tiny_raw)) if d.key == "bptt_equal_updates"]
    short, long = declared.cells
    assert long == "chunks/50"
    none_yet = _results({short: _gap([0.5] * 5, [0.5] * 5), long: _gap([0.5] * 5, [0.5] * 5)})
    never_fitted = _results({short: _gap([1.0, 0.98, 1.0, 0.97, 1.0], [0.5, 0.52, 0.48, 0.5, 0.5]),
                             long: _gap([0.5] * 5, [0.5] * 5)})
    both = _results({short: _gap([1.0, 0.98, 1.0, 0.97, 1.0], [0.5, 0.52, 0.48, 0.5, 0.5]),
                     long: _gap([0.7, 0.68, 0.72, 0.7, 0.69], [0.66, 0.7, 0.7, 0.68, 0.7])})
    verdicts = [_decide((declared, results))[0] for results in (none_yet, never_fitted, both)]
    assert [finding.verdict for finding in verdicts] == [NOT_TESTED, NOT_TESTED, HOLDS]
    assert long in verdicts[1].evidence
    assert verdicts[2].estimate.mean == pytest.approx(0.49 - 0.01)


def test_chunk_length_at_equal_passes_is_not_tested_when_the_longer_chunk_never_fitted():
    short, long = HEADLINE, "grid/SameRandom-Random-50"
    results = _results({short: _gap([1.0, 0.98, 1.0], [0.5, 0.52, 0.48]), long: _gap([0.5] * 3, [0.5] * 3)})
    declared = _declared("bptt_equal_passes", quantity="gap_difference", cells=(short, long), family="secondary",
                         pre=(("fitted", short), ("fitted", long)))
    (finding,) = _decide((declared, results))
    assert finding.verdict == NOT_TESTED and long in finding.evidence


def test_each_family_is_corrected_together_and_adjusted_p_never_falls_below_raw_p():
    # Three weak gaps: each would hold at 0.05 on its own, not all three corrected together.
    cells = [f"grid/SameRandom-Random-{b}" for b in (10, 20, 40)]
    results = _results({cell: _gap([0.75, 0.85, 0.7, 0.8], [0.52, 0.5, 0.48, 0.5]) for cell in cells})
    alone = _decide((_declared(cells=(cells[0],), pre=(("fitted", cells[0]),)), results))
    together = _decide(*[(_declared(f"k{i}", cells=(cell,), pre=(("fitted", cell),)), results)
                         for i, cell in enumerate(cells)])
    assert alone[0].verdict == HOLDS
    assert all(f.adjusted_p >= f.p for f in together)
    assert {f.verdict for f in together} != {HOLDS} or together[0].adjusted_p > alone[0].adjusted_p
    other_family = _decide((_declared("a", family="secondary"), results),
                           (_declared("b", cells=(cells[1],), pre=(("fitted", cells[1]),)), results))
    assert other_family[0].adjusted_p == pytest.approx(other_family[0].p)  # alone in its family: no correction


def test_margins_are_a_share_of_the_distance_from_chance_so_two_and_ten_classes_are_judged_alike():
    declared = _declared()
    assert declared.margin_on(2) == pytest.approx(0.1)
    assert declared.margin_on(10) == pytest.approx(0.18)
    assert _declared(quantity="loss_gap_last_epochs").margin_on(2) == pytest.approx(0.2 * math.log(2))


def test_the_zero_state_remark_is_a_loss_gap_over_the_last_three_epochs_with_the_seeds_that_fitted():
    cell = "grid/SameDistRandom-Zeros-10"
    epochs, scores = [], []
    for replicate in range(4):
        for epoch in range(1, 7):
            late = epoch > 3
            epochs += [{"cell": cell, "epoch": epoch, "replicate": replicate, "pass": "update",
                        "loss": 0.3 if late else 0.69},
                       {"cell": cell, "epoch": epoch, "replicate": replicate, "pass": "frozen",
                        "loss": 0.9 + 0.05 * replicate if late else 0.69}]
            scores.append({"cell": cell, "epoch": epoch, "replicate": replicate,
                           "update_accuracy": 0.9 if late and replicate else 0.5, "frozen_accuracy": 0.5})
    results = _results({cell: _gap([0.9, 0.9, 0.9, 0.85], [0.5] * 4)}, epochs=pd.DataFrame(epochs),
                       scores=pd.DataFrame(scores))
    declared = _declared("zero_state_remark", quantity="loss_gap_last_epochs", cells=(cell,), pre=(("fitted", cell),))
    (finding,) = _decide((declared, results))
    assert finding.estimate.mean == pytest.approx(0.675)
    assert finding.verdict == HOLDS and "in 3 of 4 seeds" in finding.evidence


def test_findings_whose_cells_are_not_in_the_run_say_so_and_repetitions_are_dropped():
    results = _results({HEADLINE: _gap([1.0, 1.0], [0.5, 0.5])})
    (absent,) = _decide((_declared(cells=("architecture/LSTM-SameRandom-Random",), pre=()), results))
    assert absent.verdict == ABSENT and "not part of this run" in absent.evidence
    assert _decide((_declared(cells=("remedy/stateless-SameRandom-Zeros",), pre=(), repeated=True), results)) == []


def test_a_run_without_real_data_names_the_real_findings_it_leaves_out_in_words(tiny_raw):
    tiny_raw["realdata"]["dataset"], tiny_raw["probe"]["real"] = [], {}
    # The repeated ones (one per protocol) are dropped when absent; the others are listed as not in this run.
    real = [d for d in expand(load_plan(), parse_params(tiny_raw)) if d.key.startswith("real_") and not d.repeated]
    assert real and all(d.claim.startswith("On real recordings, ") for d in real), [d.claim for d in real]
    assert "{" not in " ".join(d.claim for d in real)


def test_the_shipped_plan_declares_every_finding_with_a_known_test_quantity_and_margin(tiny_raw):
    plan = load_plan()
    declared = expand(plan, parse_params(tiny_raw))
    assert {d.quantity for d in declared} <= set(QUANTITIES)
    assert {"headline", "mechanism", "zero_state_remark", "zero_state_learnable"} <= {d.key for d in declared}
    assert {d.key for d in declared if d.primary} == {"headline", "mechanism", "zero_state_remark",
                                                      "zero_state_learnable", "real_ACSF1_gap"}
    assert all(d.test == "equivalence" for d in declared if "closes the gap" in d.claim)
    assert all(len(d.claim) <= 100 for d in declared)


@pytest.mark.parametrize("field, value, named", [
    ("test", "two-sided", "test: 'two-sided' is not one of"),
    ("family", "tertiary", "family: 'tertiary' is not one of"),
    ("margin", 1.5, "margin: 1.5 is outside its range"),
    ("margin", 0, "margin: 0 is outside its range"),
    ("quantity", "vibes", "quantity: 'vibes' is not one of"),
    ("pre", ["thriving grid/SameRandom-Random-{bptt}"], "pre: 'thriving"),
    ("cells", ["galaxy/SameRandom-Random-10"], "names no family"),
])
def test_a_bad_plan_entry_is_refused_naming_the_finding_and_the_key(tmp_path, field, value, named):
    raw = yaml.safe_load(PLAN.read_text())
    raw["findings"]["headline"][field] = value
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ParamsError, match=f"finding 'headline', {named}" if field != "cells" else named):
        load_plan(path)


def test_an_unknown_correction_is_refused_naming_the_family(tmp_path):
    raw = yaml.safe_load(PLAN.read_text())
    raw["families"]["secondary"] = "bonferroni-ish"
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ParamsError, match="families.secondary: 'bonferroni-ish'"):
        load_plan(path)


def _control_table(score: float) -> dict[str, dict[str, list[float]]]:
    metrics = ["update_pass_accuracy", "frozen_pass_accuracy", "train_replayed_accuracy", "train_zero_accuracy",
               "heldout_accuracy"]
    same = {metric: [score] * 3 for metric in metrics}
    zero = {**same, **{f"train_{kind}_{m}": [0.5] * 3 for kind in ("replayed", "fresh", "zero")
                       for m in ("accuracy", "loss")}}
    return {"grid/SameRandom-Zeros-10": zero, "grid/DiffDistRandom-Zeros-10": zero}


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


def test_estimates_stay_inside_their_quantity_range():
    results = _results({HEADLINE: _gap([1.0, 0.95, 1.0], [0.0, 0.5, 0.1])})
    (finding,) = _decide((_declared(), results))
    assert -1 <= finding.estimate.low <= finding.estimate.high <= 1
    assert np.all(np.isfinite(finding.values))


def test_a_copied_plan_entry_decides_the_same_as_the_original():
    # Deciding is a function of the numbers and the declaration only.
    results = _results({HEADLINE: _gap([1.0, 0.97, 1.0, 0.98], [0.5, 0.45, 0.55, 0.5])})
    first, second = _decide((_declared(), results)), _decide((copy.deepcopy(_declared()), results))
    assert first[0].verdict == second[0].verdict and first[0].p == second[0].p
    assert Path(PLAN).name == "plan.yaml"
