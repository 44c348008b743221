"""Frames in and out: user input <-> `Panel`, with validation.

Every estimator sees its input as a *panel*: a list of univariate float64 series with their own
time index and one shared frequency. `to_panel` accepts the layouts users have (a long frame with
``unique_id``/``ds``/``y`` columns, a wide frame with one column per series, a numpy array or a
``pd.Series``), checks it and records what is needed to rebuild the output in the same layout;
`from_panel` and `from_panel_columns` do that rebuild. Only this module touches pandas.
"""

from __future__ import annotations

import numbers
import warnings
from collections import Counter
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

__all__ = [
    "Panel",
    "describe_inserted",
    "from_panel",
    "from_panel_columns",
    "future_index",
    "given_rows",
    "infer_freq",
    "inserted_timestamps",
    "to_panel",
]

Freq = pd.offsets.BaseOffset | int | None


@dataclass(frozen=True)
class GivenRows:
    """Where the input's own rows sit in a panel whose missing grid timestamps were inserted.

    ``positions`` holds, per series, the positions of the input's timestamps in its grid;
    ``frame_index`` and ``row_order`` are what `Panel` would hold had nothing been inserted.
    """

    positions: list[np.ndarray]
    frame_index: pd.Index
    row_order: np.ndarray | None = None


@dataclass(frozen=True)
class Panel:
    """Many univariate series plus what is needed to rebuild output in the input layout.

    Attributes
    ----------
    values : list of float64 1-D arrays, one per series; NaN marks a missing value.
    ids : series names: column labels (wide), ``id_col`` values (long), 0..n-1 (array).
    index : time index per series (DatetimeIndex, PeriodIndex or integer index).
    freq : pandas offset for datetime/period time, int step for integer time; None when unknown.
    layout : "wide", "long" or "array" (a ``pd.Series`` is "wide" with ``ndim=1``).
    columns : original column labels in order (wide; for a Series, its name).
    dtypes : original dtype per series, restored on output when nothing was lost.
    frame_index : the input's row index; None when missing timestamps were inserted as NaN.
    row_order : long only: input row position of each panel value, to restore the row order.
    id_col, time_col, target_col : long-format column names (``id_col`` None when absent).
    id_dtype : dtype of the input's id column (long).
    ndim : 1 for a 1-D array or a Series, else 2.
    given : where the input's rows are, when missing timestamps were inserted; else None.
    """

    values: list[np.ndarray]
    ids: list
    index: list[pd.Index]
    freq: Freq
    layout: str
    columns: pd.Index | None = None
    dtypes: tuple = ()
    frame_index: pd.Index | None = None
    row_order: np.ndarray | None = None
    id_col: str | None = "unique_id"
    time_col: str = "ds"
    target_col: str = "y"
    id_dtype: Any = None
    ndim: int = 2
    given: GivenRows | None = None

    def __len__(self) -> int:
        return len(self.values)


# ---------------------------------------------------------------- frequency


def _fmt(freq: Freq) -> str:
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
            f"{_fmt(freq)} from the typical step{_odd_step(index, freq)}. Pass freq= to set it "
            "(--freq on the command line), and check the dates were read as meant "
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
    odd = _first(np.asarray(expected != index[1:]))
    if odd is None:
        return ""
    return f" (but {_show(index[odd])} is followed by {_show(index[odd + 1])})"


def _show(t: Any) -> str:
    """A timestamp as a user wrote it: the date alone when it is midnight."""
    if isinstance(t, pd.Timestamp) and t == t.normalize():
        return str(t.date())
    return str(t)


def _parse_freq(freq: Any, index: pd.Index) -> Freq:
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
            f"frequency {_fmt(freq)} would stretch {what} from {len(index)} to about "
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


def _conform(index: pd.Index, freq: Freq, what: str, allow_nan: bool) -> pd.Index | None:
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
            f"{what} has timestamp {index[int(off.argmax())]} off the {_fmt(freq)} grid starting "
            f"at {index[0]}; resample the data or pass a matching freq=."
        )
    if len(grid) == len(index):
        return None
    if not allow_nan:
        gap = grid[~grid.isin(index)][0]
        raise ValueError(
            f"{what} is missing timestamp {gap} for frequency {_fmt(freq)}; fill the gap "
            "or pass allow_nan=True to insert NaN there."
        )
    return grid


