"""The whole DVC pipeline on tiny parameters, in a temporary git repository: one shared run, many checks."""

from __future__ import annotations

import copy
import csv
import io
import json
import re
import sys

import pandas as pd
import pytest
import yaml
from conftest import TINY, make_project, run

from stages.core.params import FAMILY, cells, parse_params, probe_cells
from stages.reporting.findings import decomposition_cells
from stages.reporting.tables import badge, seconds_text

DVC = [sys.executable, "-m", "dvc"]
ALL_CELLS = cells(parse_params(TINY))
CELLS = [cell.name for cell in ALL_CELLS]
EVALUATED = [cell for cell in ALL_CELLS if cell.evaluated]

# Every test here reads the shared run of the whole DVC pipeline (or drives a browser): the slow subset.
pytestmark = pytest.mark.slow


def _cells(row: str) -> tuple[str, ...]:
    """A Markdown table row's cells without the padding, which depends on the widest cell of its table."""
    return tuple(cell.strip() for cell in row.strip().strip("|").split("|"))


def _declared_outputs(root) -> list[str]:
    """Every output path of dvc.yaml with the matrix expanded, as DVC recorded them in dvc.lock."""
    lock = yaml.safe_load((root / "dvc.lock").read_text())
    return [out["path"] for stage in lock["stages"].values() for out in stage.get("outs", [])]


def test_repro_runs_every_stage_of_every_cell(pipeline_run):
    root, result = pipeline_run
    names = [f"generate@{d}" for d in TINY["sweep"]["data_type"]]
    names += [f"generate_capacity@{n}" for n in TINY["capacity"]["examples_per_class"]]
    names += [f"generate_real@{d}" for d in TINY["realdata"]["dataset"]]
    names += [f"baseline_real@{d}" for d in TINY["realdata"]["dataset"]]
    names += [stage for c in ALL_CELLS for stage in c.stages]
    names += [f"probe@{key}" for key in TINY["probe"]["grid"]] + [f"probe_real@{key}" for key in TINY["probe"]["real"]]
    names += ["report"]
    for name in names:
        assert f"Running stage '{name}'" in result.stdout, name


def test_every_declared_output_exists(pipeline_run):
    root, _ = pipeline_run
    outputs = _declared_outputs(root)
    generated = (len(TINY["sweep"]["data_type"]) + len(TINY["capacity"]["examples_per_class"])
                 + 2 * len(TINY["realdata"]["dataset"]))
    probed = len(TINY["probe"]["grid"]) + len(TINY["probe"]["real"])
    # generate, generate_capacity, generate_real + baseline_real; train: results + wall time; evaluate: results + wall
    # time; probe: results, recording and wall time; report's five and its metrics file
    assert len(outputs) == generated + 2 * len(ALL_CELLS) + 2 * len(EVALUATED) + 3 * probed + 6
    for path in outputs:
        assert (root / path).exists(), path


def test_training_prints_progress_per_epoch(pipeline_run):
    _, result = pipeline_run
    for cell in ALL_CELLS:  # the chunks family trains longer: as many optimizer steps as its reference bptt
        assert f"[{cell.name}] epoch {cell.epochs}/{cell.epochs}  update-pass loss" in result.stdout


def test_second_repro_is_up_to_date(pipeline_run):
    root, _ = pipeline_run
    status = run([*DVC, "status", "--json"], root)
    assert json.loads(status.stdout) == {}
    again = run([*DVC, "repro"], root)
    assert "Running stage" not in again.stdout


def _without_timing(lock: dict) -> dict:
    """dvc.lock without the hashes of the wall-time files (outputs of the cells, an input of the report) and of the
    report files that show them (the test compares those files themselves, all but their wall-time part)."""
    shows_timing = ("data/timing", "reports/report.md", "reports/index.html", "reports/tables")
    for stage in lock["stages"].values():
        for kind in ("outs", "deps"):
            stage[kind] = [entry for entry in stage.get(kind, []) if not entry["path"].startswith(shows_timing)]
    return lock


def _without_wall_time_section(text: str) -> str:
    """The report (Markdown or HTML) with its wall times cut out: from the sentence giving their total to the end of
    the table of every cell's, which the citation follows."""
    start = text.index("Training, evaluation and probes of all")
    return text[:start] + text[text.index("Cite this study", start):]


# The families whose cells run the grid's loop at other sizes, learning rates or chunk lengths: the grid's forced
# cell recomputes their code path, so forcing them too would only add process start-ups.
SAME_LOOP_AS_GRID = ("onset", "capacity", "chunks")


