"""Findings and controls: what the study claims, each decided from the per-seed numbers by a stated comparison.

- A **finding** rests on one comparison (or, for a remedy, two): a per-seed quantity against a threshold, in a stated
  direction. Its two-sided t-test across seeds decides it: *holds* when the mean lies significantly on the finding's
  side of the threshold, *does not hold* when it lies significantly on the other side, *inconclusive* otherwise (with
  the seeds that the observed spread says would decide it). The **primary** findings (the write-up's headline, the
  mechanism, the write-up's zero-state remark, the gap on real recordings) are one family: their p-values are
  corrected together by Holm's method. The others are secondary and read at the unadjusted level.
- A finding whose precondition fails (the network never fitted the update pass, so there is no gap to explain) is
  *not tested*, with the reason; a finding whose cells are not part of this run is *not in this run*.
- A **control** is true by construction (identical inputs and states give identical predictions; random states
  carry no label); it checks the pipeline, not the write-up, and is listed apart with its expected value.

Thresholds: with C classes and the margin m = `report.chance_margin`, a score *classifies* when its accuracy lies
above 1/C + m, a loss is *below chance* under ln C - m, and a difference *matters* when it exceeds m.
Classification scores are sequence level: each sequence's prediction at its last step (stage `evaluate`).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from stages.core.params import Params, cell_name, probe_cells
from stages.reporting.stats import (
    ACCURACY,
    ACCURACY_DIFFERENCE,
    NON_NEGATIVE,
    UNBOUNDED,
    Interval,
    holm,
    one_sided_p,
    seeds_needed,
    t_interval,
)

HOLDS, FAILS, INCONCLUSIVE, NOT_TESTED, ABSENT = (
    "holds", "does not hold", "inconclusive", "not tested", "not in this run")
PASSES, FAILS_CHECK = "passes", "fails"


def bounds_of(metric: str) -> tuple[float, float]:
    """The range a metric of the study can take, so that no interval leaves it."""
    if metric.endswith("accuracy_gap") or metric.endswith("_recovery") or metric.endswith("_part"):
        return ACCURACY_DIFFERENCE
    if metric.endswith("accuracy") or metric.endswith("_rate"):
        return ACCURACY
    if metric.endswith("_distance") or metric.endswith("_difference"):
        return NON_NEGATIVE
    if metric.endswith("loss"):
        return NON_NEGATIVE
    if metric == "onset_epoch":
        return (1.0, math.inf)
    return UNBOUNDED  # a loss gap (frozen minus updating) can take either sign without bound


@dataclass(frozen=True)
class Comparison:
    """One per-seed quantity against a threshold; the finding holds on the `holds_above` side."""

    label: str
    values: np.ndarray
    bounds: tuple[float, float]
    threshold: float
    holds_above: bool

    def p_value(self) -> float:
        """Two-sided: the smaller one-sided p-value, doubled."""
        p = min(one_sided_p(self.values, self.threshold, "greater"), one_sided_p(self.values, self.threshold, "less"))
        return min(1.0, 2 * p)

    def favourable(self) -> bool:
        mean = float(np.nanmean(self.values))
        return mean > self.threshold if self.holds_above else mean < self.threshold


@dataclass(frozen=True)
class Finding:
    key: str  # short name, for the study's metrics file
    title: str
    primary: bool
    verdict: str
    evidence: str  # the numbers behind the verdict, with intervals
    rule: str  # the comparison it rests on, what is held equal, and when it holds
    estimate: Interval | None = None  # the decisive quantity (the first comparison)
    threshold: float = math.nan
    p_value: float = math.nan  # two-sided, unadjusted (the largest of a compound finding's)
    adjusted_p: float = math.nan  # Holm-adjusted among the primary findings; the p-value itself for the others
    seeds_needed: int | None = None  # for an inconclusive finding: seeds that would decide it at the stated power
    comparisons: tuple[Comparison, ...] = field(default=(), repr=False)
    cell: str = ""  # the cell whose numbers the finding quotes first


@dataclass(frozen=True)
class Control:
    title: str
    expected: str
    measured: str
    check: str  # PASSES | FAILS_CHECK | ABSENT


def shared_seeds(first: pd.Series, second: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Two per-seed series (indexed by replicate) over the seeds both have, in seed order: the pairs of a paired
    comparison between cells with different seed counts."""
    shared = first.index.intersection(second.index).sort_values()
    return first[shared].to_numpy(dtype=float), second[shared].to_numpy(dtype=float)


