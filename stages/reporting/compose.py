"""The report from the gathered tables: decide the findings (the analysis plan) and the controls, draw the figures,
and write report.md (from its template), its self-contained HTML twin index.html, the tables, and the study's
metrics file findings.json (what `dvc exp show` compares between experiments).

It reads nothing under data/: `stages.reporting.gather` brings every input as tidy tables, so a published profile's
report can be rebuilt from its published tables alone (`python -m tools.republish`).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path

import jinja2
import pandas as pd
import yaml

from stages.core.data import DIFF_DIST_SHIFT, NUM_CLASSES
from stages.core.files import atomic_path, write_json, write_table, write_text
from stages.core.params import REAL_DATASETS, Params, cells, families_run, probe_cells
from stages.reporting import figures, tables
from stages.reporting.agreement import comparison, differing_settings
from stages.reporting.figure_tables import drawings, figure_tables
from stages.reporting.findings import (
    ABSENT,
    FAILS,
    HOLDS,
    INCONCLUSIVE,
    NOT_TESTED,
    Control,
    Finding,
    Results,
    capacity_bound,
    controls,
    decide,
    decomposition_cells,
    measure,
    probe_controls,
    real_counterparts,
    remedy_cells,
    seeds_fitted,
    verdict_bptt,
)
from stages.reporting.gather import Gathered, environment, real_rows
from stages.reporting.literature import published, reproduction_checks
from stages.reporting.page import render_page
from stages.reporting.plan import Plan, expand, load_plan
from stages.reporting.published import Published, read_published, real_settings_differ, settings_differ
from stages.reporting.summary import summary_text
from stages.reporting.words import axes_of, cell_words

TITLE = "When truncated BPTT learns the initial state instead of the input"
TEMPLATES = Path(__file__).with_name("templates")
CITATION = Path(__file__).resolve().parents[2] / "CITATION.cff"
# Verdicts as numbers in findings.json, so that `dvc exp show` and `dvc metrics diff` can compare them.
VERDICT_CODE = {HOLDS: 1, INCONCLUSIVE: 0, FAILS: -1, NOT_TESTED: None, ABSENT: None}
PROFILES = ("paper", "real", "supplement", "confirm")  # the published profiles a report reads (reports/<profile>/)


@dataclass(frozen=True)
class Decided:
    findings: list[Finding]  # primary first, in the plan's order
    checks: list[Control]
    toy: Results
    real: dict[str, Results]  # real data set -> its results (its own number of classes)


def results_for(cells_named: tuple[str, ...], toy: Results, real: dict[str, Results]) -> Results:
    """The results a finding reads: the toy study's, or a real data set's (an unknown one: empty, so *not in this
    run*)."""
    first = cells_named[0]
    if not first.startswith("real/"):
        return toy
    try:
        dataset = axes_of(first)[1]["data_type"]
    except (KeyError, ValueError):
        dataset = ""
    return real.get(dataset) or Results(toy.table.iloc[0:0], toy.confidence, NUM_CLASSES)


def decide_findings(params: Params, gathered: Gathered, plan: Plan) -> Decided:
    """Every finding of the plan, measured and decided (primary first), and every control."""
    frames, confidence = gathered.frames, params.replicates.confidence
    epochs, scores = frames["epochs"], frames["epoch_scores"]
    replicates = frames["replicates"]
    toy = Results(replicates[replicates["family"] != "real"], confidence, NUM_CLASSES, epochs, scores)
    real = {dataset: Results(real_rows(replicates, dataset), confidence, classes, epochs, scores)
            for dataset, classes in gathered.classes.items()}
    measured = [finding for declared in expand(plan, params)
                if (finding := measure(declared, results_for(declared.cells, toy, real))) is not None]
    findings = sorted(decide(measured, plan.families, confidence, params.report.power), key=lambda f: not f.primary)
    checks = (controls(toy, params) + probe_controls(replicates, params)
              + [check for dataset in gathered.classes
                 for check in reproduction_checks(dataset, gathered.baselines[dataset])])
    return Decided(findings, checks, toy, real)


def findings_frame(findings: list[Finding]) -> pd.DataFrame:
    """One row per finding: its declaration, its verdict and every number that decided it."""
    def interval(finding: Finding) -> tuple[float, float, float]:
        return (finding.estimate.mean, finding.estimate.low, finding.estimate.high) if finding.estimate else (
            math.nan,) * 3

    return pd.DataFrame([{
        "key": f.key, "claim": f.claim, "family": f.declared.family, "test": f.declared.test,
        "quantity": f.declared.quantity, "cells": " ".join(f.declared.cells), "margin_share": f.declared.margin,
        "margin": f.margin, "verdict": f.verdict, **dict(zip(("estimate", "low", "high"), interval(f))),
        "p_value": f.p, "adjusted_p": f.adjusted_p, "contrary_p": f.contrary_p,
        "seeds_to_decide_planning": f.seeds_to_decide, "evidence": f.evidence,
    } for f in findings])


def findings_metrics(findings: list[Finding]) -> dict:
    """The study-level metrics: each primary finding's estimate, interval and verdict (those in this run), and the
    verdict counts."""
    def rounded(value: float) -> float | None:
        return None if value is None or math.isnan(value) else round(value, 4)

    metrics: dict = {}
    for f in findings:
        if f.primary and f.verdict != ABSENT:
            metrics[f.key] = {"estimate": rounded(f.estimate.mean) if f.estimate else None,
                              "low": rounded(f.estimate.low) if f.estimate else None,
                              "high": rounded(f.estimate.high) if f.estimate else None,
                              "verdict": VERDICT_CODE[f.verdict]}
    metrics["verdicts"] = {word.replace(" ", "_"): sum(f.verdict == word for f in findings)
                           for word in (HOLDS, FAILS, INCONCLUSIVE, NOT_TESTED)}
    return metrics


def citation() -> str:
    """A BibTeX entry for the study, from CITATION.cff."""
    meta = yaml.safe_load(CITATION.read_text())
    authors = " and ".join(author.get("name") or f"{author['family-names']}, {author['given-names']}"
                           for author in meta["authors"])
    return (f"@software{{tbptt_pitfall,\n  title = {{{meta['title']}}},\n  author = {{{authors}}},\n"
            f"  version = {{{meta['version']}}},\n  license = {{{meta['license']}}},\n"
            f"  note = {{DVC pipeline; cite the commit whose reports/ you quote}}\n}}")


class Figures:
    """Figure blocks numbered in the order the template places them, with their data and print versions linked;
    a figure this run did not draw is left out."""

    def __init__(self, drawn: set[str]) -> None:
        self.drawn, self.number = drawn, 0

    def __call__(self, key: str, caption: str) -> str:
        if key not in self.drawn:
            return ""
        self.number += 1
        return (f"![{caption.split('.')[0]}](figures/{key}.png)\n\n*Figure {self.number}. {caption} Data: "
                f"[{key}.csv](figures/{key}.csv) · print version: [{key}.svg](figures/{key}.svg).*\n")


def read_profiles(published_dir: Path | None, out: Path) -> dict[str, Published | None]:
    """The profiles' published reports this report reads (None where not published, or for the profile whose report
    this is: a republished supplement does not point to itself)."""
    found = {}
    for name in PROFILES:
        folder = published_dir / name if published_dir else None
        itself = folder is not None and folder.resolve() == out.resolve()
        found[name] = read_published(folder, name) if folder is not None and not itself else None
    return found


def real_cells_of(params: Params, frames: dict[str, pd.DataFrame],
                  profiles: dict[str, Published | None]) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """The real-data cells the "What closes the gap" table reads: this run's, and the profile `real`'s where this
    run lacks them and that profile ran with the same settings. Returns (replicates, summary, where from)."""
    replicates, summary = frames["replicates"], frames["summary"]
    profile = profiles.get("real")
    if profile is None or real_settings_differ(params, profile.params):
        return replicates, summary, ""
    extra = profile.replicates[(profile.replicates["family"] == "real")
                               & ~profile.replicates["cell"].isin(replicates["cell"])]
    extra_summary = profile.summary[profile.summary["cell"].isin(extra["cell"])]
    return (pd.concat([replicates, extra], ignore_index=True), pd.concat([summary, extra_summary], ignore_index=True),
            "profile `real`" if len(extra) else "")


def story_fix(params: Params) -> str:
    """The fix the story figure draws beside the write-up's loop, in words ("" where the run trains none)."""
    names = {cell.name for cell in cells(params, "remedy")}
    fixes = {"stateless": "a fresh initial state for every chunk (stateless)",
             "burn_in": "each chunk's state rebuilt from a fresh one over the steps before it (burn_in)"}
    return next((words for fix, words in fixes.items() if f"remedy/{fix}-SameRandom-Random" in names), "")


