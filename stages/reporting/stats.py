"""Statistics across replicate seeds: intervals that stay inside the range of their quantity, the three tests a finding
can declare (superiority, equivalence by two one-sided tests, non-inferiority), the corrections of a family of tests
(Holm, Benjamini-Hochberg), and the power and seeds of a planned test.

The unit of replication is the seed. Each seed's score is already an average over its sequences and over several
independent draws of initial states (stage `evaluate`), so the spread across seeds holds both the seed-to-seed and
the evaluation noise; an interval over seeds therefore needs no model of either. Seeds are few (3 by default), so the
interval is Student's t with n - 1 degrees of freedom (SciPy's distribution), intersected with the range of the
quantity (an accuracy in [0, 1], a loss at or above 0, a paired accuracy difference in [-1, 1]): the true mean lies
in that range, so the intersection covers it whenever the t-interval does and never claims an impossible value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import integrate, special
from scipy import stats as scipy_stats

UNBOUNDED = (-math.inf, math.inf)
ACCURACY = (0.0, 1.0)
ACCURACY_DIFFERENCE = (-1.0, 1.0)
NON_NEGATIVE = (0.0, math.inf)


@dataclass(frozen=True)
class Interval:
    mean: float
    low: float
    high: float
    n: int
    sd: float = math.nan  # sample standard deviation across seeds (ddof 1)

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2

    def text(self, digits: int = 3) -> str:
        if math.isnan(self.mean):
            return "n/a"
        if math.isnan(self.low):
            return f"{self.mean:.{digits}f}"
        return f"{self.mean:.{digits}f} [{self.low:.{digits}f}, {self.high:.{digits}f}]"


@lru_cache(maxsize=None)  # the report asks for the same few (level, n) pairs thousands of times
def t_quantile(probability: float, degrees: int) -> float:
    """The value below which Student's t with `degrees` degrees of freedom falls with `probability`."""
    if not 0 < probability < 1 or degrees < 1:
        raise ValueError(f"t_quantile: need 0 < probability < 1 and degrees >= 1, got {probability}, {degrees}")
    return float(scipy_stats.t.ppf(probability, degrees))


def _clean(values) -> np.ndarray:
    data = np.asarray(values, dtype=float)
    return data[~np.isnan(data)]


def t_interval(values, confidence: float, bounds: tuple[float, float] = UNBOUNDED) -> Interval:
    """Mean of `values` (NaNs dropped) and its two-sided Student-t interval at `confidence`, intersected with
    `bounds`, the range the quantity can take."""
    data = _clean(values)
    n = len(data)
    if n == 0:
        return Interval(math.nan, math.nan, math.nan, 0)
    mean = float(data.mean())
    if n == 1:
        return Interval(mean, math.nan, math.nan, 1)
    sd = float(data.std(ddof=1))
    half = t_quantile(0.5 + confidence / 2, n - 1) * sd / math.sqrt(n)
    low, high = bounds
    return Interval(mean, max(mean - half, low), min(mean + half, high), n, sd)


def one_sided_p(values, threshold: float, alternative: str) -> float:
    """p-value of the one-sided t-test across seeds that the mean lies above ('greater') or below ('less')
    `threshold`. All seeds equal: 0 when they lie on the alternative's side, 1 otherwise."""
    if alternative not in ("greater", "less"):
        raise ValueError(f"alternative: 'greater' or 'less', got {alternative!r}")
    data = _clean(values)
    if len(data) < 2:
        return math.nan
    if np.ptp(data) <= 1e-12 * max(1.0, float(np.abs(data).max())):  # equal up to float rounding
        beyond = data[0] > threshold if alternative == "greater" else data[0] < threshold
        return 0.0 if beyond else 1.0
    # Student's one-sample t statistic, as scipy.stats.ttest_1samp computes it (tests/reporting/test_stats.py checks
    # the two agree), with the t distribution's tail from SciPy's special functions: the same p-value, far cheaper
    # per call (the simulations of the tests call it hundreds of thousands of times).
    t = (float(data.mean()) - threshold) / (float(data.std(ddof=1)) / math.sqrt(len(data)))
    return float(special.stdtr(len(data) - 1, -t if alternative == "greater" else t))


def holm(p_values: list[float]) -> list[float]:
    """Holm's step-down adjusted p-values (family-wise error rate), in the order given; NaNs stay NaN."""
    indexed = sorted((p, i) for i, p in enumerate(p_values) if not math.isnan(p))
    adjusted = [math.nan] * len(p_values)
    running, m = 0.0, len(indexed)
    for rank, (p, index) in enumerate(indexed):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[index] = running
    return adjusted


TESTS = ("superiority", "equivalence", "non-inferiority")


