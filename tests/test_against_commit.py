"""Timing an earlier commit's trainer beside this tree's: every cell of both trees trains the asked seeds and epochs,
the losses are read from the trainer's own progress line, and the comparison is per seed-epoch (it measures; it
asserts no speed)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from stages import against_commit
from stages.against_commit import compare, last_epoch_losses, with_seeds_and_epochs
from stages.params import load_params

ROOT = Path(__file__).resolve().parents[1]


def test_every_cell_of_this_tree_trains_the_asked_seeds_and_epochs(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text(with_seeds_and_epochs((ROOT / "params.yaml").read_text(), seeds=3, epochs=2))
    params = load_params(path)  # still a valid params file for this tree
    assert params.replicates.count == params.replicates.primary_count == 3
    assert params.train.epochs == 2


def test_a_tree_without_primary_cells_gets_no_such_key():
    earlier = "replicates:\n  count: 3\ntrain:\n  epochs: 10\n  learning_rate: 0.005\n"
    assert yaml.safe_load(with_seeds_and_epochs(earlier, seeds=5, epochs=4)) == {
        "replicates": {"count": 5}, "train": {"epochs": 4, "learning_rate": 0.005}}


def test_the_losses_are_the_last_epochs_as_printed():
    log = "\n".join([
        "[grid/X] epoch 1/2  update-pass loss 0.6951 [0.693-0.698] acc 0.502  frozen-pass loss 0.6929 [0.692-0.693]",
        "[grid/X] epoch 2/2  update-pass loss 0.3147 [0.082-0.693] acc 0.843  frozen-pass loss 3.3278 [0.693-4.9]",
    ])
    assert last_epoch_losses(log) == ("0.3147", "3.3278")
    assert last_epoch_losses("[grid/X] epoch 1/2  update-pass loss 0.6951 frozen-pass loss 0.6929") is None


def _row(code, seeds, per_epoch, losses):
    return {"code": code, "seeds": seeds, "median_seconds_per_seed_epoch": per_epoch / seeds,
            "last_epoch_losses": losses}


def test_the_comparison_is_per_seed_epoch_and_checks_losses_only_at_equal_seed_counts():
    rows = [_row("2d34929", 3, 3.0, ["0.5", "0.7"]), _row("now", 3, 1.5, ["0.5", "0.7"]),
            _row("now", 6, 6.0, ["0.4", "0.8"])]
    assert compare(rows) == [
        {"seeds": 3, "seed_epoch_cost_then_over_now": 2.0, "same_losses_as_then": True},
        {"seeds": 6, "seed_epoch_cost_then_over_now": 1.0, "same_losses_as_then": None},
    ]
    rows[1]["last_epoch_losses"] = ["0.5", "0.71"]
    assert compare(rows)[0]["same_losses_as_then"] is False


@pytest.mark.parametrize("arguments, message", [
    (["no-such-commit-here"], "commit: 'no-such-commit-here' is not a commit of this repository"),
    (["HEAD", "--epochs", "0"], "--epochs must be positive"),
    (["HEAD", "--now-seeds", "3", "0"], "--now-seeds: every seed count must be positive"),
    (["HEAD", "--cell", "remedy/stateless-SameRandom-Random"], "--cell: 'remedy/stateless-SameRandom-Random' is not"),
])
def test_bad_input_is_refused_by_name_before_any_checkout(arguments, message, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(against_commit, "worktree", lambda *args: pytest.fail("checked out despite bad input"))
    with pytest.raises(SystemExit) as exit_info:
        against_commit.main([*arguments, "--out", "/nonexistent/never-written.json"])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