class Results:
    """Per-seed results of every cell (the report's `replicates` table), read by cell name and metric."""

    def __init__(self, replicates: pd.DataFrame, confidence: float, classes: int, margin: float) -> None:
        self.table, self.confidence = replicates, confidence
        self.classes, self.margin = classes, margin
        self.chance = math.log(classes)
        self.threshold = self.chance - margin  # nats
        self.chance_accuracy = 1 / classes
        self.accuracy_threshold = self.chance_accuracy + margin

    def has(self, cell: str) -> bool:
        return bool((self.table["cell"] == cell).any())

    def values(self, cell: str, metric: str) -> np.ndarray:
        rows = self.table[self.table["cell"] == cell].sort_values("replicate")
        return rows[metric].to_numpy(dtype=float)

    def interval(self, cell: str, metric: str) -> Interval:
        return t_interval(self.values(cell, metric), self.confidence, bounds_of(metric))

    def text(self, cell: str, metric: str, digits: int = 3) -> str:
        return self.interval(cell, metric).text(digits)

    def compare(self, cell: str, metric: str, threshold: float, holds_above: bool, label: str = "") -> Comparison:
        return Comparison(label or f"{metric} of `{cell}`", self.values(cell, metric), bounds_of(metric), threshold,
                          holds_above)

    def paired(self, first: str, second: str, metric: str) -> tuple[np.ndarray, np.ndarray]:
        """One metric of two cells over the seeds both have, in seed order (a cell in `replicates.primary_cells`
        has more)."""
        return shared_seeds(*(self.table[self.table["cell"] == cell].set_index("replicate")[metric]
                              for cell in (first, second)))

    def above_chance(self, cell: str, metric: str) -> bool:
        return self.interval(cell, metric).low > self.accuracy_threshold


def _absent(results: Results, key: str, title: str, rule: str, primary: bool, *cells: str) -> Finding | None:
    """The finding's 'not in this run' row when any of its cells is not part of this run, else None."""
    missing = [cell for cell in cells if not results.has(cell)]
    if not missing:
        return None
    verb = "is" if len(missing) == 1 else "are"
    return Finding(key, title, primary, ABSENT, f"{', '.join(f'`{c}`' for c in missing)} {verb} not part of this run",
                   rule)


def _pending(key: str, title: str, primary: bool, evidence: str, rule: str, *comparisons: Comparison,
             cell: str = "") -> Finding:
    """A finding whose comparisons are measured but not yet decided (`decide` does that, with the family's level)."""
    first = comparisons[0]
    return Finding(key, title, primary, INCONCLUSIVE, evidence, rule, None, first.threshold,
                   max(c.p_value() for c in comparisons), comparisons=comparisons, cell=cell)


def decide(findings: list[Finding], confidence: float, power: float) -> list[Finding]:
    """Verdicts: the primary findings' p-values corrected together (Holm), the secondary ones at the plain level.
    Every comparison of a finding must be decided favourably for it to hold; one decided against it is enough for
    it not to hold. An inconclusive finding gets the seeds that would decide its undecided comparisons."""
    alpha = 1 - confidence
    tested = [i for i, f in enumerate(findings) if f.comparisons]
    primary = [i for i in tested if findings[i].primary]
    adjusted = dict(zip(primary, holm([findings[i].p_value for i in primary])))
    decided = list(findings)
    for i in tested:
        finding = findings[i]
        correction = len(primary) if finding.primary else 1
        p_values = [c.p_value() for c in finding.comparisons]
        if finding.primary:  # a primary finding rests on one comparison
            p_values = [adjusted[i]]
        settled = [p < alpha for p in p_values]
        against = any(s and not c.favourable() for s, c in zip(settled, finding.comparisons))
        all_for = all(s and c.favourable() for s, c in zip(settled, finding.comparisons))
        verdict = FAILS if against else HOLDS if all_for else INCONCLUSIVE
        # The p-value shown is the one that decided the verdict: the comparison decided against it, the weakest of
        # those decided for it, or the weakest still undecided.
        pairs = list(zip(p_values, settled, finding.comparisons))
        shown = (min(p for p, s, c in pairs if s and not c.favourable()) if verdict == FAILS
                 else max(p for p, s, _ in pairs if verdict == HOLDS or not s))
        needed = None
        if verdict == INCONCLUSIVE:
            # Planning at the level a new run would face: the Bonferroni step of Holm for a primary finding.
            counts = [seeds_needed(c.values, c.threshold, alpha / correction, power)
                      for s, c in zip(settled, finding.comparisons) if not s]
            needed = None if any(n is None for n in counts) else max(counts)
        # Estimate interval at the report's level, within the quantity's range.
        first = finding.comparisons[0]
        decided[i] = dataclasses.replace(
            finding, verdict=verdict, estimate=t_interval(first.values, confidence, first.bounds),
            adjusted_p=shown, seeds_needed=needed)
    return decided


def verdict_bptt(params: Params) -> int:
    """Findings about the grid are judged at `report.verdict_bptt` (the write-up's 10), else at the smallest swept."""
    sizes = params.sweep.bptt_size
    return params.report.verdict_bptt if params.report.verdict_bptt in sizes else min(sizes)


