"""The imputer's blend: the model's fill checked against the classical fills of `fills`.

Each series' own gap pattern, moved along a few windows, hides observed values; every
candidate fill (the model's, a straight line, the seasonal one, a regression on other
series) refills them, and the series gets the convex blend of fills that recovered them
best, weighed apart for short gaps (scattered points, runs of up to a patch) and long ones:
a straight line is hard to beat across one missing point and easy to beat across a missing
season, and one blend for both let the far more numerous points decide for the long gaps.
Numpy only: the model's fills come in through a function the imputer passes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from tsheads.fills import blend_weights, linear_fill, partners, regression_fill, seasonal_fill
from tsheads.seasonality import detect_period
from tsheads.windows import window_starts

MIN_CONTEXT = 16  # a window needs this many known values before its fill is trusted
FILLS = ("model", "linear", "seasonal", "regression")  # the candidates a blend weighs
GAPS = ("short", "long")  # gap classes, each with its own blend
SHORT_GAP = 8  # a run of at most this many missing steps is a short gap
MIN_CLASS_CHECKED = 16  # fewer checked values in a class: it takes the blend of all values
CHECK_WINDOWS = 16  # windows per series where the blend is checked
ROUNDS = 2  # blend rounds when series are regressed on each other (see blended_fills)
# the series' own gaps, moved by these shares of a window, hide the values the check refills
CHECK_SHIFTS = (0.125, 0.25, 0.375, 0.5, 0.625, 0.75, 0.875)
# model_fill(series, check) -> the model's fills of each series (check: quietly, for the check)
ModelFill = Callable[[list[np.ndarray], bool], list[np.ndarray]]


@dataclass
class Check:
    """What the blend check found for one series (see ``Imputer.blend_summary``)."""

    weights: np.ndarray  # (len(GAPS), len(FILLS)) convex blend weights; 0: unavailable fill
    errors: np.ndarray  # (len(GAPS), len(FILLS)) mean absolute error on the checked values
    checked: np.ndarray  # (len(GAPS),) observed values hidden and refilled, per gap class
    period: int | None
    partners: np.ndarray  # positions of the series it is regressed on

    def row(self, ids: list, unit: float) -> dict:
        """A row of ``blend_summary``; ``unit`` maps errors back to the series' own units."""
        out = {"period": self.period,
               "partners": ", ".join(str(ids[j]) for j in self.partners)}
        for g, gap in enumerate(GAPS):
            out[f"checked_{gap}"] = int(self.checked[g])
            for name, w, e in zip(FILLS, self.weights[g], self.errors[g], strict=True):
                out[f"weight_{gap}_{name}"] = float(w)
                out[f"mae_{gap}_{name}"] = float(e) * unit
        return out


def blended_fills(
    series: list[np.ndarray],
    groups: list[list[int]] | None,
    model_fill: ModelFill,
    length: int,
) -> tuple[list[np.ndarray], list[Check]]:
    """Fill each series with the checked blend of the model's fill and the classical fills.

    ``groups`` lists positions of series that share timestamps and may be regressed on each
    other (None: every series alone). A regression reads its partners' fills where they are
    missing too, and leans hard on them where channels are nearly collinear, so a second
    round regresses on the first round's blended fills. ``model_fill(series, check)`` fills
    series with the model (``check``: the refills of the check, quietly); ``length`` is the
    model's context, the size of the check's windows and of the regressions' blocks.
    Returns the fills and one `Check` per series.
    """
    model_fills = model_fill(series, False)
    mates = _mates(model_fills, groups or [[i] for i in range(len(series))])
    periods = [detect_period(s) for s in series]
    jobs, refills = _check_refills(series, model_fill, length)
    fills = model_fills
    for _ in range(ROUNDS if any(len(m) for m in mates) else 1):
        checks = _check(series, jobs, refills, fills, periods, mates)
        fills = [_blend(s, model_fills[i], periods[i], _others(fills, mates[i]), length,
                        checks[i].weights) for i, s in enumerate(series)]
    return fills, checks


def _blend(series, model_fill, period, others, block, weights) -> np.ndarray:
    """``series`` with its gaps filled by the ``weights`` blend of every fill, each gap by
    the blend of its class."""
    missing = np.isnan(series)
    if not missing.any():
        return series
    blends = weights @ _candidates(series, model_fill, period, others, block)  # (G, T)
    return np.where(missing, blends[gap_class(missing), np.arange(len(series))], series)