def _one_cell_of_each_loop() -> list[str]:
    """The stages that recompute, from its data, one cell of every family with its own code path (the grid's probed
    cell, with its probe; a remedy protocol; the LSTM; the real recordings), and the report."""
    stages = [f"generate@{TINY['sweep']['data_type'][0]}", f"generate_real@{TINY['realdata']['dataset'][0]}"]
    probed = next(iter(TINY["probe"]["grid"]))
    stages += [f"train@{probed}", f"evaluate@{probed}", f"probe@{probed}"]
    for family in FAMILY:
        if family not in ("grid", *SAME_LOOP_AS_GRID):
            stages += next(cell for cell in ALL_CELLS if cell.family == family).stages
    return [*stages, "report"]


def test_forced_rerun_is_byte_identical_except_the_wall_times(pipeline_run):
    """Same parameters, same bytes: every result hash in dvc.lock and every committed report file is unchanged; only
    the wall-time files, their table and the report's wall-time section may differ. One cell of every loop is
    recomputed (data, training, evaluation, probes), then the report: the stages that write results, at a fifth of
    the cost of forcing all of them."""
    root, _ = pipeline_run
    before = {path: (root / path).read_text() for path in ("dvc.lock", "reports/report.md", "reports/index.html")}
    forced = _one_cell_of_each_loop()
    rerun = run([*DVC, "repro", "--force", "--single-item", *forced], root)
    for stage in forced:
        assert f"Running stage '{stage}'" in rerun.stdout, stage
    changed = [line[3:] for line in run(["git", "status", "--porcelain"], root).stdout.splitlines()]
    allowed = {"dvc.lock", "reports/report.md", "reports/index.html", "reports/tables/timing.csv"}
    assert [path for path in changed if path not in allowed] == []
    assert _without_timing(yaml.safe_load((root / "dvc.lock").read_text())) == _without_timing(
        yaml.safe_load(before["dvc.lock"]))
    for path in ("reports/report.md", "reports/index.html"):
        assert "Training, evaluation and probes of all" in before[path]
        assert _without_wall_time_section((root / path).read_text()) == _without_wall_time_section(before[path])
    run(["git", "checkout", "--", "."], root)  # back to the committed state for the tests that follow


def test_wall_time_of_every_cell_is_recorded_and_shown(pipeline_run):
    root, _ = pipeline_run
    timing = pd.read_csv(root / "reports/tables/timing.csv")
    assert timing["cell"].tolist() == CELLS
    assert (timing["training_seconds"] > 0).all() and (timing["seconds_per_epoch"] > 0).all()
    evaluated = timing[timing["cell"].isin([cell.name for cell in EVALUATED])]
    assert (evaluated["evaluation_seconds"] > 0).all()
    assert timing[~timing["cell"].isin(evaluated["cell"])]["evaluation_seconds"].isna().all()
    probed = timing["cell"].isin(probe_cells(parse_params(TINY)))
    assert probed.sum() == 3 and (timing[probed]["probe_seconds"] > 0).all()
    assert timing[~probed]["probe_seconds"].isna().all()
    text = (root / "reports/report.md").read_text()
    for row in timing.itertuples():
        assert re.search(rf"\|\s*`{re.escape(row.cell)}`\s*\|\s*{re.escape(seconds_text(row.training_seconds))}\s*\|",
                         text)


def test_report_tables_hold_one_row_per_cell_and_seed(pipeline_run):
    root, _ = pipeline_run
    # The primary cell has replicates.primary_count seeds, every other replicates.count.
    seeds = {cell.name: cell.replicates for cell in ALL_CELLS}
    assert seeds["grid/SameRandom-Random-10"] == TINY["replicates"]["primary_count"] != TINY["replicates"]["count"]
    table = pd.read_csv(root / "reports/tables/replicates.csv")
    assert table["cell"].tolist() == [name for name in CELLS for _ in range(seeds[name])]
    assert table["replicate"].tolist() == [r for name in CELLS for r in range(seeds[name])]
    epochs = pd.read_csv(root / "reports/tables/epochs.csv")
    assert len(epochs) == sum(cell.epochs * cell.replicates * 2 for cell in ALL_CELLS)
    assert set(epochs["pass"]) == {"update", "frozen"}
    summary = pd.read_csv(root / "reports/tables/summary.csv").dropna(subset=["mean"])
    assert (summary["seeds"] == summary["cell"].map(seeds)).all()