def remedy_verdicts(findings: dict[str, Finding]) -> dict[str, str]:
    """For each row of the remedies table, whether the protocol closes the gap, in words, from the finding that decides
    it: its own equivalence test; for zero states, the companion of the write-up's remark (a gap that holds on data
    that can be learned means zero states do not close it; one shown below the margin is not yet an equivalence, so
    it reads as what it is)."""
    words = {HOLDS: "closes it", FAILS: "does not close it", INCONCLUSIVE: "undecided", NOT_TESTED: "not tested"}
    reversed_words = {HOLDS: "does not close it", FAILS: "gap below the margin", INCONCLUSIVE: "undecided",
                      NOT_TESTED: "not tested"}
    found = {key: words[finding.verdict] for key, finding in findings.items()
             if key.startswith("remedy_") and finding.verdict in words}
    if "zero_state_learnable" in findings and findings["zero_state_learnable"].verdict in reversed_words:
        found["remedy_zeros_states"] = reversed_words[findings["zero_state_learnable"].verdict]
    found["remedy_baseline"] = "the problem"
    return found


def remedy_real_cells(params: Params, real_replicates: pd.DataFrame, profile: Published | None) -> dict[str, str]:
    """For each row of the remedies table, the real-data cell trained the same way, where this run or the profile
    `real` trained one."""
    found = {}
    for source in (params, profile.params if profile else None):
        if source is None:
            continue
        for dataset in source.realdata.dataset:
            for key, cell in real_counterparts(params, dataset, runs_from=source).items():
                if key not in found and (real_replicates["cell"] == cell).any():
                    found[key] = cell
    return found


