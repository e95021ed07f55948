"""The report from the gathered tables: decide the findings and controls, draw the figures, and write report.md (from
its template), its self-contained HTML twin index.html, the tables, and the study's metrics file findings.json (what
`dvc exp show` compares between experiments).

It reads nothing under data/: `stages.reporting.gather` brings every input as tidy tables, so a published profile's
report can be rebuilt from its published tables alone.

    python -m stages.report --sequences data/sequences --train data/train --evaluate data/evaluate \
        --timing data/timing --baseline data/baseline --out reports
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from pathlib import Path

import jinja2
import pandas as pd
import yaml

from stages.core.data import DIFF_DIST_SHIFT, NUM_CLASSES
from stages.core.files import atomic_path, write_json, write_table, write_text
from stages.core.params import FAMILIES, REAL_DATASETS, Params, cells, families_run, probe_cells
from stages.reporting import figures, tables
from stages.reporting.agreement import NOT_COMPARED, agreement_frame, differing_settings
from stages.reporting.agreement import counts as agreement_counts
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
    probe_controls,
    probe_findings,
    real_counterparts,
    real_findings,
    real_remedy_findings,
    remedy_cells,
    toy_findings,
    verdict_bptt,
)
from stages.reporting.gather import Gathered, environment, real_rows
from stages.reporting.literature import published, reproduction_checks
from stages.reporting.page import render_page
from stages.reporting.published import read_published, real_settings_differ, settings_differ
from stages.reporting.summary import summary_text

TITLE = "Truncated BPTT on long single-label sequences: the network learns the initial state, not the input"
TEMPLATE = Path(__file__).with_name("templates") / "report.md.j2"
CITATION = Path(__file__).resolve().parents[2] / "CITATION.cff"
# Verdicts as numbers in findings.json, so that `dvc exp show` and `dvc metrics diff` can compare them.
VERDICT_CODE = {HOLDS: 1, INCONCLUSIVE: 0, FAILS: -1, NOT_TESTED: None, ABSENT: None}


def findings_frame(findings: list[Finding]) -> pd.DataFrame:
    """One row per finding: its verdict and the numbers that decided it."""
    return pd.DataFrame([{
        "key": f.key, "title": f.title, "primary": f.primary, "verdict": f.verdict,
        "estimate": f.estimate.mean if f.estimate else math.nan, "low": f.estimate.low if f.estimate else math.nan,
        "high": f.estimate.high if f.estimate else math.nan, "threshold": f.threshold, "p_value": f.p_value,
        "adjusted_p": f.adjusted_p, "seeds_needed": f.seeds_needed, "evidence": f.evidence, "rule": f.rule,
    } for f in findings])


def findings_metrics(findings: list[Finding]) -> dict:
    """The study-level metrics: each primary finding's estimate, interval and verdict, and the verdict counts."""
    def rounded(value: float) -> float | None:
        return None if value is None or math.isnan(value) else round(value, 4)

    metrics: dict = {}
    for f in findings:
        if f.primary:
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


def _figure_markdown() -> Callable[[str, str], str]:
    """Figure blocks numbered in the order the template places them, with their data and print versions linked."""
    numbers = iter(range(1, 100))

    def figure(key: str, caption: str) -> str:
        return (f"![{key}](figures/{key}.png)\n\n*Figure {next(numbers)}. {caption} Data: "
                f"[{key}.csv](figures/{key}.csv) · print version: [{key}.svg](figures/{key}.svg).*\n")

    return figure