def test_report_opens_with_the_story_figure_and_a_summary_then_the_findings_and_links_every_figure(pipeline_run):
    root, _ = pipeline_run
    text = (root / "reports/report.md").read_text()
    lines = text.splitlines()
    assert next(i for i, line in enumerate(lines, 1) if line.startswith("![")) <= 20  # the story figure, first
    assert "(figures/story.png)" in lines[2]
    assert text.index('<div class="summary">') < text.index("## Findings at a glance")
    assert text.index("## Findings at a glance") < text.index("## In your own training loop") < text.index("## 1.")
    assert text.index("## Methods") < text.index("## Appendix") < text.index("### B. Controls")
    for figure in ["story", "inputs", "loss_per_epoch", "loss_last_epoch", "final_gap", "mechanism", "relearning",
                   "remedies", "onset", "capacity", "capacity_epochs", "real_ACSF1"]:
        assert f"(figures/{figure}.png)" in text and f"[{figure}.csv](figures/{figure}.csv)" in text
        assert (root / "reports/figures" / f"{figure}.png").read_bytes().startswith(b"\x89PNG")
        assert (root / "reports/figures" / f"{figure}.svg").read_text().lstrip().startswith("<?xml")
        assert len(pd.read_csv(root / "reports/figures" / f"{figure}.csv")) > 0
    findings = pd.read_csv(root / "reports/tables/findings.csv")
    assert set(findings["verdict"]) <= {"holds", "does not hold", "inconclusive", "not tested", "not in this run"}
    primary = findings["family"] == "primary"
    assert primary.tolist() == sorted(primary.tolist(), reverse=True)  # primary ones first
    assert (findings["adjusted_p"].dropna() >= findings.loc[findings["adjusted_p"].notna(), "p_value"]).all()
    glance = text[text.index("## Findings at a glance"):text.index("## In your own training loop")]
    for finding in findings.itertuples():  # every finding measured here, its claim and its computed verdict
        if finding.verdict != "not in this run":
            row = rf"\|\s*{re.escape(finding.claim)}\s*\|\s*{re.escape(badge(finding.verdict))}\s*\|"
            assert re.search(row, glance), finding.claim
        assert f"`{finding.key}`" in text[text.index("### A. Every finding"):]
    controls = pd.read_csv(root / "reports/tables/controls.csv")
    assert len(controls) and set(controls["check"]) <= {"passes", "not in this run"}  # no control fails
    # The numbers are the pipeline's: the headline's update-pass accuracy as the summary table holds it.
    summary = pd.read_csv(root / "reports/tables/summary.csv")
    row = summary[(summary["cell"] == "grid/SameRandom-Random-10") & (summary["metric"] == "update_pass_accuracy")]
    assert f"{row['mean'].item():.2f} [{row['low'].item():.2f}, {row['high'].item():.2f}]" in text


def test_the_readme_blocks_are_the_reports_summary_and_table_of_primary_findings(pipeline_run):
    root, _ = pipeline_run
    readme, report = (root / "README.md").read_text(), (root / "reports/report.md").read_text()
    block = readme[readme.index("<!-- primary findings"):readme.index("<!-- end of primary findings -->")]
    rows = [line for line in block.splitlines() if line.startswith("|")][2:]
    findings = pd.read_csv(root / "reports/tables/findings.csv")
    measured = findings[(findings["family"] == "primary") & (findings["verdict"] != "not in this run")]
    assert len(rows) == len(measured) > 0
    glance = report[report.index("## Findings at a glance"):report.index("## In your own training loop")]
    glance_rows = {_cells(line) for line in glance.splitlines() if line.startswith("|")}
    assert all(_cells(row) in glance_rows for row in rows)  # the same rows: the front door never shows stale numbers
    # And its answer is the report's plain summary, written by the same stage.
    answer = readme[readme.index("<!-- answer: written by the report stage -->"):readme.index("<!-- end of answer -->")]
    summary = report[report.index('<div class="summary">'):report.index("</div>")].removeprefix('<div class="summary">')
    assert summary.strip() and answer.splitlines()[2:] == [summary.strip()]