@dataclass(frozen=True)
class TestResult:
    """One declared test on per-seed differences: the p-value of the claim and that of its contrary."""

    p: float  # the claim: superiority, the mean exceeds +margin; equivalence, it lies within +-margin (two one-sided
    #          tests, the larger p); non-inferiority, it exceeds -margin
    p_contrary: float  # the claim's contrary shown: superiority, below +margin; equivalence, beyond +-margin
    #                    (Bonferroni over the two sides); non-inferiority, below -margin


def declared_test(values, margin: float, test: str) -> TestResult:
    """The claim's and the contrary's one-sided t-tests across seeds, against a margin on the quantity's scale."""
    if test == "superiority":
        return TestResult(one_sided_p(values, margin, "greater"), one_sided_p(values, margin, "less"))
    if test == "equivalence":
        above, below = one_sided_p(values, -margin, "greater"), one_sided_p(values, margin, "less")
        beyond = min(1.0, 2 * min(one_sided_p(values, margin, "greater"), one_sided_p(values, -margin, "less")))
        return TestResult(max(above, below), beyond)
    if test == "non-inferiority":
        return TestResult(one_sided_p(values, -margin, "greater"), one_sided_p(values, -margin, "less"))
    raise ValueError(f"test: {test!r} is not one of {', '.join(TESTS)}")


CORRECTIONS = ("holm", "benjamini-hochberg")


def benjamini_hochberg(p_values: list[float]) -> list[float]:
    """Benjamini-Hochberg adjusted p-values (false discovery rate), SciPy's, in the order given; NaNs stay NaN."""
    present = [i for i, p in enumerate(p_values) if not math.isnan(p)]
    adjusted = [math.nan] * len(p_values)
    if present:
        values = scipy_stats.false_discovery_control([p_values[i] for i in present], method="bh")
        for i, value in zip(present, values):
            adjusted[i] = float(value)
    return adjusted


def adjust(p_values: list[float], correction: str) -> list[float]:
    """A family's p-values adjusted by `correction`; never below the raw ones."""
    if correction == "holm":
        return holm(p_values)
    if correction == "benjamini-hochberg":
        return benjamini_hochberg(p_values)
    raise ValueError(f"correction: {correction!r} is not one of {', '.join(CORRECTIONS)}")


def planned_power(test: str, seeds: int, mean: float, sd: float, margin: float, alpha: float) -> float:
    """The probability that a declared test decides its claim with `seeds` seeds, if the per-seed differences are
    normal with this mean and spread (exact: the t statistic's noncentral distribution; for equivalence, the two
    one-sided tests share the sample spread, so the power is integrated over its distribution)."""
    if seeds < 2 or not sd > 0:
        return math.nan
    degrees, scale = seeds - 1, sd / math.sqrt(seeds)
    critical = scipy_stats.t.ppf(1 - alpha, degrees)
    if test in ("superiority", "non-inferiority"):
        threshold = margin if test == "superiority" else -margin
        return float(scipy_stats.nct.sf(critical, degrees, (mean - threshold) / scale))
    if test != "equivalence":
        raise ValueError(f"test: {test!r} is not one of {', '.join(TESTS)}")

    def decided_given_spread(chi2: float) -> float:
        # The sample's standard error for this draw of the chi-square; the mean must lie within the margin shrunk by
        # t x that standard error on both sides.
        half = margin - critical * scale * math.sqrt(chi2 / degrees)
        if half <= 0:
            return 0.0
        return float(scipy_stats.norm.cdf((half - mean) / scale) - scipy_stats.norm.cdf((-half - mean) / scale))

    # Only spreads small enough to leave room within the margins can decide: integrate over those alone, where the
    # integrand is smooth (beyond them it is 0, and the kink would slow the quadrature's convergence).
    widest = degrees * (margin / (critical * scale)) ** 2
    upper = min(scipy_stats.chi2.ppf(1 - 1e-12, degrees), widest)
    value, _ = integrate.quad(lambda c: decided_given_spread(c) * scipy_stats.chi2.pdf(c, degrees), 0, upper,
                              limit=200)
    return float(value)


def seeds_to_decide(values, margin: float, test: str, alpha: float, power: float = 0.8,
                    most: int = 1000) -> int | None:
    """A planning figure, never a choice of seeds for the data it was computed on: the seeds at which a new run's
    declared test would decide its claim with probability `power`, if the true mean and spread were those observed.
    None when no count up to `most` would (the observed mean is on the wrong side of the margin, or too close)."""
    data = _clean(values)
    if len(data) < 2 or not float(data.std(ddof=1)) > 0:
        return None
    mean, sd = float(data.mean()), float(data.std(ddof=1))

    def enough(seeds: int) -> bool:
        return planned_power(test, seeds, mean, sd, margin, alpha) >= power

    # The power grows with the seeds: double until enough, then halve the bracket (a few dozen power evaluations).
    low, high = 1, 2
    while not enough(high):
        if high >= most:
            return None
        low, high = high, min(2 * high, most)
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if enough(middle) else (middle, high)
    return high