def _grid(params: Params, data_type: str, states: str, bptt: int | None = None) -> str:
    return cell_name("grid", data_type=data_type, initial_state_type=states,
                     bptt_size=verdict_bptt(params) if bptt is None else bptt)


def _passes_text(results: Results, cell: str) -> str:
    r = results
    return (f"`{cell}`: accuracy updating {r.text(cell, 'update_pass_accuracy', 2)}, frozen "
            f"{r.text(cell, 'frozen_pass_accuracy', 2)}, gap {r.text(cell, 'accuracy_gap', 2)}; loss updating "
            f"{r.text(cell, 'update_pass_loss')}, frozen {r.text(cell, 'frozen_pass_loss')}; held-out accuracy "
            f"{r.text(cell, 'heldout_accuracy', 2)}")


def gap_finding(results: Results, key: str, title: str, cell: str, *, primary: bool = False,
                needs_fit: bool = False) -> Finding:
    """The write-up's symptom in one cell: the update pass classifies the training sequences better than the frozen
    pass does with the same final weights (paired, sequence-level accuracy gap above the margin). With `needs_fit`,
    a cell whose update pass never classified above chance is *not tested*: it has no skill a frozen pass could
    lose."""
    rule = (f"rests on the paired accuracy gap (update pass minus frozen pass, same seed, same sequences, the final "
            f"weights of the last epoch) against the margin {results.margin:g}: holds above it, does not hold below it")
    if needs_fit:
        rule += (f"; tested only where the update pass classifies (accuracy interval above "
                 f"{results.accuracy_threshold:.2f})")
    if absent := _absent(results, key, title, rule, primary, cell):
        return absent
    evidence = _passes_text(results, cell)
    if needs_fit and not results.above_chance(cell, "update_pass_accuracy"):
        return Finding(key, title, primary, NOT_TESTED,
                       f"the update pass never classified above chance, so there is no gap to test; {evidence}", rule,
                       cell=cell)
    return _pending(key, title, primary, evidence, rule,
                    results.compare(cell, "accuracy_gap", results.margin, True), cell=cell)


def generalises_finding(results: Results, key: str, title: str, cell: str) -> Finding:
    rule = (f"rests on the held-out accuracy (sequences never trained on, fresh initial states) against "
            f"{results.accuracy_threshold:.2f} (chance + margin): holds above it, does not hold below it")
    if absent := _absent(results, key, title, rule, False, cell):
        return absent
    evidence = (f"`{cell}`: held-out accuracy {results.text(cell, 'heldout_accuracy', 2)}, loss "
                f"{results.text(cell, 'heldout_loss')} (chance {results.chance_accuracy:.2f})")
    return _pending(key, title, False, evidence, rule,
                    results.compare(cell, "heldout_accuracy", results.accuracy_threshold, True))


def mechanism_finding(results: Results, cell: str) -> Finding:
    key, title = "mechanism", ("Mechanism: with the final weights, replaying the initial states of the last update "
                               "pass recovers skill that fresh initial states do not")
    rule = (f"rests on the paired accuracy of the frozen pass from the replayed states minus that from fresh states "
            f"(same seed, weights and sequences; only the initial states differ) against the margin "
            f"{results.margin:g}: holds above it, does not hold below it; tested only where the update pass "
            f"classifies (accuracy interval above {results.accuracy_threshold:.2f})")
    if absent := _absent(results, key, title, rule, True, cell):
        return absent
    r = results
    evidence = (f"`{cell}`: accuracy updating {r.text(cell, 'update_pass_accuracy', 2)}, replayed states "
                f"{r.text(cell, 'train_replayed_accuracy', 2)}, fresh states "
                f"{r.text(cell, 'train_fresh_accuracy', 2)}, "
                f"zero states {r.text(cell, 'train_zero_accuracy', 2)}; replayed minus fresh "
                f"{r.text(cell, 'replay_recovery', 2)}; loss replayed {r.text(cell, 'train_replayed_loss')}, fresh "
                f"{r.text(cell, 'train_fresh_loss')}")
    if not r.above_chance(cell, "update_pass_accuracy"):
        return Finding(key, title, True, NOT_TESTED,
                       f"the update pass never classified above chance, so no skill can be recovered; {evidence}",
                       rule, cell=cell)
    return _pending(key, title, True, evidence, rule, r.compare(cell, "replay_recovery", r.margin, True), cell=cell)


