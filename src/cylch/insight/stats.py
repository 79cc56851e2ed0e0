"""Statistics for board analysts, matching the thematic analysis of Child Practice Reviews (TA 2023).

The TA coded each review's risk indicators as *present* or *not known* (never "absent": a review
that does not mention domestic abuse does not show there was none), then reported SPSS frequency
tables, phi coefficients with chi-square p-values (Bonferroni-corrected), and PROXSCAL
multidimensional scaling of the indicators on the Lance and Williams dissimilarity with its
normalised raw stress. This module computes the same figures with numpy alone; the definitions are
in ``docs/insight-stats.md`` and the tests check them against SciPy and scikit-learn.

Binary input everywhere: 1 (or True) is *present*; 0, False, None and NaN are *not known* and
count as 0, as the TA did. Anything else is a ``ValueError``: a 2 or a "yes" is a coding error,
not something to guess about.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Collection, Hashable, Iterable, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any, NamedTuple

import numpy as np

__all__ = [
    "FrequencyRow",
    "FrequencyTable",
    "MDSResult",
    "Phi",
    "PhiPair",
    "chi2_sf_1df",
    "frequencies",
    "lance_williams",
    "mds",
    "normalised_raw_stress",
    "phi",
    "phi_matrix",
]


# --- Frequencies ---------------------------------------------------------------------------------


class FrequencyRow(NamedTuple):
    """One line of a frequency table. ``valid_percent`` and ``cumulative_percent`` are None for a
    missing value, as SPSS leaves them blank."""

    value: Hashable
    count: int
    percent: float
    valid_percent: float | None
    cumulative_percent: float | None


@dataclass(frozen=True)
class FrequencyTable:
    """An SPSS-style frequency table: the valid values, then the missing ones, then the totals."""

    rows: list[FrequencyRow]
    missing_rows: list[FrequencyRow]
    total: int
    valid: int
    missing: int


def _is_missing(value: Any, missing: Collection[Any]) -> bool:
    if isinstance(value, float) and math.isnan(value):
        return True
    try:
        return value in missing
    except TypeError:  # an unhashable value tested against a set
        return False


def _sorted_values(values: Iterable[Hashable]) -> list[Hashable]:
    values = list(values)
    try:
        return sorted(values)  # type: ignore[type-var]
    except TypeError:  # mixed types that do not compare: keep the order first seen
        return values


def frequencies(values: Iterable[Hashable], *, missing: Collection[Any] = (None, "")) -> FrequencyTable:
    """Count each value, like SPSS FREQUENCIES.

    ``percent`` is of all cases; ``valid_percent`` and ``cumulative_percent`` are of the cases
    whose value is not missing (a value in ``missing``, or NaN). Valid values come in ascending
    order (or the order first seen when they do not compare), then the missing values. Percentages
    are not rounded; with no cases at all (or no valid ones) they are 0.0.
    """
    counts = Counter(values)
    total = sum(counts.values())
    valid_values = [v for v in counts if not _is_missing(v, missing)]
    missing_values = [v for v in counts if _is_missing(v, missing)]
    valid = sum(counts[v] for v in valid_values)

    def pct(count: int, of: int) -> float:
        return 100.0 * count / of if of else 0.0

    rows = []
    cumulative = 0
    for value in _sorted_values(valid_values):
        cumulative += counts[value]
        rows.append(
            FrequencyRow(
                value, counts[value], pct(counts[value], total), pct(counts[value], valid), pct(cumulative, valid)
            )
        )
    missing_rows = [FrequencyRow(v, counts[v], pct(counts[v], total), None, None) for v in missing_values]
    return FrequencyTable(rows=rows, missing_rows=missing_rows, total=total, valid=valid, missing=total - valid)


# --- Binary coding -------------------------------------------------------------------------------


def _binary(values: Any) -> np.ndarray:
    """Present (1) / not known (0) as an int8 array of the same shape; anything else is an error."""
    arr = np.asarray(values, dtype=object) if _may_hold_none(values) else np.asarray(values)
    if arr.dtype.kind in "biuf":
        floats = arr.astype(float)
        bad = ~(np.isnan(floats) | (floats == 0) | (floats == 1))
        if bad.any():
            index = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ValueError(f"{arr[index]!r} at {index} is not 1 (present), 0 or None (not known)")
        return (floats == 1).astype(np.int8)
    out = np.zeros(arr.shape, dtype=np.int8)
    for index, value in np.ndenumerate(arr):
        if value is None:
            continue
        if isinstance(value, str | bytes) or not isinstance(value, int | float | np.number | np.bool_):
            raise ValueError(f"{value!r} at {index} is not 1 (present), 0 or None (not known)")
        if value == 1:
            out[index] = 1
        elif not (value == 0 or math.isnan(value)):
            raise ValueError(f"{value!r} at {index} is not 1 (present), 0 or None (not known)")
    return out


def _may_hold_none(values: Any) -> bool:
    if isinstance(values, np.ndarray):
        return values.dtype == object
    return True  # a list may hold None anywhere: let the object path look at each cell


def _table(table: Any) -> np.ndarray:
    x = _binary(table)
    if x.ndim != 2:
        raise ValueError(f"expected a table of cases (rows) by indicators (columns), got shape {x.shape}")
    return x


# --- Phi -----------------------------------------------------------------------------------------


class Phi(NamedTuple):
    """Phi with its Pearson chi-square (no continuity correction) and p-value on 1 df.

    ``phi``, ``chi2`` and ``p`` are None when either indicator has no variance (present in every
    case or in none): the 2x2 table then has an empty margin and phi is 0/0."""

    phi: float | None
    chi2: float | None
    p: float | None
    n: int


class PhiPair(NamedTuple):
    a: str
    b: str
    phi: float | None
    p: float | None
    n: int


def chi2_sf_1df(x: float) -> float:
    """P(X >= x) for chi-square with 1 degree of freedom.

    X = Z² for standard normal Z, so P(X >= x) = P(|Z| >= √x) = erfc(√(x/2)).
    """
    if x <= 0:
        return 1.0
    return math.erfc(math.sqrt(x / 2.0))


def _phi_from_counts(n11: int, n10: int, n01: int, n00: int) -> Phi:
    n = n11 + n10 + n01 + n00
    margins = (n11 + n10) * (n01 + n00) * (n11 + n01) * (n10 + n00)
    if margins == 0:
        return Phi(None, None, None, n)
    cross = n11 * n00 - n10 * n01
    value = cross / math.sqrt(margins)
    chi2 = n * cross * cross / margins  # exact in integers up to the one division: n·phi²
    return Phi(value, chi2, chi2_sf_1df(chi2), n)


def phi(a: Sequence[Any] | np.ndarray, b: Sequence[Any] | np.ndarray) -> Phi:
    """The phi coefficient of two binary indicators over the same cases, with its chi-square test.

    phi = (n11·n00 − n10·n01) / √(n1·· n0·· n·1 n·0), the Pearson correlation of the two 0/1
    vectors (signed, as SPSS reports it); chi² = n·phi² is Pearson's chi-square on the 2x2 table
    without Yates's correction, and p its upper tail on 1 df. Not known (0, None, NaN) counts as
    0, as in the TA: "not known" and "absent" cannot be told apart in the reviews, so n is every
    case. Unlike the Lance and Williams dissimilarity, phi does count joint absences.
    """
    x, y = _binary(a), _binary(b)
    if x.ndim != 1 or x.shape != y.shape:
        raise ValueError(f"phi needs two vectors of the same length, got shapes {x.shape} and {y.shape}")
    return _phi_from_counts(*_counts(x, y))


def _counts(x: np.ndarray, y: np.ndarray) -> tuple[int, int, int, int]:
    n11 = int(np.sum(x & y))
    n10 = int(np.sum(x & (1 - y)))
    n01 = int(np.sum((1 - x) & y))
    return n11, n10, n01, int(x.size) - n11 - n10 - n01


def phi_matrix(
    table: Any, names: Sequence[str], *, bonferroni: bool = False, tests: int | None = None
) -> list[PhiPair]:
    """Phi and p for every pair of indicators (columns of ``table``, one row per case), in column
    order: (names[0], names[1]), (names[0], names[2]), … (names[1], names[2]), …

    With ``bonferroni``, each p is multiplied by the number of tests and capped at 1. The number
    of tests is the number of pairs, k(k−1)/2 for k indicators, unless ``tests`` says otherwise
    (the TA's thresholds, p < .003 for 17 child indicators and p < .006 for the parental ones,
    look like .05 divided by the number of indicators: ``tests=k`` reproduces that). Pairs whose
    phi is undefined keep p None and still count as tests.
    """
    x = _table(table)
    if len(names) != x.shape[1]:
        raise ValueError(f"{len(names)} names for {x.shape[1]} indicators")
    pairs = list(combinations(range(x.shape[1]), 2))
    m = len(pairs) if tests is None else tests
    if bonferroni and m < 1:
        raise ValueError("the Bonferroni correction needs at least one test")
    out = []
    for i, j in pairs:
        result = _phi_from_counts(*_counts(x[:, i], x[:, j]))
        p = result.p
        if bonferroni and p is not None:
            p = min(1.0, p * m)
        out.append(PhiPair(names[i], names[j], result.phi, p, result.n))
    return out


# --- Lance and Williams dissimilarity ------------------------------------------------------------


def lance_williams(table: Any) -> np.ndarray:
    """The Lance and Williams dissimilarity between every pair of indicators (columns).

    d = (b + c) / (2a + b + c), where a counts the cases with both indicators present and b, c the
    cases with one present and not the other. Joint absences (d in the 2x2 table) do not enter, so
    two indicators are not made to look alike by everything the reviews did not mention — the
    reason the TA chose it. This is SPSS PROXIMITIES' LANCE measure and, on 0/1 data, the
    Bray-Curtis distance. It lies in [0, 1]: 0 when the indicators are present in exactly the same
    cases, 1 when they are never present together.

    Two indicators never present in any case give 0/0. They are then identical columns, so d = 0
    (as for any other pair of identical columns) keeps the matrix finite and symmetric; against
    an indicator that is present somewhere such a column has d = 1. An indicator never present
    says nothing about co-occurrence: leave it out of an MDS (the TA kept only indicators present
    in more than two reviews).
    """
    x = _table(table).astype(np.int64)
    a = x.T @ x  # joint presences
    present = np.diag(a)
    mismatches = present[:, None] + present[None, :] - 2 * a  # b + c
    denominator = 2 * a + mismatches
    with np.errstate(invalid="ignore", divide="ignore"):
        d = np.where(denominator > 0, mismatches / np.where(denominator > 0, denominator, 1), 0.0)
    np.fill_diagonal(d, 0.0)
    return d


# --- Multidimensional scaling --------------------------------------------------------------------


class MDSResult(NamedTuple):
    coordinates: np.ndarray  # one row per object, one column per dimension
    stress: float  # normalised raw stress


def _distances(x: np.ndarray) -> np.ndarray:
    diff = x[:, None, :] - x[None, :, :]
    return np.sqrt(np.sum(diff * diff, axis=-1))


def normalised_raw_stress(dissimilarity: Any, coordinates: Any) -> float:
    """Σ (δij − dij)² / Σ δij² over i < j, where δ are the given dissimilarities and d the
    Euclidean distances between the coordinates. 0.0 when every δ is 0 and the points coincide."""
    delta = np.asarray(dissimilarity, dtype=float)
    d = _distances(np.asarray(coordinates, dtype=float))
    upper = np.triu_indices(delta.shape[0], 1)
    denominator = float(np.sum(delta[upper] ** 2))
    numerator = float(np.sum((delta[upper] - d[upper]) ** 2))
    if denominator == 0:
        return 0.0 if numerator == 0 else math.inf
    return numerator / denominator


def _check_dissimilarity(dissimilarity: Any) -> np.ndarray:
    delta = np.asarray(dissimilarity, dtype=float)
    if delta.ndim != 2 or delta.shape[0] != delta.shape[1]:
        raise ValueError(f"a dissimilarity matrix is square, got shape {delta.shape}")
    if not np.all(np.isfinite(delta)):
        raise ValueError("the dissimilarity matrix has a missing or infinite value")
    if np.any(delta < 0):
        raise ValueError("dissimilarities cannot be negative")
    if not np.allclose(delta, delta.T):
        raise ValueError("the dissimilarity matrix is not symmetric")
    if np.any(np.diag(delta) != 0):
        raise ValueError("the dissimilarity matrix needs zeros on its diagonal")
    return (delta + delta.T) / 2


def _classical(delta: np.ndarray, dims: int) -> np.ndarray:
    """Torgerson's classical scaling: the top eigenvectors of the double-centred −½δ²."""
    n = delta.shape[0]
    centring = np.eye(n) - 1.0 / n
    b = -0.5 * centring @ (delta**2) @ centring
    values, vectors = np.linalg.eigh(b)
    order = np.argsort(values)[::-1][:dims]
    x = vectors[:, order] * np.sqrt(np.clip(values[order], 0, None))
    if x.shape[1] < dims:  # fewer objects than dimensions
        x = np.hstack([x, np.zeros((n, dims - x.shape[1]))])
    return x