def _reindex(values: np.ndarray, index: pd.Index, grid: pd.Index | None) -> np.ndarray:
    """Values placed on the grid, NaN where the grid has no observation (as is without a grid)."""
    if grid is None:
        return values
    full = np.full(len(grid), np.nan)
    full[grid.get_indexer(index)] = values
    return full


# ---------------------------------------------------------------- validation


def _is_number(x: Any) -> bool:
    if x is None or x is pd.NA:
        return True
    return isinstance(x, numbers.Real) and not isinstance(x, (bool, np.bool_))


def _to_float(col: pd.Series, what: str, index: pd.Index, rows: Any) -> np.ndarray:
    """The column as a fresh float64 array (NaN for missing); TypeError for non-numeric data."""
    dtype = col.dtype
    if pd.api.types.is_bool_dtype(dtype):
        raise TypeError(f"{what} is boolean; cast it with .astype(float) if it is a signal.")
    if pd.api.types.is_numeric_dtype(dtype) and dtype.kind != "c":
        return col.to_numpy(dtype=np.float64, na_value=np.nan, copy=True)
    if pd.api.types.is_datetime64_any_dtype(dtype) or isinstance(dtype, pd.PeriodDtype):
        raise TypeError(
            f"{what} holds timestamps, not values; make it the index with df.set_index(...) "
            "for a wide frame, or name it with time_col= (and target_col=) for a long frame."
        )
    numeric = col.map(_is_number).to_numpy(dtype=bool)
    if numeric.all() and dtype.kind == "O":
        return pd.to_numeric(col).to_numpy(dtype=np.float64, na_value=np.nan, copy=True)
    i = int((~numeric).argmax())
    raise TypeError(
        f"{what} has non-numeric dtype {dtype} (value {col.iloc[i]!r} at {_at(index, rows, i)}); "
        "convert it with pd.to_numeric or drop the column."
    )


def _at(index: pd.Index, rows: Any, i: int) -> str:
    return f"row {rows[i]}" if index[i] == rows[i] else f"{index[i]} (row {rows[i]})"


def _first(mask: np.ndarray) -> int | None:
    return int(mask.argmax()) if mask.any() else None


def _value_error(x: float, what: str, where: str) -> ValueError:
    if np.isnan(x):
        return ValueError(
            f"{what} has NaN at {where}; fill missing values first (tsheads.Imputer does this) "
            "or drop those rows."
        )
    return ValueError(f"{what} has {x} at {where}; replace infinite values with NaN or drop them.")


def _all_nan_error(what: str) -> ValueError:
    return ValueError(f"{what} is all NaN; drop it or give it at least one observed value.")


def _check_values(v: np.ndarray, what: str, index: pd.Index, rows: Any, allow_nan: bool) -> None:
    """inf is always an error, so is an all-NaN series; other NaN only without `allow_nan`."""
    missing = np.isnan(v)
    inf = _first(np.isinf(v))
    if inf is not None:
        raise _value_error(v[inf], what, _at(index, rows, inf))
    if missing.all():
        raise _all_nan_error(what)
    nan = None if allow_nan else _first(missing)
    if nan is not None:
        raise _value_error(v[nan], what, _at(index, rows, nan))


def _check_not_empty(shape: tuple, kind: str) -> None:
    if 0 in shape:
        raise ValueError(
            f"{kind} is empty (shape {shape}); pass at least one time step and one series."
        )


def _is_time_index(index: pd.Index) -> bool:
    if isinstance(index, (pd.DatetimeIndex, pd.PeriodIndex)):
        return True
    return pd.api.types.is_integer_dtype(index.dtype) and not isinstance(index, pd.MultiIndex)


def _mixed_zones(values: Any) -> str | None:
    """For object data made of timestamps in several time zones (pandas cannot hold them in
    one datetime column): the zones seen, e.g. "UTC and None"; else None."""
    sample = pd.Series(values, dtype=object).dropna()
    if sample.empty or not sample.map(lambda x: isinstance(x, pd.Timestamp)).all():
        return None
    zones = list(dict.fromkeys(str(x.tz) for x in sample))
    return " and ".join(zones[:2]) if len(zones) > 1 else None


