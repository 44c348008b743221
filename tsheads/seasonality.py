"""Seasonal period detection and the seasonal-repeat forecast, shared by the estimators."""

from __future__ import annotations

import numpy as np

MAX_LAG = 400  # longest period the autocorrelation looks for
MIN_ACF = 0.2  # an autocorrelation peak weaker than this is no period


def detect_period(series: np.ndarray) -> int | None:
    """The lag of the highest autocorrelation peak in 3..MAX_LAG, None when no peak is clear."""
    x = series[np.isfinite(series)][:20_000]
    if len(x) < 16 or np.ptp(x) == 0:
        return None
    x = x - x.mean()
    size = 2 ** int(np.ceil(np.log2(2 * len(x))))
    spectrum = np.abs(np.fft.rfft(x, size)) ** 2
    acf = np.fft.irfft(spectrum)[: min(MAX_LAG, len(x) // 2) + 1]
    acf = acf / acf[0]
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