def test_no_interval_in_the_report_or_its_tables_leaves_the_range_of_its_quantity(pipeline_run):
    root, _ = pipeline_run
    summary = pd.read_csv(root / "reports/tables/summary.csv").dropna(subset=["low"])
    accuracy = summary["metric"].str.endswith("accuracy")
    assert (summary.loc[accuracy, "low"] >= 0).all() and (summary.loc[accuracy, "high"] <= 1).all()
    losses = summary["metric"].str.endswith("loss")
    assert (summary.loc[losses, "low"] >= 0).all()
    differences = summary["metric"].str.endswith("accuracy_gap")
    assert (summary.loc[differences, "low"] >= -1).all() and (summary.loc[differences, "high"] <= 1).all()


def test_the_html_page_holds_the_report_with_every_figure_embedded(pipeline_run):
    root, _ = pipeline_run
    page = (root / "reports/index.html").read_text()
    embedded = page.count("data:image/png;base64,") + page.count("data:image/webp;base64,")
    assert embedded == len(list((root / "reports/figures").glob("*.png"))) == 14
    assert "src=\"figures/" not in page and "http://" not in page.replace("http://www.w3.org", "")
    assert "Findings at a glance" in page and "PyTorch" in page


def test_metrics_and_plots_are_declared_for_dvc(pipeline_run):
    root, _ = pipeline_run
    metrics = json.loads(run([*DVC, "metrics", "show", "--json"], root).stdout)
    files = next(iter(metrics.values()))["data"]
    assert sorted(files) == ["reports/findings.json"]  # the study's findings; per-cell numbers stay files
    findings = files["reports/findings.json"]["data"]
    written = json.loads((root / "reports/findings.json").read_text())
    table = pd.read_csv(root / "reports/tables/findings.csv")
    primary = table[(table["family"] == "primary") & (table["verdict"] != "not in this run")]
    assert set(written) == {"verdicts", *primary["key"]}
    assert written["verdicts"] == {word.replace(" ", "_"): int((table["verdict"] == word).sum())
                                   for word in ("holds", "does not hold", "inconclusive", "not tested")}
    # A finding with no number (not tested) shows no column; one with a number shows its estimate and verdict code.
    numbered = {key for key, values in written.items() if key != "verdicts" and values["estimate"] is not None}
    assert set(findings) == {"verdicts", *numbered}
    assert all((root / f"data/evaluate/{cell.name}.json").is_file() for cell in EVALUATED)
    plots = json.loads(run([*DVC, "plots", "show", "--json"], root).stdout)
    assert not plots.get("errors")
    grid = [cell.key for cell in ALL_CELLS if cell.family == "grid"]
    assert {f"reports/plots/loss_per_epoch/{key}.csv" for key in grid} <= set(plots["data"])


def test_report_is_committed_everything_else_is_ignored(pipeline_run):
    root, _ = pipeline_run
    tracked = run(["git", "ls-files"], root).stdout.split()
    assert "reports/report.md" in tracked and "reports/index.html" in tracked and "dvc.lock" in tracked
    # Under data/ git holds only the notes that keep the report's input folders present; every result is DVC's.
    assert [path for path in tracked if path.startswith("data/")] == ["data/baseline/README.md", "data/probe/README.md"]


@pytest.mark.parametrize("key, value", [("sweep.data_type", "[SameRandom,Ones]"), ("sweep.bptt_size", "[7]"),
                                        ("remedies.protocol", "[per_sequence,truncated]")])
def test_bad_params_stop_repro_before_any_output(tmp_path, key, value):
    root = make_project(tmp_path / "repo", copy.deepcopy(TINY))
    params = yaml.safe_load((root / "params.yaml").read_text())
    section, name = key.split(".")
    params[section][name] = yaml.safe_load(value)
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    result = run([*DVC, "repro"], root, check=False)
    assert result.returncode != 0
    assert key in result.stdout + result.stderr
    assert not (root / "data").exists() or not any((root / "data").rglob("*.npy"))
    # reports/ holds only the committed notes of the profiles' folders: no report, table or figure was written.
    written = [p for p in (root / "reports").rglob("*") if p.is_file() and p.name != "README.md"]
    assert written == []


def test_changing_the_learning_rate_invalidates_only_what_depends_on_it(pipeline_run):
    # `dvc status` after the edit names the stages a run would redo, without paying for the run.
    root, _ = pipeline_run
    params_file = root / "params.yaml"
    original = params_file.read_text()
    params = yaml.safe_load(original)
    params["train"]["learning_rate"] = 0.001
    params_file.write_text(yaml.safe_dump(params, sort_keys=False))
    try:
        status = json.loads(run([*DVC, "status", "--json"], root).stdout)
    finally:
        params_file.write_text(original)
    # Stages whose dependencies changed: the ones a run would redo.
    stale = {name for name, changes in status.items()
             if any(isinstance(change, dict) and "changed deps" in change for change in changes)}
    assert not [name for name in stale if name.startswith("generate")]
    for cell in ALL_CELLS:
        stage = cell.stages[0]
        # The onset map and the capacity axis set their own learning rates; every other cell trains at
        # train.learning_rate.
        assert (stage in stale) == (cell.family not in ("onset", "capacity")), stage
    assert "report" in stale