def _mixed_zones_error(what: str, zones: str) -> TypeError:
    return TypeError(
        f"{what} mixes timestamps of different time zones ({zones}; None means naive); "
        "convert them to one zone, e.g. pd.to_datetime(..., utc=True), or localise the "
        "naive ones with .tz_localize()."
    )


def _check_wide_index(index: pd.Index) -> None:
    """A wide index must be time-like, complete, unique and sorted."""
    zones = _mixed_zones(index) if index.dtype.kind == "O" else None
    if zones is not None:
        raise _mixed_zones_error("wide frame index", zones)
    if not _is_time_index(index):
        raise TypeError(
            f"wide frame index must be a DatetimeIndex, PeriodIndex or integer index, got "
            f"{type(index).__name__} of dtype {index.dtype}; convert it with "
            "df.index = pd.to_datetime(df.index), or pass a long frame with time_col=."
        )
    if index.hasnans:
        i = int(np.asarray(index.isna()).argmax())
        raise ValueError(f"wide frame index has a missing timestamp at row {i}; drop that row.")
    if index.has_duplicates:
        raise ValueError(
            f"wide frame index has duplicated timestamp {index[index.duplicated()][0]}; keep one "
            "row per timestamp, e.g. df[~df.index.duplicated()] or df.groupby(level=0).mean()."
        )
    if not index.is_monotonic_increasing:
        i = int(np.asarray(index[1:] < index[:-1]).argmax()) + 1
        raise ValueError(
            f"wide frame index is not sorted: row {i} ({index[i]}) is earlier than row {i - 1} "
            f"({index[i - 1]}); sort it with df.sort_index()."
        )


# ---------------------------------------------------------------- to_panel


def to_panel(
    data: Any,
    *,
    id_col: str = "unique_id",
    time_col: str = "ds",
    target_col: str = "y",
    freq: Any = None,
    min_length: int = 1,
    allow_nan: bool = True,
) -> Panel:
    """Validate user input and split it into univariate float64 series.

    Parameters
    ----------
    data : DataFrame, Series or ndarray
        A long frame (it has `time_col` and `target_col`; one series per `id_col` value, or
        one series without `id_col`; rows in any order), a wide frame (each numeric column a
        series over a sorted DatetimeIndex, PeriodIndex or integer index), a ``pd.Series``,
        or a 1-D/2-D array (rows = time steps, columns = series).
    id_col, time_col, target_col : str
        Column names of a long frame.
    freq : str, offset or int, optional
        The time step; inferred per series with `pd.infer_freq` when None. Uneven steps fall
        back to the typical step with a UserWarning. Data off the frequency grid is an error.
    min_length : int
        Fewest timestamps a series may have.
    allow_nan : bool
        Accept missing values. Timestamps missing from the frequency grid are then inserted
        as NaN; without it, both are errors.

    Returns
    -------
    Panel
        Fresh float64 copies: the input is never mutated, nor shared with the panel.

    Raises
    ------
    TypeError
        For non-numeric or boolean values, an unsupported time index or input type.
    ValueError
        For empty input, inf, all-NaN series, duplicated or unsorted (wide) timestamps, gaps
        without `allow_nan`, timestamps off the grid, mixed frequencies, short series.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"a": [1.0, 2.0, None]}, index=pd.date_range("2024-01-01", periods=3))
    >>> panel = to_panel(df)
    >>> panel.ids, panel.freq
    (['a'], <Day>)
    >>> from_panel(panel, [v * 10 for v in panel.values])
                   a
    2024-01-01  10.0
    2024-01-02  20.0
    2024-01-03   NaN
    """
    if isinstance(data, pd.DataFrame):
        if _is_long(data, id_col, time_col, target_col):
            panel = _long_to_panel(data, id_col, time_col, target_col, freq, allow_nan)
        else:
            panel = _wide_to_panel(data, freq, allow_nan)
    elif isinstance(data, pd.Series):
        panel = _series_to_panel(data, target_col, freq, allow_nan)
    elif isinstance(data, np.ndarray):
        panel = _array_to_panel(data, freq, allow_nan)
    elif _is_sparse(data):
        raise TypeError(
            f"sparse input ({type(data).__name__}) is not supported: a time series is dense, "
            "and an absent value is missing, not zero; pass X.toarray() with NaN where a "
            "value is missing."
        )
    else:
        raise TypeError(
            f"expected a pandas DataFrame, Series or numpy array, got {type(data).__name__}; "
            "wrap lists with np.asarray(...)."
        )
    _check_min_length(panel, min_length)
    return panel


