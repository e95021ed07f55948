"""The report's opening summary: a few sentences whose numbers and verdicts are filled in from the findings."""

from __future__ import annotations

from stages.reporting.findings import FAILS, FAILS_CHECK, HOLDS, INCONCLUSIVE, NOT_TESTED, Control, Finding, Results
from stages.reporting.tables import badge, capacity_axis

# How each sentence ends, by verdict: what the finding means for the write-up's claim.
_MEANING = {
    HOLDS: "supports the write-up",
    FAILS: "does not support the write-up at this scale",
    INCONCLUSIVE: "this run cannot decide",
    NOT_TESTED: "this run could not test",
}


def _decision(finding: Finding) -> str:
    text = f"{badge(finding.verdict)}, which {_MEANING[finding.verdict]}"
    if finding.verdict == INCONCLUSIVE and finding.seeds_needed is not None:
        text += f"; about {finding.seeds_needed} seeds would decide it"
    return text


def summary_text(findings: list[Finding], toy: Results, real: dict[str, Results], checks: list[Control],
                 confidence: float) -> str:
    """Three or four sentences: the headline, the mechanism, the write-up's zero-state remark, real recordings (and
    first of all a warning if any control fails)."""
    # The findings that were measured in this run (a finding without its cells has no numbers to quote).
    measured = {finding.key: finding for finding in findings if finding.cell}
    sentences = []
    if headline := measured.get("headline"):
        cell = headline.cell
        sentences.append(
            f"On `SameRandom` data, whose two classes are the same random sequences, the write-up's loop with random "
            f"initial states classifies {toy.text(cell, 'update_pass_accuracy', 2)} of the training sequences in its "
            f"update pass but {toy.text(cell, 'frozen_pass_accuracy', 2)} when the same final weights read them again "
            f"without updates (accuracy gap {toy.text(cell, 'accuracy_gap', 2)}, mean [{confidence:.0%} interval] over "
            f"{len(toy.values(cell, 'accuracy_gap'))} seeds; {_decision(headline)}).")
    if mechanism := measured.get("mechanism"):
        sentences.append(
            f"Replaying the initial states that the last update pass started from gives "
            f"{toy.text(mechanism.cell, 'train_replayed_accuracy', 2)} accuracy against "
            f"{toy.text(mechanism.cell, 'train_fresh_accuracy', 2)} from fresh states; the write-up's explanation, "
            f"that the network classifies its initial states rather than the input: {_decision(mechanism)}.")
    if remark := measured.get("zero_state_remark"):
        sentences.append(
            f"The write-up's warning that zero initial states do not save you once the inputs differ: on "
            f"`SameDistRandom` with zero states the accuracy gap is {toy.text(remark.cell, 'accuracy_gap', 2)} "
            f"({_decision(remark)}).")
    for dataset, results in real.items():
        if gap := measured.get(f"real_{dataset}_gap"):
            sentences.append(
                f"On real recordings ({dataset}, {results.classes} classes) the same loop with random states scores "
                f"{results.text(gap.cell, 'update_pass_accuracy', 2)} with updates and "
                f"{results.text(gap.cell, 'frozen_pass_accuracy', 2)} without ({_decision(gap)}).")
    # The comparison between two sizes quotes no single cell, so it is looked up among all findings.
    persists = measured.get("capacity_persists")
    shrinks = next((finding for finding in findings if finding.key == "capacity_shrinks"), None)
    if persists and shrinks and persists.verdict != NOT_TESTED:
        # The write-up met the symptom with thousands of training sequences: the capacity axis tests that.
        axis = capacity_axis(toy.table)
        fewest, most = axis.iloc[0], axis.iloc[-1]
        bound = 2 * int(most["hidden_size"])
        sentences.append(
            f"With more training sequences than a network's states can keep apart ({int(most['hidden_size'])} units, "
            f"Cover's bound {bound}), the gap is {toy.text(fewest['cell'], 'accuracy_gap', 2)} with "
            f"{int(fewest['sequences'])} sequences and {toy.text(most['cell'], 'accuracy_gap', 2)} with "
            f"{int(most['sequences'])}. That the gap shrinks as the sequences outnumber the states: "
            f"{badge(shrinks.verdict)}; that it survives at {int(most['sequences']) / bound:g} times the "
            f"bound, as the write-up's remark about thousands of sequences implies: {_decision(persists)}.")
    # Zero initial states leave gaps that the write-up's explanation cannot cover; stage `probe` places them.
    stale = [finding for finding in findings if finding.key.startswith("stale_state_") and finding.cell
             and "-Zeros" in finding.cell and finding.verdict != NOT_TESTED]
    if stale:
        def scores(finding: Finding) -> str:
            results = toy if finding.cell.startswith("grid/") else next(
                r for r in real.values() if r.has(finding.cell))
            return (f"`{finding.cell}`: updating {results.text(finding.cell, 'update_pass_accuracy', 2)}, own state "
                    f"{results.text(finding.cell, 'own_state_accuracy', 2)}, {badge(finding.verdict)}")
        sentences.append(
            "Zero initial states leave gaps that the write-up's explanation cannot cover. Replaying the last epoch "
            "shows where they lie: that the update pass's edge at the last chunk is the carried state, written by "
            "earlier weights, which the same weights lose when they compute the state themselves from the same start "
            f"({'; '.join(scores(finding) for finding in stale)}).")
    failed = [check for check in checks if check.check == FAILS_CHECK]
    if failed:  # a control that fails means a bug in the pipeline: the reader must see it first
        sentences.insert(0, f"Warning: {len(failed)} of {len(checks)} controls, results true by construction, fail "
                            f"({badge(FAILS_CHECK)}): the pipeline has a bug, and no finding below can be trusted.")
    return " ".join(sentences)

