"""The report's Markdown tables, each built from the tidy tables as a DataFrame and written by pandas (tabulate's
pipe format), and the small formatting rules they share: intervals, p-values, seconds and verdict badges. No cell
holds more than about 100 characters: what is longer (a finding's evidence, a control) is a list, not a table."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import pandas as pd

from stages.core.data import NUM_CLASSES
from stages.core.params import Params
from stages.reporting.agreement import AGREE
from stages.reporting.findings import (
    ABSENT,
    FAILS,
    FAILS_CHECK,
    HOLDS,
    INCONCLUSIVE,
    NOT_TESTED,
    PASSES,
    Control,
    Finding,
)
from stages.reporting.literature import PublishedScore

# Verdict words and the badge class the page styles them with (the word is always printed: never colour alone).
BADGE_CLASS = {HOLDS: "holds", FAILS: "fails", INCONCLUSIVE: "inconclusive", NOT_TESTED: "not-tested",
               ABSENT: "absent", PASSES: "passes", FAILS_CHECK: "failed"}


def badge(verdict: str) -> str:
    return f'<span class="badge badge-{BADGE_CLASS[verdict]}">{verdict}</span>'


def markdown(frame: pd.DataFrame) -> str:
    """A pipe table; every cell is already text, so nothing is re-formatted."""
    return frame.astype(str).to_markdown(index=False, tablefmt="pipe", disable_numparse=True) + "\n"


def _interval(summary: pd.DataFrame, cell: str, metric: str) -> tuple[float, float, float] | None:
    """(mean, low, high) of one cell's metric, or None where the cell or the metric has no value."""
    row = summary[(summary["cell"] == cell) & (summary["metric"] == metric)]
    if row.empty or math.isnan(row["mean"].iloc[0]):
        return None
    return tuple(float(v) for v in row[["mean", "low", "high"]].iloc[0])


def interval_text(summary: pd.DataFrame, cell: str, metric: str, digits: int = 3) -> str:
    interval = _interval(summary, cell, metric)
    if interval is None:
        return "–"
    mean, low, high = interval
    return f"{mean:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def p_text(p: float) -> str:
    return "–" if math.isnan(p) else "< 0.001" if p < 0.001 else f"{p:.3f}"


def seconds_text(seconds: float) -> str:
    """Wall time as the report prints it: tenths from 10 s up, hundredths below (tiny cells take milliseconds)."""
    return "–" if math.isnan(seconds) else f"{seconds:.1f}" if seconds >= 10 else f"{seconds:.2f}"


def cells(summary: pd.DataFrame, replicates: pd.DataFrame, family: str) -> str:
    rows = []
    for row in replicates[replicates["family"] == family].drop_duplicates("cell").itertuples():
        losses = {name: interval_text(summary, row.cell, metric)
                  for name, metric in (("updating loss", "update_pass_loss"), ("frozen loss", "frozen_pass_loss"))}
        scores = {name: interval_text(summary, row.cell, metric, 2) for name, metric in (
            ("updating acc.", "update_pass_accuracy"), ("frozen acc. (fresh states)", "frozen_pass_accuracy"),
            ("replayed-states acc.", "train_replayed_accuracy"), ("zero-states acc.", "train_zero_accuracy"),
            ("held-out acc.", "heldout_accuracy"), ("accuracy gap per chunk", "chunk_accuracy_gap"))}
        rows.append({"cell": f"`{row.cell}`", "optimizer steps / epoch": str(row.optimizer_steps_per_epoch),
                     **losses, **scores})
    return markdown(pd.DataFrame(rows))


def capacity_axis(replicates: pd.DataFrame) -> pd.DataFrame:
    """One row per cell of the capacity axis, fewest sequences first, with `sequences`: training sequences in all."""
    on_axis = replicates[replicates["family"] == "capacity"].drop_duplicates("cell").sort_values("examples_per_class")
    return on_axis.assign(sequences=NUM_CLASSES * on_axis["examples_per_class"])


