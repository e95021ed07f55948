"""The sweep spread over machines through a shared DVC remote and the run-cache (`tools.sweep`).

Two worker clones each reproduce half of the tiny sweep and push it; a third clone, the coordinator, then runs
`dvc repro --pull` and must restore every cell instead of training it, and only build the report.
"""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import TINY, dvc_env, make_project, run

from stages.core.params import cells, parse_params
from tools import sweep

DVC = [sys.executable, "-m", "dvc"]
SWEEP = [sys.executable, "-m", "tools.sweep"]
CELLS = cells(parse_params(TINY))  # every family: grid, remedy, architecture and onset (which has no evaluation)


def _tiny() -> dict:
    return copy.deepcopy(TINY)


@pytest.fixture
def params_file(tmp_path) -> Path:
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(_tiny(), sort_keys=False))
    return path


def test_list_prints_train_and_evaluate_stage_of_every_cell(params_file, capsys):
    assert sweep.main(["list", "--params", str(params_file)]) == 0
    expected = []
    for cell in CELLS:
        expected += sweep.stages_of(cell)
    assert capsys.readouterr().out.split() == expected
    assert "train@SameRandom-Zeros-10" in expected and "evaluate_remedy@per_sequence-SameRandom-Random" in expected
    assert "onset@8-0.01" in expected and not any(name.startswith("evaluate@8") for name in expected)


def test_dry_run_shows_the_round_robin_share_and_the_push(params_file, capsys):
    assert sweep.main(["run", "--params", str(params_file), "--share", "1", "--of", "3", "--remote", "store",
                       "--dry-run"]) == 0
    out = capsys.readouterr().out
    mine = CELLS[1::3]  # round robin: cells 1, 4, 7, ...
    for number, cell in enumerate(mine, 1):
        assert f"cell {number}/{len(mine)}: {cell.name}" in out
        assert f"repro --pull {sweep.stages_of(cell)[-1]}" in out
    finals = " ".join(sweep.stages_of(cell)[-1] for cell in mine)
    assert f"push --run-cache --with-deps {finals} --remote store" in out
    assert f": {CELLS[0].name}" not in out and f": {CELLS[2].name}" not in out


@pytest.mark.parametrize("args, named", [
    (["run", "--share", "2", "--of", "2"], "--share"),
    (["run", "--share", "-1", "--of", "2"], "--share"),
    (["run", "--share", "0", "--of", "0"], "--of"),
    (["run", "--share", "zero", "--of", "2"], "--share"),
    (["run", "--share", "0", "--of", "1", "--params", "missing.yaml"], "--params"),
    (["list", "--params", "missing.yaml"], "--params"),
])
def test_bad_arguments_exit_2_naming_the_argument_before_any_dvc_call(args, named, params_file, monkeypatch,
                                                                      capsys):
    def no_dvc(*_, **__):
        raise AssertionError("DVC was called despite a bad argument")

    monkeypatch.setattr(sweep.subprocess, "run", no_dvc)
    if "--params" not in args:
        args = [*args, "--params", str(params_file)]
    try:
        code = sweep.main(args)
    except SystemExit as exit_:  # argparse's own errors (a non-integer) exit directly
        code = exit_.code
    assert code == 2
    assert named in capsys.readouterr().err


def test_bad_share_exits_2_from_the_command_line(params_file):
    result = subprocess.run([*SWEEP, "run", "--share", "3", "--of", "2", "--params", str(params_file)],
                            cwd=Path(sweep.__file__).parents[1], capture_output=True, text=True)
    assert result.returncode == 2
    assert "--share" in result.stderr


def _clone(origin: Path, name: str) -> Path:
    target = origin.parent / name
    run(["git", "clone", "-q", str(origin), str(target)], origin.parent)
    return target


def _one_or_two_cells_a_family() -> dict:
    """The tiny study with one cell of every family (7 of 13): what is under test (the shares, the pushes, the
    run-cache) is the same for every cell, and each cell costs a worker two DVC runs."""
    params = _tiny()
    params["sweep"].update(data_type=["SameRandom"], initial_state_type=["Random"])
    params["remedies"].update(protocol=["interleaved"], data_type=["SameRandom"])
    params["capacity"]["examples_per_class"] = [2]
    params["probe"]["grid"] = {"SameRandom-Random-10": "SameRandom"}
    return params


@pytest.mark.slow
def test_two_workers_fill_the_run_cache_and_the_coordinator_only_reports(tmp_path):
    params = _one_or_two_cells_a_family()
    study = cells(parse_params(params))
    assert {cell.family for cell in study} == {cell.family for cell in CELLS}
    origin = make_project(tmp_path / "origin", params)
    # The remote is a plain folder; its absolute path goes into the committed .dvc/config, so every clone has it.
    run([*DVC, "remote", "add", "-d", "store", str(tmp_path / "store")], origin)
    run(["git", "add", "-A"], origin)
    run(["git", "commit", "-qm", "shared DVC remote"], origin)

    workers = [_clone(origin, f"worker{share}") for share in range(2)]
    processes = [
        # Two workers at once on 2 cores: one thread each (threads change no result, only the time).
        subprocess.Popen([*SWEEP, "run", "--share", str(share), "--of", "2"], cwd=root,
                         env=dvc_env(root) | {"OMP_NUM_THREADS": "1"},
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for share, root in enumerate(workers)
    ]
    outputs = [process.communicate(timeout=600)[0] for process in processes]
    for share, (process, output) in enumerate(zip(processes, outputs)):
        assert process.returncode == 0, output
        mine = study[share::2]
        for cell in study:
            trained = f"Running stage '{sweep.stages_of(cell)[0]}'" in output
            assert trained == (cell in mine), (cell.name, output)
        for number, cell in enumerate(mine, 1):
            assert f"[sweep {share}/2] cell {number}/{len(mine)}: {cell.name}" in output

    coordinator = _clone(origin, "coordinator")
    result = run([*DVC, "repro", "--pull"], coordinator)
    for cell in study:
        for stage in sweep.stages_of(cell):
            assert f"Running stage '{stage}'" not in result.stdout, result.stdout
            assert f"Stage '{stage}' is cached - skipping run" in result.stdout, result.stdout
        # The restored results are the worker's bytes.
        worker = workers[study.index(cell) % 2]
        result_file = f"data/train/{cell.name}/epochs.csv"
        assert (coordinator / result_file).read_bytes() == (worker / result_file).read_bytes()
    assert "Running stage 'report'" in result.stdout
    assert (coordinator / "reports/report.md").is_file()
