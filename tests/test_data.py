"""The four data modes have the properties the write-up gives them."""

from __future__ import annotations

import numpy as np
import pytest

from stages.data import generate_dataset, generate_sequences, load_split, save_dataset
from stages.params import parse_params


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
    dataset = generate_dataset(parse_params(tiny_raw).data, mode)
    train, heldout = dataset["train"], dataset["heldout"]
    assert heldout.inputs.shape[0] == 2 * tiny_raw["data"]["heldout_examples_per_class"]
    train_rows = {row.tobytes() for row in train.inputs}
    assert not any(row.tobytes() in train_rows for row in heldout.inputs)


def test_same_seed_same_data_other_seed_other_data(tiny_raw):
    first = generate_dataset(parse_params(tiny_raw).data, "DiffDistRandom")
    again = generate_dataset(parse_params(tiny_raw).data, "DiffDistRandom")
    tiny_raw["data"]["seed"] = 1
    other = generate_dataset(parse_params(tiny_raw).data, "DiffDistRandom")
    np.testing.assert_array_equal(first["train"].inputs, again["train"].inputs)
    assert not np.array_equal(first["train"].inputs, other["train"].inputs)


def test_saved_dataset_round_trips(tmp_path, tiny_raw):
    dataset = generate_dataset(parse_params(tiny_raw).data, "SameDistRandom")
    save_dataset(dataset, tmp_path)
    loaded = load_split(tmp_path, "heldout")
    np.testing.assert_array_equal(loaded.inputs, dataset["heldout"].inputs)
    np.testing.assert_array_equal(loaded.labels, dataset["heldout"].labels)