def capacity(summary: pd.DataFrame, replicates: pd.DataFrame, bound: int) -> str:
    """One row per size of the capacity axis: the sequences against the bound, and the passes' accuracies."""
    rows = []
    for row in capacity_axis(replicates).itertuples():
        sequences = row.sequences
        rows.append({
            "training sequences": str(sequences), "sequences / bound": f"{sequences / bound:g}",
            "updating acc.": interval_text(summary, row.cell, "update_pass_accuracy", 2),
            "replayed-states acc.": interval_text(summary, row.cell, "train_replayed_accuracy", 2),
            "frozen acc. (fresh states)": interval_text(summary, row.cell, "frozen_pass_accuracy", 2),
            "accuracy gap": interval_text(summary, row.cell, "accuracy_gap", 2),
            "seeds": str(int((replicates["cell"] == row.cell).sum())),
        })
    return markdown(pd.DataFrame(rows))


def onset(replicates: pd.DataFrame) -> str:
    rows = []
    for (hidden, rate), group in replicates[replicates["family"] == "onset"].groupby(["hidden_size", "learning_rate"]):
        epochs = group.sort_values("replicate")["onset_epoch"]
        rows.append({"hidden units": str(hidden), "learning rate": f"{rate:g}",
                     "onset epoch per seed": ", ".join("none" if math.isnan(v) else f"{v:.0f}" for v in epochs)})
    return markdown(pd.DataFrame(rows))


def real(summary: pd.DataFrame, real_cells: pd.DataFrame) -> str:
    rows = []
    for row in real_cells.drop_duplicates("cell").itertuples():
        rows.append({
            "protocol": f"`{row.protocol}`", "initial states": f"`{row.initial_state_type}`",
            "optimizer steps / epoch": str(row.optimizer_steps_per_epoch),
            "compute / epoch": f"{row.compute_step_equivalents / 1e3:,.0f}k",
            **{name: interval_text(summary, row.cell, metric) for name, metric in (
                ("updating loss", "update_pass_loss"), ("frozen loss", "frozen_pass_loss"),
                ("loss gap (frozen − updating)", "gap"))},
            **{name: interval_text(summary, row.cell, metric, 2) for name, metric in (
                ("updating acc.", "update_pass_accuracy"), ("frozen acc.", "frozen_pass_accuracy"),
                ("accuracy gap (updating − frozen)", "accuracy_gap"), ("held-out acc.", "heldout_accuracy"))},
            "held-out loss": interval_text(summary, row.cell, "heldout_loss"),
        })
    return markdown(pd.DataFrame(rows))


def timing(table: pd.DataFrame) -> str:
    return markdown(pd.DataFrame([{
        "cell": f"`{row.cell}`", "training (s)": seconds_text(row.training_seconds),
        "s / epoch": seconds_text(row.seconds_per_epoch), "evaluation (s)": seconds_text(row.evaluation_seconds),
        "probes (s)": seconds_text(row.probe_seconds), "device, threads": f"{row.device}, {row.threads}",
    } for row in table.itertuples()]))


def settings(params: Params) -> str:
    """Every parameter of the run, one bullet per section of params.yaml."""
    lines = []
    for section in dataclasses.fields(params):
        values = dataclasses.asdict(getattr(params, section.name))
        lines.append(f"- `{section.name}`: " + ", ".join(f"{k} = {v}" for k, v in values.items()))
    return "\n".join(lines) + "\n"


def baselines(summary: pd.DataFrame, real_cells: pd.DataFrame, scores: dict,
              published_scores: tuple[PublishedScore, ...] = ()) -> str:
    """Held-out accuracy on the published test split: every network cell (interval across seeds) beside the
    baselines the study computed on the same split (exact binomial interval across test recordings) and the
    published scores of other methods on that split (as published: no interval of ours)."""
    rows = [{
        "classifier": f"GRU, `{row.protocol}`, `{row.initial_state_type}` states",
        "held-out acc. [interval]": interval_text(summary, row.cell, "heldout_accuracy", 2),
        "interval across": "seeds",
    } for row in real_cells.drop_duplicates("cell").itertuples()]
    labels = {"nearest_neighbour": "1-nearest-neighbour, Euclidean",
              "majority_class": "majority class of the training split"}
    for name, label in labels.items():
        score = scores[name]
        rows.append({"classifier": f"{label} (computed here)",
                     "held-out acc. [interval]": f"{score['accuracy']:.2f} [{score['low']:.2f}, {score['high']:.2f}]",
                     "interval across": f"{score['recordings']} test recordings (exact binomial)"})
    for score in published_scores:
        rows.append({"classifier": f"{score.method} (published)", "held-out acc. [interval]": f"{score.accuracy:.3f}",
                     "interval across": f"as published: {score.averaged}"})
    return markdown(pd.DataFrame(rows))


