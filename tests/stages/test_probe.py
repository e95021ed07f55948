"""Stage `probe`: the replay of the last epoch is the run it describes, the recording reproduces the logged losses,
swapping the initial states of identical sequences swaps their predictions, and with weights that do not move the
carried state is the weights' own state and older weights are the same weights."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from stages.core.data import generate_dataset
from stages.core.files import LAST_EPOCH_START
from stages.core.params import ParamsError, find_cell, parse_params, probe_cells
from stages.learning.model import build_model, initial_states
from stages.learning.runtime import EVALUATION_STATES, TRAINING_STATES, replicate_seeds, state_generators
from stages.learning.tbptt import pass_settings, run_pass
from stages.probe import pair_swap, probe_cell
from stages.train import save_cell, train_cell

PROBED = "grid/DiffDistRandom-Zeros-10"
SWAPPED = "grid/SameRandom-Random-10"


def _trained(raw: dict, name: str):
    params = parse_params(raw)
    cell = find_cell(params, name)
    splits = generate_dataset(params.data, cell.data_type, cell.replicates)
    result = train_cell(params, cell, splits["train"], log=lambda line: None)
    return params, cell, splits, result


def _probe(params, cell, splits, result, start=None):
    saved = {name: value.detach().clone() for name, value in result.model.state_dict().items()}
    return probe_cell(params, cell, start or result.last_epoch_start, saved, result.update_losses[-1],
                      splits["train"], splits["heldout"], torch.device("cpu"))


def test_only_the_probed_cells_keep_the_start_of_their_last_epoch(tmp_path, tiny_raw):
    params, cell, _, result = _trained(tiny_raw, PROBED)
    save_cell(result, params, cell, tmp_path / "probed")
    assert (tmp_path / "probed" / LAST_EPOCH_START).is_file()
    params, cell, _, result = _trained(tiny_raw, "grid/SameRandom-Zeros-10")
    assert cell.name not in probe_cells(params) and result.last_epoch_start is None
    save_cell(result, params, cell, tmp_path / "other")
    assert not (tmp_path / "other" / LAST_EPOCH_START).exists()


@pytest.mark.parametrize("name", [PROBED, SWAPPED])
def test_the_replay_reproduces_every_logged_loss_the_final_weights_and_the_recording(tiny_raw, name):
    results, recording = _probe(*_trained(tiny_raw, name))
    assert results["exactness"] == {"update_loss_max_difference": 0.0, "final_weights_max_difference": 0.0,
                                    "recording_loss_max_difference": 0.0}
    assert recording["logits"].shape[:2] == (results["updates"], len(results["final_step"]["update"]["accuracy"]))


def test_a_replay_from_another_start_is_caught_by_the_exactness_check(tiny_raw):
    params, cell, splits, result = _trained(tiny_raw, PROBED)
    start = copy.deepcopy(result.last_epoch_start)
    start["model"]["weight_hh_l0"] += 1e-3
    results, _ = _probe(params, cell, splits, result, start)
    assert all(value > 1e-6 for value in results["exactness"].values())


def test_the_replayed_update_pass_scores_what_training_logged_at_the_last_chunk(tiny_raw):
    params, cell, splits, result = _trained(tiny_raw, PROBED)
    results, _ = _probe(params, cell, splits, result)
    last = result.epochs[result.epochs["epoch"] == cell.epochs].sort_values("replicate")
    assert results["final_step"]["update"]["accuracy"] == pytest.approx(last["update_pass_accuracy"].tolist())
    assert results["final_step"]["update"]["loss"] == pytest.approx(last["update_pass_final_step_loss"].tolist())


def test_swapping_the_initial_states_of_a_pair_of_identical_sequences_swaps_their_predictions(tiny_raw):
    """A constructed pair: the two classes of `SameRandom` are the same input, so each sequence run from its
    partner's initial state is its partner, to the bit."""
    params = parse_params(tiny_raw)
    cell = find_cell(params, SWAPPED)
    model = build_model(params, cell, 2, torch.device("cpu"))
    inputs = torch.from_numpy(generate_dataset(params.data, "SameRandom", cell.replicates)["train"].inputs)
    per_class = params.data.examples_per_class
    assert torch.equal(inputs[:, :per_class], inputs[:, per_class:])
    states = initial_states("Random", model=model, batch=2 * per_class, device=torch.device("cpu"),
                            generators=state_generators(replicate_seeds(params, TRAINING_STATES, cell.replicates)))
    swap = pair_swap(per_class)
    with torch.no_grad():
        logits, _ = model(inputs, states, every_step=False)
        swapped, _ = model(inputs, states[:, :, swap], every_step=False)
    assert torch.equal(swapped, logits[:, swap])
    assert not torch.equal(swapped, logits)


def test_the_swapped_trajectory_scores_one_minus_the_update_pass(tiny_raw):
    results, _ = _probe(*_trained(tiny_raw, SWAPPED))
    final = results["final_step"]
    assert np.add(final["trajectory_swapped"]["accuracy"], final["update"]["accuracy"]) == pytest.approx(1.0)


