"""Shared fixtures: tiny parameters, and one tiny run of the whole DVC pipeline shared by every test that needs it."""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
import sys
from pathlib import Path

import matplotlib
import pytest
import torch
import yaml

from stages.learning.runtime import start_vector_math

matplotlib.use("Agg")
# The pipeline's numerics from the test process's first tensor operation on. A stage's entry point refuses to run
# when PyTorch's thread pool was started without flush-to-zero (`runtime.configure_numerics`), which is right for a
# stage's own process; here one test's tensor work would otherwise start the pool and make every later in-process
# call of a stage's `main` fail, so the outcome of a test depended on which tests ran before it. Vector math starts
# from this thread for the same reason as in a stage (`runtime.start_vector_math`): otherwise the first parallel tanh
# of the test process, in whichever test comes first, may compute half its elements imprecisely.
torch.set_flush_denormal(True)
start_vector_math()

REPO = Path(__file__).resolve().parents[1]
# What a clean clone holds that the pipeline needs; DVC itself is initialised fresh in the temporary repository.
PROJECT_FILES = ["stages", "tools", "dvc.yaml", "params.yaml", ".dvcignore", ".gitignore", "pyproject.toml",
                 "CITATION.cff", "README.md",
                 "data/probe/README.md", "data/baseline/README.md", "reports/paper/README.md",
                 "reports/real/README.md", "reports/supplement/README.md", "reports/confirm/README.md"]

TINY = {
    "data": {"input_size": 1, "examples_per_class": 4, "heldout_examples_per_class": 2, "seq_size": 40, "seed": 0},
    "replicates": {"count": 2, "primary_count": 3, "primary_cells": ["grid/SameRandom-Random-10"], "confidence": 0.95},
    "model": {"cell": "GRU", "hidden_size": 8, "num_layers": 1},
    "train": {"epochs": 2, "learning_rate": 0.01, "weight_decay": 0.0, "grad_clip": 1.0, "loss_on": "last",
              "interleave_groups": 2, "burn_in_steps": 15,
              "sequences_per_update": 0, "seed": 0, "device": "cpu", "flush_denormal": True, "log_every": 1},
    "evaluate": {"seed": 1, "draws": 2},
    "sweep": {"data_type": ["SameRandom", "DiffDistRandom"], "initial_state_type": ["Zeros", "Random"],
              "bptt_size": [10]},
    "remedies": {"protocol": ["per_sequence", "interleaved"], "data_type": ["SameRandom", "DiffDistRandom"],
                 "initial_state_type": ["Random"], "bptt_size": 10},
    "architecture": {"cell": ["LSTM"], "data_type": ["SameRandom"], "initial_state_type": ["Random"], "bptt_size": 10},
    "onset": {"hidden_size": [8], "learning_rate": [0.01], "data_type": "SameRandom", "initial_state_type": "Random",
              "bptt_size": 10},
    "capacity": {"examples_per_class": [2, 8], "hidden_size": 4, "learning_rate": 0.01, "epochs": 2,
                 "data_type": "SameRandom", "initial_state_type": "Random", "bptt_size": 10},
    "chunks": {"bptt_size": [20], "reference_bptt": 10, "data_type": "SameRandom", "initial_state_type": "Random"},
    "realdata": {"dataset": ["ACSF1"], "protocol": ["per_chunk"], "initial_state_type": ["Random"], "bptt_size": 73},
    "probe": {"grid": {"SameRandom-Random-10": "SameRandom", "DiffDistRandom-Zeros-10": "DiffDistRandom"},
              "real": {"ACSF1-per_chunk-Random": "ACSF1"}, "every": 2, "lags": [1, 2], "record_every": 2, "seed": 3},
    "report": {"verdict_bptt": 10, "onset_loss": 0.3, "relearn_loss": 0.3, "power": 0.8,
               "sequences_shown": 1, "steps_shown": 20, "figure_dpi": 40,
               "paper_agreement": True, "confirmation": True},
}


@pytest.fixture
def tiny_raw() -> dict:
    """A fresh, mutable copy of the tiny parameters as YAML would load them."""
    return copy.deepcopy(TINY)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


def dvc_env(root: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        # Beside the repository (never committed in it), inside the temporary folder.
        "DVC_SITE_CACHE_DIR": str(root.parent / "dvc-site-cache"),
        "DVC_NO_ANALYTICS": "1",
        "GIT_AUTHOR_NAME": "test", "GIT_AUTHOR_EMAIL": "test@example.invalid",
        "GIT_COMMITTER_NAME": "test", "GIT_COMMITTER_EMAIL": "test@example.invalid",
        # The stages run `python -m ...`: make that the interpreter running the tests.
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
    })
    return env


def run(command: list[str], root: Path, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(command, cwd=root, env=dvc_env(root), capture_output=True, text=True)
    if check and result.returncode:
        raise AssertionError(f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def make_project(root: Path, params: dict) -> Path:
    """A git + DVC repository holding the project's code and the given parameters, with one commit."""
    root.mkdir(parents=True, exist_ok=True)
    for name in PROJECT_FILES:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, root / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, root / name)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run(["git", "init", "-q"], root)
    run([sys.executable, "-m", "dvc", "init", "-q"], root)
    run([sys.executable, "-m", "dvc", "config", "core.analytics", "false"], root)
    run(["git", "add", "-A"], root)
    run(["git", "commit", "-qm", "tiny study"], root)
    return root


@pytest.fixture(scope="session")
def pipeline_run(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """One `dvc repro` of the tiny study, shared by every test that reads pipeline outputs."""
    root = make_project(tmp_path_factory.mktemp("study") / "repo", copy.deepcopy(TINY))
    result = run([sys.executable, "-m", "dvc", "repro"], root)
    run(["git", "add", "-A"], root)
    run(["git", "commit", "-qm", "tiny results"], root)
    return root, result
