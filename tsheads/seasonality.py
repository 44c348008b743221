"""Seasonal period detection and the seasonal-repeat forecast, shared by the estimators."""

from __future__ import annotations

import numpy as np

MAX_LAG = 400  # longest period the autocorrelation looks for
MIN_ACF = 0.2  # an autocorrelation peak weaker than this is no period


def detect_period(series: np.ndarray) -> int | None:
    """The lag of the highest autocorrelation peak in 3..MAX_LAG, None when no peak is clear.

    Missing values keep their place in time (each lag averages the pairs of observed values
    it joins; dropping them would shift every later phase), and a straight-line trend is
    removed first, since a trend's slowly decaying autocorrelation
    hides the season's peaks (weekly CO2 read as a 39-week period with both faults)."""
    x = np.asarray(series, dtype=np.float64)[-20_000:]
    seen = np.isfinite(x)
    if seen.sum() < 16 or np.ptp(x[seen]) == 0:
        return None
    steps = np.arange(len(x), dtype=np.float64)
    slope, intercept = np.polyfit(steps[seen], x[seen], 1)
    x = np.where(seen, x - (slope * steps + intercept), 0.0)
    size = 2 ** int(np.ceil(np.log2(2 * len(x))))
    top = min(MAX_LAG, int(seen.sum()) // 2) + 1
    power = np.fft.irfft(np.abs(np.fft.rfft(x, size)) ** 2)[:top]
    pairs = np.fft.irfft(np.abs(np.fft.rfft(seen.astype(np.float64), size)) ** 2)[:top]
    if power[0] <= 0:
        return None
    # mean product per pair, tapered as a complete series' estimate is, so that of equal
    # peaks (a season and its multiples) the shortest wins
    taper = 1 - np.arange(top) / len(x)
    acf = power / np.maximum(np.round(pairs), 1) * taper / (power[0] / np.round(pairs[0]))
    lags = np.arange(3, len(acf) - 1)
    peaks = lags[(acf[lags] > acf[lags - 1]) & (acf[lags] >= acf[lags + 1])]
    peaks = peaks[acf[peaks] > MIN_ACF]
    return int(peaks[np.argmax(acf[peaks])]) if len(peaks) else None


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
