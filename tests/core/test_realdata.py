"""The real data set loads as published: UCR ACSF1 from the .ts files bundled in the sktime (or aeon) wheel."""

from __future__ import annotations

import importlib.util
import os

import numpy as np
import pytest

from stages.core import realdata
from stages.core.data import num_classes
from stages.core.params import REAL_DATASETS
from stages.core.realdata import load_real_dataset, replicated

# Outside CI a developer may not have installed the package that ships the files: skip there. Under CI the
# package is a project dependency, so its absence must fail the tests, not skip them. (The check finds the
# package without importing it, and accepts either package that ships the files, as the loader does.)
_HAVE_SOURCE = any(importlib.util.find_spec(package) is not None for package in realdata.PACKAGES)
needs_package = pytest.mark.skipif(
    os.environ.get("CI") != "true" and not _HAVE_SOURCE,
    reason=f"none of {', '.join(realdata.PACKAGES)} is installed (pip install '{realdata.PINNED_PACKAGE}')",
)


@pytest.fixture(scope="module")
def acsf1():
    return load_real_dataset("ACSF1")


@needs_package
@pytest.mark.parametrize("split", ["train", "heldout"])
def test_shapes_dtypes_and_balanced_sorted_labels(acsf1, split):
    sequences = acsf1[split]
    assert sequences.inputs.shape == (100, 1460, 1)
    assert sequences.inputs.dtype == np.float32 and sequences.labels.dtype == np.int64
    assert sequences.labels.tolist() == [label for label in range(10) for _ in range(10)]
    assert num_classes(sequences) == 10
    assert np.isfinite(sequences.inputs).all()


@needs_package
def test_standardised_with_training_statistics(acsf1):
    train = acsf1["train"].inputs.astype(np.float64)
    assert abs(train.mean()) < 1e-4 and abs(train.std() - 1.0) < 1e-4
    # The held-out split is scaled with the training statistics, not its own: close to, not exactly, 0 and 1.
    heldout = acsf1["heldout"].inputs.astype(np.float64)
    assert abs(heldout.mean()) < 0.1 and abs(heldout.std() - 1.0) < 0.1


@needs_package
def test_splits_differ_and_sequences_are_distinct(acsf1):
    train, heldout = acsf1["train"].inputs[:, :, 0], acsf1["heldout"].inputs[:, :, 0]
    assert len(np.unique(train, axis=0)) == 100 and len(np.unique(heldout, axis=0)) == 100
    assert not (train[:, None, :] == heldout[None, :, :]).all(axis=2).any()


def test_unknown_name_is_rejected_naming_the_parameter():
    with pytest.raises(ValueError, match=r"name: unknown real data set 'GunPoint'.*ACSF1"):
        load_real_dataset("GunPoint")
    assert list(REAL_DATASETS) == ["ACSF1"]


def test_missing_package_says_what_to_install(monkeypatch):
    monkeypatch.setattr(realdata, "_package_folder", lambda package: None)
    with pytest.raises(FileNotFoundError, match=r"pip install 'sktime==1\.2\.0'"):
        load_real_dataset("ACSF1")


def test_package_without_the_files_is_reported(monkeypatch, tmp_path):
    monkeypatch.setattr(realdata, "_package_folder", lambda package: tmp_path / package)
    with pytest.raises(FileNotFoundError, match=r"no ACSF1 files"):
        load_real_dataset("ACSF1")


def test_parser_reads_a_small_ts_file(tmp_path):
    path = tmp_path / "toy.ts"
    path.write_text("# comment\n@problemName toy\n@univariate true\n@equalLength true\n@seriesLength 3\n"
                    "@classLabel true 10 9\n@data\n1,2,3:10\n4,5,6.5:9\n", encoding="utf-8")
    values, labels = realdata._read_ts(path)
    assert values.tolist() == [[1, 2, 3], [4, 5, 6.5]] and labels == ["10", "9"]
    assert sorted(set(labels), key=realdata._sort_key(labels)) == ["9", "10"]  # numeric, not text, order


def test_parser_rejects_unequal_lengths_and_undeclared_labels(tmp_path):
    head = "@univariate true\n@equalLength true\n@classLabel true a b\n@data\n"
    path = tmp_path / "bad.ts"
    path.write_text(head + "1,2,3:a\n4,5:b\n", encoding="utf-8")
    with pytest.raises(ValueError, match="series lengths"):
        realdata._read_ts(path)
    path.write_text(head + "1,2:c\n", encoding="utf-8")
    with pytest.raises(ValueError, match="not among @classLabel"):
        realdata._read_ts(path)


@needs_package
def test_published_shape_matches_what_params_are_validated_against(acsf1):
    shape = REAL_DATASETS["ACSF1"]
    assert acsf1["train"].inputs.shape == (shape.classes * shape.train_per_class, shape.steps, shape.input_size)
    assert acsf1["heldout"].inputs.shape == (shape.classes * shape.heldout_per_class, shape.steps, shape.input_size)


def test_a_file_of_another_shape_is_refused(monkeypatch):
    from stages.core.data import SequenceSet

    short = SequenceSet(inputs=np.zeros((100, 1000, 1), np.float32), labels=np.repeat(np.arange(10), 10))
    with pytest.raises(ValueError, match=r"ACSF1 train: expected 10 classes x 10 sequences of 1460 steps"):
        realdata.check_published_shape("ACSF1", {"train": short, "heldout": short})


def test_every_seed_gets_the_same_published_split():
    from stages.core.data import SequenceSet

    one = SequenceSet(inputs=np.arange(12, dtype=np.float32).reshape(4, 3, 1), labels=np.array([0, 0, 1, 1]))
    stacked = replicated({"train": one}, 3)["train"]
    assert stacked.inputs.shape == (3, 4, 3, 1) and stacked.labels.shape == (3, 4)
    for seed in range(3):
        np.testing.assert_array_equal(stacked.inputs[seed], one.inputs)
        np.testing.assert_array_equal(stacked.labels[seed], one.labels)
