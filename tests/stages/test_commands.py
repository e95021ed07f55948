"""Every stage's command checks its parameters and inputs before any work: bad input exits with 2 and a message
naming the key or the missing file, and writes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from stages import baseline, evaluate, generate, probe, report, train


def _set(raw: dict, dotted: str, value) -> dict:
    *parents, last = dotted.split(".")
    node = raw
    for key in parents:
        node = node[key]
    node[last] = value
    return raw


def _write(tmp_path: Path, raw: dict) -> Path:
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


CELL_ARGS = ["--cell", "grid/SameRandom-Random-10"]


def _stage_calls(tmp_path: Path, params: Path) -> dict:
    given = ["--params", str(params), "--root", str(tmp_path / "data")]
    return {
        "generate": (generate.main, [*given, "--data-type", "SameRandom"]),
        "train": (train.main, [*given, *CELL_ARGS]),
        "evaluate": (evaluate.main, [*given, *CELL_ARGS]),
        "report": (report.main, [*given, "--out", str(tmp_path / "out"), "--published", str(tmp_path / "pub")]),
        "probe": (probe.main, [*given, *CELL_ARGS]),
        "baseline": (baseline.main, [*given, "--dataset", "ACSF1"]),
    }


@pytest.mark.parametrize("stage", ["generate", "train", "evaluate", "report", "baseline", "probe"])
def test_every_stage_refuses_bad_params_and_writes_nothing(tmp_path, tiny_raw, capsys, stage):
    params = _write(tmp_path, _set(tiny_raw, "sweep.bptt_size", [7]))
    entry, argv = _stage_calls(tmp_path, params)[stage]
    assert entry(argv) == 2
    assert "sweep.bptt_size" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == [params]


@pytest.mark.parametrize("stage", ["train", "evaluate", "report", "baseline", "probe"])
def test_every_stage_names_a_missing_input_and_writes_nothing(tmp_path, tiny_raw, capsys, stage):
    params = _write(tmp_path, tiny_raw)
    entry, argv = _stage_calls(tmp_path, params)[stage]
    assert entry(argv) == 2
    assert "not found" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == [params]


def test_the_probe_stage_refuses_a_cell_that_is_not_probed(tmp_path, tiny_raw, capsys):
    params = _write(tmp_path, tiny_raw)
    argv = ["--params", str(params), "--cell", "grid/SameRandom-Zeros-10", "--root", str(tmp_path / "data")]
    assert probe.main(argv) == 2
    assert "probe.grid: 'SameRandom-Zeros-10' is not listed" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == [params]


def test_a_cell_outside_the_sweep_is_refused(tmp_path, tiny_raw, capsys):
    params = _write(tmp_path, tiny_raw)
    argv = ["--params", str(params), "--cell", "grid/Zeros-Random-10", "--root", str(tmp_path / "data")]
    assert train.main(argv) == 2
    error = capsys.readouterr().err
    assert "'grid/Zeros-Random-10' is not in params.yaml" in error and "grid/SameRandom-Random-10" in error