def _smacof(delta: np.ndarray, x: np.ndarray, *, max_iter: int, tolerance: float) -> tuple[np.ndarray, float]:
    """De Leeuw's SMACOF with unit weights: the Guttman transform X ← B(X)X / n until raw stress
    stops falling by more than ``tolerance`` (relative)."""
    n = delta.shape[0]
    upper = np.triu_indices(n, 1)

    def raw(d: np.ndarray) -> float:
        return float(np.sum((delta[upper] - d[upper]) ** 2))

    d = _distances(x)
    stress = raw(d)
    for _ in range(max_iter):
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(d > 0, delta / np.where(d > 0, d, 1), 0.0)
        b = -ratio
        np.fill_diagonal(b, 0.0)
        np.fill_diagonal(b, -b.sum(axis=1))
        x = b @ x / n
        d = _distances(x)
        new = raw(d)
        if stress - new <= tolerance * max(stress, 1e-300):
            stress = new
            break
        stress = new
    return x, stress


def _principal_axes(x: np.ndarray) -> np.ndarray:
    """Centre and rotate to principal axes (dim1 the most spread), largest coordinate positive:
    MDS fixes a configuration only up to rotation and reflection, so pick one reproducibly."""
    x = x - x.mean(axis=0)
    if not np.any(x):
        return x
    _, _, vt = np.linalg.svd(x, full_matrices=True)
    x = x @ vt.T
    for k in range(x.shape[1]):
        column = x[:, k]
        if column[np.argmax(np.abs(column))] < 0:
            x[:, k] = -column
    return x


