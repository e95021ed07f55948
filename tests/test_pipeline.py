"""The whole DVC pipeline on tiny parameters, in a temporary git repository: one shared run, many checks."""

from __future__ import annotations

import copy
import json
import sys

import pandas as pd
import pytest
import yaml

from conftest import TINY, make_project, run
from stages.params import cells, parse_params
from stages.report import seconds_text
from stages.sweep import EVALUATE_STAGE, TRAIN_STAGE  # the stage names of each family, as dvc.yaml spells them

DVC = [sys.executable, "-m", "dvc"]
ALL_CELLS = cells(parse_params(TINY))
CELLS = [cell.name for cell in ALL_CELLS]
EVALUATED = [cell for cell in ALL_CELLS if cell.family in EVALUATE_STAGE]


def _declared_outputs(root) -> list[str]:
    """Every output path of dvc.yaml with the matrix expanded, as DVC recorded them in dvc.lock."""
    lock = yaml.safe_load((root / "dvc.lock").read_text())
    return [out["path"] for stage in lock["stages"].values() for out in stage.get("outs", [])]


def test_repro_runs_every_stage_of_every_cell(pipeline_run):
    root, result = pipeline_run
    names = [f"generate@{d}" for d in TINY["sweep"]["data_type"]]
    names += [f"generate_real@{d}" for d in TINY["realdata"]["dataset"]]
    names += [f"{TRAIN_STAGE[c.family]}@{c.key}" for c in ALL_CELLS]
    names += [f"{EVALUATE_STAGE[c.family]}@{c.key}" for c in EVALUATED] + ["report"]
    for name in names:
        assert f"Running stage '{name}'" in result.stdout, name


def test_every_declared_output_exists(pipeline_run):
    root, _ = pipeline_run
    outputs = _declared_outputs(root)
    generated = len(TINY["sweep"]["data_type"]) + len(TINY["realdata"]["dataset"])
    # generate; train: results + wall time; evaluate: metrics + wall time; report's five
    assert len(outputs) == generated + 2 * len(ALL_CELLS) + 2 * len(EVALUATED) + 5
    for path in outputs:
        assert (root / path).exists(), path


def test_training_prints_progress_per_epoch(pipeline_run):
    _, result = pipeline_run
    for cell in CELLS:
        assert f"[{cell}] epoch {TINY['train']['epochs']}/{TINY['train']['epochs']}" in result.stdout


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
    """The report with its wall-time section cut out (Markdown heading or HTML heading up to the next section)."""
    for start, end in (("## Wall time per cell", "\n## "), ("Wall time per cell</h2>", "<h2")):
        if start in text:
            head, _, tail = text.partition(start)
            text = head + (end + tail.partition(end)[2] if end in tail else "")
    return text


def test_forced_rerun_is_byte_identical_except_the_wall_times(pipeline_run):
    """Same parameters, same bytes: every result hash in dvc.lock and every committed report file is unchanged; only
    the wall-time files, their table and the report's wall-time section may differ."""
    root, _ = pipeline_run
    before = {path: (root / path).read_text() for path in ("dvc.lock", "reports/report.md", "reports/index.html")}
    rerun = run([*DVC, "repro", "--force"], root)
    assert "Running stage 'report'" in rerun.stdout
    changed = [line[3:] for line in run(["git", "status", "--porcelain"], root).stdout.splitlines()]
    allowed = {"dvc.lock", "reports/report.md", "reports/index.html", "reports/tables/timing.csv"}
    assert [path for path in changed if path not in allowed] == []
    assert _without_timing(yaml.safe_load((root / "dvc.lock").read_text())) == _without_timing(
        yaml.safe_load(before["dvc.lock"]))
    for path in ("reports/report.md", "reports/index.html"):
        assert "Wall time per cell" in before[path]
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
    text = (root / "reports/report.md").read_text()
    for row in timing.itertuples():
        assert f"| `{row.cell}` | {seconds_text(row.training_seconds)} |" in text


def test_report_tables_hold_one_row_per_cell_and_seed(pipeline_run):
    root, _ = pipeline_run
    seeds = TINY["replicates"]["count"]
    table = pd.read_csv(root / "reports/tables/replicates.csv")
    assert table["cell"].tolist() == [name for name in CELLS for _ in range(seeds)]
    assert table["replicate"].tolist() == list(range(seeds)) * len(CELLS)
    epochs = pd.read_csv(root / "reports/tables/epochs.csv")
    assert len(epochs) == len(CELLS) * TINY["train"]["epochs"] * seeds * 2
    assert set(epochs["pass"]) == {"update", "frozen"}
    summary = pd.read_csv(root / "reports/tables/summary.csv")
    assert (summary.dropna(subset=["mean"])["seeds"] == seeds).all()