def fitted_seeds(finding: Finding | None, decided: Decided) -> str:
    """'7 of 16': the seeds whose update pass fitted, for a tested finding on the last epochs ('' otherwise)."""
    if finding is None or not finding.tested or finding.declared.quantity != "loss_gap_last_epochs":
        return ""
    results = results_for(finding.declared.cells, decided.toy, decided.real)
    last = results.last_epochs(finding.declared.cells[0])
    return f"{seeds_fitted(last, results, finding.declared)} of {len(last)}"


def render_markdown(params: Params, gathered: Gathered, decided: Decided, frames: dict[str, pd.DataFrame],
                    profiles: dict[str, Published | None], drawn: set[str], plan: Plan,
                    up: str = "") -> tuple[str, str]:
    """report.md, and its plain summary; `up` leads from the report's folder to the folder of the published profiles
    ("" or "../")."""
    environment_ = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False,
                                      loader=jinja2.FileSystemLoader(TEMPLATES))
    by_key = {finding.key: finding for finding in decided.findings}
    confirm = profiles.get("confirm") if params.report.confirmation else None
    paper = profiles.get("paper") if params.report.paper_agreement else None
    real_replicates, real_summary, real_origin = real_cells_of(params, frames, profiles)
    timing = frames["timing"]
    real_profile = profiles.get("real")
    context = {
        "up": up, "title": TITLE, "p": params, "tables": tables, "figure": Figures(drawn), "bptt": verdict_bptt(params),
        "alpha": 1 - params.replicates.confidence, "findings": decided.findings, "f": by_key,
        "checks": decided.checks, "summary_table": frames["summary"], "replicates": frames["replicates"],
        "toy": decided.toy, "real": decided.real, "words": cell_words, "chance": math.log(NUM_CLASSES),
        "log": math.log, "shift": DIFF_DIST_SHIFT, "bound": capacity_bound(params), "ran": families_run(params),
        "decomposed": decomposition_cells(params), "probed": probe_cells(params),
        "datasets": [(dataset, classes, REAL_DATASETS[dataset], real_rows(frames["replicates"], dataset),
                      gathered.baselines[dataset], [score for kind, score in published(dataset).items()
                                                    if kind != "nearest_neighbour"])
                     for dataset, classes in gathered.classes.items()],
        "real_replicates": real_replicates, "real_summary": real_summary, "real_origin": real_origin,
        "story_fix": story_fix(params), "remedy_rows": remedy_cells(params), "remedy_verdicts": remedy_verdicts(by_key),
        "remedy_real": remedy_real_cells(params, real_replicates, real_profile),
        "confirmations": frames.get("agreement_confirm"), "confirm": confirm, "paper": paper,
        "remark_fitted": fitted_seeds(by_key.get("zero_state_remark"), decided),
        "paper_comparison": frames.get("agreement_paper"),
        "supplement": profiles.get("supplement"), "real_profile": real_profile,
        # The settings in which a published profile differs from this run, said wherever the report uses it.
        "supplement_differ": (settings_differ(params, profiles["supplement"].params)
                              if profiles.get("supplement") else []),
        "real_differ": real_settings_differ(params, real_profile.params) if real_profile else [],
        "paper_settings": differing_settings(dataclasses.asdict(params), paper.raw_params) if paper else [],
        "in_supplement": decided_elsewhere(profiles.get("supplement")),
        "families": plan.families, "snippet": (TEMPLATES / "your_loop.py").read_text().rstrip(),
        "environment": environment(), "timing": timing,
        "total_seconds": (timing["training_seconds"].sum() + timing["evaluation_seconds"].sum(skipna=True)
                          + timing["probe_seconds"].sum(skipna=True)),
        "citation": citation(),
    }
    context["summary"] = summary_text(environment_.get_template("summary.md.j2"), context)
    return environment_.get_template("report.md.j2").render(**context), context["summary"]