def _is_sparse(data) -> bool:
    """A scipy sparse matrix or array (scipy is a dependency, so the import is cheap)."""
    from scipy import sparse

    return sparse.issparse(data)


def _is_long(df: pd.DataFrame, id_col: str, time_col: str, target_col: str) -> bool:
    """Long when the time and target columns exist; an id column alone means a broken long frame."""
    if time_col in df.columns and target_col in df.columns:
        return True
    if id_col not in df.columns:
        return False
    col, arg, role = (time_col, "time_col", "time")
    if time_col in df.columns:
        col, arg, role = (target_col, "target_col", "value")
    raise ValueError(
        f"long-format frame is missing column {col!r}; pass {arg}= to name the {role} column."
    )


def _check_min_length(panel: Panel, min_length: int) -> None:
    for sid, v in zip(panel.ids, panel.values, strict=True):
        if len(v) < min_length:
            raise ValueError(
                f"series {sid!r} has {len(v)} timestamps, fewer than min_length={min_length}; "
                "drop it or pass a longer history."
            )


def _wide_to_panel(df: pd.DataFrame, freq: Any, allow_nan: bool) -> Panel:
    """Each column a series over the shared index."""
    _check_not_empty(df.shape, "input frame")
    index = df.index
    _check_wide_index(index)
    if df.columns.has_duplicates:
        dup = df.columns[df.columns.duplicated()][0]
        raise ValueError(f"wide frame has duplicated column {dup!r}; give each series its name.")
    rows = np.arange(len(df))
    values = []
    for j, col in enumerate(df.columns):
        v = _to_float(df.iloc[:, j], f"column {col!r}", index, rows)
        _check_values(v, f"column {col!r}", index, rows, allow_nan)
        values.append(v)
    freq = _wide_freq(index, freq)
    grid = _conform(index, freq, "wide frame index", allow_nan)
    if grid is not None:
        values = [_reindex(v, index, grid) for v in values]
    return Panel(
        values=values,
        ids=list(df.columns),
        index=[index if grid is None else grid] * len(values),
        freq=freq,
        layout="wide",
        columns=df.columns,
        dtypes=tuple(df.dtypes),
        frame_index=index if grid is None else None,
        given=None if grid is None else GivenRows([grid.get_indexer(index)] * len(values), index),
    )


def _wide_freq(index: pd.Index, freq: Any) -> Freq:
    if freq is not None:
        return _parse_freq(freq, index)
    if isinstance(index, pd.RangeIndex):
        return index.step
    return infer_freq(index)


def _series_to_panel(s: pd.Series, target_col: str, freq: Any, allow_nan: bool) -> Panel:
    """A Series is a one-column wide frame whose name is restored on output."""
    frame = s.to_frame(name=target_col if s.name is None else s.name)
    return replace(_wide_to_panel(frame, freq, allow_nan), columns=pd.Index([s.name]), ndim=1)


def _array_to_panel(a: np.ndarray, freq: Any, allow_nan: bool) -> Panel:
    """Rows are time steps, columns series; the time index is 0..T-1."""
    if a.ndim not in (1, 2):
        raise ValueError(
            f"expected a 1-D or 2-D array (rows = time, columns = series), got shape {a.shape}; "
            "reshape it."
        )
    _check_not_empty(a.shape, "input array")
    panel = _wide_to_panel(pd.DataFrame(a.reshape(len(a), -1)), freq, allow_nan)
    return replace(panel, layout="array", ndim=a.ndim)


