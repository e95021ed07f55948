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

DVC = [sys.executable, "-m", "dvc"]
CELLS = [cell.name for cell in cells(parse_params(TINY).sweep)]


def _declared_outputs(root) -> list[str]:
    """Every output path of dvc.yaml with the matrix expanded, as DVC recorded them in dvc.lock."""
    lock = yaml.safe_load((root / "dvc.lock").read_text())
    return [out["path"] for stage in lock["stages"].values() for out in stage.get("outs", [])]


def test_repro_runs_every_stage_of_every_cell(pipeline_run):
    root, result = pipeline_run
    for name in [f"generate@{d}" for d in TINY["sweep"]["data_type"]] + [f"train@{c}" for c in CELLS] + \
            [f"evaluate@{c}" for c in CELLS] + ["report"]:
        assert f"Running stage '{name}'" in result.stdout, name


def test_every_declared_output_exists(pipeline_run):
    root, _ = pipeline_run
    outputs = _declared_outputs(root)
    assert len(outputs) == 2 + 4 + 4 + 4  # generate, train, evaluate, report's four outputs
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


def test_forced_rerun_is_byte_identical(pipeline_run):
    """Same parameters, same bytes: every output hash in dvc.lock and every committed report file is unchanged."""
    root, _ = pipeline_run
    rerun = run([*DVC, "repro", "--force"], root)
    assert "Running stage 'report'" in rerun.stdout
    changed = run(["git", "status", "--porcelain"], root).stdout
    assert changed == "", changed


def test_report_tables_hold_one_row_per_cell_of_the_grid(pipeline_run):
    root, _ = pipeline_run
    table = pd.read_csv(root / "reports/tables/cells.csv")
    names = [f"{r.data_type}-{r.initial_state_type}-{r.bptt_size}" for r in table.itertuples()]
    assert names == CELLS
    epochs = pd.read_csv(root / "reports/tables/epochs.csv")
    assert len(epochs) == len(CELLS) * TINY["train"]["epochs"] * 2
    assert set(epochs["pass"]) == {"update", "frozen"}


def test_report_embeds_every_figure_and_the_findings(pipeline_run):
    root, _ = pipeline_run
    text = (root / "reports/report.md").read_text()
    for figure in ["inputs.png", "loss_per_epoch.png", "loss_last_epoch.png", "final_gap.png"]:
        assert f"(figures/{figure})" in text
        assert (root / "reports/figures" / figure).read_bytes().startswith(b"\x89PNG")
    assert "## Findings" in text and "Verdict:" in text
    # The numbers in the report are the pipeline's: the headline cell's frozen loss appears as written in the table.
    row = pd.read_csv(root / "reports/tables/cells.csv").iloc[1]
    assert f"frozen {row.frozen_pass_loss:.3f}" in text


def test_metrics_and_plots_are_declared_for_dvc(pipeline_run):
    root, _ = pipeline_run
    metrics = json.loads(run([*DVC, "metrics", "show", "--json"], root).stdout)
    files = next(iter(metrics.values()))["data"]
    assert sorted(files) == sorted(f"data/evaluate/{cell}.json" for cell in CELLS)
    plots = json.loads(run([*DVC, "plots", "show", "--json"], root).stdout)
    assert not plots.get("errors")
    assert {f"reports/plots/loss_per_epoch/{cell}.csv" for cell in CELLS} <= set(plots["data"])


def test_report_is_committed_everything_else_is_ignored(pipeline_run):
    root, _ = pipeline_run
    tracked = run(["git", "ls-files"], root).stdout.split()
    assert "reports/report.md" in tracked and "dvc.lock" in tracked
    assert not [path for path in tracked if path.startswith("data/")]


@pytest.mark.parametrize("key, value", [("sweep.data_type", "[SameRandom,Ones]"), ("sweep.bptt_size", "[7]")])
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
    for cell in CELLS:
        assert f"Running stage 'train@{cell}'" in result.stdout
    assert "Running stage 'report'" in result.stdout
    shown = run([*DVC, "exp", "show", "--json"], root)
    assert "0.001" in shown.stdout
