"""Bad parameters stop the study before any work starts, with a message naming the key, and write nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from stages.core.params import FAMILY, ParamsError, cell_name, cells, load_params, parse_params


def test_shipped_params_are_valid():
    params = load_params(Path(__file__).resolve().parents[2] / "params.yaml")
    assert params.sweep.data_type == ("Zeros", "SameRandom", "SameDistRandom", "DiffDistRandom")
    assert set(params.sweep.initial_state_type) == {"Zeros", "Random", "Learned"}
    assert params.replicates.count >= 3  # the floor for intervals
    # Every protocol meets SameRandom and DiffDistRandom with random initial states.
    assert set(params.remedies.protocol) == {"per_sequence", "stateless", "interleaved", "burn_in"}
    assert {"SameRandom", "DiffDistRandom"} <= set(params.remedies.data_type)
    assert "Random" in params.remedies.initial_state_type


def test_tiny_params_parse(tiny_raw):
    params = parse_params(tiny_raw)
    assert params.train.learning_rate == 0.01
    assert params.sweep.bptt_size == (10,)


def _set(raw: dict, dotted: str, value) -> dict:
    *parents, last = dotted.split(".")
    node = raw
    for key in parents:
        node = node[key]
    if value is _DELETE:
        del node[last]
    else:
        node[last] = value
    return raw


_DELETE = object()

BAD = [
    # (key, value, words the message must contain)
    ("sweep.data_type", ["Zeros", "Ones"], ["sweep.data_type", "'Ones'"]),
    ("sweep.initial_state_type", ["Learnt"], ["sweep.initial_state_type", "'Learnt'"]),
    ("remedies.protocol", ["per_chunk"], ["remedies.protocol", "'per_chunk'"]),
    ("remedies.protocol", ["truncated"], ["remedies.protocol", "'truncated'"]),
    ("remedies.data_type", ["SameDistRandom"], ["remedies.data_type", "not generated"]),
    ("remedies.bptt_size", 7, ["remedies.bptt_size", "does not divide"]),
    ("architecture.cell", ["RNN"], ["architecture.cell", "'RNN'"]),
    ("model.cell", "Transformer", ["model.cell", "'Transformer'"]),
    ("onset.hidden_size", [8, -8], ["onset.hidden_size", "> 0"]),
    ("onset.learning_rate", [0.0], ["onset.learning_rate", "> 0"]),
    ("onset.data_type", "Ones", ["onset.data_type", "'Ones'"]),
    ("replicates.count", 1, ["replicates.count", "at least 2"]),
    ("replicates.count", -3, ["replicates.count", "> 0"]),
    ("replicates.confidence", 1.5, ["replicates.confidence", "between 0 and 1"]),
    ("replicates.primary_count", 1, ["replicates.primary_count", "fewer than replicates.count"]),
    ("replicates.primary_cells", ["grid/SameRandom-Random-50"],
     ["replicates.primary_cells", "'grid/SameRandom-Random-50' is not a cell", "grid/SameRandom-Random-10"]),
    ("replicates.primary_cells", ["gird/SameRandom-Random-10"], ["replicates.primary_cells", "families"]),
    ("capacity.examples_per_class", [2, 0], ["capacity.examples_per_class", "> 0"]),
    ("capacity.bptt_size", 15, ["capacity.bptt_size", "does not divide"]),
    ("capacity.data_type", "Ones", ["capacity.data_type", "'Ones'"]),
    ("capacity.epochs", 0, ["capacity.epochs", "> 0"]),
    ("capacity", _DELETE, ["capacity", "missing key"]),
    ("train.interleave_groups", 3, ["train.interleave_groups", "does not divide"]),
    ("train.interleave_groups", 1, ["train.interleave_groups", "at least 2"]),
    ("train.burn_in_steps", -5, ["train.burn_in_steps", "> 0"]),
    ("train.sequences_per_update", -1, ["train.sequences_per_update", ">= 0"]),
    ("sweep.data_type", [], ["sweep.data_type", "non-empty list"]),
    ("probe.lags", [], ["probe.lags", "non-empty list"]),
    ("train.loss_on", "first", ["train.loss_on", "'first'"]),
    ("train.device", "tpu", ["train.device"]),
    ("train.learning_rte", 0.1, ["train.learning_rte", "unknown key"]),
    ("model.hiden_size", 3, ["model.hiden_size", "unknown key"]),
    ("train.epochs", _DELETE, ["train.epochs", "missing key"]),
    ("data", _DELETE, ["data", "missing key"]),
    ("data.examples_per_class", -4, ["data.examples_per_class", "> 0"]),
    ("data.seq_size", 0, ["data.seq_size", "> 0"]),
    ("model.hidden_size", 0, ["model.hidden_size", "> 0"]),
    ("train.learning_rate", -0.1, ["train.learning_rate", "> 0"]),
    ("train.weight_decay", -1.0, ["train.weight_decay", ">= 0"]),
    ("train.learning_rate", float("nan"), ["train.learning_rate", "finite"]),
    ("sweep.bptt_size", [10, 80], ["sweep.bptt_size", "80", "longer than data.seq_size"]),
    ("sweep.bptt_size", [10, 15], ["sweep.bptt_size", "15", "does not divide"]),
    ("sweep.bptt_size", [-10], ["sweep.bptt_size", "> 0"]),
    ("sweep.bptt_size", [], ["sweep.bptt_size", "non-empty list"]),
    ("sweep.bptt_size", 10, ["sweep.bptt_size", "list"]),
    ("sweep.bptt_size", [10, 10], ["sweep.bptt_size", "repeated"]),
    ("train.epochs", "ten", ["train.epochs", "expected int"]),
    ("train.epochs", 2.5, ["train.epochs", "expected int"]),
    ("train.epochs", True, ["train.epochs", "expected int"]),
    ("train.flush_denormal", 1, ["train.flush_denormal", "true or false"]),
    ("model", [8], ["model", "mapping"]),
    ("realdata.dataset", ["GunPoint"], ["realdata.dataset", "'GunPoint'", "ACSF1"]),
    ("realdata.protocol", ["truncated"], ["realdata.protocol", "'truncated'"]),
    ("realdata.initial_state_type", ["Ones"], ["realdata.initial_state_type", "'Ones'"]),
    ("realdata.bptt_size", 30, ["realdata.bptt_size", "30 does not divide the length of ACSF1 (1460)"]),
    ("realdata.bptt_size", 2920, ["realdata.bptt_size", "longer than the length of ACSF1"]),
    ("realdata.bptt_size", -10, ["realdata.bptt_size", "> 0"]),
    ("realdata", _DELETE, ["realdata", "missing key"]),
]


FAMILY_AXES = [("remedy", "remedies.protocol"), ("architecture", "architecture.cell"), ("onset", "onset.hidden_size"),
                ("capacity", "capacity.examples_per_class"), ("real", "realdata.dataset")]


@pytest.mark.parametrize("family, key", FAMILY_AXES, ids=[key for _, key in FAMILY_AXES])
def test_an_empty_family_axis_leaves_that_family_out(tiny_raw, family, key):
    tiny_raw["probe"]["real"] = {}  # a probed cell must exist, so a run without real data probes none of it
    params = parse_params(_set(tiny_raw, key, []))
    assert cells(params, family) == []
    assert cells(params, "grid")  # the other families keep their cells


def test_a_family_left_out_asks_for_no_data_mode():
    raw = yaml.safe_load((Path(__file__).resolve().parents[2] / "params.yaml").read_text())
    raw["sweep"]["data_type"] = ["SameRandom"]
    for family_axis in ("remedies.protocol", "architecture.cell", "onset.hidden_size"):
        _set(raw, family_axis, [])
    raw["capacity"]["examples_per_class"] = []
    raw["replicates"]["primary_cells"] = ["grid/SameRandom-Random-10"]
    raw["probe"]["grid"] = {"SameRandom-Random-10": "SameRandom"}
    grid_cells = len(raw["sweep"]["initial_state_type"]) * len(raw["sweep"]["bptt_size"])  # one data mode left
    assert [cell.family for cell in cells(parse_params(raw))].count("grid") == grid_cells


@pytest.mark.parametrize("key, value, words", BAD, ids=[f"{k}={v!r}" for k, v, _ in BAD])
def test_bad_value_is_rejected_naming_the_key(tiny_raw, key, value, words):
    with pytest.raises(ParamsError) as error:
        parse_params(_set(tiny_raw, key, value))
    for word in words:
        assert word in str(error.value)


def test_interleaving_real_data_needs_groups_that_divide_its_classes(tiny_raw):
    # 4 groups divide the toy study's 4 sequences per class, not ACSF1's 10.
    raw = _set(_set(tiny_raw, "realdata.protocol", ["interleaved"]), "train.interleave_groups", 4)
    raw = _set(raw, "probe.real", {})  # the probes follow per_chunk cells only
    with pytest.raises(ParamsError, match="train.interleave_groups: 4 does not divide the training sequences per "
                                          r"class of ACSF1 \(10\)"):
        parse_params(raw)
    parse_params(_set(raw, "train.interleave_groups", 2))


def test_missing_params_file_is_named(tmp_path):
    with pytest.raises(ParamsError, match="missing.yaml: parameter file not found"):
        load_params(tmp_path / "missing.yaml")


def test_invalid_yaml_is_reported(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("data: [unclosed\n")
    with pytest.raises(ParamsError, match="not valid YAML"):
        load_params(path)


def test_cells_follow_dvc_matrix_order_and_names(tiny_raw):
    params = parse_params(tiny_raw)
    assert [cell.name for cell in cells(params, "grid")] == [
        "grid/SameRandom-Zeros-10", "grid/SameRandom-Random-10", "grid/DiffDistRandom-Zeros-10",
        "grid/DiffDistRandom-Random-10",
    ]
    assert [cell.name for cell in cells(params, "remedy")] == [
        "remedy/per_sequence-SameRandom-Random", "remedy/per_sequence-DiffDistRandom-Random",
        "remedy/interleaved-SameRandom-Random", "remedy/interleaved-DiffDistRandom-Random",
    ]
    assert [cell.name for cell in cells(params, "architecture")] == ["architecture/LSTM-SameRandom-Random"]
    assert [cell.name for cell in cells(params, "onset")] == ["onset/8-0.01"]
    assert [cell.name for cell in cells(params, "real")] == ["real/ACSF1-per_chunk-Random"]
    assert all(cell.protocol == "per_chunk" for cell in cells(params, "grid"))
    assert cells(params, "onset")[0].hidden_size == 8 and cells(params, "onset")[0].learning_rate == 0.01


def test_cell_names_built_from_settings_are_the_names_of_the_cells(tiny_raw):
    params = parse_params(tiny_raw)
    for cell in cells(params):
        axes = {axis: getattr(cell, axis) for axis in FAMILY[cell.family].axes}
        assert cell_name(cell.family, **axes) == cell.name


@pytest.mark.parametrize("family, axes", [
    ("grid", {"data_type": "SameRandm", "initial_state_type": "Random", "bptt_size": 10}),  # misspelt mode
    ("grid", {"data_type": "SameRandom", "initial_state_type": "Random"}),  # an axis missing
    ("remedies", {"protocol": "stateless", "data_type": "SameRandom", "initial_state_type": "Random"}),
    ("remedy", {"protocol": "per_chunk", "data_type": "SameRandom", "initial_state_type": "Random"}),
])
def test_a_misspelt_cell_fails_loudly_instead_of_reading_as_absent(family, axes):
    with pytest.raises(ValueError, match="cell_name"):
        cell_name(family, **axes)


def test_primary_cells_train_more_seeds_and_the_rest_keep_the_count(tiny_raw):
    params = parse_params(tiny_raw)
    seeds = {cell.name: cell.replicates for cell in cells(params)}
    assert seeds.pop("grid/SameRandom-Random-10") == 3
    assert set(seeds.values()) == {2}


def test_capacity_cells_carry_their_own_size_and_epochs(tiny_raw):
    params = parse_params(tiny_raw)
    axis = cells(params, "capacity")
    assert [cell.name for cell in axis] == ["capacity/2", "capacity/8"]
    assert [cell.examples_per_class for cell in axis] == [2, 8]
    assert {(cell.hidden_size, cell.epochs, cell.data_type, cell.initial_state_type) for cell in axis} == {
        (4, 2, "SameRandom", "Random")}
    assert all(cell.examples_per_class == 4 and cell.epochs == 2 for cell in cells(params, "grid"))
