"""Statistics across replicate seeds: intervals that stay inside the range of their quantity, one-sided tests,
Holm's correction and the seeds a finding would need.

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
    return float(scipy_stats.ttest_1samp(data, threshold, alternative=alternative).pvalue)


def holm(p_values: list[float]) -> list[float]:
    """Holm's step-down adjusted p-values (family-wise error rate), in the order given; NaNs stay NaN."""
    indexed = sorted((p, i) for i, p in enumerate(p_values) if not math.isnan(p))
    adjusted = [math.nan] * len(p_values)
    running, m = 0.0, len(indexed)
    for rank, (p, index) in enumerate(indexed):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[index] = running
    return adjusted


def seeds_needed(values, threshold: float, alpha: float, power: float = 0.8, most: int = 1000) -> int | None:
    """The number of seeds at which a two-sided t-test at level `alpha` would tell the mean from `threshold` with
    probability `power`, if the true mean and spread were those observed in `values` (noncentral t). None when the
    observed mean sits on the threshold or the spread is unknown, or when more than `most` seeds would be needed."""
    data = _clean(values)
    if len(data) < 2:
        return None
    distance, sd = abs(float(data.mean()) - threshold), float(data.std(ddof=1))
    if distance == 0 or sd == 0 or math.isnan(sd):
        return None if distance == 0 else len(data)
    for n in range(2, most + 1):
        critical = scipy_stats.t.ppf(1 - alpha / 2, n - 1)
        shift = distance / sd * math.sqrt(n)
        achieved = scipy_stats.nct.sf(critical, n - 1, shift) + scipy_stats.nct.cdf(-critical, n - 1, shift)
        if achieved >= power:
            return n
    return None
