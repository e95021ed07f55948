"""The real-data baselines: 1-nearest-neighbour and majority class, scored with an exact binomial interval."""

from __future__ import annotations

import json

import numpy as np
import pytest

from stages.baseline import first_replicate, main, majority_predictions, nearest_neighbour_predictions, score
from stages.core.data import SequenceSet


def _set(inputs: np.ndarray, labels: list[int]) -> SequenceSet:
    return SequenceSet(inputs=inputs.astype(np.float32), labels=np.asarray(labels, dtype=np.int64))


def test_nearest_neighbour_takes_the_label_of_the_closest_training_recording():
    rng = np.random.default_rng(0)
    train = _set(rng.standard_normal((12, 30, 1)), [0, 1, 2] * 4)
    test = _set(rng.standard_normal((9, 30, 1)), [0] * 9)
    distances = np.linalg.norm(test.inputs[:, None] - train.inputs[None], axis=(2, 3))
    expected = train.labels[distances.argmin(axis=1)]
    np.testing.assert_array_equal(nearest_neighbour_predictions(train, test), expected)


def test_nearest_neighbour_ignores_one_scale_and_offset_shared_by_every_recording():
    # Why the loader's normalisation (one mean and scale for the whole split) leaves the baseline unchanged.
    rng = np.random.default_rng(1)
    train = _set(rng.standard_normal((10, 20, 1)), [0, 1] * 5)
    test = _set(rng.standard_normal((6, 20, 1)), [0, 1] * 3)
    moved = [_set(s.inputs * 7.5 - 3.0, s.labels.tolist()) for s in (train, test)]
    np.testing.assert_array_equal(nearest_neighbour_predictions(train, test), nearest_neighbour_predictions(*moved))


def test_a_copy_of_a_training_recording_is_classified_as_that_recording():
    rng = np.random.default_rng(2)
    train = _set(rng.standard_normal((8, 15, 1)), [0, 1, 2, 3] * 2)
    test = _set(train.inputs[[5, 2]], [train.labels[5], train.labels[2]])
    assert (nearest_neighbour_predictions(train, test) == test.labels).all()


def test_majority_class_predicts_the_most_frequent_training_label_and_breaks_ties_low():
    test = _set(np.zeros((4, 3, 1)), [0, 1, 2, 2])
    assert (majority_predictions(_set(np.zeros((5, 3, 1)), [2, 2, 1, 0, 2]), test) == 2).all()
    assert (majority_predictions(_set(np.zeros((4, 3, 1)), [1, 1, 0, 0]), test) == 0).all()


@pytest.mark.parametrize("correct", [0, 3, 10])
def test_score_interval_holds_the_accuracy_and_stays_in_the_unit_range(correct):
    labels = np.zeros(10, dtype=np.int64)
    predictions = np.r_[np.zeros(correct), np.ones(10 - correct)].astype(np.int64)
    result = score(predictions, labels, 0.95)
    assert result["accuracy"] == correct / 10
    assert 0.0 <= result["low"] <= result["accuracy"] <= result["high"] <= 1.0
    assert (result["low"] == 0.0) == (correct == 0) and (result["high"] == 1.0) == (correct == 10)


def test_score_interval_is_the_exact_clopper_pearson_one():
    # 54 of 100 at 95%: the textbook exact interval, 0.4374 to 0.6402.
    result = score(np.r_[np.zeros(54), np.ones(46)].astype(np.int64), np.zeros(100, dtype=np.int64), 0.95)
    assert result["low"] == pytest.approx(0.4374, abs=1e-4) and result["high"] == pytest.approx(0.6402, abs=1e-4)


def test_the_stored_copies_of_a_real_split_are_reduced_to_one():
    copies = SequenceSet(inputs=np.ones((3, 4, 5, 1), np.float32), labels=np.zeros((3, 4), np.int64))
    assert first_replicate(copies).inputs.shape == (4, 5, 1) and first_replicate(copies).labels.shape == (4,)


def test_command_writes_both_baselines_and_refuses_a_missing_split(tmp_path, tiny_raw):
    import yaml

    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(tiny_raw))
    data = tmp_path / "data" / "sequences" / "ACSF1"
    data.mkdir(parents=True)
    rng = np.random.default_rng(3)
    for split in ("train", "heldout"):
        np.save(data / f"{split}_inputs.npy", rng.standard_normal((2, 6, 8, 1)).astype(np.float32))
        np.save(data / f"{split}_labels.npy", np.tile(np.arange(3).repeat(2), (2, 1)))
    out = tmp_path / "data" / "baseline" / "ACSF1.json"
    command = ["--params", str(params), "--dataset", "ACSF1", "--root", str(tmp_path / "data")]
    assert main(command) == 0
    assert set(json.loads(out.read_text())) == {"nearest_neighbour", "majority_class"}
    (data / "heldout_labels.npy").unlink()
    out.unlink()
    assert main(command) == 2
    assert not out.exists()