def gap_class(missing: np.ndarray) -> np.ndarray:
    """Per step, the index in GAPS of the gap it lies in: 1 (long) inside a run of more than
    SHORT_GAP missing steps, else 0."""
    edges = np.diff(np.concatenate([[0], missing.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    lengths = np.zeros(len(missing), dtype=int)
    lengths[missing] = np.repeat(ends - starts, ends - starts)  # each run's length, per step
    return (lengths > SHORT_GAP).astype(int)


def _mates(fills: list[np.ndarray], groups: list[list[int]]) -> list[np.ndarray]:
    """For each series, the positions of its regression partners within its group."""
    mates = [np.zeros(0, dtype=int) for _ in fills]
    for group in groups:
        if len(group) > 1:
            for i, chosen in zip(group, partners(np.stack([fills[i] for i in group])),
                                 strict=True):
                mates[i] = np.asarray(group)[chosen]
    return mates


def _others(fills: list[np.ndarray], mates: np.ndarray, where: slice = slice(None)):
    """The complete partner series (k, T) a regression reads, None without partners."""
    return np.stack([fills[j][where] for j in mates]) if len(mates) else None


def _candidates(
    series: np.ndarray, model_fill: np.ndarray, period: int | None, others, block: int
) -> np.ndarray:
    """Every fill of ``series`` as rows in the order of FILLS, (4, T); an unavailable fill
    (no period, no partners, too few rows to regress on) repeats the model's."""
    seasonal = model_fill if period is None else seasonal_fill(series, period)
    regression = model_fill if others is None else regression_fill(series, others, block)
    regression = np.where(np.isnan(regression), model_fill, regression)
    return np.stack([model_fill, linear_fill(series), seasonal, regression])


def _check_refills(series: list[np.ndarray], model_fill: ModelFill, length: int
                   ) -> tuple[list, list[np.ndarray]]:
    """Hide observed values in the pattern of each series' own gaps and let the model refill
    them: the jobs ``(series position, window start, hidden mask)`` and the refilled windows."""
    jobs, hidden = [], []
    for i, s in enumerate(series):
        missing = np.isnan(s)
        size = min(length, len(s))
        for start in _check_starts(missing, size):
            window = missing[start : start + size]
            for share in CHECK_SHIFTS:
                extra = np.roll(window, round(share * size)) & ~window
                if extra.any() and (~(window | extra)).sum() >= MIN_CONTEXT:
                    jobs.append((i, start, extra))
                    hidden.append(np.where(extra, np.nan, s[start : start + size]))
    return jobs, model_fill(hidden, True)


def _check(series, jobs, refills, fills, periods, mates) -> list[Check]:
    """Refill the hidden values of every job with every fill (regressions read the partners'
    ``fills``) and weigh the fills by how well they recovered the hidden values."""
    found: list[tuple[list, list, list]] = [([], [], []) for _ in series]
    for (i, start, extra), refill in zip(jobs, refills, strict=True):
        where = slice(start, start + len(extra))
        values = np.where(extra, np.nan, series[i][where])
        cands = _candidates(values, refill, periods[i], _others(fills, mates[i], where),
                            len(extra))
        found[i][0].append(cands[:, extra])
        found[i][1].append(series[i][where][extra])
        found[i][2].append(gap_class(np.isnan(values))[extra])
    return [_weigh(*found[i], periods[i], mates[i], float(np.nanstd(s)))
            for i, s in enumerate(series)]


def _check_starts(missing: np.ndarray, size: int) -> np.ndarray:
    """Starts of at most CHECK_WINDOWS tiles of ``size`` steps holding a gap, spread evenly."""
    starts = np.array([s for s in window_starts(len(missing), size, size)
                       if missing[s : s + size].any()], dtype=int)
    if len(starts) > CHECK_WINDOWS:
        starts = starts[np.linspace(0, len(starts) - 1, CHECK_WINDOWS).round().astype(int)]
    return starts


def _weigh(
    fills: list, truths: list, classes: list, period: int | None, mates: np.ndarray,
    scale: float,
) -> Check:
    """The `Check` of one series from its refilled values (list of (4, n)), the truth and
    each value's gap class: a blend per class, or the blend of every checked value for a
    class with fewer than MIN_CLASS_CHECKED of its own."""
    available = np.array([True, True, period is not None, len(mates) > 0])
    cands = np.concatenate(fills, axis=1) if fills else np.zeros((len(FILLS), 0))
    truth = np.concatenate(truths) if truths else np.zeros(0)
    kind = np.concatenate(classes) if classes else np.zeros(0, dtype=int)
    pooled = np.zeros(len(FILLS))
    pooled[available] = blend_weights(cands[available], truth, scale)
    weights = np.tile(pooled, (len(GAPS), 1))
    errors = np.full((len(GAPS), len(FILLS)), np.nan)
    checked = np.array([int((kind == g).sum()) for g in range(len(GAPS))])
    for g in range(len(GAPS)):
        own_cands, own_truth = cands[available][:, kind == g], truth[kind == g]
        if checked[g] >= MIN_CLASS_CHECKED:
            weights[g, available] = blend_weights(own_cands, own_truth, scale)
        if checked[g]:
            errors[g, available] = np.abs(own_cands - own_truth).mean(axis=1)
    return Check(weights, errors, checked, period, mates)
