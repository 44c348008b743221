"""`Panel`: many univariate series, with what rebuilds output in the input's layout."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from tsheads.frames.frequency import Freq, freq_text, time_text

# The column names of a long frame when the caller names none (statsforecast's).
ID_COL, TIME_COL, TARGET_COL = "unique_id", "ds", "y"


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
    id_col: str | None = ID_COL
    time_col: str = TIME_COL
    target_col: str = TARGET_COL
    id_dtype: Any = None
    ndim: int = 2
    given: GivenRows | None = None

    def __len__(self) -> int:
        return len(self.values)


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
    where = ", ".join(time_text(t) if panel.layout != "long" else f"{sid!r} at {time_text(t)}"
                      for sid, t in firsts[:shown])
    more = ", ..." if total > shown else ""
    plural = "s were" if total > 1 else " was"
    return (f"{total} timestamp{plural} missing from the {freq_text(panel.freq)} grid and "
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


def given_steps(panel: Panel, values: np.ndarray) -> tuple[Panel, np.ndarray]:
    """`given_rows` for one value per step of the whole panel (a wide frame's score)."""
    if panel.given is None:
        return panel, values
    return given_rows(panel, panel.values)[0], values[panel.given.positions[0]]


def aligned_groups(index: list[pd.Index]) -> list[list[int]]:
    """Positions of series grouped by identical time index: who may be regressed on whom."""
    groups: list[list[int]] = []
    for i, idx in enumerate(index):
        for group in groups:
            first = index[group[0]]
            if len(first) == len(idx) and first.equals(idx):
                group.append(i)
                break
        else:
            groups.append([i])
    return groups
