"""Frequency inference and the regular time grid a series must sit on."""

from __future__ import annotations

import warnings
from collections import Counter
from typing import Any

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

Freq = pd.offsets.BaseOffset | int | None

def freq_text(freq: Freq) -> str:
    return repr(getattr(freq, "freqstr", freq))


def _pandas_freq(index: pd.DatetimeIndex) -> Freq:
    """`pd.infer_freq` as an offset, or None; silences the pandas 3.1 return-type notice."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        try:
            found = pd.infer_freq(index)
        except (TypeError, ValueError):
            return None
    return None if found is None else to_offset(found)


def _step_offset(step: pd.Timedelta) -> pd.offsets.BaseOffset:
    """An offset for a fixed step; whole days become calendar days so DST shifts stay right."""
    if step % pd.Timedelta(days=1) == pd.Timedelta(0):
        return to_offset(f"{step.days}D")
    return to_offset(step)


def _typical_freq(index: pd.DatetimeIndex) -> pd.offsets.BaseOffset:
    """Most common frequency over 3-timestamp windows (handles months), else the median step."""
    starts = np.unique(np.linspace(0, len(index) - 3, num=min(len(index) - 2, 25)).astype(int))
    found = [f for f in (_pandas_freq(index[i : i + 3]) for i in starts) if f is not None]
    if found:
        return Counter(found).most_common(1)[0][0]
    return _step_offset(pd.Timedelta(int(np.median(np.diff(index.asi8))), unit=index.unit))


def _infer(index: pd.Index) -> tuple[Freq, bool]:
    """(freq, regular): regular is False when the steps are uneven and a fallback was used."""
    if len(index) < 2:
        return None, True
    if isinstance(index, pd.PeriodIndex):
        return index.freq, True
    if not isinstance(index, pd.DatetimeIndex):
        steps = np.diff(index.to_numpy())
        step = max(int(np.median(steps)), 1)
        return step, bool((steps == step).all())
    if index.freq is not None:
        return index.freq, True
    if len(index) == 2:
        return _step_offset(index[1] - index[0]), True
    found = _pandas_freq(index)
    return (found, True) if found is not None else (_typical_freq(index), False)


def infer_freq(index: pd.Index) -> Freq:
    """Frequency of a sorted time index: an offset for datetimes/periods, an int step otherwise.

    Uses `pd.infer_freq`. When steps are uneven (gaps, jitter) it falls back to the most
    common step (over 3-timestamp windows, so months work; else the median step) and warns,
    because a guessed frequency can be wrong. Returns None for fewer than two timestamps.

    Examples
    --------
    >>> infer_freq(pd.Index([0, 5, 10]))
    5
    """
    freq, regular = _infer(index)
    if not regular:
        named = f" of {index.name!r}" if index.name is not None else ""
        warnings.warn(
            f"could not infer a regular frequency from {len(index)} timestamps{named}; using "
            f"{freq_text(freq)} from the typical step{_odd_step(index, freq)}. Pass freq= to set "
            "it (--freq on the command line), and check the dates were read as meant "
            "(--date-format).",
            UserWarning,
            stacklevel=2,
        )
    return freq


def _odd_step(index: pd.Index, freq: Freq) -> str:
    """' (but 2020-01-04 is followed by 2020-01-06)': the first step that is not ``freq``."""
    try:
        expected = index[:-1] + freq
    except (TypeError, ValueError):
        return ""
    wrong = np.asarray(expected != index[1:])
    if not wrong.any():
        return ""
    odd = int(wrong.argmax())
    return f" (but {time_text(index[odd])} is followed by {time_text(index[odd + 1])})"


def time_text(t: Any) -> str:
    """A timestamp as a user wrote it: the date alone when it is midnight."""
    if isinstance(t, pd.Timestamp) and t == t.normalize():
        return str(t.date())
    return str(t)


def parse_freq(freq: Any, index: pd.Index) -> Freq:
    """A user-given freq, checked against the kind of time index."""
    if isinstance(index, pd.PeriodIndex):
        return _period_freq(freq, index)
    if isinstance(index, pd.DatetimeIndex):
        try:
            return to_offset(freq)
        except (TypeError, ValueError):
            raise ValueError(
                f"freq={freq!r} is not a pandas frequency; use an alias such as 'D', 'h' or 'MS'."
            ) from None
    if not isinstance(freq, (int, np.integer)) or isinstance(freq, bool):
        raise TypeError(f"freq={freq!r} must be an int step for an integer time index.")
    if freq < 1:
        raise ValueError(f"freq={freq!r} must be a positive step for an integer time index.")
    return int(freq)


def _period_freq(freq: Any, index: pd.PeriodIndex) -> pd.offsets.BaseOffset:
    try:
        offset = pd.PeriodDtype(freq).freq
    except (TypeError, ValueError):
        raise ValueError(
            f"freq={freq!r} is not a period frequency; use an alias such as 'D', 'M' or 'Y'."
        ) from None
    if offset != index.freq:
        raise ValueError(
            f"freq={freq!r} does not match the PeriodIndex frequency {index.freqstr!r}; "
            "drop freq= or convert the index with .asfreq()."
        )
    return offset


def _grid_size(index: pd.Index, freq: Freq) -> float | None:
    """About how many timestamps the regular grid has; None when the step is not fixed."""
    if isinstance(index, pd.PeriodIndex):
        return None
    if isinstance(freq, int):
        return (index[-1] - index[0]) / freq + 1
    try:
        return (index[-1] - index[0]) / pd.Timedelta(freq) + 1
    except (TypeError, ValueError):
        return None


def _grid(index: pd.Index, freq: Freq, what: str) -> pd.Index:
    """The regular index from the first to the last timestamp; refuses absurdly large ones."""
    size = _grid_size(index, freq)
    if size is not None and size > 10 * len(index):
        raise ValueError(
            f"frequency {freq_text(freq)} would stretch {what} from {len(index)} to about "
            f"{int(size)} timestamps; pass a coarser freq= or resample the data."
        )
    if isinstance(index, pd.DatetimeIndex):
        return pd.date_range(index[0], index[-1], freq=freq, name=index.name)
    if isinstance(index, pd.PeriodIndex):
        return pd.period_range(index[0], index[-1], freq=index.freq, name=index.name)
    return pd.RangeIndex(int(index[0]), int(index[-1]) + 1, freq, name=index.name)


def _is_regular(index: pd.Index, freq: Freq) -> bool:
    """Fast path: every step is exactly one fixed-length `freq` (int, or tz-naive days/ticks)."""
    if isinstance(freq, int):
        return bool((np.diff(index.to_numpy()) == freq).all())
    fixed = isinstance(freq, pd.offsets.Tick) or (
        isinstance(freq, pd.offsets.Day) and getattr(index, "tz", True) is None
    )
    if not fixed or not isinstance(index, pd.DatetimeIndex):
        return False
    step = pd.Timedelta(freq) / pd.Timedelta(1, unit=index.unit)
    return bool((np.diff(index.asi8) == step).all())


def conform(index: pd.Index, freq: Freq, what: str, allow_nan: bool) -> pd.Index | None:
    """Check the timestamps lie on the freq grid; return the full grid when some are missing.

    Missing grid timestamps become NaN rows (only with ``allow_nan``); timestamps off the grid
    are an error, because no reindexing can place them.
    """
    if freq is None or len(index) < 2 or _is_regular(index, freq):
        return None
    grid = _grid(index, freq, what)
    off = grid.get_indexer(index) < 0
    if off.any():
        raise ValueError(
            f"{what} has timestamp {index[int(off.argmax())]} off the {freq_text(freq)} grid "
            f"starting at {index[0]}; resample the data or pass a matching freq=."
        )
    if len(grid) == len(index):
        return None
    if not allow_nan:
        gap = grid[~grid.isin(index)][0]
        raise ValueError(
            f"{what} is missing timestamp {gap} for frequency {freq_text(freq)}; fill the gap "
            "or pass allow_nan=True to insert NaN there."
        )
    return grid


def onto_grid(values: np.ndarray, index: pd.Index, grid: pd.Index | None) -> np.ndarray:
    """Values placed on the grid, NaN where the grid has no observation (as is without a grid)."""
    if grid is None:
        return values
    full = np.full(len(grid), np.nan)
    full[grid.get_indexer(index)] = values
    return full


def long_freq(indexes: list[pd.Index], ids: list, freq: Any) -> Freq:
    """One frequency for all series: given, or agreed by the regular series of 3+ timestamps."""
    if freq is not None:
        return parse_freq(freq, indexes[0])
    found = _infer_each(indexes)
    inferred = [(sid, len(ix), *f) for sid, ix, f in zip(ids, indexes, found, strict=True)]
    regular: dict = {}
    for sid, n, found, ok in inferred:
        if found is not None and ok and n >= 3:
            regular.setdefault(found, sid)
    if len(regular) > 1:
        (fa, a), (fb, b) = list(regular.items())[:2]
        raise ValueError(
            f"series {a!r} has frequency {freq_text(fa)} but series {b!r} has {freq_text(fb)}; "
            "resample them to one frequency or pass freq=."
        )
    return next(iter(regular)) if regular else _guess_freq(inferred)


def _infer_each(indexes: list[pd.Index]) -> list[tuple[Freq, bool]]:
    """`_infer` per index, once per distinct index: panels of many series usually share
    their timestamps, and inference costs about a millisecond per index."""
    seen: dict = {}
    out = []
    for ix in indexes:
        key = (len(ix), ix[0], ix[-1])
        hit = seen.get(key)
        if hit is None or not hit[0].equals(ix):
            hit = seen[key] = (ix, _infer(ix))
        out.append(hit[1])
    return out


def _guess_freq(inferred: list[tuple]) -> Freq:
    """The most common frequency of short or uneven series; warns when a step was guessed."""
    guesses = [found for _, _, found, _ in inferred if found is not None]
    if not guesses:
        return None
    guess = Counter(guesses).most_common(1)[0][0]
    uneven = [sid for sid, _, _, ok in inferred if not ok]
    if uneven:
        warnings.warn(
            f"could not infer a regular frequency for series {uneven[:3]} ({len(uneven)} in "
            f"all); using {freq_text(guess)} from the typical step. Pass freq= to set it.",
            UserWarning,
            stacklevel=5,
        )
    return guess


def steps_after(index: pd.Index, freq: Freq, horizon: int) -> pd.Index:
    last = index[-1]
    if isinstance(index, pd.DatetimeIndex):
        return pd.date_range(last + freq, periods=horizon, freq=freq, name=index.name)
    if isinstance(index, pd.PeriodIndex):
        return pd.period_range(last + 1, periods=horizon, freq=index.freq, name=index.name)
    start = int(last) + freq
    return pd.RangeIndex(start, start + freq * horizon, freq, name=index.name)