def render_markdown(params: Params, frames: dict[str, pd.DataFrame], findings: list[Finding],
                    checks: list[Control], summary: str, real_classes: dict[str, int],
                    baselines: dict[str, dict], agreement: dict | None = None,
                    real_cells: dict[str, tables.RealCell] | None = None, real_profile: dict | None = None,
                    supplement: Supplement | None = None) -> str:
    numbered = list(enumerate(findings, 1))
    template = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False,
                                  loader=jinja2.FileSystemLoader(TEMPLATE.parent)).get_template(TEMPLATE.name)
    timing = frames["timing"]
    return template.render(
        title=TITLE, summary=summary, p=params, tables=tables, figure=_figure_markdown(), bptt=verdict_bptt(params),
        alpha=1 - params.replicates.confidence, numbered=numbered,
        primary=[(i, f) for i, f in numbered if f.primary], secondary=[(i, f) for i, f in numbered if not f.primary],
        checks=checks, summary_table=frames["summary"], replicates=frames["replicates"],
        remedy_cells=remedy_cells(params), chance=math.log(NUM_CLASSES), log=math.log,
        real=[(dataset, classes, REAL_DATASETS[dataset], real_rows(frames["replicates"], dataset), baselines[dataset],
               [score for kind, score in published(dataset).items() if kind != "nearest_neighbour"])
              for dataset, classes in real_classes.items()],
        verdicts={f.key: f.verdict for f in findings}, decomposed=decomposition_cells(params),
        real_cells=real_cells or {}, real_profile=real_profile,
        environment=environment(), timing=timing,
        total_seconds=(timing["training_seconds"].sum() + timing["evaluation_seconds"].sum(skipna=True)
                       + timing["probe_seconds"].sum(skipna=True)),
        citation=citation(), shift=DIFF_DIST_SHIFT, bound=capacity_bound(params),
        ran=families_run(params), agreement=agreement,
        supplement=supplement or Supplement.unpublished(),
    )


@dataclasses.dataclass(frozen=True)
class Supplement:
    """What the report says of the profile `supplement`, which runs the families this run may leave out."""
    ran: dict[str, bool]  # family -> whether the published supplement trained it (all False where unpublished)
    differ: list[str]  # the shared settings (data, model, training, evaluation, seeds) it ran with otherwise
    longer_bptt: list[int]  # bptt sizes of its grid that this run's grid lacks (and longer than this run's longest)

    @classmethod
    def unpublished(cls) -> Supplement:
        return cls({family: False for family in FAMILIES}, [], [])


def supplement_of(params: Params, supplement_dir: Path | None) -> Supplement:
    """The profile `supplement` as published in `supplement_dir`, for the report to point a family this run leaves
    out to that profile's section, saying whether it ran at this run's settings."""
    published = read_published(supplement_dir, "supplement") if supplement_dir is not None else None
    if published is None:
        return Supplement.unpublished()
    longest = max(params.sweep.bptt_size)
    return Supplement(families_run(published.params), settings_differ(params, published.params),
                      sorted(size for size in published.params.sweep.bptt_size if size > longest))


def paper_agreement(params: Params, findings: list[Finding], paper_dir: Path | None) -> dict | None:
    """The comparison with the paper profile's published findings, or None where it is switched off
    (`report.paper_agreement`) or not published in `paper_dir`."""
    if not params.report.paper_agreement or paper_dir is None:
        return None
    published = read_published(paper_dir, "paper")
    if published is None:
        return None
    frame = agreement_frame(findings, published)
    kinds = agreement_counts(frame)
    return {"frame": frame, "counts": kinds, "compared": len(frame) - kinds[NOT_COMPARED],
            "settings": differing_settings(dataclasses.asdict(params), published.raw_params),
            "cells": len(cells(published.params, "grid")), "seeds": published.params.replicates.count}


