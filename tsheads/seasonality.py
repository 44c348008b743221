"""Seasonal period detection and the seasonal-repeat forecast, shared by the estimators."""

from __future__ import annotations

import numpy as np

MAX_LAG = 400  # longest period the autocorrelation looks for
MIN_ACF = 0.2  # an autocorrelation peak weaker than this is no period
MIN_PAIRS = 16  # a lag joining fewer pairs of observed values is too noisy to be a period
PEAK_SHARE = 0.9  # the period: the shortest peak within this share of the highest


def detect_period(series: np.ndarray) -> int | None:
    """The season of ``series`` from its autocorrelation, None when no peak is clear.

    Missing values keep their place in time (each lag averages the products of the pairs of
    observed values it joins; dropping them would shift every later phase), and a
    straight-line trend is removed first, since a trend's slowly decaying autocorrelation
    hides the season's peaks (weekly CO2 with a tenth hidden read as a 39-week period with
    both faults). A lag joins at least ``MIN_PAIRS`` pairs and a peak must clear
    ``MIN_ACF`` and three standard errors of noise; of the peaks, the shortest within
    ``PEAK_SHARE`` of the highest wins, so a season beats its own multiples."""
    x = np.asarray(series, dtype=np.float64)[-20_000:]
    seen = np.isfinite(x)
    if seen.sum() < 16 or np.ptp(x[seen]) == 0:
        return None
    steps = np.arange(len(x), dtype=np.float64)
    slope, intercept = np.polyfit(steps[seen], x[seen], 1)
    x = np.where(seen, x - (slope * steps + intercept), 0.0)
    top = min(MAX_LAG, len(x) // 2) + 2
    power = _lagged_sums(x, top)
    pairs = np.round(_lagged_sums(seen.astype(np.float64), top))
    if power[0] <= 0:
        return None
    # mean product per pair, tapered as a complete series' estimate is
    acf = power / np.maximum(pairs, 1) / (power[0] / pairs[0]) * (1 - np.arange(top) / len(x))
    valid = np.flatnonzero(pairs >= MIN_PAIRS)  # lags compared with their valid neighbours
    inner = valid[1:-1][(acf[valid[1:-1]] > acf[valid[:-2]])
                        & (acf[valid[1:-1]] >= acf[valid[2:]])]
    peaks = inner[inner >= 3]
    peaks = peaks[acf[peaks] > np.maximum(MIN_ACF, 3 / np.sqrt(pairs[peaks]))]
    if not len(peaks):
        return None
    return int(peaks[acf[peaks] >= PEAK_SHARE * acf[peaks].max()][0])


def _lagged_sums(x: np.ndarray, top: int) -> np.ndarray:
    """``sum_t x[t] x[t + k]`` for lags k below ``top``, through one zero-padded FFT."""
    size = 2 ** int(np.ceil(np.log2(2 * len(x))))
    return np.fft.irfft(np.abs(np.fft.rfft(x, size)) ** 2)[:top]


def seasonal_repeat(history: np.ndarray, period: int, horizon: int) -> np.ndarray:
    """The last season of ``history`` repeated over ``horizon`` steps.

    A missing value takes the latest observed value at the same phase; phases never
    observed stay NaN, which callers read as "no seasonal forecast".
    """
    usable = len(history) - len(history) % period
    seasons = history[len(history) - usable :].reshape(-1, period)
    if len(seasons) == 0:
        return np.full(horizon, np.nan)
    observed = np.isfinite(seasons)
    latest = np.where(observed.any(axis=0),
                      len(seasons) - 1 - np.argmax(observed[::-1], axis=0), 0)
    last = seasons[latest, np.arange(period)]
    last = np.where(observed.any(axis=0), last, np.nan)
    return np.resize(last, horizon)
