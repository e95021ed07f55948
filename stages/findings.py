"""The report's findings, written from the numbers of the cells table; no number or verdict is typed by hand.

A loss is "below chance" when it is below ln 2 minus `report.chance_margin`, and "at chance or above" otherwise.
Each finding states the rule it applies, the cells it reads and a verdict computed from them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

CHANCE_LOSS = math.log(2)


@dataclass(frozen=True)
class Finding:
    title: str
    verdict: str  # "holds", "does not hold", "mixed" or "not in this sweep"
    text: str


def _rows(cells: pd.DataFrame, data_type: str, initial_state_type: str) -> pd.DataFrame:
    return cells[(cells["data_type"] == data_type) & (cells["initial_state_type"] == initial_state_type)]


def _verdict(flags: list[bool]) -> str:
    if not flags:
        return "not in this sweep"
    return "holds" if all(flags) else "does not hold" if not any(flags) else "mixed"


def _describe(row: pd.Series) -> str:
    return (
        f"bptt {row.bptt_size}: updating {row.update_pass_loss:.3f}, frozen {row.frozen_pass_loss:.3f}, "
        f"held-out {row.heldout_loss:.3f} nats"
    )


def _gap_claim(cells: pd.DataFrame, data_type: str, initial_state_type: str, threshold: float) -> list[bool]:
    rows = _rows(cells, data_type, initial_state_type)
    return [bool(r.update_pass_loss < threshold <= r.frozen_pass_loss) for r in rows.itertuples()]


def _listing(cells: pd.DataFrame, data_type: str, initial_state_type: str) -> str:
    rows = _rows(cells, data_type, initial_state_type)
    return "; ".join(_describe(row) for _, row in rows.iterrows()) or "no such cell"


def _primary(cells: pd.DataFrame, data_type: str, initial_state_type: str, verdict_bptt: int) -> pd.DataFrame:
    """The cell a verdict is taken at: bptt `verdict_bptt` (the write-up's 10) if swept, else the smallest swept."""
    rows = _rows(cells, data_type, initial_state_type)
    if rows.empty:
        return rows
    bptt = verdict_bptt if (rows["bptt_size"] == verdict_bptt).any() else rows["bptt_size"].min()
    return rows[rows["bptt_size"] == bptt]


def _gap_finding(
    cells: pd.DataFrame, data_type: str, initial_state_type: str, threshold: float, verdict_bptt: int
) -> tuple[str, str]:
    """Verdict on the primary cell, and a sentence on all cells of this data and state mode."""
    primary = _primary(cells, data_type, initial_state_type, verdict_bptt)
    if primary.empty:
        return "not in this sweep", "No such cell in this sweep."
    verdict = _verdict(_gap_claim(primary, data_type, initial_state_type, threshold))
    everywhere = _gap_claim(cells, data_type, initial_state_type, threshold)
    return verdict, (
        f"The verdict is taken at bptt {int(primary['bptt_size'].iloc[0])} (`report.verdict_bptt`, the write-up's "
        f"chunk length, or the smallest swept if that one is not); over all bptt sizes the claim holds in "
        f"{sum(everywhere)} of {len(everywhere)} cells."
    )


def headline(cells: pd.DataFrame, margin: float, verdict_bptt: int) -> Finding:
    threshold = CHANCE_LOSS - margin
    verdict, scope = _gap_finding(cells, "SameRandom", "Random", threshold, verdict_bptt)
    return Finding(
        "Headline: with random initial states the network learns to classify sequences it cannot tell apart",
        verdict,
        "On `SameRandom` data each sequence appears once with each label, so no function of the input beats "
        f"chance. The claim holds in a cell when the last epoch's updating loss is below {threshold:.3f} nats "
        f"(ln 2 − {margin:g}) while the frozen pass over the same data stays at or above it. Last epoch, "
        f"`SameRandom` with random initial states: {_listing(cells, 'SameRandom', 'Random')}. {scope}",
    )


def zeros_are_safe_when_inputs_match(cells: pd.DataFrame, margin: float) -> Finding:
    threshold = CHANCE_LOSS - margin
    flags, parts = [], []
    for data_type in ("Zeros", "SameRandom"):
        for row in _rows(cells, data_type, "Zeros").itertuples():
            flags.append(bool(row.update_pass_loss >= threshold and row.frozen_pass_loss >= threshold))
            parts.append(f"`{data_type}` bptt {row.bptt_size}: updating {row.update_pass_loss:.3f}, "
                         f"frozen {row.frozen_pass_loss:.3f}")
    return Finding(
        "Zero initial states on inputs that do not differ: nothing is learned in either pass",
        _verdict(flags),
        "With zero initial states and identical inputs for both classes (`Zeros`, `SameRandom`) both classes "
        "produce the same hidden states, so both passes must stay at chance. The claim holds in a cell when both "
        f"losses stay at or above {threshold:.3f} nats: {'; '.join(parts) or 'no such cell'}.",
    )


def random_states_alone_suffice(cells: pd.DataFrame, margin: float, verdict_bptt: int) -> Finding:
    threshold = CHANCE_LOSS - margin
    verdict, scope = _gap_finding(cells, "Zeros", "Random", threshold, verdict_bptt)
    return Finding(
        "The input plays no part: all-zero inputs with random initial states show the same gap",
        verdict,
        "With all-zero inputs the only thing that differs between sequences is the random initial state. If the "
        "headline effect is the network classifying that state, it must appear here too: updating loss below "
        f"{threshold:.3f} nats, frozen at or above. Last epoch, `Zeros` data with random initial states: "
        f"{_listing(cells, 'Zeros', 'Random')}. {scope}",
    )


def zero_states_do_not_save_you(cells: pd.DataFrame, margin: float, verdict_bptt: int) -> Finding:
    threshold = CHANCE_LOSS - margin
    verdict, scope = _gap_finding(cells, "SameDistRandom", "Zeros", threshold, verdict_bptt)
    rows = _rows(cells, "SameDistRandom", "Zeros")
    notes = []
    if not rows.empty and not (rows["update_pass_loss"] < threshold).any():
        notes.append(
            "The updating loss never fell below that threshold, so at this scale the network did not learn to "
            "score well within the epoch from zero initial states."
        )
    worse = rows[(rows["update_pass_loss"] >= threshold) & (rows["frozen_pass_loss"] > CHANCE_LOSS + margin)]
    if not worse.empty:
        cases = ", ".join(f"bptt {r.bptt_size} (frozen {r.frozen_pass_loss:.3f}, frozen accuracy "
                          f"{r.frozen_pass_accuracy:.2f})" for r in worse.itertuples())
        notes.append(
            f"Yet the frozen pass was worse than chance in {cases}: both passes start from the same zero states "
            "here, so that gap comes from the weights the epoch ends with, not from recognising initial states."
        )
    return Finding(
        "The write-up's closing claim: zero initial states do not save you once the inputs differ",
        verdict,
        "The write-up says that `SameDistRandom` data with zero initial states shows the same gap, because after "
        "the first chunk the states depend on the (different) inputs. The claim holds in a cell when the updating "
        f"loss falls below {threshold:.3f} while the frozen loss stays at or above it. Last epoch: "
        f"{_listing(cells, 'SameDistRandom', 'Zeros')}. {scope} {' '.join(notes)}".rstrip(),
    )


def learnable_data_generalises(cells: pd.DataFrame, margin: float) -> Finding:
    threshold = CHANCE_LOSS - margin
    rows = cells[cells["data_type"] == "DiffDistRandom"]
    flags = [bool(r.heldout_loss < threshold and r.frozen_pass_loss < threshold) for r in rows.itertuples()]
    by_state = "; ".join(
        f"{state} states: {sum(f for f, r in zip(flags, rows.itertuples()) if r.initial_state_type == state)} of "
        f"{int((rows['initial_state_type'] == state).sum())} cells"
        for state in dict.fromkeys(rows["initial_state_type"])
    )
    parts = [f"{r.initial_state_type} states, bptt {r.bptt_size}: frozen {r.frozen_pass_loss:.3f}, held-out "
             f"{r.heldout_loss:.3f} nats (accuracy {r.heldout_accuracy:.2f})" for r in rows.itertuples()]
    return Finding(
        "Data that can be learned is learned: `DiffDistRandom` generalises to held-out sequences",
        _verdict(flags),
        "When the classes differ in distribution (mean 0 against 0.5) the frozen pass and fresh held-out "
        f"sequences should both score below {threshold:.3f} nats: {'; '.join(parts) or 'no such cell'}. "
        f"It holds with {by_state}.",
    )


def bptt_dependence(cells: pd.DataFrame) -> Finding:
    rows = _rows(cells, "SameRandom", "Random").sort_values("bptt_size")
    if len(rows) < 2:
        return Finding("How the gap depends on the bptt size", "not in this sweep", "Needs two or more bptt sizes.")
    parts = [f"bptt {r.bptt_size} ({r.updates_per_epoch} updates per epoch): gap {r.gap:.3f} nats"
             for r in rows.itertuples()]
    shrinking = bool(rows["gap"].iloc[0] > rows["gap"].iloc[-1])
    return Finding(
        "How the gap depends on the bptt size",
        "holds" if shrinking else "does not hold",
        "Longer chunks mean fewer updates per epoch, so fewer chances to learn this epoch's states. The claim is "
        "that the gap (frozen minus updating loss, last epoch, `SameRandom` with random states) shrinks from the "
        f"shortest to the longest chunk: {'; '.join(parts)}.",
    )


def all_findings(cells: pd.DataFrame, margin: float, verdict_bptt: int) -> list[Finding]:
    return [
        headline(cells, margin, verdict_bptt),
        random_states_alone_suffice(cells, margin, verdict_bptt),
        zeros_are_safe_when_inputs_match(cells, margin),
        zero_states_do_not_save_you(cells, margin, verdict_bptt),
        learnable_data_generalises(cells, margin),
        bptt_dependence(cells),
    ]
