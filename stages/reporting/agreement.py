"""Whether this run's findings agree with those of another profile's published report (`reports/<profile>/`).

The quick default differs from the write-up in several settings at once (size, data, learning rate, epochs); the
paper profile runs the write-up's own settings with the same code and decision rules. Comparing the two verdict by
verdict tells a reader how far the cheap setting can be trusted. Verdicts are compared, not estimates: the two
profiles measure the same quantities on different networks and data, so only the decision is comparable.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from stages.reporting.findings import ABSENT, FAILS, HOLDS, INCONCLUSIVE, NOT_TESTED, Finding
from stages.reporting.published import Published, flatten

AGREE, DISAGREE = "agree", "disagree"
UNDECIDED_HERE, UNDECIDED_THERE, UNDECIDED_BOTH = "undecided here", "undecided there", "undecided in both"
NOT_TESTED_HERE, NOT_TESTED_THERE = "not tested here", "not tested there"
NOT_COMPARED = "not compared"
DECIDED = (HOLDS, FAILS)
# The settings that make a run what it is; the families a profile leaves out are listed apart.
COMPARED_SECTIONS = ("data", "replicates", "model", "train", "evaluate", "sweep")


def agreement_of(here: str, there: str | None) -> str:
    """How two verdicts on the same finding relate. `there` is None where the other run has no such finding."""
    if there is None or ABSENT in (here, there):
        return NOT_COMPARED
    if here == NOT_TESTED:
        return NOT_TESTED_HERE
    if there == NOT_TESTED:
        return NOT_TESTED_THERE
    if here in DECIDED and there in DECIDED:
        return AGREE if here == there else DISAGREE
    if here == INCONCLUSIVE and there == INCONCLUSIVE:
        return UNDECIDED_BOTH
    return UNDECIDED_HERE if here == INCONCLUSIVE else UNDECIDED_THERE


def _estimate_text(estimate: float, low: float, high: float) -> str:
    return "–" if any(math.isnan(v) for v in (estimate, low, high)) else f"{estimate:.2f} [{low:.2f}, {high:.2f}]"


def comparison(findings: list[Finding], published: Published) -> pd.DataFrame:
    """One row per finding of this run, in the report's order: both verdicts, both estimates, and how they relate
    (a finding is *replicated* where another run on new seeds agrees: both hold, or both do not hold)."""
    theirs = published.findings.set_index("key")
    rows = []
    for finding in findings:
        other = theirs.loc[finding.key] if finding.key in theirs.index else None
        # A finding the other run never states (its family left out) reads as any finding that run lacks.
        there = ABSENT if other is None else str(other["verdict"])
        rows.append({
            "key": finding.key, "claim": finding.claim, "primary": finding.primary, "verdict": finding.verdict,
            "estimate": _estimate_text(*((finding.estimate.mean, finding.estimate.low, finding.estimate.high)
                                         if finding.estimate else (math.nan,) * 3)),
            "other_verdict": there,
            "other_estimate": ("–" if other is None
                               else _estimate_text(*(float(other[c]) for c in ("estimate", "low", "high")))),
            "agreement": agreement_of(finding.verdict, there),
        })
    return pd.DataFrame(rows, columns=["key", "claim", "primary", "verdict", "estimate", "other_verdict",
                                       "other_estimate", "agreement"])


def differing_settings(here: dict, there: dict) -> list[tuple[str, Any, Any]]:
    """(key, value here, value there) for every setting of `COMPARED_SECTIONS` that differs between two runs."""
    mine, theirs = flatten(here), flatten(there)
    return [(key, mine[key], theirs[key]) for key in mine
            if key.split(".")[0] in COMPARED_SECTIONS and key in theirs and mine[key] != theirs[key]
            and key not in ("train.log_every",)]


def counts(frame: pd.DataFrame) -> dict[str, int]:
    """How many findings fall in each kind of agreement (every kind listed, zeros included)."""
    kinds = (AGREE, DISAGREE, UNDECIDED_HERE, UNDECIDED_THERE, UNDECIDED_BOTH, NOT_TESTED_HERE, NOT_TESTED_THERE,
             NOT_COMPARED)
    return {kind: int((frame["agreement"] == kind).sum()) for kind in kinds}