def _long_to_panel(
    df: pd.DataFrame, id_col: str, time_col: str, target_col: str, freq: Any, allow_nan: bool
) -> Panel:
    """One series per id, sorted by time (the input keeps its row order)."""
    _check_not_empty(df.shape, "input frame")
    has_id = id_col in df.columns
    cols = (id_col if has_id else None, time_col, target_col)
    ids, order, indexes, values = _split_long(df, *cols, allow_nan)
    freq = _long_freq(indexes, ids, freq)
    where = [f"series {sid!r}" for sid in ids]
    grids = [_conform(ix, freq, w, allow_nan) for ix, w in zip(indexes, where, strict=True)]
    complete = all(g is None for g in grids)
    given = None
    if not complete:
        positions = [np.arange(len(ix)) if g is None else g.get_indexer(ix)
                     for ix, g in zip(indexes, grids, strict=True)]
        given = GivenRows(positions, df.index, order)
        values = [_reindex(v, ix, g) for v, ix, g in zip(values, indexes, grids, strict=True)]
        indexes = [ix if g is None else g for ix, g in zip(indexes, grids, strict=True)]
    return Panel(
        values=values,
        ids=ids,
        index=indexes,
        freq=freq,
        layout="long",
        dtypes=(df[target_col].dtype,) * len(ids),
        frame_index=df.index if complete else None,
        row_order=order if complete else None,
        id_col=cols[0],
        time_col=time_col,
        target_col=target_col,
        id_dtype=df[id_col].dtype if has_id else None,
        given=given,
    )


def _split_long(
    df: pd.DataFrame, id_col: str | None, time_col: str, target_col: str, allow_nan: bool
) -> tuple[list, np.ndarray, list[pd.Index], list[np.ndarray]]:
    """Sort rows by id then time, check them, and cut them into one series per id."""
    y = _to_float(df[target_col], f"column {target_col!r}", df.index, df.index)
    times = _time_values(df, time_col)
    codes, ids = _factorize(df, id_col) if id_col else (np.zeros(len(df), np.intp), [target_col])
    by_time = times.argsort()
    order = by_time[np.argsort(codes[by_time], kind="stable")]
    codes, times, y = codes[order], times.take(order), y[order]
    _check_long_duplicates(codes, times, ids, [c for c in (id_col, time_col) if c])
    _check_long_values(y, codes, times, df.index.take(order), ids, target_col, allow_nan)
    ends = np.cumsum(np.bincount(codes, minlength=len(ids)))
    indexes = [times[a:b] for a, b in zip(np.r_[0, ends[:-1]], ends, strict=True)]
    return ids, order, indexes, np.split(y, ends[:-1])


def _time_values(df: pd.DataFrame, time_col: str) -> pd.Index:
    """The time column as an Index; datetimes (any tz), periods or integers, no missing values."""
    col = df[time_col]
    dtype = col.dtype
    time_like = pd.api.types.is_datetime64_any_dtype(dtype) or isinstance(dtype, pd.PeriodDtype)
    zones = _mixed_zones(col) if dtype.kind == "O" else None
    if zones is not None:
        raise _mixed_zones_error(f"time column {time_col!r}", zones)
    if not time_like and not (pd.api.types.is_integer_dtype(dtype) and dtype.kind != "b"):
        raise TypeError(
            f"time column {time_col!r} has dtype {dtype}; convert it with "
            f"df[{time_col!r}] = pd.to_datetime(df[{time_col!r}]) or use integer time steps."
        )
    if col.isna().any():
        i = int(col.isna().to_numpy().argmax())
        raise ValueError(
            f"time column {time_col!r} has a missing timestamp at row {df.index[i]}; "
            "drop or fill that row."
        )
    return pd.Index(col, name=time_col)


def _factorize(df: pd.DataFrame, id_col: str) -> tuple[np.ndarray, list]:
    """Integer code per row and the sorted ids (first-appearance order if ids do not sort)."""
    try:
        codes, uniques = pd.factorize(df[id_col], sort=True)
    except TypeError:
        codes, uniques = pd.factorize(df[id_col])
    if (codes < 0).any():
        i = int((codes < 0).argmax())
        raise ValueError(
            f"id column {id_col!r} has a missing id at row {df.index[i]}; fill or drop that row."
        )
    return codes, pd.Index(uniques).tolist()


