"""An interrupted cell resumes from its last finished epoch and ends exactly where an uninterrupted run ends."""

from __future__ import annotations

import copy
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import psutil
import pytest
import torch
from conftest import TINY, dvc_env, make_project, run

from stages.core.data import generate_dataset
from stages.core.params import find_cell, parse_params
from stages.train import train_cell

CELL_NAME = "grid/SameRandom-Random-10"


class Interrupted(Exception):
    pass


def _stop_after(epoch: int):
    def log(line: str) -> None:
        if f"epoch {epoch}/" in line:  # printed after the epoch's checkpoint is saved
            raise Interrupted(line)
    return log


def _setup(raw: dict, name: str = CELL_NAME):
    raw["train"]["epochs"] = 4
    params = parse_params(raw)
    cell = find_cell(params, name)
    return params, cell, generate_dataset(params.data, cell.data_type, cell.replicates)["train"]


# interleaved: its schedule generator must resume too; Learned: the trainable state is part of the weights.
@pytest.mark.parametrize("name", [CELL_NAME, "remedy/interleaved-SameRandom-Random"])
def test_resumed_run_equals_uninterrupted_run(tmp_path, tiny_raw, name):
    params, CELL, sequences = _setup(tiny_raw, name)
    reference = train_cell(params, CELL, sequences, log=lambda line: None)
    checkpoint = tmp_path / "cell.pt"
    with pytest.raises(Interrupted):
        train_cell(params, CELL, sequences, log=_stop_after(2), checkpoint=checkpoint)
    assert torch.load(checkpoint, weights_only=True)["epoch"] == 2
    lines = []
    resumed = train_cell(params, CELL, sequences, log=lines.append, checkpoint=checkpoint)
    assert "resuming after epoch 2" in lines[0]
    assert [line.split()[2] for line in lines[1:]] == ["3/4", "4/4"]  # only the missing epochs ran
    pd.testing.assert_frame_equal(resumed.epochs, reference.epochs)
    pd.testing.assert_frame_equal(resumed.last_epoch, reference.last_epoch)
    np.testing.assert_array_equal(resumed.update_losses, reference.update_losses)
    for key, tensor in reference.model.state_dict().items():
        assert torch.equal(resumed.model.state_dict()[key], tensor), key
    for mine, theirs in zip(resumed.last_update_states, reference.last_update_states):
        assert torch.equal(mine, theirs)


def test_a_checkpoint_for_other_parameters_is_ignored(tmp_path, tiny_raw):
    params, CELL, sequences = _setup(tiny_raw)
    checkpoint = tmp_path / "cell.pt"
    with pytest.raises(Interrupted):
        train_cell(params, CELL, sequences, log=_stop_after(2), checkpoint=checkpoint)
    tiny_raw["train"]["learning_rate"] = 0.02
    changed = parse_params(tiny_raw)
    lines = []
    result = train_cell(changed, CELL, sequences, log=lines.append, checkpoint=checkpoint)
    assert "ignoring" in lines[0] and "epoch 1/4" in lines[1]
    pd.testing.assert_frame_equal(result.epochs, train_cell(changed, CELL, sequences, log=lambda line: None).epochs)


@pytest.mark.slow
def test_killed_training_leaves_no_output_and_repro_resumes(tmp_path):
    """SIGKILL the training process that `dvc repro` started; nothing is cached as complete; a rerun resumes."""
    raw = copy.deepcopy(TINY)
    raw["data"]["seq_size"], raw["train"]["epochs"], raw["model"]["hidden_size"] = 400, 40, 32
    raw["sweep"] = {"data_type": ["SameRandom"], "initial_state_type": ["Random"], "bptt_size": [10]}
    raw["remedies"]["data_type"] = raw["architecture"]["data_type"] = ["SameRandom"]
    raw["probe"]["grid"] = {"SameRandom-Random-10": "SameRandom"}
    root = make_project(tmp_path / "repo", raw)
    params = parse_params(raw)
    CELL = find_cell(params, CELL_NAME)
    target = f"train@{CELL.key}"
    repro = subprocess.Popen([sys.executable, "-m", "dvc", "repro", target], cwd=root, env=dvc_env(root),
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seen, deadline = [], time.monotonic() + 120
    for line in repro.stdout:
        seen.append(line)
        if "epoch 3/40" in line or time.monotonic() > deadline:
            break
    trainers = [p for p in psutil.Process(repro.pid).children(recursive=True)
                if "stages.train" in " ".join(p.cmdline())]
    assert trainers, "".join(seen)
    for process in trainers:
        process.send_signal(signal.SIGKILL)
    repro.communicate(timeout=60)
    assert repro.returncode != 0
    assert not (root / "data/train" / CELL.name).exists()
    assert not list((root / "data").rglob("*.partial"))
    assert target in run([sys.executable, "-m", "dvc", "status", target], root).stdout  # not up to date

    rerun = run([sys.executable, "-m", "dvc", "repro", target], root)
    resumed_after = int(rerun.stdout.split("resuming after epoch ")[1].split()[0])
    assert resumed_after >= 3
    assert f"epoch {resumed_after}/40" not in rerun.stdout
    assert not (root / "data/checkpoints" / f"{CELL.name}.pt").exists()  # removed once the cell completed
    assert "up to date" in run([sys.executable, "-m", "dvc", "status", target], root).stdout

    sequences = generate_dataset(params.data, CELL.data_type, CELL.replicates)["train"]
    reference = train_cell(params, CELL, sequences, log=lambda l: None)
    written = pd.read_csv(root / "data/train" / CELL.name / "epochs.csv")
    np.testing.assert_allclose(written.drop(columns="epoch").to_numpy(),
                               reference.epochs.drop(columns="epoch").to_numpy(), rtol=1e-5, atol=1e-7)
