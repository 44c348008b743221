"""From the views' raw deviations to one anomaly score: the fit steps the views' units are
learned on, those units, the smoothing window, and the threshold."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import genpareto

from tsheads.seasonality import detect_period

MAX_WINDOW = 128  # "auto" smoothing: whole detected periods within this many steps
MAX_WINDOW_SHARE = 4  # ... and at most this share of the shortest fit series
TAIL_QUANTILE = 0.99  # a view's unit: the distance from its median to this fit quantile
POT_RISK, POT_START, POT_MIN_EXCESSES = 1e-3, 0.98, 10
PAST_QUANTILE = 0.9  # a view's unit against its own past: from the past's median to this
PAST_MIN_SHARE = 8  # ... defined once this share of the lookback (and 8 steps) has passed


def kept_steps(panel, smoothed: list[dict[str, np.ndarray]], trim: float
                ) -> list[np.ndarray]:
    """Per series (or channel), the fit steps whose units are learned: all but the ``trim``
    share that look most anomalous at first sight.

    Fit data usually holds anomalies; learned from every step, a view's units would take
    them as normal variation, most of all in the channels where they show, and those
    channels would then read calm. The first sight is each view in median/MAD units (which
    a minority of anomalous steps barely moves), the most surprised view, and for a wide
    frame the most surprised channel, so that a step dropped in one channel is dropped in
    all of them."""
    if trim == 0:
        return [np.ones(len(next(iter(sm.values()))), dtype=bool) for sm in smoothed]
    first = [_first_sight(sm) for sm in smoothed]
    entities = entities_of(panel, first)
    drop = [e > np.nanquantile(e, 1 - trim) if np.isfinite(e).any() else np.zeros(len(e), bool)
            for e in entities]
    return [~d for d in drop] if panel.layout == "long" else [~drop[0]] * len(smoothed)


def _first_sight(smoothed: dict[str, np.ndarray]) -> np.ndarray:
    """The most surprised view per step, each view in median/MAD units; NaN where none is
    defined."""
    parts = []
    for deviation in smoothed.values():
        x = deviation[np.isfinite(deviation)]
        if len(x):
            med = np.median(x)
            mad = max(float(np.median(np.abs(x - med))), 0.01 * med, 1e-12)
            parts.append((deviation - med) / mad)
    if not parts:
        return np.full(len(next(iter(smoothed.values()))), np.nan)
    stacked = np.vstack(parts)
    return np.where(np.isfinite(stacked), stacked, -np.inf).max(axis=0)


def robust_stats(smoothed: dict[str, np.ndarray], keep: np.ndarray
                  ) -> dict[str, tuple[float, float] | None]:
    """Median and tail spread (99th percentile minus median) of each view's smoothed
    deviation on the kept fit steps; None where never defined.

    A normalised score of 1 is then as far out as the view's own top 1 % of normal steps.
    The views' errors have tails of different weight (forecast errors come in long runs,
    reconstruction errors in short bursts), so matching their bulk (a MAD) left one view's
    normal excursions louder than another's; matching their tails puts the views on equal
    terms exactly where an alarm is decided."""
    stats: dict[str, tuple[float, float] | None] = {}
    for view, deviation in smoothed.items():
        x = deviation[keep & np.isfinite(deviation)]
        if len(x) == 0:
            stats[view] = None
            continue
        med = float(np.median(x))
        spread = float(np.quantile(x, TAIL_QUANTILE)) - med
        stats[view] = (med, max(spread, 0.01 * med, 1e-12))
    return stats


def median_period(series: list[np.ndarray]) -> int | None:
    periods = [p for p in map(detect_period, series) if p is not None]
    return int(np.median(periods)) if periods else None


def auto_window(period: int | None, shortest: int) -> int:
    """The most whole periods that fit in ``MAX_WINDOW`` steps (``MAX_WINDOW`` without one),
    and at most a quarter of the shortest fit series: a window as long as the series would
    smooth every score flat."""
    most = max(1, min(MAX_WINDOW, shortest // MAX_WINDOW_SHARE))
    if period is None or period > most:
        return most
    return period * (most // period)


def threshold(scores: np.ndarray, contamination: float | str) -> float:
    if contamination == "auto":
        return _pot_threshold(scores)
    return float(np.quantile(scores, 1 - contamination))


def _pot_threshold(scores: np.ndarray) -> float:
    """Peaks over threshold: a generalised Pareto fit to the excesses over the 98th
    percentile, solved for the score exceeded with probability ``POT_RISK``."""
    start = float(np.quantile(scores, POT_START))
    excess = scores[scores > start] - start
    if len(excess) < POT_MIN_EXCESSES or np.ptp(excess) == 0:
        return float(np.quantile(scores, 1 - POT_RISK))
    shape, _, spread = genpareto.fit(excess, floc=0)
    ratio = POT_RISK * len(scores) / len(excess)
    if abs(shape) < 1e-6:
        return start - spread * np.log(ratio)
    return float(start + spread / shape * (ratio ** -shape - 1))


def entities_of(panel, channels: list[np.ndarray]) -> list[np.ndarray]:
    """One score per step of each scored unit: every long series, or all channels at once."""
    return channels if panel.layout == "long" else [across_channels(channels)]


def across_channels(channels: list[np.ndarray]) -> np.ndarray:
    """The most anomalous channel per step: a fault often shows in one sensor only."""
    return np.max(np.vstack(channels), axis=0)


def fuse(smoothed: dict[str, np.ndarray], stats: dict[str, tuple | None], fusion: str,
         lookback: int = 0) -> np.ndarray:
    """Each smoothed view in its fit units (or, with a ``lookback`` of some steps, in the
    units of its own past where those read higher), fused per step by their ``fusion``
    ("max" or "mean"), leaving out views undefined at a step; 0 where no view is defined."""
    parts = [_units(smoothed[v], st, lookback) for v, st in stats.items() if st is not None]
    steps = len(next(iter(smoothed.values())))
    stacked = np.vstack(parts) if parts else np.full((1, steps), np.nan)
    ok = np.isfinite(stacked)
    if fusion == "max":
        fused = np.where(ok, stacked, -np.inf).max(axis=0)
    else:
        fused = np.where(ok, stacked, 0.0).sum(axis=0) / np.maximum(ok.sum(axis=0), 1)
    return np.where(ok.any(axis=0), fused, 0.0)


def _units(smoothed: np.ndarray, stats: tuple[float, float], lookback: int) -> np.ndarray:
    """One view in its fit units, or in the units of its past ``lookback`` steps where
    those read higher (fit units where the past is too short)."""
    med, spread = stats
    in_fit_units = (smoothed - med) / spread
    if not lookback:
        return in_fit_units
    return np.fmax(in_fit_units, past_units(smoothed, lookback, max(0.01 * abs(med), 1e-12)))


def past_units(smoothed: np.ndarray, steps: int, floor: float) -> np.ndarray:
    """Each step of a smoothed view against its own ``steps`` steps before: (value - their
    median) / (their 90th percentile - their median), that spread at least ``floor``; NaN
    until an eighth of ``steps`` (and 8) have passed.

    Units learned in ``fit`` take the anomalies of the fit data for normal variation, the
    usual case when one file is both fitted and scored; the steps before an anomaly are its
    normal surroundings, and against them its onset stands out."""
    past = pd.Series(smoothed).shift(1).rolling(steps, min_periods=max(8, steps //
                                                                       PAST_MIN_SHARE))
    med = past.median().to_numpy()
    spread = np.maximum(past.quantile(PAST_QUANTILE).to_numpy() - med, floor)
    return (smoothed - med) / spread