def test_real_data_section_holds_the_pipelines_numbers(pipeline_run):
    root, _ = pipeline_run
    text = (root / "reports/report.md").read_text()
    section = " ".join(text[text.index("## 4. Real recordings"):text.index("## 5. Where the gap lives")].split())
    assert "10 classes (chance: accuracy 0.10, loss 2.303 nats)" in section  # the number of classes from the data
    summary = pd.read_csv(root / "reports/tables/summary.csv")
    row = summary[(summary["cell"] == "real/ACSF1-per_chunk-Random") & (summary["metric"] == "heldout_accuracy")]
    assert f"{row['mean'].item():.2f} [{row['low'].item():.2f}, {row['high'].item():.2f}]" in section
    findings = pd.read_csv(root / "reports/tables/findings.csv").set_index("key")
    gap = findings.loc["real_ACSF1_gap"]
    assert gap["family"] == "primary"
    # The gap is quoted with the finding's verdict; a gap whose update pass never fitted is not quoted at all.
    quoted = ("–" if gap["verdict"] in ("not tested", "not in this run")
              else f"{gap['estimate']:.2f} [{gap['low']:.2f}, {gap['high']:.2f}]")
    assert f"a gap of {quoted} ({gap['verdict']})" in section
    # The tiny run has no zero-state real cell: those findings say so rather than guess.
    assert set(findings.loc[["real_ACSF1_zeros_gap", "real_ACSF1_zeros_generalises"], "verdict"]) == {
        "not in this run"}
    heldout = pd.read_csv(root / "reports/figures/real_ACSF1.csv")
    assert set(heldout["cell"]) == {"real/ACSF1-per_chunk-Random"}
    # The baselines the baseline_real stage computed on the same split, quoted with their exact intervals.
    baseline = json.loads((root / "data/baseline/ACSF1.json").read_text())
    for name in ("nearest_neighbour", "majority_class"):
        score = baseline[name]
        assert f"{score['accuracy']:.2f} [{score['low']:.2f}, {score['high']:.2f}]" in section
    assert "1-nearest-neighbour, Euclidean" in section
    # Beside them, a cited published score of a strong method, and the archive's own 1-NN as a passing control.
    assert "ROCKET" in text and "0.886" in text and "doi:10.1007/s10618-020-00701-z" in text
    controls = pd.read_csv(root / "reports/tables/controls.csv")
    archive = controls[controls["title"].str.contains("scores what the archive publishes")]
    assert archive["check"].tolist() == ["passes"]


def test_the_gap_splits_into_parts_that_add_up_seed_by_seed_and_the_report_shows_them(pipeline_run):
    root, _ = pipeline_run
    replicates = pd.read_csv(root / "reports/tables/replicates.csv")
    evaluated = replicates[replicates["family"] != "onset"]
    # Tables carry 6 significant digits, so the parts add up to the gap within that rounding.
    assert ((evaluated["replay_recovery"] + evaluated["within_epoch_accuracy_gap"] - evaluated["accuracy_gap"]).abs()
            < 1e-5).all()
    assert ((evaluated["state_loss_gap"] + evaluated["within_epoch_loss_gap"] - evaluated["gap"]).abs() < 1e-4).all()
    fixed = evaluated[evaluated["initial_state_type"] == "Zeros"]
    assert len(fixed) and (fixed["replay_recovery"] == 0).all() and (fixed["state_loss_gap"] == 0).all()
    text = (root / "reports/report.md").read_text()
    appendix = text[text.index("### D. Every cell"):text.index("### E. More figures")]
    for cell in decomposition_cells(parse_params(TINY)):
        assert appendix.count(f"| `{cell}`") >= 2  # its row among its family's cells, and in the decomposition


