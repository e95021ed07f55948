"""What a rerun reproduced: the lock comparison counts every output by kind, keeps the wall times and the report apart
from the results, and says how far two runs' findings and estimates move."""

from __future__ import annotations

import pandas as pd
import yaml

from tools import lockdiff


def _lock(path, outputs: dict[str, str]):
    stages = {f"stage{i}": {"outs": [{"path": p, "md5": md5}]} for i, (p, md5) in enumerate(outputs.items())}
    path.write_text(yaml.safe_dump({"schema": "2.0", "stages": stages}))
    return path


def test_outputs_are_counted_by_kind_with_the_wall_times_apart_from_the_results(tmp_path, capsys):
    shared = {"data/sequences/Zeros": "1", "data/evaluate/x.json": "3"}
    first = _lock(tmp_path / "a.lock", {**shared, "data/train/grid/X": "2", "data/timing/grid/X.train.json": "4",
                                        "reports/report.md": "5"})
    second = _lock(tmp_path / "b.lock", {**shared, "data/train/grid/X": "9", "data/timing/grid/X.train.json": "8",
                                         "data/probe/grid/X.json": "7"})
    rows = {row["kind"]: row for row in lockdiff.compare(lockdiff.outputs(yaml.safe_load(first.read_text())),
                                                          lockdiff.outputs(yaml.safe_load(second.read_text())))}
    assert (rows["data"]["identical"], rows["training"]["differ"], rows["evaluation"]["identical"]) == (1, 1, 1)
    assert rows["timing (not results)"]["differ"] == 1 and rows["probes"]["only in one"] == 1
    assert lockdiff.main([str(first), str(second), "--list"]) == 0
    printed = capsys.readouterr().out
    assert "| **results, in all** | 2 | 1 | 1 |" in printed  # the timing file and the report are not results
    assert "data/train/grid/X" in printed and "data/timing" not in printed.split("results that differ:")[1]


def test_a_missing_lock_is_named(tmp_path, capsys):
    assert lockdiff.main([str(tmp_path / "absent.lock"), str(tmp_path / "also.lock")]) == 2
    assert "absent.lock" in capsys.readouterr().err


def test_how_far_findings_and_estimates_move(tmp_path):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    pd.DataFrame({"key": ["h", "m"], "verdict": ["holds", "holds"], "estimate": [0.5, 0.3]}).to_csv(a, index=False)
    pd.DataFrame({"key": ["h", "m"], "verdict": ["holds", "inconclusive"], "estimate": [0.45, 0.1]}).to_csv(
        b, index=False)
    text = lockdiff.findings_moves(a, b)
    assert "same verdict: 1; different verdict: 1" in text and "largest 0.200 (m)" in text
    assert "m: holds -> inconclusive" in text
    pd.DataFrame({"cell": ["x", "y"], "metric": ["accuracy_gap"] * 2, "mean": [0.5, 0.2]}).to_csv(a, index=False)
    pd.DataFrame({"cell": ["x", "y"], "metric": ["accuracy_gap"] * 2, "mean": [0.4, 0.2]}).to_csv(b, index=False)
    assert "accuracy_gap: 2 cells, median move 0.050, largest 0.100 (x)" in lockdiff.summary_moves(a, b)