def mds(
    dissimilarity: Any,
    *,
    dims: int = 2,
    seed: int = 0,
    random_starts: int = 8,
    max_iter: int = 3000,
    tolerance: float = 1e-12,
) -> MDSResult:
    """Metric (ratio) multidimensional scaling of a dissimilarity matrix by SMACOF.

    Runs SMACOF from the classical (Torgerson) solution and from ``random_starts`` random
    configurations (seeded by ``seed``), and keeps the one with the lowest stress; the result is
    centred and rotated to principal axes. Stress is *normalised raw stress*,
    Σ (δij − dij)² / Σ δij² over i < j (δ the dissimilarities, d the fitted distances): SPSS
    PROXSCAL's "normalized raw stress" for a ratio transformation of the proximities (its
    default), because at a SMACOF solution the configuration's scale is already the optimal one.
    The TA reports 0.008 and 0.03 for its two-dimensional solutions; up to 0.15 is a good fit
    (Stalans, 1995).
    """
    delta = _check_dissimilarity(dissimilarity)
    if dims < 1:
        raise ValueError("dims must be at least 1")
    n = delta.shape[0]
    if n == 0:
        return MDSResult(np.zeros((0, dims)), 0.0)
    rng = np.random.default_rng(seed)
    scale = float(np.sqrt(np.mean(delta**2))) or 1.0
    starts = [_classical(delta, dims)]
    starts += [rng.normal(scale=scale, size=(n, dims)) for _ in range(random_starts)]
    best: tuple[np.ndarray, float] | None = None
    for start in starts:
        x, stress = _smacof(delta, start, max_iter=max_iter, tolerance=tolerance)
        if best is None or stress < best[1]:
            best = (x, stress)
    assert best is not None
    coordinates = _principal_axes(best[0])
    return MDSResult(coordinates, normalised_raw_stress(delta, coordinates))