def practice_real_cells(params: Params, replicates: pd.DataFrame, summary: pd.DataFrame,
                        real_dir: Path | None) -> tuple[dict[str, tables.RealCell], dict | None]:
    """For each row of the "What to do" table, its real-data cell: from this run, else from the real profile's
    published report (`real_dir`) where that was run with the same settings. Also what the report says about the
    profile: None where it is not published, else its name, the cells it contributed and the settings that keep it
    out (empty when it is used)."""
    found = {key: tables.RealCell(cell, summary, replicates)
             for dataset in params.realdata.dataset for key, cell in real_counterparts(params, dataset).items()}
    profile = read_published(real_dir, "real") if real_dir is not None else None
    if profile is None:
        return found, None
    differ = real_settings_differ(params, profile.params)
    added = []
    if not differ:
        for dataset in profile.params.realdata.dataset:
            for key, cell in real_counterparts(params, dataset, runs_from=profile.params).items():
                if key not in found:
                    found[key] = tables.RealCell(cell, profile.summary, profile.replicates, "profile `real`")
                    added.append(cell)
    return found, {"differ": differ, "added": added, "sequences_per_update": profile.params.train.sequences_per_update}


def decide_findings(params: Params, gathered: Gathered) -> tuple[list[Finding], list[Control], Results,
                                                                  dict[str, Results]]:
    """Every finding, decided (primary first), every control, and the per-seed results they were read from."""
    frames, confidence, margin = gathered.frames, params.replicates.confidence, params.report.chance_margin
    toy = Results(frames["replicates"][frames["replicates"]["family"] != "real"], confidence, NUM_CLASSES, margin)
    findings = toy_findings(toy, params, frames["epoch_scores"]) + probe_findings(toy, probe_cells(params))
    real = {dataset: Results(real_rows(frames["replicates"], dataset), confidence, classes, margin)
            for dataset, classes in gathered.classes.items()}
    for dataset, results in real.items():
        findings += (real_findings(results, dataset) + real_remedy_findings(results, params, dataset)
                     + probe_findings(results, probe_cells(params)))
    # Primary findings first: they are the family the report leads with.
    findings = sorted(decide(findings, confidence, params.report.power), key=lambda f: not f.primary)
    checks = (controls(toy, params) + probe_controls(frames["replicates"], params)
              + [check for dataset in gathered.classes
                 for check in reproduction_checks(dataset, gathered.baselines[dataset])])
    return findings, checks, toy, real


def write_figures(params: Params, gathered: Gathered, out: Path) -> None:
    """Every figure as PNG and SVG, with the tidy table it was drawn from as CSV."""
    per_figure = figure_tables(params, gathered.frames)
    per_figure["inputs"] = gathered.frames["inputs"]
    figures.setup_theme()
    with atomic_path(out / "figures", directory=True) as folder:
        for name, draw in drawings(params, gathered.classes).items():
            figures.save(draw(per_figure[name]), str(folder / name), params.report.figure_dpi)
            write_table(folder / f"{name}.csv", per_figure[name])


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


def write_report(params: Params, gathered: Gathered, out: Path, published: Path | None = None) -> None:
    """The whole report in `out`, from the gathered tables; `published` holds the profiles' published reports
    (`paper/`, `real/`, `supplement/`) that the report compares with or points to."""
    findings, checks, toy, real = decide_findings(params, gathered)
    frames = dict(gathered.frames)
    agreement = paper_agreement(params, findings, published / "paper" if published else None)
    if agreement is not None:
        frames["agreement"] = agreement["frame"]
    frames["findings"] = findings_frame(findings)
    frames["controls"] = pd.DataFrame([dataclasses.asdict(check) for check in checks])
    write_figures(params, gathered, out)
    write_tables(params, frames, out)
    real_cells, real_profile = practice_real_cells(params, frames["replicates"], frames["summary"],
                                                   published / "real" if published else None)
    summary = summary_text(findings, toy, real, checks, params.replicates.confidence)
    markdown = render_markdown(params, frames, findings, checks, summary, gathered.classes, gathered.baselines,
                               agreement, real_cells, real_profile,
                               supplement_of(params, published / "supplement" if published else None))
    write_text(out / "report.md", markdown)
    write_text(out / "index.html", render_page(markdown, base_dir=out, title=TITLE))
    write_json(out / "findings.json", findings_metrics(findings))