def test_report_opens_with_the_claims_table_and_embeds_every_figure(pipeline_run):
    root, _ = pipeline_run
    text = (root / "reports/report.md").read_text()
    assert text.index("## Claims") < text.index("## 1.")
    for figure in ["inputs", "loss_per_epoch", "loss_last_epoch", "final_gap", "mechanism", "relearning", "remedies",
                   "onset", "real_ACSF1"]:
        assert f"(figures/{figure}.png)" in text
        assert (root / "reports/figures" / f"{figure}.png").read_bytes().startswith(b"\x89PNG")
        assert (root / "reports/figures" / f"{figure}.svg").read_text().lstrip().startswith("<?xml")
        assert len(pd.read_csv(root / "reports/figures" / f"{figure}.csv")) > 0
    claims = pd.read_csv(root / "reports/tables/claims.csv")
    assert set(claims["verdict"]) <= {"holds", "does not hold", "inconclusive", "not in this run"}
    for claim in claims.itertuples():  # every claim and its computed verdict appear in the Markdown
        assert f"| {claim.title} | **{claim.verdict}** |" in text
    # The numbers are the pipeline's: the headline cell's mean frozen loss is printed as the summary holds it.
    summary = pd.read_csv(root / "reports/tables/summary.csv")
    row = summary[(summary["cell"] == "grid/SameRandom-Random-10") & (summary["metric"] == "frozen_pass_loss")]
    assert f"frozen loss {row['mean'].item():.3f} [{row['low'].item():.3f}, {row['high'].item():.3f}]" in text


def test_the_html_page_holds_the_report_with_every_figure_embedded(pipeline_run):
    root, _ = pipeline_run
    page = (root / "reports/index.html").read_text()
    assert page.count("data:image/png;base64,") == 9
    assert "src=\"figures/" not in page and "http://" not in page.replace("http://www.w3.org", "")
    assert "Claims" in page and "PyTorch" in page


def test_metrics_and_plots_are_declared_for_dvc(pipeline_run):
    root, _ = pipeline_run
    metrics = json.loads(run([*DVC, "metrics", "show", "--json"], root).stdout)
    files = next(iter(metrics.values()))["data"]
    assert sorted(files) == sorted(f"data/evaluate/{cell.name}.json" for cell in EVALUATED)
    plots = json.loads(run([*DVC, "plots", "show", "--json"], root).stdout)
    assert not plots.get("errors")
    grid = [cell.key for cell in ALL_CELLS if cell.family == "grid"]
    assert {f"reports/plots/loss_per_epoch/{key}.csv" for key in grid} <= set(plots["data"])


def test_report_is_committed_everything_else_is_ignored(pipeline_run):
    root, _ = pipeline_run
    tracked = run(["git", "ls-files"], root).stdout.split()
    assert "reports/report.md" in tracked and "reports/index.html" in tracked and "dvc.lock" in tracked
    assert not [path for path in tracked if path.startswith("data/")]


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
    assert not (root / "reports").exists()


# Keep this test last in the file: `dvc exp run` leaves the new experiment's outputs in the shared workspace.
def test_changing_the_learning_rate_reruns_only_what_depends_on_it(pipeline_run):
    root, _ = pipeline_run
    result = run([*DVC, "exp", "run", "--set-param", "train.learning_rate=0.001"], root)
    assert "Running stage 'generate@" not in result.stdout
    for cell in ALL_CELLS:
        if cell.family == "onset":  # the onset map sets its own learning rates
            assert f"Running stage 'onset@{cell.key}'" not in result.stdout
        else:
            assert f"Running stage '{TRAIN_STAGE[cell.family]}@{cell.key}'" in result.stdout
    assert "Running stage 'report'" in result.stdout
    shown = run([*DVC, "exp", "show", "--json"], root)
    assert "0.001" in shown.stdout


def test_real_data_section_holds_the_pipelines_numbers(pipeline_run):
    root, _ = pipeline_run
    text = (root / "reports/report.md").read_text()
    assert text.index("## 5. Real recordings") < text.index("## 6. Every cell")
    assert "ln 10 = 2.303" in text and "1/10 = 0.10" in text  # the number of classes comes from the data
    summary = pd.read_csv(root / "reports/tables/summary.csv")
    for metric, digits in (("gap", 3), ("heldout_accuracy", 2)):
        row = summary[(summary["cell"] == "real/ACSF1-per_chunk-Random") & (summary["metric"] == metric)]
        assert f"{row['mean'].item():.{digits}f} [{row['low'].item():.{digits}f}, {row['high'].item():.{digits}f}]" in text
    claims = pd.read_csv(root / "reports/tables/claims.csv")
    real = claims[claims["title"].str.startswith("Real recordings (ACSF1)")]
    assert len(real) == 3
    # The tiny run has no zero-state real cell: those claims say so rather than guess.
    assert real["verdict"].tolist()[1:] == ["not in this run", "not in this run"]
    heldout = pd.read_csv(root / "reports/figures/real_ACSF1.csv")
    assert set(heldout["cell"]) == {"real/ACSF1-per_chunk-Random"}
