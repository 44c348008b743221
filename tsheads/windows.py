"""Cutting series into windows and stitching windows back (numpy only, float64 throughout).

One grid for each job: `cut_windows` (flush with the series' end) for filling gaps,
`grid_starts` (anchored at step 0) for scoring, and `stitch` to put overlapping windows back.
Scaling lives in `tsheads.scaling`.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def left_pad(series: np.ndarray, length: int) -> tuple[np.ndarray, np.ndarray]:
    """The last ``length`` values of a series, left-padded with NaN; and the padding mask."""
    window = np.full(length, np.nan)
    tail = series[-length:]
    window[length - len(tail):] = tail
    pad = np.zeros(length, dtype=bool)
    pad[: length - len(tail)] = True
    return window, pad


def window_starts(n: int, length: int, stride: int) -> np.ndarray:
    """Start positions of windows of ``length`` covering 0..n, the last one flush with the end."""
    if n <= length:
        return np.zeros(1, dtype=int)
    starts = np.arange(0, n - length + 1, stride)
    if starts[-1] != n - length:
        starts = np.append(starts, n - length)
    return starts


def tent(length: int) -> np.ndarray:
    """Stitching weights: a value near a window's middle has context on both sides."""
    steps = np.arange(length)
    return np.minimum(steps + 1, length - steps).astype(np.float64)


def grid_starts(n: int, length: int, stride: int, first: int = 0) -> np.ndarray:
    """Starts of the windows of a grid anchored half a window before step 0 that reach step
    ``first`` or later.

    The grid (``stride`` apart) ends with the window whose middle half holds the last step,
    so the first and last steps sit mid-window beside masked padding rather than at a
    window's edge, where reconstructions are worse (a spectrum wraps the window's end onto
    its start). Anchored at step 0, a window's place never depends on which steps are asked
    for, so scoring the tail of a series gives the same windows as scoring all of it.
    """
    starts = np.arange(-(length // 2), n - length // 4, stride)
    return starts[starts + length > first]


def windows_at(series: np.ndarray, starts: np.ndarray, length: int) -> np.ndarray:
    """(N, length) windows at ``starts``, NaN where they reach outside the series."""
    padded = np.concatenate([np.full(length, np.nan), series, np.full(length, np.nan)])
    return sliding_window_view(padded, length)[np.asarray(starts) + length].copy()


def cut_windows(
    series: np.ndarray, length: int, stride: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cut a series into (N, length) windows flush with its end; short series are
    left-padded with NaN.

    Returns the windows, their padding mask and each window's start in the series
    (negative when padded).
    """
    if len(series) < length:
        starts = np.array([len(series) - length])
    else:
        starts = window_starts(len(series), length, stride)
    positions = starts[:, None] + np.arange(length)
    return windows_at(series, starts, length), positions < 0, starts


def stitch(
    n: int, windows: np.ndarray, starts: np.ndarray, weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted average of overlapping (N, length) windows back onto a series of ``n`` steps.

    ``weights`` is (N, length), zero where a window's value must not count. Returns the
    stitched values and the total weight per step (0 where no window counted).
    """
    total = np.zeros(n)
    weight = np.zeros(n)
    length = windows.shape[1]
    for window, start, w in zip(windows, starts, weights, strict=True):
        lo = max(start, 0)
        part = slice(lo - start, length)
        total[lo : start + length] += np.nan_to_num(window[part]) * w[part]
        weight[lo : start + length] += w[part]
    return np.divide(total, weight, out=np.full(n, np.nan), where=weight > 0), weight
