"""Findings and controls: what the study claims, each declared in the analysis plan (plan.yaml) and decided here from
the per-seed numbers; and the results true by construction that check the pipeline.

- A **finding** tests one per-seed quantity of the cells the plan names (the seed is the unit of replication) by the
  test the plan declares, against its margin on the quantity's own scale: *superiority* (the mean exceeds +margin),
  *equivalence* (two one-sided tests: it lies within +-margin) or *non-inferiority* (it exceeds -margin). The claim's
  p-values are corrected within each family (plan.yaml: Holm's step-down, or Benjamini-Hochberg). A finding *holds*
  when its adjusted p-value is below the level; it *does not hold* when the claim's contrary is shown (its one-sided
  p-value below the level divided by the family's size, Bonferroni: never more lenient than the claim's test); it is
  *inconclusive* otherwise.
- A finding whose precondition fails (an arm whose update pass never left chance, a remedy that learns nothing, a
  shorter chunk that shows no gap) is *not tested*, with the reason; one whose cells are not part of this run is
  *not in this run*. Neither enters its family's correction.
- A **control** is true by construction (identical inputs and states give identical predictions; random states
  carry no label); it checks the pipeline, not the write-up, and is listed apart with its expected value.

Scores are sequence level: each sequence's prediction at its last step (stage `evaluate`); chance is 1/C in accuracy
and ln C in loss, with C read from the labels.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from stages.core.params import Params, cell_name, probe_cells
from stages.reporting.plan import QUANTITIES, Declared
from stages.reporting.stats import (
    ACCURACY,
    ACCURACY_DIFFERENCE,
    NON_NEGATIVE,
    UNBOUNDED,
    Interval,
    adjust,
    declared_test,
    seeds_to_decide,
    t_interval,
)

HOLDS, FAILS, INCONCLUSIVE, NOT_TESTED, ABSENT = (
    "holds", "does not hold", "inconclusive", "not tested", "not in this run")
PASSES, FAILS_CHECK = "passes", "fails"
LAST_EPOCHS = 3  # the zero-state remark's losses are averaged over this many last epochs (plan.yaml)


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
class Finding:
    """A declared finding, measured and decided in one run."""

    declared: Declared
    verdict: str
    evidence: str  # the numbers behind it, each with its interval, or why it was not tested
    margin: float = math.nan  # on the quantity's own scale, for this run's classes
    estimate: Interval | None = None  # the quantity's mean and interval across seeds
    p: float = math.nan  # the claim's p-value (one-sided; equivalence: the larger of the two one-sided)
    adjusted_p: float = math.nan  # corrected within the family; never below `p`
    contrary_p: float = math.nan  # the contrary's one-sided p-value (does not hold when below level / family size)
    seeds_to_decide: int | None = None  # planning only: seeds a new run would need (inconclusive findings)
    values: np.ndarray = field(default_factory=lambda: np.array([]), repr=False)

    @property
    def key(self) -> str:
        return self.declared.key

    @property
    def primary(self) -> bool:
        return self.declared.primary

    @property
    def claim(self) -> str:
        return self.declared.claim

    @property
    def cell(self) -> str:
        return self.declared.cells[0]

    @property
    def tested(self) -> bool:
        return self.verdict not in (NOT_TESTED, ABSENT)


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

    def __init__(self, replicates: pd.DataFrame, confidence: float, classes: int,
                 epochs: pd.DataFrame | None = None, scores: pd.DataFrame | None = None) -> None:
        self.table, self.confidence, self.classes = replicates, confidence, classes
        self.chance = math.log(classes)  # nats
        self.chance_accuracy = 1 / classes
        # Per epoch and seed: both passes' losses (`epochs`, long: cell, epoch, replicate, pass, loss) and accuracies
        # (`scores`: cell, epoch, replicate, update_accuracy, frozen_accuracy).
        self.epochs, self.scores = epochs, scores

    def has(self, cell: str) -> bool:
        return bool((self.table["cell"] == cell).any())

    def values(self, cell: str, metric: str) -> np.ndarray:
        rows = self.table[self.table["cell"] == cell].sort_values("replicate")
        return rows[metric].to_numpy(dtype=float)

    def interval(self, cell: str, metric: str) -> Interval:
        return t_interval(self.values(cell, metric), self.confidence, bounds_of(metric))

    def text(self, cell: str, metric: str, digits: int = 3) -> str:
        return self.interval(cell, metric).text(digits)

    def paired(self, first: str, second: str, metric: str) -> tuple[np.ndarray, np.ndarray]:
        """One metric of two cells over the seeds both have, in seed order (a cell in `replicates.primary_cells`
        has more)."""
        return shared_seeds(*(self.table[self.table["cell"] == cell].set_index("replicate")[metric]
                              for cell in (first, second)))

    def above_chance(self, cell: str, metric: str) -> bool:
        """Whether a score's interval lies wholly above chance: the arm has left chance."""
        return self.interval(cell, metric).low > self.chance_accuracy

    def last_epochs(self, cell: str, count: int = LAST_EPOCHS) -> pd.DataFrame:
        """Per seed, the mean over the last `count` epochs of both passes' losses and accuracies."""
        losses = self.epochs[self.epochs["cell"] == cell]
        losses = losses[losses["epoch"] > losses["epoch"].max() - count]
        wide = losses.pivot_table(index="replicate", columns="pass", values="loss", aggfunc="mean")
        scores = self.scores[self.scores["cell"] == cell]
        scores = scores[scores["epoch"] > scores["epoch"].max() - count]
        accuracy = scores.groupby("replicate")[["update_accuracy", "frozen_accuracy"]].mean()
        return wide.rename(columns={"update": "update_loss", "frozen": "frozen_loss"}).join(accuracy).sort_index()