def test_the_within_epoch_part_splits_into_stale_state_and_last_update_for_every_probed_cell(pipeline_run):
    root, _ = pipeline_run
    replicates = pd.read_csv(root / "reports/tables/replicates.csv")
    probed = replicates[replicates["cell"].isin(probe_cells(parse_params(TINY)))]
    assert set(probed["cell"]) == set(probe_cells(parse_params(TINY)))
    assert ((probed["stale_state_part"] + probed["last_update_part"] - probed["within_epoch_accuracy_gap"]).abs()
            < 1e-5).all()
    assert replicates[~replicates["cell"].isin(probed["cell"])]["stale_state_part"].isna().all()
    differences = ["replay_loss_difference", "replay_weights_difference", "recording_loss_difference"]
    assert (probed[differences] == 0).all().all()
    text = (root / "reports/report.md").read_text()
    section = text[text.index("## 5. Where the gap lives"):text.index("## 6. How many states")]
    statistics = text[text.index("### A. Every finding"):text.index("### B. Controls")]
    for cell in probe_cells(parse_params(TINY)):
        key = "stale_state_" + cell.replace("/", "_").replace("-", "_")
        assert f"`{key}`" in statistics  # the Staleness finding of every probed cell
        assert f"`{cell}`: the last epoch, replayed from the start that training kept" in text  # its control
    assert "(figures/lags.png)" in section and "(figures/decomposition.png)" in section
    lags = pd.read_csv(root / "reports/figures/lags.csv")
    assert sorted(lags["lag"].unique()) == [0, *TINY["probe"]["lags"]]


def test_what_closes_the_gap_has_a_row_per_protocol_with_its_verdict_and_cost(pipeline_run):
    root, _ = pipeline_run
    text = (root / "reports/report.md").read_text()
    section = text[text.index("## 3. What closes the gap"):text.index("## 4. Real recordings")]
    rows = [line for line in section.splitlines() if line.startswith("| ") and "---" not in line][1:]
    protocols = TINY["remedies"]["protocol"]
    assert len(rows) == 1 + len(protocols) * len(TINY["remedies"]["initial_state_type"]) + 2  # + learned, zeros
    words = ("the problem", "closes it", "does not close it", "gap below the margin", "undecided", "not tested",
             "not in this run")
    assert all(any(f"| {word} " in row for word in words) for row in rows)
    # The tiny run trains the write-up's loop on real data with random states only; the others say so.
    assert sum("not run on real data" in row for row in rows) == len(rows) - 1


# Keep this test last among those that use the shared run: `dvc exp run` leaves its outputs in the workspace.
def test_an_ablation_of_a_report_setting_reruns_only_the_report_and_exp_show_compares_the_findings(pipeline_run):
    root, _ = pipeline_run
    result = run([*DVC, "exp", "run", "--set-param", "report.relearn_loss=0.2"], root)
    assert "Running stage 'report'" in result.stdout
    assert not [line for line in result.stdout.splitlines() if line.startswith("Running stage")
                and "'report'" not in line]
    shown = run([*DVC, "exp", "show", "--csv"], root).stdout
    rows = list(csv.DictReader(io.StringIO(shown)))
    header = list(rows[0])
    findings = json.loads((root / "reports/findings.json").read_text())
    metric_columns = [column for column in header if column.split(".")[0] in findings]
    numbered = {f"{key}.{field}" for key, values in findings.items() if key != "verdicts"
                for field, value in values.items() if value is not None}
    assert numbered <= set(metric_columns)
    assert {"verdicts.holds", "verdicts.inconclusive", "verdicts.not_tested"} <= set(metric_columns)
    # No per-cell metrics: only the findings file's few columns beside the parameters and dependencies.
    assert not [column for column in header if "update_pass_loss" in column or "heldout_accuracy" in column]
    assert len(metric_columns) <= 36
    assert {row["report.relearn_loss"] for row in rows} >= {"0.3", "0.2"}  # the baseline and the experiment


def test_capacity_section_has_a_row_per_size_and_its_two_findings(pipeline_run):
    root, _ = pipeline_run
    text = (root / "reports/report.md").read_text()
    section = text[text.index("## 6. How many states"):text.index("## 7. Chunk length")]
    bound = 2 * TINY["capacity"]["hidden_size"]
    for per_class in TINY["capacity"]["examples_per_class"]:
        assert f"| {2 * per_class} " in section and f"| {2 * per_class / bound:g} " in section
    findings = pd.read_csv(root / "reports/tables/findings.csv")
    assert {"capacity_persists", "capacity_shrinks"} <= set(findings["key"])
    scores = pd.read_csv(root / "reports/figures/capacity.csv")
    assert sorted(scores["sequences"].unique()) == [2 * n for n in TINY["capacity"]["examples_per_class"]]