def _check_long_duplicates(codes: np.ndarray, times: pd.Index, ids: list, keys: list) -> None:
    """Rows are sorted by (id, time), so duplicates are adjacent."""
    dup = (codes[1:] == codes[:-1]) & np.asarray(times[1:] == times[:-1])
    if dup.any():
        i = int(dup.argmax())
        raise ValueError(
            f"series {ids[codes[i]]!r} has duplicated timestamp {times[i]} in column "
            f"{keys[-1]!r}; keep one row per series and time, e.g. df.drop_duplicates({keys!r})."
        )


def _check_long_values(
    y: np.ndarray,
    codes: np.ndarray,
    times: pd.Index,
    rows: pd.Index,
    ids: list,
    target_col: str,
    allow_nan: bool,
) -> None:
    """As `_check_values`, over all series at once; messages name the series and its row."""
    missing = np.isnan(y)
    observed = np.bincount(codes, weights=~missing, minlength=len(ids))
    inf = _first(np.isinf(y))
    if inf is not None:
        what = f"column {target_col!r} of series {ids[codes[inf]]!r}"
        raise _value_error(y[inf], what, _at(times, rows, inf))
    empty = _first(observed == 0)
    if empty is not None:
        raise _all_nan_error(f"series {ids[empty]!r}")
    nan = None if allow_nan else _first(missing)
    if nan is not None:
        what = f"column {target_col!r} of series {ids[codes[nan]]!r}"
        raise _value_error(y[nan], what, _at(times, rows, nan))


def _long_freq(indexes: list[pd.Index], ids: list, freq: Any) -> Freq:
    """One frequency for all series: given, or agreed by the regular series of 3+ timestamps."""
    if freq is not None:
        return _parse_freq(freq, indexes[0])
    found = _infer_each(indexes)
    inferred = [(sid, len(ix), *f) for sid, ix, f in zip(ids, indexes, found, strict=True)]
    regular: dict = {}
    for sid, n, found, ok in inferred:
        if found is not None and ok and n >= 3:
            regular.setdefault(found, sid)
    if len(regular) > 1:
        (fa, a), (fb, b) = list(regular.items())[:2]
        raise ValueError(
            f"series {a!r} has frequency {_fmt(fa)} but series {b!r} has {_fmt(fb)}; "
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
            f"all); using {_fmt(guess)} from the typical step. Pass freq= to set it.",
            UserWarning,
            stacklevel=5,
        )
    return guess


# ---------------------------------------------------------------- from_panel


def _fits(v: np.ndarray, dtype: Any) -> bool:
    """Whether float values survive a cast to the integer dtype (integral, in range, NaN-free)."""
    finite = v[~np.isnan(v)]
    nullable = pd.api.types.is_extension_array_dtype(dtype)
    if len(finite) < len(v) and not nullable:
        return False
    info = np.iinfo(dtype.numpy_dtype if nullable else dtype)
    in_range = finite.size == 0 or (finite.min() >= info.min and finite.max() <= info.max)
    return bool(in_range and np.array_equal(finite, np.round(finite)))


def _restore(v: np.ndarray, dtype: Any) -> Any:
    """Cast float64 values back to the input dtype when that loses nothing."""
    if v.dtype != np.float64 or dtype == np.float64:
        return v
    is_int = pd.api.types.is_integer_dtype(dtype)
    if not (pd.api.types.is_float_dtype(dtype) or (is_int and _fits(v, dtype))):
        return v
    if pd.api.types.is_extension_array_dtype(dtype):
        return pd.array(v, dtype=dtype)
    return v.astype(dtype)


def _check_output(panel: Panel, values: list, index: list[pd.Index]) -> None:
    if len(values) != len(panel) or len(index) != len(panel):
        raise ValueError(
            f"got {len(values)} value arrays and {len(index)} indexes for a panel of "
            f"{len(panel)} series; pass one per series."
        )
    for sid, v, ix in zip(panel.ids, values, index, strict=True):
        if len(v) != len(ix):
            raise ValueError(
                f"series {sid!r} has {len(v)} values for an index of {len(ix)} timestamps; "
                "pass values aligned with the index."
            )