def bptt_findings(results: Results, params: Params, epochs: pd.DataFrame) -> list[Finding]:
    """Longer chunks against the shortest on `SameRandom` with random states, at equal optimizer steps (the
    verdict that isolates the chunk length) and at equal passes over the data (the write-up's comparison).

    `epochs`: per cell, epoch and seed, the sequence-level accuracy of the update and the frozen pass and the
    optimizer steps of that epoch (the report's `epoch_scores` table)."""
    sizes = sorted(params.sweep.bptt_size)
    title = "Longer chunks shrink the gap on `SameRandom` with random states"
    out: list[Finding] = []
    if len(sizes) < 2:
        rule = "needs two or more bptt sizes in `sweep.bptt_size`"
        return [Finding("bptt_equal_updates", f"{title}, at equal optimizer steps", False, ABSENT,
                        "one bptt size in this run", rule)]
    short, total_epochs = sizes[0], params.train.epochs

    def gap_at(bptt: int, epoch: int) -> pd.Series:
        rows = epochs[(epochs["cell"] == _grid(params, "SameRandom", "Random", bptt)) & (epochs["epoch"] == epoch)]
        rows = rows.set_index("replicate").sort_index()
        return rows["update_accuracy"] - rows["frozen_accuracy"]

    # Equal optimizer steps: the shortest chunks after the epoch at which they have made as many updates as the
    # longer ones made in all their epochs; only pairs where that is a whole epoch can be compared.
    matched = [(long, total_epochs * short // long) for long in sizes[1:]
               if (total_epochs * short) % long == 0 and total_epochs * short // long >= 1]
    for kind, pairs in (("equal_updates", matched), ("equal_passes", [(long, total_epochs) for long in sizes[1:]])):
        held = ("optimizer steps (the shorter chunks read fewer passes over the data)" if kind == "equal_updates"
                else "passes over the data (the shorter chunks make more optimizer steps)")
        label = "at equal optimizer steps" if kind == "equal_updates" else "at equal passes over the data"
        rule = (f"rests on the paired difference of the sequence-level accuracy gap (update minus frozen pass, per "
                f"epoch) at bptt {short} minus that at the longest bptt that can be matched, holding equal the "
                f"{held}, against the margin {results.margin:g}: holds above it, does not hold below it")
        if not pairs:
            out.append(Finding(f"bptt_{kind}", f"{title}, {label}", False, NOT_TESTED,
                               f"no longer bptt in {list(sizes)} makes a whole number of epochs of bptt {short} "
                               f"match its {total_epochs} epochs of optimizer steps", rule))
            continue
        long, short_epoch = pairs[-1]
        cells = [_grid(params, "SameRandom", "Random", b) for b in (short, long)]
        if absent := _absent(results, f"bptt_{kind}", f"{title}, {label}", rule, False, *cells):
            out.append(absent)
            continue
        # Paired by seed: a cell with more seeds (`replicates.primary_cells`) contributes the seeds both share.
        short_gap, long_gap = shared_seeds(gap_at(short, short_epoch), gap_at(long, total_epochs))
        difference = short_gap - long_gap
        steps = total_epochs * params.data.seq_size // long
        evidence = (f"accuracy gap at bptt {short} after epoch {short_epoch} "
                    f"{t_interval(short_gap, results.confidence, ACCURACY_DIFFERENCE).text(2)}; at bptt {long} after "
                    f"epoch {total_epochs} {t_interval(long_gap, results.confidence, ACCURACY_DIFFERENCE).text(2)}; "
                    f"difference {t_interval(difference, results.confidence, (-2.0, 2.0)).text(2)}"
                    + (f" ({steps} optimizer steps each)" if kind == "equal_updates" else ""))
        comparison = Comparison(f"gap at bptt {short} minus gap at bptt {long}, {label}", difference, (-2.0, 2.0),
                                results.margin, True)
        out.append(_pending(f"bptt_{kind}", f"{title}, {label}", False, evidence, rule, comparison))
    return out


def capacity_bound(params: Params) -> int:
    """Cover's counting bound for the capacity axis: a linear read-out of d numbers separates at most 2d points in
    general position under any labelling (in expectation), so 2 x the hidden size random initial states."""
    return 2 * params.capacity.hidden_size


def capacity_findings(results: Results, params: Params) -> list[Finding]:
    """The capacity axis (`SameRandom` with random states, growing numbers of training sequences): does the gap
    shrink as the sequences outnumber the states a network this size can keep apart, and does it survive well
    past that bound (the write-up reports the symptom with thousands of real training sequences)?"""
    sizes = sorted(params.capacity.examples_per_class)
    bound, hidden = capacity_bound(params), params.capacity.hidden_size
    if not sizes:
        rule = "needs sizes in `capacity.examples_per_class`"
        return [Finding(key, title, False, ABSENT, "the capacity axis is not part of this run", rule)
                for key, title in (("capacity_persists", "Many sequences: well past the number of random states the "
                                    "network can separate linearly, the gap remains"),
                                   ("capacity_shrinks", "A capacity: the gap with the most training sequences is "
                                    "smaller than with the fewest"))]
    smallest, largest = (cell_name("capacity", examples_per_class=n) for n in (sizes[0], sizes[-1]))
    count = {n: results.classes * n for n in sizes}
    persists_title = (f"Many sequences: with {count[sizes[-1]]} training sequences, {count[sizes[-1]] / bound:g} times "
                      f"the {bound} random states that {hidden} units can separate linearly, the gap remains")
    shrinks_title = (f"A capacity: the gap with {count[sizes[-1]]} training sequences is smaller than with "
                     f"{count[sizes[0]]}")
    found: list[Finding] = []
    # Precondition of both: the effect itself, where the states are fewest. Without it the axis has nothing to lose.
    if results.has(smallest) and not results.above_chance(smallest, "update_pass_accuracy"):
        reason = (f"with the fewest sequences ({count[sizes[0]]}) the update pass never classified above chance "
                  f"(accuracy {results.text(smallest, 'update_pass_accuracy', 2)}), so there is no effect to shrink "
                  f"or to survive")
        rule = (f"tested only where the update pass with the fewest sequences classifies (accuracy interval above "
                f"{results.accuracy_threshold:.2f})")
        return [Finding("capacity_persists", persists_title, False, NOT_TESTED, reason, rule, cell=largest),
                Finding("capacity_shrinks", shrinks_title, False, NOT_TESTED, reason, rule)]
    if count[sizes[-1]] <= bound:
        rule = "needs a size of `capacity.examples_per_class` whose sequences outnumber 2 x `capacity.hidden_size`"
        found.append(Finding("capacity_persists", persists_title, False, NOT_TESTED,
                             f"the largest size, {count[sizes[-1]]} sequences, does not exceed the bound {bound}",
                             rule))
    else:
        found.append(gap_finding(results, "capacity_persists", persists_title, largest))
    rule = (f"rests on the paired difference (same seed: the same initial weights, and the smaller set of sequences "
            f"is the first part of the larger) of the accuracy gap with {count[sizes[0]]} sequences minus that with "
            f"{count[sizes[-1]]}, against the margin {results.margin:g}: holds above it, does not hold below it")
    if len(sizes) < 2:
        found.append(Finding("capacity_shrinks", shrinks_title, False, ABSENT,
                             "one size in `capacity.examples_per_class`", rule))
        return found
    if absent := _absent(results, "capacity_shrinks", shrinks_title, rule, False, smallest, largest):
        found.append(absent)
        return found
    few, many = results.paired(smallest, largest, "accuracy_gap")
    evidence = (f"accuracy gap with {count[sizes[0]]} sequences {results.text(smallest, 'accuracy_gap', 2)}, with "
                f"{count[sizes[-1]]} {results.text(largest, 'accuracy_gap', 2)}; updating accuracy "
                f"{results.text(smallest, 'update_pass_accuracy', 2)} and "
                f"{results.text(largest, 'update_pass_accuracy', 2)}; difference "
                f"{t_interval(few - many, results.confidence, (-2.0, 2.0)).text(2)}")
    comparison = Comparison(f"gap with {count[sizes[0]]} minus gap with {count[sizes[-1]]} sequences", few - many,
                            (-2.0, 2.0), results.margin, True)
    found.append(_pending("capacity_shrinks", shrinks_title, False, evidence, rule, comparison))
    return found


def probe_findings(results: Results, probed: list[str]) -> list[Finding]:
    """For each probed cell of `results`: does the carried state, written by earlier weights, carry the update
    pass's edge at the last chunk (stage `probe`)? The alternatives it is tested against are the last update (the
    other part of the within-epoch gap) and the initial states (the part that replaying them recovers)."""
    found = []
    for cell in probed:
        if not results.has(cell):
            continue
        key = "stale_state_" + cell.replace("/", "_").replace("-", "_")
        title = (f"Staleness (`{cell}`): the update pass's edge at the last chunk lies in the carried state that "
                 "earlier weights wrote; the same weights, from the same initial state but on the state they compute "
                 "themselves, lose it")
        rule = (f"rests on the paired accuracy at the last chunk of the replayed last update pass minus that of the "
                f"same weights on their own state (same seed, weights, initial states and sequences; only who wrote "
                f"the state differs) against the margin {results.margin:g}: holds above it, does not hold below it; "
                f"tested only where the update pass classifies (accuracy interval above "
                f"{results.accuracy_threshold:.2f})")
        r = results
        evidence = (f"`{cell}`: accuracy updating {r.text(cell, 'update_pass_accuracy', 2)}, own state "
                    f"{r.text(cell, 'own_state_accuracy', 2)}, final weights from the replayed states "
                    f"{r.text(cell, 'train_replayed_accuracy', 2)}; stale carried state "
                    f"{r.text(cell, 'stale_state_part', 2)}, the last update {r.text(cell, 'last_update_part', 2)}")
        if not r.above_chance(cell, "update_pass_accuracy"):
            found.append(Finding(key, title, False, NOT_TESTED, f"the update pass never classified above chance, so "
                                 f"it has no edge to place; {evidence}", rule, cell=cell))
            continue
        found.append(_pending(key, title, False, evidence, rule,
                              r.compare(cell, "stale_state_part", r.margin, True), cell=cell))
    return found


def remedy_finding(results: Results, key: str, label: str, unlearnable: str, learnable: str,
                   gap_by_construction: bool = False) -> Finding:
    title = f"Remedy: {label} closes the gap on `SameRandom` and still learns `DiffDistRandom`"
    rule = (f"rests on two comparisons at equal passes over the data: the accuracy gap on `SameRandom` under the "
            f"margin {results.margin:g}, and the held-out accuracy on `DiffDistRandom` above "
            f"{results.accuracy_threshold:.2f}; holds when both are decided so, does not hold when either is decided "
            f"against")
    if absent := _absent(results, key, title, rule, False, unlearnable, learnable):
        return absent
    evidence = (f"accuracy gap on `{unlearnable}` {results.text(unlearnable, 'accuracy_gap', 2)} (loss gap "
                f"{results.text(unlearnable, 'gap')}); held-out accuracy on `{learnable}` "
                f"{results.text(learnable, 'heldout_accuracy', 2)} (loss {results.text(learnable, 'heldout_loss')})")
    heldout = results.compare(learnable, "heldout_accuracy", results.accuracy_threshold, True)
    if gap_by_construction:
        # Identical inputs and states give identical predictions: the gap is 0 by construction (a control).
        return _pending(key, title, False, evidence + "; the gap is closed by construction (see the controls)",
                        rule, heldout)
    return _pending(key, title, False, evidence, rule,
                    results.compare(unlearnable, "accuracy_gap", results.margin, False), heldout)


def remedy_cells(params: Params) -> list[tuple[str, str, str, str]]:
    """(key, label, SameRandom cell, DiffDistRandom cell) of every remedy, the write-up's loop first as the
    baseline."""
    rows = [("remedy_baseline", "the write-up's loop (per_chunk, random states; baseline)",
             _grid(params, "SameRandom", "Random"), _grid(params, "DiffDistRandom", "Random"))]
    for protocol in params.remedies.protocol:
        for state in params.remedies.initial_state_type:
            names = [cell_name("remedy", protocol=protocol, data_type=data, initial_state_type=state)
                     for data in ("SameRandom", "DiffDistRandom")]
            rows.append((f"remedy_{protocol}_{state}", f"protocol {protocol} ({state.lower()} states)", *names))
    for state in ("Learned", "Zeros"):
        rows.append((f"remedy_{state.lower()}_states", f"{state.lower()} initial states (per_chunk)",
                     _grid(params, "SameRandom", state), _grid(params, "DiffDistRandom", state)))
    return rows


def decomposition_cells(params: Params) -> list[str]:
    """The cells whose gap the report splits into parts: the key cells that stage `probe` records (`probe.grid`,
    `probe.real`)."""
    return probe_cells(params)


def real_counterparts(params: Params, dataset: str, runs_from: Params | None = None) -> dict[str, str]:
    """For each row of `remedy_cells`, the real-data cell of `dataset` trained the same way, where the run runs one
    (real data run only some protocols and initial-state modes). `runs_from`: the parameters of another run (a
    published profile) whose real-data cells to look for, instead of this run's."""
    real = (runs_from or params).realdata
    if dataset not in real.dataset:
        return {}
    runs = {(protocol, state) for protocol in real.protocol for state in real.initial_state_type}
    wanted = {"remedy_baseline": ("per_chunk", "Random"), "remedy_learned_states": ("per_chunk", "Learned"),
              "remedy_zeros_states": ("per_chunk", "Zeros")}
    for protocol in params.remedies.protocol:
        for state in params.remedies.initial_state_type:
            wanted[f"remedy_{protocol}_{state}"] = (protocol, state)
    return {key: cell_name("real", data_type=dataset, protocol=protocol, initial_state_type=state)
            for key, (protocol, state) in wanted.items() if (protocol, state) in runs}


def toy_findings(results: Results, params: Params, epochs: pd.DataFrame) -> list[Finding]:
    """Every finding on the toy data, primary ones first (undecided: pass them to `decide` with the others)."""
    headline = _grid(params, "SameRandom", "Random")
    findings = [
        gap_finding(results, "headline", "Headline: with random initial states the update pass classifies sequences "
                    "that cannot be told apart (`SameRandom`), and the frozen pass with the same weights does not",
                    headline, primary=True),
        mechanism_finding(results, headline),
        gap_finding(results, "zero_state_remark", "The write-up's closing remark: zero initial states do not save "
                    "you once the inputs differ (`SameDistRandom` with zero states shows the gap)",
                    _grid(params, "SameDistRandom", "Zeros"), primary=True),
        gap_finding(results, "zero_inputs", "The input plays no part: all-zero inputs with random initial states "
                    "show the same gap", _grid(params, "Zeros", "Random")),
        generalises_finding(results, "diffdist_zeros_generalises", "`DiffDistRandom` with zero initial states "
                            "generalises to held-out sequences", _grid(params, "DiffDistRandom", "Zeros")),
        generalises_finding(results, "diffdist_random_generalises", "`DiffDistRandom` with random initial states "
                            "generalises to held-out sequences", _grid(params, "DiffDistRandom", "Random")),
        *bptt_findings(results, params, epochs),
    ]
    for cell in params.architecture.cell:
        findings.append(gap_finding(
            results, f"architecture_{cell}", f"Not specific to the GRU: an {cell} shows the same gap on "
            "`SameRandom` with random states", cell_name("architecture", cell=cell, data_type="SameRandom",
                                                         initial_state_type="Random"), needs_fit=True))
    for key, label, unlearnable, learnable in remedy_cells(params):
        findings.append(remedy_finding(results, key, label, unlearnable, learnable,
                                       gap_by_construction=key == "remedy_zeros_states"))
    findings += capacity_findings(results, params)
    return findings


def real_findings(results: Results, dataset: str) -> list[Finding]:
    """The write-up's symptom, the zero-state remedy and learning on one real data set (`results` built with its
    classes); the first is primary."""
    random, zeros = (cell_name("real", data_type=dataset, protocol="per_chunk", initial_state_type=state)
                     for state in ("Random", "Zeros"))
    closed_rule = (f"rests on the paired accuracy gap (update minus frozen pass, same final weights and recordings) "
                   f"against the margin {results.margin:g}: holds below it, does not hold above it")
    closed_title = f"Real recordings ({dataset}): with zero initial states the update and the frozen pass agree"
    closed = (_absent(results, f"real_{dataset}_zeros_closed", closed_title, closed_rule, False, zeros)
              or _pending(f"real_{dataset}_zeros_closed", closed_title, False, _passes_text(results, zeros),
                          closed_rule, results.compare(zeros, "accuracy_gap", results.margin, False)))
    return [
        gap_finding(results, f"real_{dataset}_gap", f"Real recordings ({dataset}): the write-up's loop with random "
                    "initial states scores better with updates than without on the same recordings", random,
                    primary=True),
        closed,
        generalises_finding(results, f"real_{dataset}_zeros_generalises", f"Real recordings ({dataset}): the "
                            "write-up's loop with zero initial states classifies the published test split above "
                            "chance", zeros),
    ]


STATE_WORD = {"Zeros": "zero", "Random": "random", "Learned": "learned"}


def real_remedy_findings(results: Results, params: Params, dataset: str) -> list[Finding]:
    """On one real data set, every protocol other than the write-up's loop, and the loop with learned states, where
    this run trains them: does it close the gap (the update and the frozen pass agree) and still classify the
    published test split above chance? The evidence adds, for the practitioner, its held-out accuracy against the
    write-up's loop with the same initial states (paired by seed: the same initial weights), without a verdict."""
    found: list[Finding] = []
    rule = (f"rests on two comparisons at equal passes over the data: the accuracy gap (update minus frozen pass, "
            f"same final weights and recordings) under the margin {results.margin:g}, and the held-out accuracy on "
            f"the published test split above {results.accuracy_threshold:.2f}; holds when both are decided so, does "
            f"not hold when either is decided against")
    for protocol in params.realdata.protocol:
        for state in params.realdata.initial_state_type:
            if protocol == "per_chunk" and state != "Learned":
                continue  # the write-up's loop itself: real_findings
            cell = cell_name("real", data_type=dataset, protocol=protocol, initial_state_type=state)
            if not results.has(cell):
                continue
            label = ("learned initial states (per_chunk)" if protocol == "per_chunk"
                     else f"protocol {protocol} with {STATE_WORD[state]} initial states")
            title = (f"Real recordings ({dataset}): {label} closes the gap and classifies the test split above "
                     "chance")
            # Against the write-up's loop with the same states; learned states against the loop's usual zero states.
            baseline_state = "Zeros" if protocol == "per_chunk" else state
            loop = cell_name("real", data_type=dataset, protocol="per_chunk", initial_state_type=baseline_state)
            versus = ""
            if results.has(loop):
                mine, theirs = results.paired(cell, loop, "heldout_accuracy")
                versus = (f"; held-out accuracy minus the write-up's loop with {STATE_WORD[baseline_state]} states "
                          f"{t_interval(mine - theirs, results.confidence, ACCURACY_DIFFERENCE).text(2)}")
            evidence = (f"`{cell}`: accuracy gap {results.text(cell, 'accuracy_gap', 2)}, held-out accuracy "
                        f"{results.text(cell, 'heldout_accuracy', 2)}{versus}")
            found.append(_pending(f"real_{dataset}_{protocol}_{state}", title, False, evidence, rule,
                                  results.compare(cell, "accuracy_gap", results.margin, False),
                                  results.compare(cell, "heldout_accuracy", results.accuracy_threshold, True),
                                  cell=cell))
    return found


def _exact_control(results: Results, title: str, cell: str, metrics: list[str], expected: float) -> Control:
    """Every seed's value of every metric equals `expected` (to float rounding)."""
    shown = f"{expected:g} for every seed"
    if not results.has(cell):
        return Control(title, shown, f"`{cell}` is not part of this run", ABSENT)
    values = np.concatenate([results.values(cell, m) for m in metrics])
    worst = float(np.max(np.abs(values - expected)))
    measured = f"largest deviation {worst:.2g} over {len(values)} values ({', '.join(metrics)})"
    return Control(title, shown, measured, PASSES if worst < 1e-6 else FAILS_CHECK)


def probe_controls(replicates: pd.DataFrame, params: Params) -> list[Control]:
    """Checks of stage `probe` on every probed cell (toy and real): the replay is the run it describes, and on
    `SameRandom` swapping the initial states of identical sequences swaps their predictions."""
    found = []
    for cell in probe_cells(params):
        rows = replicates[replicates["cell"] == cell]
        title = (f"`{cell}`: the last epoch, replayed from the start that training kept, reproduces every logged "
                 f"loss and the saved final weights, and each recorded snapshot on its recorded state reproduces its "
                 f"update's loss")
        if rows.empty:
            found.append(Control(title, "0 difference", f"`{cell}` is not part of this run", ABSENT))
            continue
        worst = float(rows[["replay_loss_difference", "replay_weights_difference",
                            "recording_loss_difference"]].to_numpy().max())
        found.append(Control(title, "0 difference", f"largest difference {worst:.2g}",
                             PASSES if worst < 1e-6 else FAILS_CHECK))
        if rows["trajectory_swapped_accuracy"].notna().all():
            title = (f"`{cell}`: the two sequences of a pair are the same input, so swapping their initial states "
                     f"swaps their predictions: accuracy from the swapped states = 1 − updating accuracy")
            swapped = rows["trajectory_swapped_accuracy"] + rows["update_pass_accuracy"] - 1
            worst = float(np.max(np.abs(swapped)))
            found.append(Control(title, "0 difference", f"largest difference {worst:.2g} over {len(rows)} seeds "
                                 f"(predictions flipped: {rows['swap_flip_rate'].mean():.2f} of the sequences)",
                                 PASSES if worst < 1e-6 else FAILS_CHECK))
    return found


def controls(results: Results, params: Params) -> list[Control]:
    """Results true by construction: checks of the pipeline, never evidence for or against the write-up."""
    found: list[Control] = []
    identical = ["update_pass_accuracy", "frozen_pass_accuracy", "train_replayed_accuracy", "train_zero_accuracy",
                 "heldout_accuracy"]
    for bptt in params.sweep.bptt_size:
        for data in ("SameRandom", "Zeros"):
            for states in ("Zeros", "Learned"):
                cell = _grid(params, data, states, bptt)
                if data in params.sweep.data_type and states in params.sweep.initial_state_type:
                    found.append(_exact_control(
                        results, f"`{cell}`: the two labels see identical inputs and identical initial states, so "
                        "every pass predicts both alike and scores exactly half", cell, identical, 0.5))
    for data in ("SameRandom", "Zeros"):
        cell = _grid(params, data, "Random")
        title = (f"`{cell}`: fresh random initial states carry no label, so the frozen pass scores chance on "
                 f"average (its interval covers {results.chance_accuracy:.2f})")
        if not results.has(cell):
            found.append(Control(title, f"{results.chance_accuracy:.2f}", f"`{cell}` is not part of this run", ABSENT))
            continue
        interval = results.interval(cell, "frozen_pass_accuracy")
        covered = interval.low <= results.chance_accuracy <= interval.high
        found.append(Control(title, f"{results.chance_accuracy:.2f}", f"frozen accuracy {interval.text(2)}",
                             PASSES if covered else FAILS_CHECK))
    for bptt in params.sweep.bptt_size:
        for data in params.sweep.data_type:
            if "Zeros" not in params.sweep.initial_state_type:
                continue
            cell = _grid(params, data, "Zeros", bptt)
            title = (f"`{cell}`: zero initial states make the replayed, fresh and zero-state passes one and the same "
                     f"computation")
            if not results.has(cell):
                found.append(Control(title, "0 difference", f"`{cell}` is not part of this run", ABSENT))
                continue
            differences = np.concatenate([
                results.values(cell, f"train_{a}_{m}") - results.values(cell, f"train_{b}_{m}")
                for a, b in (("replayed", "fresh"), ("zero", "fresh")) for m in ("accuracy", "loss")])
            worst = float(np.max(np.abs(differences)))
            found.append(Control(title, "0 difference", f"largest difference {worst:.2g}",
                                 PASSES if worst < 1e-6 else FAILS_CHECK))
    return found
