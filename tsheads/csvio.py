"""Reading CSV files into frames that `tsheads.frames.to_panel` understands.

Errors name the file, the line (1-based, header included) and the column, so a user can
open the file at the right place.
"""

from __future__ import annotations

import csv
import itertools
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tsheads.frames import ID_COL, TARGET_COL, TIME_COL

_TIME_NAMES = ("date", "datetime", "timestamp", "time", TIME_COL)
_LONG_CSV = (ID_COL, TIME_COL, TARGET_COL)


def _first(mask: np.ndarray) -> int | None:
    return int(mask.argmax()) if mask.any() else None


def read_csv(
    path: str | Path,
    *,
    time_col: str | None = None,
    columns: list[str] | None = None,
    sep: str | None = None,
    date_format: str | None = None,
) -> pd.DataFrame:
    """Read a CSV into a wide frame indexed by time, ready for `to_panel`.

    Parameters
    ----------
    path : str or Path
    time_col : str, optional
        The time column. By default the first column named date, datetime, timestamp, time
        or ds (any case), else the first column when every cell parses as a timestamp, else
        none (a RangeIndex). Integer time columns stay integers; mixed UTC offsets become UTC.
    columns : list of str, optional
        Value columns to keep (default: all others).
    sep : str, optional
        Delimiter; sniffed among comma, semicolon and tab by default.
    date_format : str, optional
        strftime format of the time column (e.g. ``"%y-%m"`` for ``01-01``: 2001,
        January); parsed leniently by pandas when None, and then dates that parse to a year
        before 100 are refused, since a short form such as ``1-01`` reads as January 1 of
        year 1.

    Returns
    -------
    DataFrame
        Wide, unless the file has unique_id, ds and y columns: then it stays long, sorted by
        id and time.

    Raises
    ------
    FileNotFoundError
        When `path` does not exist.
    ValueError
        One line naming the file, the line (1-based, header included, assuming no blank
        lines) and the column: unknown columns, unparsable, repeated or unsorted timestamps
        (wide files), dates before year 100, non-numeric, True/False or infinite cells, a
        wrong delimiter.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: '{path}'")
    sep = sep or _sniff(path)
    try:
        df = pd.read_csv(path, sep=sep)
    except pd.errors.EmptyDataError:
        raise ValueError(f"{path}: the file is empty; expected a header and data rows.") from None
    except pd.errors.ParserError as err:
        msg = str(err).strip().splitlines()[-1]
        raise ValueError(f"{path}: cannot parse the file ({msg}); check sep=.") from None
    _check_delimiter(df, path, sep)
    if df.empty:
        raise ValueError(f"{path}: the file has a header but no data rows.")
    if all(c in df.columns for c in _LONG_CSV):
        return _long_csv(df, path, date_format)
    wide = _wide_csv(df, path, time_col, date_format)
    return _numeric_cells(_select(wide, path, columns), path)


def _sniff(path: Path) -> str:
    """The delimiter of the first lines, among comma, semicolon and tab; comma when unsure."""
    with path.open(newline="") as fh:
        sample = "".join(itertools.islice(fh, 50))
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t").delimiter
    except csv.Error:
        return ","


def _check_delimiter(df: pd.DataFrame, path: Path, sep: str) -> None:
    if len(df.columns) != 1:
        return
    header = str(df.columns[0])
    for other in (",", ";", "\t"):
        if other != sep and other in header:
            raise ValueError(
                f"{path}: parsed into one column {header!r} although the header contains "
                f"{other!r}; pass sep={other!r}."
            )


def _wide_csv(
    df: pd.DataFrame, path: Path, time_col: str | None, date_format: str | None
) -> pd.DataFrame:
    """Move the time column (if any) into the index."""
    col = _time_column(df, path, time_col, date_format)
    if col is not None:
        times = df[col]
        if date_format is not None or not pd.api.types.is_integer_dtype(times.dtype):
            times = _parse_times(times, path, col, date_format)
        _check_order(times, path, col)
        df = df.drop(columns=col).set_axis(pd.Index(times, name=col), axis=0)
    return df


def _check_order(times: pd.Series, path: Path, name: Any) -> None:
    """Timestamps of a wide file must be unique and ascending; name the first line that is not."""
    values = times.to_numpy()
    repeat = _first(pd.Series(values).duplicated().to_numpy())
    if repeat is not None:
        earlier = int((values[:repeat] == values[repeat]).argmax())
        raise ValueError(
            f"{path}, line {repeat + 2}, column {name!r}: timestamp {times.iloc[repeat]} repeats "
            f"line {earlier + 2}; keep one row per timestamp."
        )
    back = _first(values[1:] < values[:-1])
    if back is not None:
        raise ValueError(
            f"{path}, line {back + 3}, column {name!r}: timestamp {times.iloc[back + 1]} is "
            f"earlier than {times.iloc[back]} on the line before; sort the file by time."
        )


def _time_column(
    df: pd.DataFrame, path: Path, time_col: str | None, date_format: str | None
) -> Any:
    if time_col is not None:
        if time_col not in df.columns:
            raise ValueError(
                f"{path}: no time column {time_col!r}; available columns: "
                f"{', '.join(map(str, df.columns))}."
            )
        return time_col
    for col in df.columns:
        if str(col).lower() in _TIME_NAMES:
            return col
    first = df[df.columns[0]]
    if pd.api.types.is_numeric_dtype(first.dtype):
        return None
    return df.columns[0] if _to_datetime(first, date_format).notna().all() else None


def _to_datetime(col: pd.Series, date_format: str | None = None) -> pd.Series:
    """Parse timestamps leniently (bad cells become NaT); mixed UTC offsets convert to UTC."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        try:
            return pd.to_datetime(col.astype(str) if date_format else col, format=date_format,
                                  errors="coerce")
        except (TypeError, ValueError):
            return pd.to_datetime(col, format=date_format, errors="coerce", utc=True)