def test_with_weights_that_do_not_move_the_carried_state_is_their_own_and_age_changes_nothing(tiny_raw):
    params, cell, splits, result = _trained(tiny_raw, SWAPPED)
    start = copy.deepcopy(result.last_epoch_start)
    for group in start["optimizer"]["param_groups"]:
        group["lr"] = 0.0
    results, _ = _probe(params, cell, splits, result, start)
    own = results["own_state"]
    assert own["own"]["accuracy"] == pytest.approx(own["update"]["accuracy"])
    assert own["own"]["loss"] == pytest.approx(own["update"]["loss"], rel=1e-5)
    assert max(own["relative_state_distance"]) < 1e-5
    lags = results["lags"]
    for lag in tiny_raw["probe"]["lags"]:
        assert lags[str(lag)]["loss"] == pytest.approx(lags["0"]["loss"], rel=1e-6)
    # The same weights along the whole trajectory: the own state at the last chunk is the update pass's.
    assert results["final_step"]["own_state"]["loss"] == pytest.approx(results["final_step"]["update"]["loss"],
                                                                       rel=1e-5)


def test_with_weights_that_do_not_move_each_trajectory_is_a_frozen_pass_from_its_own_states(tiny_raw):
    """The trajectories run each chunk with the weights of its update; when those never change, a trajectory is the
    frozen pass of those weights from the same initial states, on the training or the held-out sequences."""
    params, cell, splits, result = _trained(tiny_raw, SWAPPED)
    start = copy.deepcopy(result.last_epoch_start)
    for group in start["optimizer"]["param_groups"]:
        group["lr"] = 0.0
    results, _ = _probe(params, cell, splits, result, start)
    model = build_model(params, cell, 2, torch.device("cpu"))
    model.load_state_dict(start["model"])
    # The probe draws its fresh states in this order: training sequences, then held-out ones.
    generators = state_generators(replicate_seeds(params, EVALUATION_STATES, cell.replicates, root=params.probe.seed))
    draw = lambda split: initial_states("Random", model=model, batch=splits[split].labels.shape[1],  # noqa: E731
                                        generators=generators, device=torch.device("cpu"))
    starts = {"trajectory_fresh": ("train", draw("train")), "trajectory_heldout": ("heldout", draw("heldout"))}
    starts["trajectory_zero"] = ("train", torch.zeros_like(starts["trajectory_fresh"][1]))
    with torch.no_grad():
        for name, (split, states) in starts.items():
            frozen = run_pass(model, torch.from_numpy(splits[split].inputs), torch.from_numpy(splits[split].labels),
                              lambda batch, s=states: s, pass_settings(params, cell))
            assert results["chunk"][name]["loss"] == pytest.approx(frozen.mean_loss.tolist(), rel=1e-5), name
            assert results["final_step"][name]["loss"] == pytest.approx(frozen.final_step_loss.tolist(),
                                                                        rel=1e-5), name


def test_weights_that_move_leave_a_carried_state_that_differs_from_their_own(tiny_raw):
    tiny_raw["train"]["learning_rate"] = 0.05
    results, _ = _probe(*_trained(tiny_raw, SWAPPED))
    assert min(results["own_state"]["relative_state_distance"]) > 1e-4


@pytest.mark.parametrize("edit, message", [
    (lambda raw: raw["probe"]["grid"].update({"Nowhere-Random-10": "SameRandom"}), "probe.grid: 'Nowhere-Random-10'"),
    (lambda raw: raw["probe"]["grid"].update({"SameRandom-Random-10": "DiffDistRandom"}),
     "probe.grid.SameRandom-Random-10: the cell reads 'SameRandom'"),
    (lambda raw: raw["probe"].update({"grid": []}), "probe.grid: expected a mapping"),
    (lambda raw: raw["probe"].update({"lags": [0]}), "probe.lags: must be > 0"),
    (lambda raw: raw["probe"].update({"every": 0}), "probe.every: must be > 0"),
])
def test_bad_probe_parameters_are_refused_naming_the_key(tiny_raw, edit, message):
    edit(tiny_raw)
    with pytest.raises(ParamsError, match=message.replace(".", r"\.")):
        parse_params(tiny_raw)


def test_a_run_may_probe_no_cell_of_a_family(tiny_raw):
    tiny_raw["probe"]["real"] = {}
    assert probe_cells(parse_params(tiny_raw)) == ["grid/SameRandom-Random-10", "grid/DiffDistRandom-Zeros-10"]


def test_lags_as_long_as_the_epoch_are_refused_before_the_replay(tiny_raw):
    params, cell, splits, result = _trained(tiny_raw, PROBED)
    tiny_raw["probe"]["lags"] = [4]  # 40 steps in chunks of 10: 4 updates per epoch
    with pytest.raises(ParamsError, match="probe.lags: 4 updates"):
        _probe(parse_params(tiny_raw), cell, splits, result)
