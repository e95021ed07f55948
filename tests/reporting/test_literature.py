"""Published scores: cited, on the published split, and a check that the study's own 1-nearest-neighbour reproduces
the archive's."""

from __future__ import annotations

import pytest

from stages.core.params import REAL_DATASETS
from stages.reporting.findings import FAILS_CHECK, PASSES
from stages.reporting.literature import PUBLISHED, published, reproduction_checks


def _computed(correct: int, recordings: int = 100) -> dict:
    return {"nearest_neighbour": {"accuracy": correct / recordings, "correct": correct, "recordings": recordings}}


def test_every_published_score_is_an_accuracy_with_its_source_and_how_it_was_averaged():
    for dataset, scores in PUBLISHED.items():
        assert dataset in REAL_DATASETS
        for score in scores.values():
            assert 0 <= score.accuracy <= 1
            assert score.citation and score.source and score.averaged


def test_our_nearest_neighbour_passes_when_it_scores_what_the_archive_publishes():
    [check] = reproduction_checks("ACSF1", _computed(54))
    assert check.check == PASSES and check.expected == "0.54"


@pytest.mark.parametrize("correct", [53, 55, 40])
def test_one_recording_off_the_published_score_fails_the_check(correct):
    [check] = reproduction_checks("ACSF1", _computed(correct))
    assert check.check == FAILS_CHECK


def test_a_data_set_without_published_scores_has_no_check():
    assert published("GunPoint") == {}
    assert reproduction_checks("GunPoint", _computed(54)) == []
