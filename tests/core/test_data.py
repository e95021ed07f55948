"""The four data modes have the properties the write-up gives them."""

from __future__ import annotations

import numpy as np
import pytest

from stages.core.data import cell_sequences, generate_dataset, generate_sequences, load_split, save_dataset
from stages.core.params import ParamsError, data_replicates, find_cell, parse_params


def _make(mode: str, per_class: int = 16, steps: int = 500, seed: int = 0):
    return generate_sequences(mode, examples_per_class=per_class, seq_size=steps, input_size=2,
                              rng=np.random.default_rng(seed))


@pytest.mark.parametrize("mode", ["Zeros", "SameRandom", "SameDistRandom", "DiffDistRandom"])
def test_one_label_per_sequence_balanced_classes(mode):
    sequences = _make(mode)
    assert sequences.inputs.shape == (32, 500, 2) and sequences.inputs.dtype == np.float32
    assert sequences.labels.tolist() == [0] * 16 + [1] * 16


def test_zeros_is_all_zero():
    assert not _make("Zeros").inputs.any()


def test_same_random_repeats_each_sequence_once_per_class():
    sequences = _make("SameRandom")
    class0, class1 = sequences.inputs[:16], sequences.inputs[16:]
    np.testing.assert_array_equal(class0, class1)
    assert len({row.tobytes() for row in class0}) == 16  # the sequences within a class differ


def test_same_dist_random_classes_differ_but_share_a_distribution():
    sequences = _make("SameDistRandom")
    class0, class1 = sequences.inputs[:16], sequences.inputs[16:]
    assert not np.array_equal(class0, class1)
    assert abs(class0.mean() - class1.mean()) < 0.05
    assert abs(class0.std() - 1) < 0.05 and abs(class1.std() - 1) < 0.05


def test_diff_dist_random_shifts_class_one_by_half():
    sequences = _make("DiffDistRandom")
    assert abs(sequences.inputs[:16].mean()) < 0.05
    assert abs(sequences.inputs[16:].mean() - 0.5) < 0.05
    assert abs(sequences.inputs[16:].std() - 1) < 0.05


def test_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="data_type: unknown mode 'Ones'"):
        _make("Ones")


@pytest.mark.parametrize("mode", ["SameRandom", "SameDistRandom", "DiffDistRandom"])
def test_heldout_is_an_independent_draw(tiny_raw, mode):
    dataset = generate_dataset(parse_params(tiny_raw).data, mode, 2)
    train, heldout = dataset["train"], dataset["heldout"]
    assert heldout.inputs.shape[:2] == (2, 2 * tiny_raw["data"]["heldout_examples_per_class"])
    train_rows = {row.tobytes() for replicate in train.inputs for row in replicate}
    assert not any(row.tobytes() in train_rows for replicate in heldout.inputs for row in replicate)


def test_every_replicate_gets_its_own_draw_with_the_same_labels(tiny_raw):
    dataset = generate_dataset(parse_params(tiny_raw).data, "DiffDistRandom", 3)
    train = dataset["train"]
    assert train.inputs.shape == (3, 8, 40, 1) and train.labels.shape == (3, 8)
    assert not np.array_equal(train.inputs[0], train.inputs[1])
    assert (train.labels == train.labels[0]).all()


def test_a_replicates_data_does_not_depend_on_the_replicate_count(tiny_raw):
    data = parse_params(tiny_raw).data
    np.testing.assert_array_equal(generate_dataset(data, "SameRandom", 2)["train"].inputs[1],
                                  generate_dataset(data, "SameRandom", 5)["train"].inputs[1])


def test_same_seed_same_data_other_seed_other_data(tiny_raw):
    first = generate_dataset(parse_params(tiny_raw).data, "DiffDistRandom", 2)
    again = generate_dataset(parse_params(tiny_raw).data, "DiffDistRandom", 2)
    tiny_raw["data"]["seed"] = 1
    other = generate_dataset(parse_params(tiny_raw).data, "DiffDistRandom", 2)
    np.testing.assert_array_equal(first["train"].inputs, again["train"].inputs)
    assert not np.array_equal(first["train"].inputs, other["train"].inputs)


def test_data_with_fewer_seeds_than_the_cell_trains_is_refused(tiny_raw):
    params = parse_params(tiny_raw)
    cell = find_cell(params, "grid/DiffDistRandom-Zeros-10")  # 2 seeds (replicates.count)
    with pytest.raises(ParamsError, match="replicates.count: grid/DiffDistRandom-Zeros-10 trains 2 seeds"):
        cell_sequences(generate_dataset(params.data, "DiffDistRandom", 1)["train"], params, "data/sequences/x", cell)
    primary = find_cell(params, "grid/SameRandom-Random-10")  # 3 seeds (replicates.primary_count)
    with pytest.raises(ParamsError, match="replicates.primary_count: grid/SameRandom-Random-10 trains 3 seeds"):
        cell_sequences(generate_dataset(params.data, "SameRandom", 2)["train"], params, "data/sequences/x", primary)


def test_a_cell_with_fewer_seeds_reads_the_first_seeds_of_its_folder(tiny_raw):
    """Seed r's data is the same whatever the count, so one folder serves cells with 2 and with 3 seeds."""
    params = parse_params(tiny_raw)
    assert data_replicates(params, "SameRandom") == 3  # the primary cell reads this folder
    assert data_replicates(params, "DiffDistRandom") == 2
    three = generate_dataset(params.data, "SameRandom", 3)["train"]
    two = cell_sequences(three, params, "data/sequences/SameRandom", find_cell(params, "grid/SameRandom-Zeros-10"))
    np.testing.assert_array_equal(two.inputs, generate_dataset(params.data, "SameRandom", 2)["train"].inputs)
    np.testing.assert_array_equal(two.labels, three.labels[:2])


def test_capacity_data_of_another_size_is_refused_naming_the_key(tiny_raw):
    params = parse_params(tiny_raw)
    cell = find_cell(params, "capacity/8")
    with pytest.raises(ParamsError, match="capacity.examples_per_class: 8 per class but data/sequences/capacity/8 "
                                          "holds 8 training sequences"):
        cell_sequences(generate_dataset(params.data, "SameRandom", 2)["train"], params, "data/sequences/capacity/8",
                       cell)


def test_saved_dataset_round_trips(tmp_path, tiny_raw):
    dataset = generate_dataset(parse_params(tiny_raw).data, "SameDistRandom", 2)
    save_dataset(dataset, tmp_path)
    loaded = load_split(tmp_path, "heldout")
    np.testing.assert_array_equal(loaded.inputs, dataset["heldout"].inputs)
    np.testing.assert_array_equal(loaded.labels, dataset["heldout"].labels)


def test_real_data_of_another_length_is_refused_naming_it(tiny_raw):
    params = parse_params(tiny_raw)
    toy_length = generate_dataset(params.data, "SameRandom", 2)["train"]  # 40 steps, not ACSF1's 1460
    with pytest.raises(ParamsError, match="the published length of ACSF1: 1460 but data/sequences/ACSF1 holds "
                                          "sequences of 40 steps"):
        cell_sequences(toy_length, params, "data/sequences/ACSF1", find_cell(params, "real/ACSF1-per_chunk-Random"))