def _whole_and_parts(summary: pd.DataFrame, cell: str, nothing: str, *metrics: str) -> list | str:
    """The intervals of a whole and its parts (`metrics`, the whole first), or the reading where there is nothing to
    split: "–" without numbers, `nothing` where the whole's interval covers 0."""
    intervals = [_interval(summary, cell, metric) for metric in metrics]
    if any(interval is None for interval in intervals):
        return "–"
    whole = intervals[0]
    return nothing if whole[1] <= 0 <= whole[2] else intervals


def _reading(summary: pd.DataFrame, cell: str, fixed_states: bool) -> str:
    """Which part carries the gap, read from the two parts' intervals (descriptive: no multiplicity correction)."""
    found = _whole_and_parts(summary, cell, "no gap to explain: its interval covers 0", "accuracy_gap",
                             "replay_recovery", "within_epoch_accuracy_gap")
    if isinstance(found, str):
        return found
    _, states, within = found
    above = {"states": states[1] > 0, "within": within[1] > 0}
    if fixed_states:
        return ("every pass starts from the same state, so none of the gap is theirs: it lies within the epoch"
                + ("" if above["within"] else " (covers 0)"))
    if above["states"] and not above["within"]:
        return "the write-up's explanation is the whole story: the initial states carry the gap, the rest covers 0"
    if above["within"] and not above["states"]:
        return "the initial states do not carry it: the update pass's edge lies within the epoch"
    if above["states"] and above["within"]:
        return "both parts: replaying the states recovers part of the gap, and the rest lies within the epoch"
    return "undecided: neither part's interval is above 0 at this many seeds"


def decomposition(summary: pd.DataFrame, decomposed: list[str], replicates: pd.DataFrame) -> str:
    """Each cell's gap and its two parts, in accuracy and in loss, with a reading of which part carries it."""
    rows = []
    for cell in decomposed:
        mine = replicates[replicates["cell"] == cell]
        if mine.empty:
            continue
        fixed = mine["initial_state_type"].iloc[0] in ("Zeros", "Learned")
        rows.append({
            "cell": f"`{cell}`",
            "accuracy gap (updating − frozen)": interval_text(summary, cell, "accuracy_gap", 2),
            "from the states (replayed − fresh)": interval_text(summary, cell, "replay_recovery", 2),
            "within the epoch (updating − replayed)": interval_text(summary, cell, "within_epoch_accuracy_gap", 2),
            "loss gap (frozen − updating)": interval_text(summary, cell, "gap"),
            "loss gap from the states (fresh − replayed)": interval_text(summary, cell, "state_loss_gap"),
            "loss gap within the epoch (replayed − updating)": interval_text(summary, cell, "within_epoch_loss_gap"),
            "reading": _reading(summary, cell, fixed),
        })
    return markdown(pd.DataFrame(rows)) if rows else "No cell of this run is decomposed.\n"


def _probe_reading(summary: pd.DataFrame, cell: str) -> str:
    """Which part carries the within-epoch gap, read from the intervals of its two parts (descriptive)."""
    found = _whole_and_parts(summary, cell, "nothing to split: the within-epoch part covers 0",
                             "within_epoch_accuracy_gap", "stale_state_part", "last_update_part")
    if isinstance(found, str):
        return found
    _, stale, last = found
    parts = {"the stale carried state": stale, "the last update": last}
    carried = [name for name, part in parts.items() if part[1] > 0]
    if len(carried) == 2:
        return "both parts carry some of it"
    if not carried:
        return "undecided: neither part's interval is above 0 at this many seeds"
    (other,) = [part for name, part in parts.items() if name not in carried]
    return f"{carried[0]} carries it" + ("; the other part covers 0" if other[1] <= 0 <= other[2] else "")