def write_figures(params: Params, gathered: Gathered, out: Path) -> set[str]:
    """Every figure as PNG and SVG, with the tidy table it was drawn from as CSV; the names drawn."""
    per_figure = figure_tables(params, gathered.frames)
    per_figure["inputs"] = gathered.frames["inputs"]
    figures.setup_theme()
    drawn = drawings(params, gathered.classes)
    with atomic_path(out / "figures", directory=True) as folder:
        for name, draw in drawn.items():
            figures.save(draw(per_figure[name]), str(folder / name), params.report.figure_dpi)
            write_table(folder / f"{name}.csv", per_figure[name])
    return set(drawn)


def write_tables(params: Params, frames: dict[str, pd.DataFrame], out: Path) -> None:
    """The tidy tables (reports/tables/), and one wide file per grid cell, mean over seeds, for `dvc plots`."""
    with atomic_path(out / "tables", directory=True) as folder:
        for name, table in frames.items():
            write_table(folder / f"{name}.csv", table)
    with atomic_path(out / "plots", directory=True) as folder:
        for kind, index, source in (("loss_per_epoch", "epoch", frames["epochs"]),
                                    ("last_epoch", "chunk", frames["last_epoch"])):
            (folder / kind).mkdir()
            for cell in cells(params, "grid"):
                mine = source[source["cell"] == cell.name]
                if mine.empty:
                    continue
                wide = mine.groupby([index, "pass"])["loss"].mean().unstack("pass").reset_index()
                wide = wide.rename(columns={"update": "update_pass_loss", "frozen": "frozen_pass_loss"})
                write_table(folder / kind / f"{cell.key}.csv", wide[[index, "update_pass_loss", "frozen_pass_loss"]])