def _parse_times(
    col: pd.Series, path: Path, name: Any, date_format: str | None
) -> pd.Series:
    times = _to_datetime(col, date_format)
    bad = times.isna().to_numpy()
    if bad.any():
        i = int(bad.argmax())
        hint = (f"it does not match date_format {date_format!r} (--date-format)"
                if date_format else "fix the cell or choose the time column with time_col=")
        raise ValueError(
            f"{path}, line {i + 2}, column {name!r}: cannot parse timestamp {col.iloc[i]!r}; "
            f"{hint}."
        )
    if date_format is None:
        _check_years(times, col, path, name)
    return times


def _check_years(times: pd.Series, col: pd.Series, path: Path, name: Any) -> None:
    """A date before year 100 is a short form misread ('1-01' as year 1, January 1)."""
    early = _first((times.dt.year < 100).to_numpy())
    if early is None:
        return
    shown = ", ".join(f"{col.iloc[i]!r} -> {times.iloc[i].date()}"
                      for i in range(early, min(early + 2, len(times))))
    raise ValueError(
        f"{path}, line {early + 2}, column {name!r}: dates parse to year "
        f"{times.iloc[early].year} ({shown}), so they are probably in a short form; pass "
        "date_format= (--date-format on the command line), e.g. '%y-%m' for year-month "
        "like '01-01' (2001, January), and freq= (--freq, e.g. 'MS') for the step."
    )


def _numeric_cells(df: pd.DataFrame, path: Path) -> pd.DataFrame:
    """Every value cell must be a number or empty; the first bad cell is reported."""
    for col in df.columns:
        if pd.api.types.is_bool_dtype(df[col].dtype):
            raise ValueError(
                f"{path}, column {col!r}: holds True/False values, not numbers; write them as "
                "1/0 or pick value columns with columns= (--columns on the command line)."
            )
        if pd.api.types.is_numeric_dtype(df[col].dtype):
            _finite_cells(df[col], path, col)
            continue
        numbers = pd.to_numeric(df[col], errors="coerce")
        i = _first((numbers.isna() & df[col].notna()).to_numpy())
        if i is None:
            _finite_cells(numbers, path, col)
            df = df.assign(**{col: numbers})
            continue
        raise ValueError(
            f"{path}, line {i + 2}, column {col!r}: non-numeric value {df[col].iloc[i]!r}; "
            "fix the cell or pick value columns with columns= (--columns on the command line)."
        )
    return df


def _finite_cells(values: pd.Series, path: Path, name: Any) -> None:
    """inf and -inf cells are errors: a missing value is an empty cell."""
    i = _first(np.isinf(values.to_numpy(dtype=np.float64, na_value=np.nan)))
    if i is not None:
        raise ValueError(
            f"{path}, line {i + 2}, column {name!r}: infinite value {values.iloc[i]}; leave "
            "the cell empty if the value is missing."
        )


def _select(df: pd.DataFrame, path: Path, columns: list[str] | None) -> pd.DataFrame:
    if columns is None:
        return df
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(
            f"{path}: no column(s) {', '.join(map(repr, missing))}; available value columns: "
            f"{', '.join(map(str, df.columns))}."
        )
    return df[list(columns)]


def _long_csv(df: pd.DataFrame, path: Path, date_format: str | None) -> pd.DataFrame:
    """Parse ds (unless integer), check y, sort by id then time."""
    if date_format is not None or not pd.api.types.is_integer_dtype(df[TIME_COL].dtype):
        df = df.assign(**{TIME_COL: _parse_times(df[TIME_COL], path, TIME_COL, date_format)})
    _numeric_cells(df[[TARGET_COL]], path)
    return df.sort_values([ID_COL, TIME_COL], kind="stable").reset_index(drop=True)