def _probed_rows(summary: pd.DataFrame, probed: list[str], replicates: pd.DataFrame, columns: dict[str, str],
                 reading: Callable[[pd.DataFrame, str], str] | None = None) -> str:
    """One row per probed cell of this run: each column's interval (two digits), and a reading where given."""
    rows = []
    for cell in probed:
        if replicates[replicates["cell"] == cell].empty:
            continue
        row = {"cell": f"`{cell}`",
               **{name: interval_text(summary, cell, metric, 2) for name, metric in columns.items()}}
        if reading is not None:
            row["reading"] = reading(summary, cell)
        rows.append(row)
    return markdown(pd.DataFrame(rows)) if rows else "No cell of this run is probed.\n"


def probe_parts(summary: pd.DataFrame, probed: list[str], replicates: pd.DataFrame) -> str:
    """Each probed cell's within-epoch gap (sequence level, the last chunk) and its two parts, with a reading."""
    return _probed_rows(summary, probed, replicates, {
        "within the epoch (updating − replayed)": "within_epoch_accuracy_gap",
        "stale carried state (updating − own state)": "stale_state_part",
        "the last update (own state − replayed)": "last_update_part",
        "own state, probe points (chunk level)": "own_state_points_chunk_accuracy",
        "updating, probe points (chunk level)": "update_points_chunk_accuracy",
        "carried − own state, relative distance": "relative_state_distance",
    }, reading=_probe_reading)


def trajectory(summary: pd.DataFrame, probed: list[str], replicates: pd.DataFrame, lags: tuple[int, ...]) -> str:
    """Chunk-level accuracy along the last epoch of each probed cell: the update pass (over the epoch, and at the
    probe points where older weights are tried on the same carried states), the same weight trajectory from other
    initial states and on held-out sequences, and the final weights."""
    oldest = max(lags)
    return _probed_rows(summary, probed, replicates, {
        "updating": "update_pass_chunk_accuracy",
        "updating, probe points": "lag_0_chunk_accuracy",
        f"weights {oldest} updates older, same carried states, probe points": f"lag_{oldest}_chunk_accuracy",
        "trajectory, fresh states": "trajectory_fresh_chunk_accuracy",
        "trajectory, zero states": "trajectory_zero_chunk_accuracy",
        "trajectory, held-out sequences": "trajectory_heldout_chunk_accuracy",
        "final weights, replayed states": "train_replayed_chunk_accuracy",
        "final weights, fresh states (frozen)": "frozen_pass_chunk_accuracy",
    })


# --- The findings: at a glance, the plan, every statistic, and the evidence behind each.

def _estimate(finding: Finding) -> str:
    return finding.estimate.text(2) if finding.estimate else "–"


def _confirmation(key: str, confirmations: pd.DataFrame | None) -> str:
    """What the confirmation run on new seeds says of a finding, in words."""
    if confirmations is None:
        return "not run yet"
    rows = confirmations[confirmations["key"] == key]
    if rows.empty:
        return "–"
    row = rows.iloc[0]
    if row["agreement"] == AGREE:
        return f"replicated ({row['other_verdict']})"
    if row["other_verdict"] == ABSENT:
        return "not in that run"
    return f"{row['other_verdict']} there"


def glance(findings: list[Finding], confirmations: pd.DataFrame | None, confirmation: bool = True) -> str:
    """Findings at a glance: the claim in plain words, the verdict, its one number, and (where this run is confirmed
    by another, `confirmation`) that run's word. Findings whose cells this run does not train are listed apart."""
    columns = ["claim", "verdict", "estimate [95% interval]", *(["on new seeds"] if confirmation else [])]
    rows = [{"claim": f.claim, "verdict": badge(f.verdict), "estimate [95% interval]": _estimate(f),
             "on new seeds": _confirmation(f.key, confirmations)} for f in findings if f.verdict != ABSENT]
    return markdown(pd.DataFrame(rows, columns=columns))


def plan(findings: list[Finding]) -> str:
    """The analysis plan as this run expanded it: what each finding compares, holds equal and tests."""
    return markdown(pd.DataFrame([{
        "finding": f"`{f.key}`", "compares (first arm minus second)": f.declared.arms,
        "held equal": f.declared.held_equal, "test": f.declared.test,
        "margin": f"{f.declared.margin:g} of the scale" + (f" ({f.margin:.3g})" if not math.isnan(f.margin) else ""),
        "family": f.declared.family,
        "preconditions": "; ".join(f"{kind} `{cell}`" for kind, cell in f.declared.preconditions) or "–",
    } for f in findings]))


