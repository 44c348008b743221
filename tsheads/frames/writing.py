"""`Panel` -> output in the layout the input came in, plus the frames estimators return."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from tsheads.frames.frequency import steps_after
from tsheads.frames.panel import Panel


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


def future_index(panel: Panel, horizon: int) -> list[pd.Index]:
    """The `horizon` timestamps after each series' last one, at the panel frequency.

    Returns a DatetimeIndex (with freq), PeriodIndex or RangeIndex per series.

    Examples
    --------
    >>> from tsheads.frames import to_panel
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
    return [steps_after(ix, panel.freq, int(horizon)) for ix in panel.index]


def one_per_step(panel: Panel, values: np.ndarray, name: str) -> pd.Series | np.ndarray:
    """One value per step for the whole panel (a wide frame's anomaly score): a Series over
    the panel's index named ``name``, or a 1-D array for array input."""
    one = replace(panel, values=[values], ids=[name], index=panel.index[:1], ndim=1,
                  dtypes=(values.dtype,))
    return from_panel(one, [values], name=name)


def series_table(ids: list, columns: dict[str, Any] | list[dict],
                 nullable_int: tuple[str, ...] = ()) -> pd.DataFrame:
    """A frame with one row per series, indexed by the series names (a summary): ``columns``
    by name, or one dict per row. Columns named in ``nullable_int`` hold ints or None and
    become pandas' nullable Int64."""
    out = pd.DataFrame(columns, index=pd.Index(ids, name="series"))
    for name in nullable_int:
        out[name] = pd.array(list(out[name]), dtype="Int64")
    return out


def concat(history: Any, X: Any) -> Any:
    """``history`` followed by ``X``, in their shared layout (frames, Series or arrays)."""
    if type(history) is not type(X):
        raise TypeError(f"history must have the layout of X ({type(X).__name__}), got "
                        f"{type(history).__name__}.")
    if isinstance(X, np.ndarray):
        return np.concatenate([history, X])
    zones = [getattr(getattr(frame, "index", None), "tz", None) for frame in (history, X)]
    if zones[0] != zones[1]:
        raise ValueError(f"history has time zone {zones[0]} but X has {zones[1]}; convert one "
                         "with .tz_convert() or .tz_localize() so that both match.")
    return pd.concat([history, X])


def flat_columns(frame: pd.DataFrame, alias: str) -> pd.DataFrame:
    """(series, column) headers of a wide forecast become 'series' and 'series-lo-80', for a
    flat CSV; a frame with flat headers comes back as it is."""
    if frame.columns.nlevels == 1:
        return frame
    flat = frame.copy()
    flat.columns = [s if c == alias else f"{s}{c[len(alias):]}" for s, c in frame.columns]
    return flat
