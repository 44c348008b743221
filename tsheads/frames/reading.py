"""User input -> `Panel`: layouts recognised, values and timestamps checked."""

from __future__ import annotations

import numbers
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from tsheads.frames.frequency import Freq, conform, infer_freq, long_freq, onto_grid, parse_freq
from tsheads.frames.panel import ID_COL, TARGET_COL, TIME_COL, GivenRows, Panel


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
    id_col: str = ID_COL,
    time_col: str = TIME_COL,
    target_col: str = TARGET_COL,
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
    >>> from tsheads.frames import from_panel
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
    grid = conform(index, freq, "wide frame index", allow_nan)
    if grid is not None:
        values = [onto_grid(v, index, grid) for v in values]
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
        return parse_freq(freq, index)
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
    freq = long_freq(indexes, ids, freq)
    where = [f"series {sid!r}" for sid in ids]
    grids = [conform(ix, freq, w, allow_nan) for ix, w in zip(indexes, where, strict=True)]
    complete = all(g is None for g in grids)
    given = None
    if not complete:
        positions = [np.arange(len(ix)) if g is None else g.get_indexer(ix)
                     for ix, g in zip(indexes, grids, strict=True)]
        given = GivenRows(positions, df.index, order)
        values = [onto_grid(v, ix, g) for v, ix, g in zip(values, indexes, grids, strict=True)]
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
