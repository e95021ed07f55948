"""Training a cell: reproducible, reports progress, saves weights that evaluation loads safely."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from stages.data import generate_dataset
from stages.evaluate import evaluate_cell, load_model
from stages.io import write_table
from stages.params import Cell, ParamsError, parse_params
from stages.tbptt import NonFiniteLoss
from stages.train import save_cell, train_cell

CELL = Cell("SameRandom", "Random", 10)


def _train(raw: dict, cell: Cell = CELL, log=lambda line: None):
    params = parse_params(raw)
    sequences = generate_dataset(params.data, cell.data_type)["train"]
    return params, train_cell(params, cell, sequences, log=log)


def test_same_seed_gives_identical_results(tiny_raw):
    _, first = _train(tiny_raw)
    _, again = _train(tiny_raw)
    pd.testing.assert_frame_equal(first.epochs, again.epochs)
    pd.testing.assert_frame_equal(first.last_epoch, again.last_epoch)
    for name, tensor in first.model.state_dict().items():
        assert torch.equal(tensor, again.model.state_dict()[name])


def test_another_training_seed_gives_other_results(tiny_raw):
    _, first = _train(tiny_raw)
    tiny_raw["train"]["seed"] = 5
    _, other = _train(tiny_raw)
    assert not first.epochs["update_pass_loss"].equals(other.epochs["update_pass_loss"])


def test_records_both_passes_every_epoch_and_every_chunk_of_the_last(tiny_raw):
    params, result = _train(tiny_raw)
    epochs, chunks = params.train.epochs, params.data.seq_size // CELL.bptt_size
    assert result.epochs["epoch"].tolist() == list(range(1, epochs + 1))
    assert (result.epochs["updates"] == chunks).all()
    assert result.epochs.notna().all().all()
    assert sorted(result.last_epoch["pass"].unique()) == ["frozen", "update"]
    assert len(result.last_epoch) == 2 * chunks
    # The epoch's mean update-pass loss is the mean of the last epoch's per-update losses.
    updates = result.last_epoch[result.last_epoch["pass"] == "update"]["loss"]
    assert updates.mean() == pytest.approx(result.epochs["update_pass_loss"].iloc[-1], rel=1e-5)


def test_prints_a_progress_line_per_epoch_with_both_losses_and_time_left(tiny_raw):
    lines = []
    _train(tiny_raw, log=lines.append)
    assert len(lines) == tiny_raw["train"]["epochs"]
    assert "epoch 1/2" in lines[0] and "update-pass loss" in lines[0] and "frozen-pass loss" in lines[0]
    assert lines[-1].endswith("s left")


def test_non_finite_loss_names_cell_epoch_and_update(tiny_raw):
    params = parse_params(tiny_raw)
    sequences = generate_dataset(params.data, CELL.data_type)["train"]
    sequences.inputs[0, 25, 0] = float("nan")  # step 25 lies in the third chunk of 10 steps
    with pytest.raises(NonFiniteLoss, match=r"cell SameRandom-Random-10, epoch 1, update pass: loss is nan at update 3 of 4"):
        train_cell(params, CELL, sequences, log=lambda line: None)


def test_saved_weights_load_safely_and_evaluate(tmp_path, tiny_raw):
    params, result = _train(tiny_raw)
    folder = tmp_path / "cell"
    save_cell(result, params, CELL, folder)
    assert sorted(p.name for p in folder.iterdir()) == ["epochs.csv", "last_epoch.csv", "model.pt"]
    model = load_model(folder / "model.pt", params, torch.device("cpu"))
    for name, tensor in result.model.state_dict().items():
        assert torch.equal(tensor, model.state_dict()[name])
    splits = generate_dataset(params.data, CELL.data_type)
    metrics = evaluate_cell(params, CELL, model, splits, pd.read_csv(folder / "epochs.csv"))
    assert set(metrics) == {"last_epoch", "train", "heldout"}
    assert 0 <= metrics["heldout"]["accuracy"] <= 1


def test_weights_that_do_not_match_the_parameters_are_refused(tmp_path, tiny_raw):
    params, result = _train(tiny_raw)
    save_cell(result, params, CELL, tmp_path / "cell")
    tiny_raw["model"]["hidden_size"] = 16
    with pytest.raises(ParamsError, match="hidden_size=8"):
        load_model(tmp_path / "cell" / "model.pt", parse_params(tiny_raw), torch.device("cpu"))


def test_a_failing_write_leaves_no_output(tmp_path):
    target = tmp_path / "table.csv"

    class Broken(pd.DataFrame):
        def to_csv(self, *args, **kwargs):
            super().to_csv(*args, **kwargs)
            raise OSError("disk full")

    with pytest.raises(OSError):
        write_table(target, Broken({"a": [1, 2]}))
    assert list(tmp_path.iterdir()) == []


# Losses of two tiny cells recorded before any speed work (commit 91eaccd): optimisations of the trainer must leave
# them unchanged up to float rounding.
REFERENCE_LOSSES = {
    Cell("SameRandom", "Random", 10): (
        [0.6933151384194692, 0.6934781769911448, 0.6933085024356842],
        [0.6934789419174194, 0.6932544310887655, 0.6931802531083425],
    ),
    Cell("DiffDistRandom", "Zeros", 20): (
        [0.6856028040250143, 0.6657043894131979, 0.6395726005236307],
        [0.6736156145731608, 0.6504979133605957, 0.617929478486379],
    ),
}


@pytest.mark.parametrize("cell", list(REFERENCE_LOSSES), ids=lambda cell: cell.name)
def test_same_seed_gives_the_losses_recorded_before_the_speed_work(tiny_raw, cell):
    tiny_raw["data"]["seq_size"], tiny_raw["train"]["epochs"] = 60, 3
    tiny_raw["sweep"]["data_type"] = [cell.data_type]
    _, result = _train(tiny_raw, cell)
    updating, frozen = REFERENCE_LOSSES[cell]
    assert result.epochs["update_pass_loss"].tolist() == pytest.approx(updating, rel=1e-5, abs=1e-6)
    assert result.epochs["frozen_pass_loss"].tolist() == pytest.approx(frozen, rel=1e-5, abs=1e-6)
