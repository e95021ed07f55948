"""The claims table: each claim of the write-up (and of this study), its numbers with intervals, and a verdict.

Every verdict is computed from the per-seed results by a stated rule; none is typed by hand. With C classes and a
margin m (`report.chance_margin`):

- the *updating loss* (what the write-up plots) is *below chance* when its whole confidence interval lies below
  ln(C) - m nats, and *not below chance* when its whole interval lies at or above that;
- whether a pass *classifies* (the frozen pass, the held-out sequences, the replayed states) is judged on its
  accuracy: *above chance* when the whole interval lies above 1/C + m, *not above chance* when the whole interval
  lies at or below it. Accuracy, not loss, because the loss of a network that is confidently wrong grows without
  bound: frozen losses of one cell ranged from 1 to 14 nats across seeds and epochs, so an interval on their mean
  says how confidently wrong the network was, not whether it classified;
- anything else is undecided, and a claim resting on it is *inconclusive*.

Differences between two measurements of the same seeds (a gap, a recovery) are paired: the interval is that of
the per-seed differences. A claim whose cells are not part of this run reads *not in this run*.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from stages.params import Params
from stages.stats import Interval, t_interval

HOLDS, FAILS, INCONCLUSIVE, ABSENT = "holds", "does not hold", "inconclusive", "not in this run"


@dataclass(frozen=True)
class Claim:
    title: str
    verdict: str
    evidence: str  # the measured numbers behind the verdict, with intervals
    rule: str  # what makes it hold, in words


class Results:
    """Per-seed results of every cell (the report's `replicates` table), read by cell name and metric."""

    def __init__(self, replicates: pd.DataFrame, confidence: float, classes: int, margin: float) -> None:
        self.table, self.confidence = replicates, confidence
        self.chance, self.margin = math.log(classes), margin
        self.threshold = self.chance - margin  # nats
        self.chance_accuracy = 1 / classes
        self.accuracy_threshold = self.chance_accuracy + margin

    def has(self, cell: str) -> bool:
        return bool((self.table["cell"] == cell).any())

    def values(self, cell: str, metric: str) -> np.ndarray:
        rows = self.table[self.table["cell"] == cell].sort_values("replicate")
        return rows[metric].to_numpy(dtype=float)

    def interval(self, cell: str, metric: str) -> Interval:
        return t_interval(self.values(cell, metric), self.confidence)

    def paired(self, cell_a: str, metric_a: str, cell_b: str, metric_b: str) -> Interval:
        """Interval of (a - b) over seeds: each seed's own difference."""
        return t_interval(self.values(cell_a, metric_a) - self.values(cell_b, metric_b), self.confidence)

    def below(self, interval: Interval) -> bool:
        return interval.high < self.threshold

    def not_below(self, interval: Interval) -> bool:
        return interval.low >= self.threshold

    def above_chance(self, accuracy: Interval) -> bool:
        return accuracy.low > self.accuracy_threshold

    def not_above_chance(self, accuracy: Interval) -> bool:
        return accuracy.high <= self.accuracy_threshold


def _verdict(holds: bool, fails: bool) -> str:
    return HOLDS if holds else FAILS if fails else INCONCLUSIVE


def _missing(results: Results, title: str, rule: str, *cells: str) -> Claim | None:
    """The claim's 'not in this run' row when any of its cells is not part of this run, else None."""
    absent = [cell for cell in cells if not results.has(cell)]
    if not absent:
        return None
    verb = "is" if len(absent) == 1 else "are"
    return Claim(title, ABSENT, f"{', '.join(f'`{cell}`' for cell in absent)} {verb} not part of this run", rule)


def verdict_bptt(params: Params) -> int:
    """Claims about the grid are judged at `report.verdict_bptt` (the write-up's 10), else the smallest swept."""
    sizes = params.sweep.bptt_size
    return params.report.verdict_bptt if params.report.verdict_bptt in sizes else min(sizes)


def gap_claim(results: Results, title: str, cell: str) -> Claim:
    """The write-up's symptom in one cell: updating loss below chance while the frozen pass does not classify."""
    rule = (f"updating loss below chance (interval under {results.threshold:.3f} nats) and frozen-pass accuracy not "
            f"above chance (interval at or under {results.accuracy_threshold:.2f}); does not hold when the updating "
            "loss is not below chance or the frozen pass classifies above chance")
    if missing := _missing(results, title, rule, cell):
        return missing
    updating = results.interval(cell, "update_pass_loss")
    frozen_accuracy = results.interval(cell, "frozen_pass_accuracy")
    verdict = _verdict(results.below(updating) and results.not_above_chance(frozen_accuracy),
                       results.not_below(updating) or results.above_chance(frozen_accuracy))
    evidence = (f"`{cell}`: updating loss {updating.text()}, frozen loss "
                f"{results.interval(cell, 'frozen_pass_loss').text()}; accuracy updating "
                f"{results.interval(cell, 'update_pass_accuracy').text(2)}, frozen {frozen_accuracy.text(2)}, "
                f"held-out {results.interval(cell, 'heldout_accuracy').text(2)}")
    return Claim(title, verdict, evidence, rule)


def nothing_learned_claim(results: Results, title: str, cell: str) -> Claim:
    rule = (f"both the updating and the frozen loss not below chance (threshold {results.threshold:.3f}); does not "
            "hold when either is below it")
    if missing := _missing(results, title, rule, cell):
        return missing
    updating = results.interval(cell, "update_pass_loss")
    frozen = results.interval(cell, "frozen_pass_loss")
    verdict = _verdict(results.not_below(updating) and results.not_below(frozen),
                       results.below(updating) or results.below(frozen))
    return Claim(title, verdict, f"`{cell}`: updating {updating.text()}, frozen {frozen.text()}", rule)


def generalises_claim(results: Results, title: str, cell: str) -> Claim:
    rule = (f"held-out accuracy above chance (interval over {results.accuracy_threshold:.2f}); does not hold when "
            "not above chance")
    if missing := _missing(results, title, rule, cell):
        return missing
    accuracy = results.interval(cell, "heldout_accuracy")
    verdict = _verdict(results.above_chance(accuracy), results.not_above_chance(accuracy))
    return Claim(title, verdict, f"`{cell}`: held-out accuracy {accuracy.text(2)}, loss "
                                 f"{results.interval(cell, 'heldout_loss').text()}", rule)


def mechanism_claim(results: Results, cell: str) -> Claim:
    title = ("Mechanism: with the final weights, replaying the last update pass's initial states recovers part of "
             "the updating pass's skill; fresh states do not")
    rule = ("per seed, accuracy from replayed states minus accuracy from fresh states has an interval above 0 and "
            "the fresh-state accuracy is not above chance; does not hold when that difference's interval lies below "
            "0 or fresh states classify above chance")
    if missing := _missing(results, title, rule, cell):
        return missing
    recovery = results.paired(cell, "train_replayed_accuracy", cell, "train_fresh_accuracy")
    fresh = results.interval(cell, "train_fresh_accuracy")
    evidence = (f"`{cell}`: accuracy updating {results.interval(cell, 'update_pass_accuracy').text(2)}, replayed "
                f"states {results.interval(cell, 'train_replayed_accuracy').text(2)}, fresh states {fresh.text(2)}, "
                f"zero states {results.interval(cell, 'train_zero_accuracy').text(2)}; replayed minus fresh "
                f"{recovery.text(2)}; losses: replayed {results.interval(cell, 'train_replayed_loss').text()}, fresh "
                f"{results.interval(cell, 'train_fresh_loss').text()}")
    verdict = _verdict(recovery.low > 0 and results.not_above_chance(fresh),
                       recovery.high < 0 or results.above_chance(fresh))
    return Claim(title, verdict, evidence, rule)


def bptt_claim(results: Results, params: Params) -> Claim:
    title = "Longer chunks (fewer updates per epoch) shrink the gap on `SameRandom` with random states"
    rule = ("per seed, the accuracy gap (updating minus frozen) at the smallest bptt minus that at the largest has an "
            "interval above 0; below 0: does not hold")
    sizes = sorted(params.sweep.bptt_size)
    short, long = f"grid/SameRandom-Random-{sizes[0]}", f"grid/SameRandom-Random-{sizes[-1]}"
    if len(sizes) < 2 or not (results.has(short) and results.has(long)):
        return Claim(title, ABSENT, "needs `SameRandom` with random states at two or more bptt sizes", rule)
    difference = results.paired(short, "accuracy_gap", long, "accuracy_gap")
    evidence = (f"accuracy gap at bptt {sizes[0]}: {results.interval(short, 'accuracy_gap').text(2)} (loss gap "
                f"{results.interval(short, 'gap').text()}); at bptt {sizes[-1]}: "
                f"{results.interval(long, 'accuracy_gap').text(2)} (loss gap {results.interval(long, 'gap').text()}); "
                f"difference {difference.text(2)}")
    return Claim(title, _verdict(difference.low > 0, difference.high < 0), evidence, rule)


def remedy_claim(results: Results, label: str, unlearnable: str, learnable: str) -> Claim:
    title = f"Remedy: {label} closes the gap on `SameRandom` and still learns `DiffDistRandom`"
    rule = (f"accuracy gap (updating minus frozen) on `SameRandom` with an interval under the margin "
            f"({results.margin:g}) and held-out accuracy on `DiffDistRandom` above chance; does not hold when the gap "
            f"interval lies above the margin or the held-out accuracy is not above chance")
    if missing := _missing(results, title, rule, unlearnable, learnable):
        return missing
    gap = results.interval(unlearnable, "accuracy_gap")
    heldout = results.interval(learnable, "heldout_accuracy")
    verdict = _verdict(gap.high < results.margin and results.above_chance(heldout),
                       gap.low > results.margin or results.not_above_chance(heldout))
    evidence = (f"accuracy gap on `{unlearnable}` {gap.text(2)} (loss gap "
                f"{results.interval(unlearnable, 'gap').text()}); held-out accuracy on `{learnable}` "
                f"{heldout.text(2)} (loss {results.interval(learnable, 'heldout_loss').text()})")
    return Claim(title, verdict, evidence, rule)


def remedy_cells(params: Params) -> list[tuple[str, str, str]]:
    """(label, SameRandom cell, DiffDistRandom cell) of every remedy, the write-up's loop first as the baseline."""
    b = verdict_bptt(params)
    rows = [("the write-up's loop (per_chunk, random states; baseline)",
             f"grid/SameRandom-Random-{b}", f"grid/DiffDistRandom-Random-{b}")]
    for protocol in params.remedies.protocol:
        for state in params.remedies.initial_state_type:
            rows.append((f"protocol `{protocol}` ({state.lower()} states)",
                         f"remedy/{protocol}-SameRandom-{state}", f"remedy/{protocol}-DiffDistRandom-{state}"))
    rows.append(("learned initial states (per_chunk)", f"grid/SameRandom-Learned-{b}", f"grid/DiffDistRandom-Learned-{b}"))
    rows.append(("zero initial states (per_chunk)", f"grid/SameRandom-Zeros-{b}", f"grid/DiffDistRandom-Zeros-{b}"))
    return rows


def all_claims(results: Results, params: Params) -> list[Claim]:
    b = verdict_bptt(params)
    claims = [
        gap_claim(results, "Headline: with random initial states the network learns to classify sequences it cannot "
                           "tell apart (`SameRandom`), and the frozen pass does not", f"grid/SameRandom-Random-{b}"),
        gap_claim(results, "The input plays no part: all-zero inputs with random initial states show the same gap",
                  f"grid/Zeros-Random-{b}"),
        nothing_learned_claim(results, "`SameRandom` with zero initial states: nothing is learned in either pass",
                              f"grid/SameRandom-Zeros-{b}"),
        gap_claim(results, "The write-up's closing remark: zero initial states do not save you once the inputs differ "
                           "(`SameDistRandom` with zero states shows the same gap)", f"grid/SameDistRandom-Zeros-{b}"),
        generalises_claim(results, "`DiffDistRandom` with zero initial states generalises to held-out sequences",
                          f"grid/DiffDistRandom-Zeros-{b}"),
        generalises_claim(results, "`DiffDistRandom` with random initial states generalises to held-out sequences",
                          f"grid/DiffDistRandom-Random-{b}"),
        mechanism_claim(results, f"grid/SameRandom-Random-{b}"),
        bptt_claim(results, params),
    ]
    for cell in params.architecture.cell:
        claims.append(gap_claim(results, f"Not specific to the GRU: an {cell} shows the same gap on `SameRandom` with "
                                         "random states", f"architecture/{cell}-SameRandom-Random"))
    claims += [remedy_claim(results, *row) for row in remedy_cells(params)]
    return claims


def accuracy_gap_claim(results: Results, title: str, cell: str, *, gap_expected: bool) -> Claim:
    """A gap between the update and the frozen pass (gap_expected) or its absence, judged on the paired accuracy
    gap against the margin: on real data a network may learn the input, so the symptom is the gap itself."""
    holds_when, fails_when = ("above", "under") if gap_expected else ("under", "above")
    rule = (f"the accuracy gap (updating minus frozen) has an interval {holds_when} the margin ({results.margin:g}); "
            f"does not hold when its interval lies {fails_when} it")
    if missing := _missing(results, title, rule, cell):
        return missing
    gap = results.interval(cell, "accuracy_gap")
    is_open, is_closed = gap.low > results.margin, gap.high < results.margin
    verdict = _verdict(is_open, is_closed) if gap_expected else _verdict(is_closed, is_open)
    evidence = (f"`{cell}`: accuracy updating {results.interval(cell, 'update_pass_accuracy').text(2)}, frozen "
                f"{results.interval(cell, 'frozen_pass_accuracy').text(2)}, gap {gap.text(2)}; loss updating "
                f"{results.interval(cell, 'update_pass_loss').text()}, frozen "
                f"{results.interval(cell, 'frozen_pass_loss').text()}; held-out accuracy "
                f"{results.interval(cell, 'heldout_accuracy').text(2)} (chance {results.chance_accuracy:.2f})")
    return Claim(title, verdict, evidence, rule)


def real_claims(results: Results, dataset: str) -> list[Claim]:
    """The write-up's symptom and the zero-state remedy on one real data set (`results` built with its classes)."""
    return [
        accuracy_gap_claim(results, f"Real recordings ({dataset}): the write-up's loop with random initial states "
                                    "scores better with updates than without on the same sequences",
                           f"real/{dataset}-per_chunk-Random", gap_expected=True),
        accuracy_gap_claim(results, f"Real recordings ({dataset}): with zero initial states the update and the "
                                    "frozen pass agree", f"real/{dataset}-per_chunk-Zeros", gap_expected=False),
        generalises_claim(results, f"Real recordings ({dataset}): the write-up's loop with zero initial states "
                                   "classifies the published test split above chance",
                          f"real/{dataset}-per_chunk-Zeros"),
    ]
