"""The plain summary says only what a decided finding backs: the advice names a fix where its equivalence held (after
correction), and says where it held (the toy data, the real recordings, or both), never more."""

from __future__ import annotations

from types import SimpleNamespace

import jinja2
import pandas as pd
import pytest

from stages.reporting.agreement import AGREE
from stages.reporting.compose import TEMPLATES
from stages.reporting.findings import HOLDS, INCONCLUSIVE, NOT_TESTED
from stages.reporting.summary import fix_that_closes, summary_text

REAL_KEY = "real_ACSF1_stateless_Random"


def _findings(**verdicts: str) -> dict:
    return {key: SimpleNamespace(key=key, verdict=verdict, cell="") for key, verdict in verdicts.items()}


def _real_profile(**verdicts: str) -> SimpleNamespace:
    return SimpleNamespace(findings=pd.DataFrame({"key": list(verdicts), "verdict": list(verdicts.values())}))


def _summary(findings: dict, real_profile=None, confirmations: pd.DataFrame | None = None) -> str:
    template = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), undefined=jinja2.StrictUndefined)
    context = {"f": findings, "confirmations": confirmations, "real_profile": real_profile, "real_summary": None,
               "summary_table": pd.DataFrame(columns=["cell", "metric", "mean"])}
    return summary_text(template.get_template("summary.md.j2"), context)


@pytest.mark.parametrize(("toy", "real", "said"), [
    (HOLDS, HOLDS, "closes the gap, on real recordings too, and the network still learns"),
    (HOLDS, INCONCLUSIVE, "closes the gap, and the network still learns"),
    (INCONCLUSIVE, HOLDS, "closes the gap on real recordings, and the network still learns"),
])
def test_the_advice_says_where_the_fix_was_shown_to_close_the_gap(toy, real, said):
    text = _summary(_findings(remedy_stateless_Random=toy), _real_profile(**{REAL_KEY: real}))
    assert "What to do: do not carry the state across updates." in text and said in text
    # No confirmation run here: the advice says it rests on one run.
    assert f"{said} (one run, not yet repeated on new seeds)." in text


def test_a_fix_that_new_seeds_repeated_is_said_to_be_replicated():
    confirmations = pd.DataFrame({"key": ["remedy_stateless_Random"], "agreement": [AGREE]})
    text = _summary(_findings(remedy_stateless_Random=HOLDS), confirmations=confirmations)
    assert "closes the gap, and the network still learns (replicated)." in text


def test_without_a_decided_fix_the_advice_is_only_to_check_your_own_loop():
    findings = _findings(remedy_stateless_Random=INCONCLUSIVE, remedy_burn_in_Random=NOT_TESTED)
    assert fix_that_closes(findings, _real_profile(**{REAL_KEY: INCONCLUSIVE})) is None
    text = _summary(findings, _real_profile(**{REAL_KEY: INCONCLUSIVE}))
    assert "What to do: check your own loop." in text and "closes the gap" not in text


def test_the_first_fix_that_holds_is_named_and_this_runs_verdict_wins_over_the_profiles():
    assert fix_that_closes(_findings(remedy_burn_in_Random=HOLDS), None) == ("burn_in", True, False)
    # The run's own real-data verdict is the one read where both have the finding.
    run = _findings(**{REAL_KEY: INCONCLUSIVE})
    assert fix_that_closes(run, _real_profile(**{REAL_KEY: HOLDS})) is None


def test_undecided_findings_stay_out_of_the_summary():
    text = _summary(_findings(headline=INCONCLUSIVE, mechanism=NOT_TESTED))
    assert "update pass" not in text.split("What to do")[0].split("after every chunk.")[1]
