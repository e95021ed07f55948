"""The claims table: verdicts follow from the per-seed numbers by the stated rule, and intervals are right."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from stages.findings import (
    ABSENT, FAILS, HOLDS, INCONCLUSIVE, Results, all_claims, bptt_claim, gap_claim, generalises_claim,
    mechanism_claim, nothing_learned_claim, real_claims, remedy_claim,
)
from stages.params import parse_params
from stages.stats import t_interval, t_quantile

CHANCE, MARGIN, CONFIDENCE = math.log(2), 0.1, 0.95
METRICS = ["update_pass_loss", "frozen_pass_loss", "update_pass_accuracy", "frozen_pass_accuracy",
           "train_replayed_loss", "train_fresh_loss", "train_zero_loss", "heldout_loss", "train_replayed_accuracy",
           "train_fresh_accuracy", "train_zero_accuracy", "heldout_accuracy"]


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
    return Results(table, CONFIDENCE, classes, MARGIN)


HEADLINE = "grid/SameRandom-Random-10"


def test_t_quantiles_match_published_tables():
    assert t_quantile(0.975, 2) == pytest.approx(4.302653, abs=1e-5)
    assert t_quantile(0.975, 4) == pytest.approx(2.776445, abs=1e-5)
    assert t_quantile(0.95, 10) == pytest.approx(1.812461, abs=1e-5)


def test_t_interval_of_three_seeds():
    interval = t_interval([1.0, 2.0, 3.0], 0.95)
    assert interval.mean == 2.0 and interval.n == 3
    assert interval.half_width == pytest.approx(4.302653 / math.sqrt(3), abs=1e-5)  # sd = 1


def test_headline_holds_when_updating_is_below_chance_and_the_frozen_pass_does_not_classify():
    # Frozen losses of 4.5, 1.3 and 2.0 nats: a t-interval on their mean reaches below chance, but every seed's
    # frozen accuracy sits at chance, which is what the claim is about.
    results = _results({HEADLINE: {"update_pass_loss": [0.05, 0.1, 0.07], "frozen_pass_loss": [4.5, 1.3, 2.0],
                                   "update_pass_accuracy": [0.99, 0.97, 0.98],
                                   "frozen_pass_accuracy": [0.49, 0.51, 0.50]}})
    claim = gap_claim(results, "headline", HEADLINE)
    assert claim.verdict == HOLDS
    assert "updating loss 0.073 [" in claim.evidence and "frozen 0.50 [" in claim.evidence


def test_headline_does_not_hold_when_both_passes_stay_at_chance():
    results = _results({HEADLINE: {"update_pass_loss": [0.693, 0.694, 0.692], "frozen_pass_loss": [0.69, 0.7, 0.69],
                                   "frozen_pass_accuracy": [0.5, 0.5, 0.5]}})
    assert gap_claim(results, "headline", HEADLINE).verdict == FAILS


def test_headline_does_not_hold_when_the_frozen_pass_classifies_too():
    results = _results({HEADLINE: {"update_pass_loss": [0.05, 0.06, 0.07], "frozen_pass_loss": [0.06, 0.07, 0.08],
                                   "frozen_pass_accuracy": [0.97, 0.98, 0.99]}})
    assert gap_claim(results, "headline", HEADLINE).verdict == FAILS


def test_an_interval_straddling_the_threshold_is_inconclusive():
    # Seeds disagree: one learns the states, two do not; the interval of the updating loss spans the threshold.
    results = _results({HEADLINE: {"update_pass_loss": [0.05, 0.69, 0.69], "frozen_pass_loss": [2.0, 0.7, 0.7],
                                   "frozen_pass_accuracy": [0.5, 0.5, 0.5]}})
    assert gap_claim(results, "headline", HEADLINE).verdict == INCONCLUSIVE


def test_zero_states_learn_nothing_fails_when_the_frozen_pass_learns():
    results = _results({"c": {"update_pass_loss": [0.69, 0.69, 0.69], "frozen_pass_loss": [0.1, 0.12, 0.11]}})
    assert nothing_learned_claim(results, "zeros", "c").verdict == FAILS


def test_generalisation_reads_the_held_out_accuracy():
    good = _results({"c": {"heldout_loss": [0.1, 0.2, 0.15], "heldout_accuracy": [0.9, 0.95, 0.92]}})  # noqa
    bad = _results({"c": {"heldout_loss": [0.9, 1.2, 1.0], "heldout_accuracy": [0.5, 0.5, 0.5]}})
    assert generalises_claim(good, "g", "c").verdict == HOLDS
    assert generalises_claim(bad, "g", "c").verdict == FAILS


def test_mechanism_holds_when_replayed_states_recover_skill_that_fresh_ones_do_not():
    results = _results({HEADLINE: {"train_replayed_accuracy": [0.8, 0.85, 0.9], "train_fresh_accuracy": [0.5, 0.5, 0.49],
                                   "update_pass_accuracy": [0.99, 0.98, 0.97], "train_zero_accuracy": [0.5, 0.5, 0.5]}})
    claim = mechanism_claim(results, HEADLINE)
    assert claim.verdict == HOLDS and "replayed minus fresh" in claim.evidence
    no_recovery = _results({HEADLINE: {"train_replayed_accuracy": [0.45, 0.4, 0.42],
                                       "train_fresh_accuracy": [0.5, 0.5, 0.49]}})
    assert mechanism_claim(no_recovery, HEADLINE).verdict == FAILS


def test_bptt_claim_pairs_seeds(tiny_raw):
    tiny_raw["sweep"]["bptt_size"] = [10, 20]
    params = parse_params(tiny_raw)
    results = _results({
        "grid/SameRandom-Random-10": {"update_pass_accuracy": [0.95, 0.97, 0.9], "frozen_pass_accuracy": [0.5] * 3},
        "grid/SameRandom-Random-20": {"update_pass_accuracy": [0.55, 0.5, 0.52], "frozen_pass_accuracy": [0.5] * 3},
    })
    assert bptt_claim(results, params).verdict == HOLDS


def test_a_remedy_must_close_the_gap_and_keep_learning():
    closes = {"r/same": {"update_pass_accuracy": [0.5, 0.51, 0.5], "frozen_pass_accuracy": [0.5, 0.5, 0.49]},
              "r/diff": {"heldout_loss": [0.1, 0.2, 0.15], "heldout_accuracy": [0.9, 0.92, 0.91]}}
    assert remedy_claim(_results(closes), "x", "r/same", "r/diff").verdict == HOLDS
    destroys = {**closes, "r/diff": {"heldout_loss": [0.69, 0.7, 0.69], "heldout_accuracy": [0.5, 0.51, 0.5]}}
    assert remedy_claim(_results(destroys), "x", "r/same", "r/diff").verdict == FAILS
    keeps_gap = {**closes, "r/same": {"update_pass_accuracy": [0.97, 0.98, 0.99], "frozen_pass_accuracy": [0.5] * 3}}
    assert remedy_claim(_results(keeps_gap), "x", "r/same", "r/diff").verdict == FAILS


def test_claims_without_their_cells_say_so(tiny_raw):
    params = parse_params(tiny_raw)
    claims = all_claims(_results({"grid/DiffDistRandom-Zeros-10": {"heldout_loss": [0.1, 0.2, 0.15],
                                                                   "heldout_accuracy": [0.9, 0.92, 0.91]}}), params)
    verdicts = {claim.title.split(":")[0]: claim.verdict for claim in claims}
    assert verdicts["Headline"] == ABSENT
    assert verdicts["`DiffDistRandom` with zero initial states generalises to held-out sequences"] == HOLDS
    # Every remedy of params.yaml, the baseline and the two initial-state remedies have a row.
    remedies = [claim for claim in claims if claim.title.startswith("Remedy")]
    assert len(remedies) == 1 + len(params.remedies.protocol) * len(params.remedies.initial_state_type) + 2


REAL_RANDOM, REAL_ZEROS = "real/ACSF1-per_chunk-Random", "real/ACSF1-per_chunk-Zeros"


def test_real_data_gap_is_judged_on_the_paired_accuracy_gap_with_ten_classes():
    results = _results({
        REAL_RANDOM: {"update_pass_accuracy": [0.60, 0.55, 0.65], "frozen_pass_accuracy": [0.15, 0.10, 0.20],
                      "heldout_accuracy": [0.12, 0.10, 0.14]},
        REAL_ZEROS: {"update_pass_accuracy": [0.50, 0.52, 0.48], "frozen_pass_accuracy": [0.49, 0.50, 0.49],
                     "heldout_accuracy": [0.40, 0.45, 0.42]},
    }, classes=10)
    gap, closed, generalises = real_claims(results, "ACSF1")
    assert (gap.verdict, closed.verdict, generalises.verdict) == (HOLDS, HOLDS, HOLDS)
    assert "chance 0.10" in gap.evidence  # 1/10, not the toy study's 1/2
    assert "over 0.20" in generalises.rule  # 1/10 + margin


def test_real_data_gap_claims_turn_with_the_numbers():
    no_gap = {"update_pass_accuracy": [0.30, 0.31, 0.29], "frozen_pass_accuracy": [0.30, 0.30, 0.30],
              "heldout_accuracy": [0.10, 0.09, 0.11]}
    wide_gap = {"update_pass_accuracy": [0.9, 0.9, 0.9], "frozen_pass_accuracy": [0.1, 0.2, 0.15],
                "heldout_accuracy": [0.5, 0.6, 0.55]}
    gap, closed, generalises = real_claims(_results({REAL_RANDOM: no_gap, REAL_ZEROS: wide_gap}, classes=10), "ACSF1")
    assert (gap.verdict, closed.verdict, generalises.verdict) == (FAILS, FAILS, HOLDS)
    noisy = {"update_pass_accuracy": [0.9, 0.2, 0.5], "frozen_pass_accuracy": [0.1, 0.2, 0.3],
             "heldout_accuracy": [0.10, 0.10, 0.10]}
    gap, _, generalises = real_claims(_results({REAL_RANDOM: noisy, REAL_ZEROS: no_gap}, classes=10), "ACSF1")
    assert gap.verdict == INCONCLUSIVE and generalises.verdict == FAILS


def test_real_data_claims_without_their_cells_are_not_in_this_run():
    claims = real_claims(_results({HEADLINE: {"update_pass_loss": [0.1, 0.1, 0.1]}}, classes=10), "ACSF1")
    assert [claim.verdict for claim in claims] == [ABSENT] * 3