def from_panel(
    panel: Panel,
    values: list[np.ndarray],
    *,
    index: list[pd.Index] | None = None,
    name: str | None = None,
) -> pd.DataFrame | pd.Series | np.ndarray:
    """Rebuild one value per timestamp in the layout `panel` came from.

    Parameters
    ----------
    panel : Panel
        From `to_panel`.
    values : list of 1-D arrays
        One per series, aligned with `index`.
    index : list of pd.Index, optional
        One per series (e.g. from `future_index`) for new rows; None keeps the input's
        timestamps, row order (long) and index, and, when `name` is None and nothing is lost,
        its dtypes (integers stay integers unless NaN or non-integral values appear).
    name : str, optional
        Value column of long output (default `target_col`) and name of Series output; wide
        columns keep the series names. A given name marks new quantities: no dtype restoring.

    Returns
    -------
    DataFrame, Series or ndarray
        Long in, long out (``id_col, time_col, name``; extra input columns are not carried);
        wide in, wide out; Series in, Series out; array in, array out of the same ndim.
    """
    same = index is None
    index = list(panel.index) if same else list(index)
    _check_output(panel, values, index)
    if same and name is None and panel.frame_index is not None:
        values = [_restore(np.asarray(v), dt) for v, dt in zip(values, panel.dtypes, strict=True)]
    if panel.layout == "array":
        return _array_out(panel, values)
    if panel.layout == "long":
        out = _long_out(panel, {panel.target_col if name is None else name: values}, index)
        return _original_rows(panel, out) if same else out
    if panel.ndim == 1:
        return pd.Series(values[0], index=index[0], name=panel.columns[0] if name is None else name)
    return _wide_out(panel, values, index)


def from_panel_columns(
    panel: Panel, columns: dict[str, list[np.ndarray]], index: list[pd.Index]
) -> pd.DataFrame | dict[str, np.ndarray]:
    """Rebuild several value columns per timestamp (forecast, intervals, quantiles).

    Parameters
    ----------
    panel : Panel
        From `to_panel`.
    columns : dict of str to list of 1-D arrays
        Value column name -> one array per series, aligned with `index`.
    index : list of pd.Index
        One per series, e.g. from `future_index`.

    Returns
    -------
    DataFrame or dict of ndarray
        Long in: ``id_col, time_col, <col1>, <col2>, ...``. Wide in: one column per series
        for a single value column, else MultiIndex columns ``(series, value column)``. Series
        in: one column per value column. Array in: a dict of arrays keyed by value column.
    """
    index = list(index)
    for vals in columns.values():
        _check_output(panel, vals, index)
    if panel.layout == "array":
        return {k: _array_out(panel, v) for k, v in columns.items()}
    if panel.layout == "long":
        return _long_out(panel, columns, index)
    if panel.ndim == 1:
        return pd.DataFrame({k: np.asarray(v[0]) for k, v in columns.items()}, index=index[0])
    if len(columns) == 1:
        return _wide_out(panel, next(iter(columns.values())), index)
    out = pd.concat([_wide_out(panel, v, index) for v in columns.values()], axis=1, keys=columns)
    out = out.swaplevel(axis=1)
    return out.loc[:, [(s, k) for s in panel.columns for k in columns]]


def _array_out(panel: Panel, values: list) -> np.ndarray:
    return np.array(values[0]) if panel.ndim == 1 else np.column_stack(values)


def _wide_out(panel: Panel, values: list, index: list[pd.Index]) -> pd.DataFrame:
    """One column per series; differing indexes are outer-joined."""
    if all(ix.equals(index[0]) for ix in index):
        out = pd.DataFrame(dict(enumerate(values)), index=index[0])
    else:
        parts = [pd.Series(np.asarray(v), index=ix) for v, ix in zip(values, index, strict=True)]
        out = pd.concat(parts, axis=1)
    out.columns = panel.columns
    return out