# The README's blocks that the report stage writes, each between its two markers, so that the front door never shows
# a stale answer or stale numbers: the plain summary, and the primary findings' table.
README_BLOCKS = {
    "answer": ("<!-- answer: written by the report stage -->", "<!-- end of answer -->"),
    "primary findings": ("<!-- primary findings: written by the report stage -->", "<!-- end of primary findings -->"),
}


def decided_elsewhere(profile: Published | None) -> dict[str, dict[str, str]]:
    """A published profile's verdict and evidence for each finding it ran (not those *not in this run* there)."""
    if profile is None:
        return {}
    ran = profile.findings[profile.findings["verdict"] != ABSENT]
    return {row.key: {"verdict": row.verdict, "evidence": row.evidence} for row in ran.itertuples()}


def primary_findings_table(findings: list[Finding], confirmations: pd.DataFrame | None, confirmation: bool) -> str:
    """The primary findings at a glance: the rows of the report's own table that the README shows too."""
    return tables.glance([finding for finding in findings if finding.primary], confirmations, confirmation)


def write_readme_blocks(readme: Path, blocks: dict[str, str]) -> None:
    """Replace each README block (README_BLOCKS) with its new text; a README without a block's markers (a profile's
    clone, a test's project) keeps what it has."""
    if not readme.is_file():
        return
    text = readme.read_text()
    for name, body in blocks.items():
        start, end = README_BLOCKS[name]
        if start in text and end in text:
            before, rest = text.split(start, 1)
            text = f"{before}{start}\n\n{body}\n{end}{rest.split(end, 1)[1]}"
    write_text(readme, text)


def write_report(params: Params, gathered: Gathered, out: Path, published: Path | None = None,
                 plan: Plan | None = None, readme: Path | None = None) -> None:
    """The whole report in `out`, from the gathered tables; `published` holds the profiles' published reports
    (`paper/`, `real/`, `supplement/`, `confirm/`) that the report compares with or points to; `readme`, where given,
    gets the plain summary and the primary findings' table between their markers."""
    plan = plan or load_plan()
    decided = decide_findings(params, gathered, plan)
    profiles = read_profiles(published, out)
    frames = dict(gathered.frames)
    frames["findings"] = findings_frame(decided.findings)
    frames["controls"] = pd.DataFrame([dataclasses.asdict(check) for check in decided.checks])
    for name, switched_on in (("confirm", params.report.confirmation), ("paper", params.report.paper_agreement)):
        if switched_on and profiles.get(name) is not None:  # each finding beside that profile's verdict
            frames[f"agreement_{name}"] = comparison(decided.findings, profiles[name])
    drawn = write_figures(params, gathered, out)
    write_tables(params, frames, out)
    up = "" if published is None or published.resolve() == out.resolve() else "../"
    markdown, summary = render_markdown(params, gathered, decided, frames, profiles, drawn, plan, up)
    write_text(out / "report.md", markdown)
    write_text(out / "index.html", render_page(markdown, base_dir=out, title=TITLE))
    write_json(out / "findings.json", findings_metrics(decided.findings))
    if readme is not None:
        write_readme_blocks(readme, {"answer": summary, "primary findings": primary_findings_table(
            decided.findings, frames.get("agreement_confirm"), params.report.confirmation)})