def _text(interval: Interval, digits: int = 2) -> str:
    return interval.text(digits)


def seeds_fitted(last: pd.DataFrame, results: Results, declared: Declared) -> int:
    """How many seeds' update pass fitted over their last epochs (`Results.last_epochs`): accuracy above chance by the
    finding's margin."""
    return int((last["update_accuracy"] > results.chance_accuracy + declared.margin_on(results.classes)).sum())


def _evidence(results: Results, declared: Declared, values: np.ndarray) -> str:
    """The numbers behind a finding, each with its interval: the arms, then the quantity."""
    r, cells, level = results, declared.cells, results.confidence
    quantity = declared.quantity
    if quantity == "accuracy_gap":
        cell = cells[0]
        return (f"`{cell}`: accuracy updating {r.text(cell, 'update_pass_accuracy', 2)}, frozen "
                f"{r.text(cell, 'frozen_pass_accuracy', 2)}, gap {r.text(cell, 'accuracy_gap', 2)}; loss updating "
                f"{r.text(cell, 'update_pass_loss')}, frozen {r.text(cell, 'frozen_pass_loss')}; held-out accuracy "
                f"{r.text(cell, 'heldout_accuracy', 2)}")
    if quantity == "replay_recovery":
        cell = cells[0]
        return (f"`{cell}`: accuracy updating {r.text(cell, 'update_pass_accuracy', 2)}, replayed states "
                f"{r.text(cell, 'train_replayed_accuracy', 2)}, fresh states {r.text(cell, 'train_fresh_accuracy', 2)}"
                f", zero states {r.text(cell, 'train_zero_accuracy', 2)}; replayed minus fresh "
                f"{r.text(cell, 'replay_recovery', 2)}")
    if quantity == "loss_gap_last_epochs":
        last = r.last_epochs(cells[0])
        fitted = seeds_fitted(last, r, declared)
        return (f"`{cells[0]}`, mean over the last {LAST_EPOCHS} epochs: loss updating "
                f"{_text(t_interval(last['update_loss'], level, NON_NEGATIVE), 3)}, frozen "
                f"{_text(t_interval(last['frozen_loss'], level, NON_NEGATIVE), 3)}, frozen minus updating "
                f"{_text(t_interval(values, level), 3)}; accuracy updating "
                f"{_text(t_interval(last['update_accuracy'], level, ACCURACY))}; the update pass fitted (accuracy "
                f"above chance by the margin) in {fitted} of {len(last)} seeds")
    if quantity == "heldout_above_chance":
        cell = cells[0]
        return (f"`{cell}`: held-out accuracy {r.text(cell, 'heldout_accuracy', 2)} (chance {r.chance_accuracy:.2f}),"
                f" loss {r.text(cell, 'heldout_loss')}")
    if quantity == "stale_state_part":
        cell = cells[0]
        return (f"`{cell}`: accuracy updating {r.text(cell, 'update_pass_accuracy', 2)}, own state "
                f"{r.text(cell, 'own_state_accuracy', 2)}, final weights from the replayed states "
                f"{r.text(cell, 'train_replayed_accuracy', 2)}; stale carried state "
                f"{r.text(cell, 'stale_state_part', 2)}, the last update {r.text(cell, 'last_update_part', 2)}")
    metric = "accuracy_gap" if quantity == "gap_difference" else "heldout_accuracy"
    first, second = (r.text(cell, metric, 2) for cell in cells)
    text = (f"{metric.replace('_', ' ')} of `{cells[0]}` {first}, of `{cells[1]}` {second}; paired difference "
            f"{_text(t_interval(values, level, (-2.0, 2.0)))} over {len(values)} seeds")
    if quantity == "heldout_difference":
        cost = [float(r.values(cell, "compute_step_equivalents").mean()) for cell in cells]
        steps = [int(r.values(cell, "optimizer_steps_per_epoch")[0]) for cell in cells]
        text += (f"; training compute {cost[0] / cost[1]:.2f} times the write-up's loop per epoch "
                 f"({steps[0]} against {steps[1]} optimizer steps)")
    return text


