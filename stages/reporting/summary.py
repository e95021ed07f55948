"""The report's plain summary (templates/summary.md.j2): what it may say, and the numbers it says it with.

It states only findings decided after their family's correction; it names the practice advice only where a decided
finding backs it (on real recordings: a protocol that starts every chunk from a fresh state classifies the test split
better than the write-up's loop, from this run or the published profile `real`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import jinja2
import pandas as pd

from stages.reporting.agreement import AGREE
from stages.reporting.findings import FAILS, HOLDS, Finding

# The practice advice, in order of preference: the fix the snippet shows first, then the one that rebuilds the state.
FIXES = ("stateless", "burn_in")


@dataclass(frozen=True)
class Practice:
    fix: str  # held-out accuracy of the fix on the real test split (mean over seeds)
    loop: str  # the same for the write-up's loop with the same initial states


def _mean(summary: pd.DataFrame, cell: str, metric: str) -> str:
    row = summary[(summary["cell"] == cell) & (summary["metric"] == metric)]
    return "–" if row.empty or math.isnan(row["mean"].iloc[0]) else f"{row['mean'].iloc[0]:.2f}"


def _verdicts(findings: dict[str, Finding], real_profile) -> dict[str, str]:
    """Every finding's verdict: this run's, and the published profile `real`'s for those this run does not state."""
    decided = {key: finding.verdict for key, finding in findings.items()}
    if real_profile is not None:
        decided |= {row.key: row.verdict for row in real_profile.findings.itertuples() if row.key not in decided}
    return decided


def practice(findings: dict[str, Finding], real_profile, summary: pd.DataFrame) -> Practice | None:
    """The decided comparison on real recordings the advice rests on: a fix against the write-up's loop with random
    initial states, held (after correction) in this run or in the published profile `real`."""
    decided = _verdicts(findings, real_profile)
    for fix in FIXES:
        for key, verdict in decided.items():
            if key.startswith("practice_") and key.endswith(f"_{fix}") and verdict == HOLDS:
                dataset = key.removeprefix("practice_").removesuffix(f"_{fix}")
                return Practice(_mean(summary, f"real/{dataset}-{fix}-Random", "heldout_accuracy"),
                                _mean(summary, f"real/{dataset}-per_chunk-Random", "heldout_accuracy"))
    return None


def fix_that_closes(findings: dict[str, Finding], real_profile) -> tuple[str, bool, bool] | None:
    """The first fix (FIXES) whose closing of the gap is decided (an equivalence that holds, with the fix shown to
    learn): (its name, whether it holds on the toy data, whether on real recordings), from this run or the published
    profile `real`."""
    decided = _verdicts(findings, real_profile)
    for fix in FIXES:
        toy = decided.get(f"remedy_{fix}_Random") == HOLDS
        real = any(key.startswith("real_") and key.endswith(f"_{fix}_Random") and verdict == HOLDS
                   for key, verdict in decided.items())
        if toy or real:
            return fix, toy, real
    return None


def summary_text(template: jinja2.Template, context: dict) -> str:
    """The summary, rendered from its template with this run's decided findings and numbers."""
    findings: dict[str, Finding] = context["f"]
    confirmations = context["confirmations"]
    summary = context["summary_table"] if context["real_summary"] is None else context["real_summary"]
    real_gap = next((finding for key, finding in findings.items() if key.startswith("real_") and key.endswith("_gap")
                     and not key.endswith("zeros_gap")), None)

    def replicated(key: str) -> bool:
        if confirmations is None:
            return False
        rows = confirmations[confirmations["key"] == key]
        return bool(len(rows)) and rows["agreement"].iloc[0] == AGREE

    # The findings the summary states: those decided after correction (holds, or does not hold), the headline first
    # (it sets the scene), then those that new seeds replicated, then the rest, each in the plan's order.
    named = {"headline": findings.get("headline"), "mechanism": findings.get("mechanism"),
             "zero_state_learnable": findings.get("zero_state_learnable"), "real": real_gap}
    decided = [(key, finding) for key, finding in named.items()
               if finding is not None and finding.verdict in (HOLDS, FAILS)]
    decided.sort(key=lambda pair: (pair[0] != "headline", not replicated(pair[1].key)))
    # A fix decided only in the profile `real`, or not repeated on new seeds, is said to be one run's finding.
    closes = fix_that_closes(findings, context["real_profile"])
    text = template.render(decided=decided, replicated=replicated,
                           mean=lambda cell, metric: _mean(summary, cell, metric),
                           practice=practice(findings, context["real_profile"], summary),
                           closes=closes, closes_replicated=closes is not None and closes[1]
                           and replicated(f"remedy_{closes[0]}_Random"))
    return " ".join(text.split())
