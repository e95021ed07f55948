"""The cost floor counts the steps the pipeline runs, at the shapes it runs them (it measures; it asserts no speed)."""

from __future__ import annotations

import copy
import json

import pandas as pd
import pytest
import torch
from conftest import TINY
from tiny_passes import BATCH, FEATURES, REPLICAS, STEPS, _model, _run, _still, random_source

from stages.core.params import cells, find_cell, parse_params
from tools import floor

PROTOCOLS = [("per_chunk", {}), ("per_sequence", {}), ("per_sequence", {"sequences_per_update": 3}),
             ("stateless", {}), ("interleaved", {}), ("burn_in", {})]


@pytest.fixture
def params():
    return parse_params(copy.deepcopy(TINY))


@pytest.mark.parametrize(("protocol", "settings"), PROTOCOLS, ids=lambda value: str(value))
def test_a_frozen_pass_feeds_half_of_an_epochs_steps_under_every_protocol(protocol, settings):
    # The floor's premise for the evaluation passes: frozen steps = (with gradient + without) / 2 over one epoch.
    torch.manual_seed(0)
    model, inputs = _model(), torch.randn(REPLICAS, BATCH, STEPS, FEATURES)
    labels = torch.tensor([[0] * (BATCH // 2) + [1] * (BATCH // 2)] * REPLICAS)
    updating = _run(model, inputs, labels, random_source(model), protocol, optimizer=_still(model), **settings)
    frozen = _run(model, inputs, labels, random_source(model), protocol, **settings)
    with_gradient = updating.steps_with_gradient + frozen.steps_with_gradient
    without_gradient = updating.steps_without_gradient + frozen.steps_without_gradient
    assert frozen.steps_with_gradient == 0
    assert frozen.steps_without_gradient == (with_gradient + without_gradient) / 2


def test_update_rows_follow_the_protocol(params):
    per_chunk = find_cell(params, "grid/SameRandom-Random-10")
    interleaved = find_cell(params, "remedy/interleaved-SameRandom-Random")
    assert floor.update_rows(params, per_chunk, 8) == 8
    assert floor.update_rows(params, interleaved, 8) == 8 // params.train.interleave_groups
    minibatched = parse_params({**copy.deepcopy(TINY), "train": {**TINY["train"], "sequences_per_update": 3}})
    per_sequence = find_cell(minibatched, "remedy/per_sequence-SameRandom-Random")
    assert floor.update_rows(minibatched, per_sequence, 8) == 3
    assert floor.update_rows(params, find_cell(params, "remedy/per_sequence-SameRandom-Random"), 8) == 8


def test_step_counts_of_the_write_ups_loop_with_random_states(params):
    cell = find_cell(params, "grid/SameRandom-Random-10")
    train, heldout = floor.sequence_counts(params, cell)
    assert (train, heldout) == (2 * TINY["data"]["examples_per_class"], 2 * TINY["data"]["heldout_examples_per_class"])
    steps = train * TINY["data"]["seq_size"]  # one epoch's update pass, and its frozen pass, of one seed
    counts = floor.step_counts(params, cell, steps, steps)
    epochs, draws = TINY["train"]["epochs"], TINY["evaluate"]["draws"]
    assert counts[("train", train)] == 3 * steps * epochs + steps * epochs  # backward counts twice its forward
    # replayed and zero states, then the draws of fresh states side by side, then the held-out sequences
    assert counts[("evaluate", train)] == 2 * steps
    assert counts[("evaluate", train * draws)] == draws * steps
    assert counts[("evaluate", heldout)] == steps * heldout / train


def test_zero_states_take_one_draw_and_onset_cells_no_evaluation(params):
    zero = find_cell(params, "grid/SameRandom-Zeros-10")
    train, _ = floor.sequence_counts(params, zero)
    counts = floor.step_counts(params, zero, 100, 100)
    assert counts[("evaluate", train)] == 3 * 100  # replayed, fresh (one draw of zeros) and zero states
    onset = cells(params, "onset")[0]
    assert {part for part, _ in floor.step_counts(params, onset, 100, 100)} == {"train"}


def test_real_cells_count_the_published_split(params):
    cell = cells(params, "real")[0]
    assert floor.sequence_counts(params, cell) == (100, 100)  # ACSF1: 10 classes x 10 recordings, both splits


def _tables(params, seeds: int = 2):
    names = [cell.name for cell in cells(params)]
    replicates = pd.DataFrame([{"cell": name, "replicate": r, "steps_with_gradient": 320,
                                "steps_without_gradient": 320} for name in names for r in range(seeds)])
    timing = pd.DataFrame([{"cell": name, "training_seconds": 2.0, "evaluation_seconds": 1.0, "probe_seconds": None}
                           for name in names])
    return replicates, timing


def _flop_seconds(product: floor.Product) -> float:
    return product.flops * 1e-9  # a machine at 1 GFLOP/s at every shape: the arithmetic, without timing noise


def test_floor_table_has_a_row_per_cell_and_part_with_its_measured_seconds(params):
    replicates, timing = _tables(params)
    table = floor.floor_table(params, replicates, timing, _flop_seconds)
    onset = {cell.name for cell in cells(params, "onset")}
    assert set(table.loc[table["part"] == "train", "cell"]) == set(replicates["cell"])
    assert set(table.loc[table["part"] == "evaluate", "cell"]) == set(replicates["cell"]) - onset
    assert (table["floor_seconds"] > 0).all() and (table["seeds"] == 2).all()
    assert set(table.loc[table["part"] == "train", "measured_seconds"]) == {2.0}
    assert set(table.loc[table["part"] == "evaluate", "measured_seconds"]) == {1.0}


def test_the_floor_of_a_cell_is_its_flops_at_the_products_rate(params):
    replicates, timing = _tables(params)
    table = floor.floor_table(params, replicates, timing, _flop_seconds).set_index(["cell", "part"])
    cell = find_cell(params, "grid/SameRandom-Random-10")
    hidden, features = TINY["model"]["hidden_size"], TINY["data"]["input_size"]
    # 320 sequence-steps per epoch with and without a gradient, 2 epochs, 2 seeds, 3 gates: forward 2 x H x 3H per
    # sequence-step and seed, and the input's product beside it
    per_step = 2 * 2 * hidden * 3 * hidden * (1 + features / hidden) * 1e-9
    assert table.loc[(cell.name, "train"), "floor_seconds"] == pytest.approx((3 * 320 + 320) * 2 * per_step)
    train, heldout = floor.sequence_counts(params, cell)
    evaluation = 320 * (2 + TINY["evaluate"]["draws"] + heldout / train)
    assert table.loc[(cell.name, "evaluate"), "floor_seconds"] == pytest.approx(evaluation * per_step)


def test_tables_of_another_run_are_refused_naming_the_cell(params):
    replicates, timing = _tables(params)
    replicates.loc[0, "cell"] = "grid/Zeros-Learned-999"
    with pytest.raises(floor.ParamsError, match="grid/Zeros-Learned-999"):
        floor.floor_table(params, replicates, timing, _flop_seconds)


def test_product_flops_count_one_multiply_add_as_two():
    product = floor.Product(replicas=2, rows=3, hidden=4, gates=3)
    assert product.flops == 2 * 2 * 3 * 4 * 12
    assert floor.product_seconds(product, min_seconds=1e-4) > 0


def test_cli_prints_the_families_and_writes_its_json(tmp_path, capsys, params):
    (tmp_path / "params.yaml").write_text(json.dumps(TINY))  # JSON is YAML
    replicates, timing = _tables(params)
    replicates.to_csv(tmp_path / "replicates.csv", index=False)
    timing.to_csv(tmp_path / "timing.csv", index=False)
    out = tmp_path / "floor.json"
    assert floor.main(["--params", str(tmp_path / "params.yaml"), "--tables", str(tmp_path), "--wall", "100",
                       "--min-seconds", "0.0001", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert {row["family"] for row in result["families"]} == {cell.family for cell in cells(params)}
    summary = result["summary"]
    assert summary["outside_seconds"] == pytest.approx(100 - summary["measured_seconds"], rel=1e-5)
    assert "floor/measured" in capsys.readouterr().out


def test_cli_names_a_missing_table_and_writes_nothing(tmp_path, capsys):
    (tmp_path / "params.yaml").write_text(json.dumps(TINY))
    out = tmp_path / "floor.json"
    assert floor.main(["--params", str(tmp_path / "params.yaml"), "--tables", str(tmp_path), "--out", str(out)]) == 2
    assert "replicates.csv" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize("flag", [["--min-seconds", "0"], ["--wall", "-1"]])
def test_cli_refuses_a_non_positive_setting(flag):
    with pytest.raises(SystemExit):
        floor.main(flag)

