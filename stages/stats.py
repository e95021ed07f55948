"""Intervals across replicate seeds: the mean with a Student-t confidence interval.

Seeds are few (the quick profile trains 3), so the interval uses Student's t with n - 1 degrees of freedom rather
than a normal or bootstrap interval, which would be too narrow at this n. The t quantile is computed here (by
bisection on the regularised incomplete beta function) so that the study needs no SciPy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np


@dataclass(frozen=True)
class Interval:
    mean: float
    low: float
    high: float
    n: int

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2

    def text(self, digits: int = 3) -> str:
        if math.isnan(self.mean):
            return "n/a"
        return f"{self.mean:.{digits}f} [{self.low:.{digits}f}, {self.high:.{digits}f}]"


def _beta_continued_fraction(a: float, b: float, x: float) -> float:
    # Lentz's method for the continued fraction of the incomplete beta function.
    tiny, term_c, term_d = 1e-300, 1.0, 1.0 - (a + b) * x / (a + 1)
    term_d = 1.0 / (term_d if abs(term_d) > tiny else tiny)
    result = term_d
    for m in range(1, 300):
        for numerator in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                          -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            term_d = 1.0 + numerator * term_d
            term_d = 1.0 / (term_d if abs(term_d) > tiny else tiny)
            term_c = 1.0 + numerator / term_c
            term_c = term_c if abs(term_c) > tiny else tiny
            result *= term_d * term_c
        if abs(term_d * term_c - 1.0) < 1e-15:
            break
    return result


def _regularised_beta(a: float, b: float, x: float) -> float:
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1) / (a + b + 2):
        return front * _beta_continued_fraction(a, b, x) / a
    return 1.0 - front * _beta_continued_fraction(b, a, 1 - x) / b


def t_cdf(value: float, degrees: int) -> float:
    tail = 0.5 * _regularised_beta(degrees / 2, 0.5, degrees / (degrees + value * value))
    return 1 - tail if value > 0 else tail


@lru_cache(maxsize=None)  # the report asks for the same few (level, n) pairs thousands of times
def t_quantile(probability: float, degrees: int) -> float:
    """The value below which Student's t with `degrees` degrees of freedom falls with `probability`."""
    if not 0 < probability < 1 or degrees < 1:
        raise ValueError(f"t_quantile: need 0 < probability < 1 and degrees >= 1, got {probability}, {degrees}")
    low, high = -1e4, 1e4
    for _ in range(200):
        middle = (low + high) / 2
        low, high = (middle, high) if t_cdf(middle, degrees) < probability else (low, middle)
    return (low + high) / 2


def t_interval(values, confidence: float) -> Interval:
    """Mean of `values` (NaNs dropped) and its two-sided Student-t interval at `confidence`."""
    data = np.asarray(values, dtype=float)
    data = data[~np.isnan(data)]
    n = len(data)
    if n == 0:
        return Interval(math.nan, math.nan, math.nan, 0)
    mean = float(data.mean())
    if n == 1:
        return Interval(mean, math.nan, math.nan, 1)
    half = t_quantile(0.5 + confidence / 2, n - 1) * float(data.std(ddof=1)) / math.sqrt(n)
    return Interval(mean, mean - half, mean + half, n)