def _long_out(panel: Panel, columns: dict, index: list[pd.Index]) -> pd.DataFrame:
    """Rows sorted by series then time: id (when the input had one), time, value columns."""
    data = {}
    if panel.id_col is not None:
        ids = pd.Series(panel.ids, dtype=object).repeat([len(ix) for ix in index])
        data[panel.id_col] = ids.reset_index(drop=True).astype(panel.id_dtype)
    data[panel.time_col] = index[0].append(index[1:]).rename(panel.time_col)
    for key, vals in columns.items():
        data[key] = np.concatenate([np.asarray(v) for v in vals])
    return pd.DataFrame(data)


def _original_rows(panel: Panel, out: pd.DataFrame) -> pd.DataFrame:
    """Put sorted long rows back in the input's row order and index."""
    if panel.row_order is None:
        return out
    inverse = np.empty_like(panel.row_order)
    inverse[panel.row_order] = np.arange(len(inverse))
    return out.iloc[inverse].set_axis(panel.frame_index, axis=0)


def inserted_timestamps(panel: Panel) -> list[pd.Index]:
    """Per series, the grid timestamps that `to_panel` inserted because the input lacked them."""
    if panel.given is None:
        return [ix[:0] for ix in panel.index]
    return [ix.delete(pos) for ix, pos in zip(panel.index, panel.given.positions, strict=True)]


def describe_inserted(panel: Panel, shown: int = 3) -> str | None:
    """'2 missing timestamps were inserted ... (first: ...)', or None when none were.

    Wide input counts timestamps (rows); long input counts them over all series and names
    the series of the first few.
    """
    added = inserted_timestamps(panel)
    if panel.layout != "long":
        added = added[:1]
    total = sum(len(a) for a in added)
    if total == 0:
        return None
    ids = panel.ids[: len(added)]
    firsts = [(sid, t) for sid, a in zip(ids, added, strict=True) for t in a[:shown]]
    where = ", ".join(_show(t) if panel.layout != "long" else f"{sid!r} at {_show(t)}"
                      for sid, t in firsts[:shown])
    more = ", ..." if total > shown else ""
    plural = "s were" if total > 1 else " was"
    return (f"{total} timestamp{plural} missing from the {_fmt(panel.freq)} grid and "
            f"inserted as missing values ({where}{more})")


def given_rows(panel: Panel, values: list[np.ndarray]) -> tuple[Panel, list[np.ndarray]]:
    """The panel and per-series values cut back to the input's own timestamps, as if no
    timestamp had been inserted; `from_panel` then returns exactly the input rows."""
    if panel.given is None:
        return panel, values
    pos = panel.given.positions
    kept = [np.asarray(v)[p] for v, p in zip(values, pos, strict=True)]
    index = [ix[p] for ix, p in zip(panel.index, pos, strict=True)]
    cut = replace(panel, values=[v[p] for v, p in zip(panel.values, pos, strict=True)],
                  index=index, frame_index=panel.given.frame_index,
                  row_order=panel.given.row_order, given=None)
    return cut, kept


def future_index(panel: Panel, horizon: int) -> list[pd.Index]:
    """The `horizon` timestamps after each series' last one, at the panel frequency.

    Returns a DatetimeIndex (with freq), PeriodIndex or RangeIndex per series.

    Examples
    --------
    >>> panel = to_panel(np.zeros((4, 2)))
    >>> future_index(panel, 2)[0]
    RangeIndex(start=4, stop=6, step=1)
    """
    if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)):
        raise TypeError(f"horizon must be an int, got {type(horizon).__name__}.")
    if horizon < 1:
        raise ValueError(f"horizon must be at least 1, got {horizon}.")
    if panel.freq is None:
        raise ValueError(
            "the panel frequency is unknown (every series has one timestamp); pass freq= "
            "when building it."
        )
    return [_after(ix, panel.freq, int(horizon)) for ix in panel.index]


def _after(index: pd.Index, freq: Freq, horizon: int) -> pd.Index:
    last = index[-1]
    if isinstance(index, pd.DatetimeIndex):
        return pd.date_range(last + freq, periods=horizon, freq=freq, name=index.name)
    if isinstance(index, pd.PeriodIndex):
        return pd.period_range(last + 1, periods=horizon, freq=index.freq, name=index.name)
    start = int(last) + freq
    return pd.RangeIndex(start, start + freq * horizon, freq, name=index.name)