def quantity_bounds(quantity: str, chance_accuracy: float) -> tuple[float, float]:
    """The range a finding's quantity can take, so that its interval never leaves it."""
    if QUANTITIES[quantity].scale == "loss":
        return UNBOUNDED  # a loss difference: either sign, no bound
    if quantity == "heldout_above_chance":
        return (-chance_accuracy, 1 - chance_accuracy)
    return (-2.0, 2.0) if quantity == "gap_difference" else ACCURACY_DIFFERENCE


def quantity_values(results: Results, declared: Declared) -> np.ndarray:
    """The per-seed values of a finding's quantity (paired quantities over the seeds both cells have)."""
    cells, quantity = declared.cells, declared.quantity
    if quantity in ("accuracy_gap", "replay_recovery", "stale_state_part"):
        return results.values(cells[0], quantity)
    if quantity == "heldout_above_chance":
        return results.values(cells[0], "heldout_accuracy") - results.chance_accuracy
    if quantity == "loss_gap_last_epochs":
        last = results.last_epochs(cells[0])
        return (last["frozen_loss"] - last["update_loss"]).to_numpy(dtype=float)
    if quantity in ("gap_difference", "heldout_difference"):
        first, second = results.paired(*cells, "accuracy_gap" if quantity == "gap_difference" else "heldout_accuracy")
        return first - second
    raise ValueError(f"quantity: {quantity!r} is not one of {', '.join(QUANTITIES)}")


