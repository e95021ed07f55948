"""Published scores on the real data sets, cited, for the report to set the study's numbers beside.

These are facts from the literature, not settings: each names its source, the split it was measured on and how it
was averaged, so that a reader can check it and can tell whether it is comparable with a number of this study (the
study scores the archive's published train/test split, as these do).
"""

from __future__ import annotations

from dataclasses import dataclass

from stages.reporting.findings import FAILS_CHECK, PASSES, Control


@dataclass(frozen=True)
class PublishedScore:
    method: str
    accuracy: float  # on the published test split
    averaged: str  # how the published figure was averaged
    citation: str
    source: str  # where the number itself is printed


UCR_ARCHIVE = ("Dau, Bagnall, Kamgar, Yeh, Zhu, Gharghabi, Ratanamahatana and Keogh, \"The UCR Time Series Archive\", "
               "IEEE/CAA Journal of Automatica Sinica 6(6), 2019")
ROCKET = ("Dempster, Petitjean and Webb, \"ROCKET: exceptionally fast and accurate time series classification using "
          "random convolutional kernels\", Data Mining and Knowledge Discovery 34(5), 2020, "
          "doi:10.1007/s10618-020-00701-z")

PUBLISHED: dict[str, dict[str, PublishedScore]] = {
    "ACSF1": {
        # The archive's own straw man: the row ACSF1 of DataSummary.csv gives the error rate 0.4600 for 1-NN with
        # Euclidean distance (w = 0), so accuracy 0.54. Stage baseline_real computes the same classifier itself.
        "nearest_neighbour": PublishedScore(
            "1-nearest-neighbour, Euclidean (the archive's baseline)", 0.54, "deterministic: one run",
            UCR_ARCHIVE, "DataSummary.csv of the UCR archive 2018, row ACSF1, column ED (w=0): error rate 0.4600"),
        # A strong method: ROCKET's published results on the archive's split, mean of 10 runs with new kernels.
        "strong": PublishedScore(
            "ROCKET (10,000 random convolutional kernels, ridge classifier)", 0.886,
            "mean of 10 runs with new random kernels (standard deviation 0.011)",
            ROCKET, "github.com/angus924/rocket, results/results_ucr.csv, row ACSF1: accuracy_mean 0.886"),
    },
}


def published(dataset: str) -> dict[str, PublishedScore]:
    """The published scores of `dataset` (empty where none is recorded)."""
    return PUBLISHED.get(dataset, {})


def reproduction_checks(dataset: str, computed: dict) -> list[Control]:
    """The study's own 1-nearest-neighbour score against the archive's published one: the same classifier on the
    same split must give the same accuracy (to within one test recording), a check that the recordings, labels and
    split were read as published. `computed` is stage baseline_real's output."""
    archive = published(dataset).get("nearest_neighbour")
    if archive is None:
        return []
    ours = computed["nearest_neighbour"]
    one_recording = 1 / ours["recordings"]
    same = abs(ours["accuracy"] - archive.accuracy) < one_recording / 2
    return [Control(f"`{dataset}`: 1-nearest-neighbour with Euclidean distance, computed here on the published split, "
                    f"scores what the archive publishes for it ({archive.source})", f"{archive.accuracy:.2f}",
                    f"{ours['accuracy']:.2f} ({ours['correct']} of {ours['recordings']} test recordings)",
                    PASSES if same else FAILS_CHECK)]