def statistics(findings: list[Finding]) -> str:
    """Every number that decided each finding: estimate, margin, the claim's p-value raw and adjusted within its
    family, the contrary's p-value, and (for an inconclusive finding) the seeds a new run would need."""
    return markdown(pd.DataFrame([{
        "finding": f"`{f.key}`", "verdict": badge(f.verdict), "estimate": _estimate(f),
        "margin": "–" if math.isnan(f.margin) else f"{f.margin:.3g}", "p": p_text(f.p),
        "adjusted p": p_text(f.adjusted_p), "contrary p": p_text(f.contrary_p),
        "seeds (planning)": ("–" if f.verdict != INCONCLUSIVE
                             else "more than 1,000" if f.seeds_to_decide is None else str(f.seeds_to_decide)),
    } for f in findings]))


def evidence(findings: list[Finding]) -> str:
    """Each finding's numbers (or why it was not tested), one bullet each."""
    return "\n".join(f"- `{f.key}` ({f.verdict}): {f.evidence}." for f in findings) + "\n"


def controls(checks: list[Control]) -> str:
    """The controls, one bullet each: what must hold by construction, what was measured, and the check."""
    return "\n".join(f"- {badge(c.check)} {c.title}. Expected {c.expected}; measured {c.measured}."
                      for c in checks) + "\n"


def comparison(frame: pd.DataFrame, other: str) -> str:
    """Finding by finding: this run's verdict and estimate beside those of profile `other`."""
    verdict_cell = lambda verdict: badge(verdict) if verdict in BADGE_CLASS else verdict  # noqa: E731
    return markdown(pd.DataFrame([{
        "finding": f"`{row.key}`", "here": verdict_cell(row.verdict), "estimate here": row.estimate,
        f"`{other}`": verdict_cell(row.other_verdict), f"estimate, `{other}`": row.other_estimate,
        "agreement": row.agreement,
    } for row in frame.itertuples() if row.other_verdict != ABSENT]))


# --- What closes the gap: every protocol, its verdict, what it still learns, and its cost.

def _cost(replicates: pd.DataFrame, cell: str) -> tuple[str, str]:
    """A cell's optimizer steps and compute per epoch (the same for every seed)."""
    mine = replicates[replicates["cell"] == cell]
    if mine.empty:
        return "–", "–"
    return (str(int(mine["optimizer_steps_per_epoch"].iloc[0])),
            f"{mine['compute_step_equivalents'].iloc[0] / 1e3:,.0f}k")


def remedies(rows_of_remedies: list[tuple[str, str, str, str]], verdicts: dict[str, str], summary: pd.DataFrame,
             replicates: pd.DataFrame, real_summary: pd.DataFrame, real_replicates: pd.DataFrame,
             real_cells: dict[str, str], real_origin: str = "") -> str:
    """One row per protocol: the verdict that decides it as a remedy, its gap where nothing can be learned, what it
    still learns on toy and real data, and its optimizer steps and compute per epoch (toy; real). A real cell this
    run did not train, taken from a published profile, is marked with `real_origin`."""
    rows = []
    for key, label, unlearnable, learnable in rows_of_remedies:
        real = real_cells.get(key)
        borrowed = real is not None and real_origin and not (replicates["cell"] == real).any()
        steps, compute = _cost(replicates, unlearnable)
        real_steps, real_compute = _cost(real_replicates, real) if real else ("–", "–")
        rows.append({
            "protocol": label, "the gap": verdicts.get(key, "not in this run"),
            "gap, `SameRandom`": interval_text(summary, unlearnable, "accuracy_gap", 2),
            "held-out, `DiffDistRandom`": interval_text(summary, learnable, "heldout_accuracy", 2),
            "held-out, real": (interval_text(real_summary, real, "heldout_accuracy", 2)
                               + (f" ({real_origin})" if borrowed else "") if real else "not run on real data"),
            "steps / epoch": f"{steps}; {real_steps}", "compute / epoch": f"{compute}; {real_compute}",
        })
    return markdown(pd.DataFrame(rows))