def _unmet(results: Results, declared: Declared) -> str | None:
    """Why a finding cannot be tested (its first failed precondition), or None."""
    for kind, cell in declared.preconditions:
        if kind == "fitted" and not results.above_chance(cell, "update_pass_accuracy"):
            return (f"the update pass of `{cell}` never left chance (accuracy "
                    f"{results.text(cell, 'update_pass_accuracy', 2)}, chance {results.chance_accuracy:.2f})")
        if kind == "learns" and not results.above_chance(cell, "heldout_accuracy"):
            return (f"`{cell}` does not classify held-out sequences above chance (accuracy "
                    f"{results.text(cell, 'heldout_accuracy', 2)}, chance {results.chance_accuracy:.2f}), so a "
                    f"closed gap could mean that it learned nothing")
        if kind == "gap" and not results.interval(cell, "accuracy_gap").low > declared.margin_on(results.classes):
            return (f"`{cell}` shows no gap above the margin {declared.margin_on(results.classes):.2f} to compare with "
                    f"(gap {results.text(cell, 'accuracy_gap', 2)})")
    return None


def measure(declared: Declared, results: Results) -> Finding | None:
    """One declared finding measured on this run's results, not yet decided: None for a repetition whose cells are not
    in the run (it is not part of this run's plan); *not in this run* or *not tested* with the reason otherwise."""
    needed = sorted({*declared.cells, *(cell for _, cell in declared.preconditions)})
    missing = [cell for cell in needed if not results.has(cell)]
    if missing:
        if declared.repeated:
            return None
        verb = "is" if len(missing) == 1 else "are"
        return Finding(declared, ABSENT, f"{', '.join(f'`{c}`' for c in missing)} {verb} not part of this run")
    margin = declared.margin_on(results.classes)
    reason = _unmet(results, declared)
    if reason:
        return Finding(declared, NOT_TESTED, reason, margin)
    values = quantity_values(results, declared)
    bounds = quantity_bounds(declared.quantity, results.chance_accuracy)
    test = declared_test(values, margin, declared.test)
    return Finding(declared, INCONCLUSIVE, _evidence(results, declared, values), margin,
                   t_interval(values, results.confidence, bounds), test.p, math.nan, test.p_contrary, values=values)


def decide(findings: list[Finding], families: dict[str, str], confidence: float,
           power: float) -> list[Finding]:
    """Verdicts: each family's claim p-values corrected together by its correction; a finding holds when its adjusted
    p-value is below the level, does not hold when its contrary's p-value is below the level over the family's size.
    An inconclusive finding gets a planning figure: the seeds a new run would need."""
    alpha = 1 - confidence
    decided = list(findings)
    for family, correction in families.items():
        members = [i for i, f in enumerate(findings) if f.tested and f.declared.family == family]
        adjusted = adjust([findings[i].p for i in members], correction)
        for i, adjusted_p in zip(members, adjusted):
            finding = findings[i]
            holds = adjusted_p < alpha
            fails = not holds and finding.contrary_p < alpha / len(members)
            verdict = HOLDS if holds else FAILS if fails else INCONCLUSIVE
            needed = (seeds_to_decide(finding.values, finding.margin, finding.declared.test, alpha / len(members),
                                      power) if verdict == INCONCLUSIVE else None)
            decided[i] = dataclasses.replace(finding, verdict=verdict, adjusted_p=max(adjusted_p, finding.p),
                                             seeds_to_decide=needed)
    return decided


def verdict_bptt(params: Params) -> int:
    """Findings about the grid are judged at `report.verdict_bptt` (the write-up's 10), else at the smallest swept."""
    sizes = params.sweep.bptt_size
    return params.report.verdict_bptt if params.report.verdict_bptt in sizes else min(sizes)


def _grid(params: Params, data_type: str, states: str, bptt: int | None = None) -> str:
    return cell_name("grid", data_type=data_type, initial_state_type=states,
                     bptt_size=verdict_bptt(params) if bptt is None else bptt)


def capacity_bound(params: Params) -> int:
    """Cover's counting bound for the capacity axis: a linear read-out of d numbers separates at most 2d points in
    general position under any labelling (in expectation), so 2 x the hidden size random initial states."""
    return 2 * params.capacity.hidden_size


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
