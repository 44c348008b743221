"""Classical gap fills and the convex blend that weighs them against the model's fill.

No single fill is best everywhere: straight lines win across single missing points of a
smooth series, the same phase of neighbouring seasons wins across a long gap of a strongly
seasonal one, and a column that moves with another column is best filled from it. The
Imputer therefore hides more observed values in the pattern of the real gaps, fills them
with the model and with the candidates here, and blends the fills with the weights that
recovered the hidden values best (`blend_weights`). Numpy only; NaN marks a missing value.
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np

MAX_PARTNERS = 8  # a series is regressed on at most this many of its most correlated peers
RIDGE = 1e-6  # ridge penalty per fitted row, only for numerical stability: exact linear
#               relations between channels hide in low-variance directions a real penalty kills
MIN_ROWS = 16  # a block needs this many observed rows before its regression is fitted
SHRINK = 0.1  # pull of the blend toward the model's own fill, in squared spreads of the series
CORR_ROWS = 50_000  # rows (evenly spaced) used to rank partners by correlation


def linear_fill(series: np.ndarray) -> np.ndarray:
    """Straight lines across gaps; a leading or trailing gap takes the nearest observed value."""
    seen = np.flatnonzero(~np.isnan(series))
    return np.interp(np.arange(len(series)), seen, series[seen])


def seasonal_fill(series: np.ndarray, period: int) -> np.ndarray:
    """Mean of the observed values one and two periods either side; linear where none is."""
    n = len(series)
    same_phase = np.full((4, n), np.nan)
    for row, lag in enumerate((-2 * period, -period, period, 2 * period)):
        if abs(lag) < n:
            src = slice(max(lag, 0), n + min(lag, 0))
            same_phase[row, max(-lag, 0) : n - max(lag, 0)] = series[src]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns: linear takes over
        season = np.nanmean(same_phase, axis=0)
    return np.where(np.isnan(season), linear_fill(series), season)


def partners(complete: np.ndarray, k: int = MAX_PARTNERS) -> list[np.ndarray]:
    """For each row of ``complete`` (C, T), the rows most correlated with it (at most ``k``).

    Rows that never vary correlate with nothing and are nobody's partner.
    """
    step = max(1, complete.shape[1] // CORR_ROWS)
    sample = complete[:, ::step]
    centred = sample - sample.mean(axis=1, keepdims=True)
    norm = np.sqrt((centred**2).sum(axis=1))
    with np.errstate(divide="ignore", invalid="ignore"):
        corr = np.abs(centred @ centred.T) / np.outer(norm, norm)
    corr = np.nan_to_num(corr)
    np.fill_diagonal(corr, 0.0)
    order = np.argsort(-corr, axis=1, kind="stable")[:, :k]
    return [row[corr[i, row] > 0] for i, row in enumerate(order)]


def regression_fill(target: np.ndarray, others: np.ndarray, block: int) -> np.ndarray:
    """Ridge regression of ``target`` on the complete series ``others`` (k, T), block by block.

    Each block of ``block`` steps holding a gap gets its own fit on the observed rows of the
    block and half a block either side, so the relation may drift over a long series.
    Steps whose block has too few observed rows stay NaN (no regression fill there).
    """
    n = len(target)
    missing = np.isnan(target)
    out = np.full(n, np.nan)
    for start in range(0, n, block):
        stop = min(start + block, n)
        if not missing[start:stop].any():
            continue
        lo, hi = max(0, start - block // 2), min(n, stop + block // 2)
        seen = lo + np.flatnonzero(~missing[lo:hi])
        if len(seen) >= MIN_ROWS:
            out[start:stop] = _ridge(others[:, seen].T, target[seen], others[:, start:stop].T)
    return out


def _ridge(x: np.ndarray, y: np.ndarray, x_new: np.ndarray) -> np.ndarray:
    """Ridge prediction at ``x_new`` from rows ``x`` (n, k), ``y`` (n,); the features are
    standardised first, so the penalty means the same whatever the series' units."""
    loc, scale = x.mean(axis=0), x.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    z = (x - loc) / scale
    gram = z.T @ z + RIDGE * len(y) * np.eye(z.shape[1])
    coef = np.linalg.solve(gram, z.T @ (y - y.mean()))
    return y.mean() + ((x_new - loc) / scale) @ coef


def blend_weights(candidates: np.ndarray, truth: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """Convex weights (non-negative, summing to one) of the fills ``candidates`` (K, n) that
    best recover ``truth`` (n,), pulled lightly toward the first fill (the model's); ``scale``
    is the series' spread, so that pull means the same in any units.

    Solved exactly: the best equality-constrained fit over every subset of candidates whose
    weights all come out non-negative. With nothing checked, the first fill gets all weight.
    """
    k = len(candidates)
    prior = np.eye(k)[0]
    if truth.size == 0:
        return prior
    size = np.sqrt(np.mean(truth**2)) or 1.0  # work near unit size: a well-scaled KKT system
    fills, target = candidates / size, truth / size
    shrink = SHRINK * (scale / size) ** 2
    gram = fills @ fills.T + shrink * np.eye(k)
    rhs = fills @ target + shrink * prior
    best, best_cost = prior, _cost(prior, gram, rhs)
    for count in range(1, k + 1):
        for subset in itertools.combinations(range(k), count):
            w = _constrained(gram, rhs, list(subset))
            if w is not None and _cost(w, gram, rhs) < best_cost - 1e-12:
                best, best_cost = w, _cost(w, gram, rhs)
    return best


def _constrained(gram: np.ndarray, rhs: np.ndarray, subset: list[int]) -> np.ndarray | None:
    """Minimiser of w'Gw - 2 b'w with sum(w) = 1 on ``subset``; None if any weight < 0."""
    m = len(subset)
    kkt = np.zeros((m + 1, m + 1))
    kkt[:m, :m] = 2 * gram[np.ix_(subset, subset)]
    kkt[:m, m] = kkt[m, :m] = 1.0
    solution = np.linalg.lstsq(kkt, np.append(2 * rhs[subset], 1.0), rcond=None)[0]
    if (solution[:m] < -1e-12).any():
        return None
    w = np.zeros(len(rhs))
    w[subset] = np.clip(solution[:m], 0.0, None)
    return w / w.sum()


def _cost(w: np.ndarray, gram: np.ndarray, rhs: np.ndarray) -> float:
    return float(w @ gram @ w - 2 * rhs @ w)
