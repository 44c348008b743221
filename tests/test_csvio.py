"""read_csv: delimiters, time columns and errors that name file, line and column."""

import numpy as np
import pandas as pd
import pytest

from tsheads.csvio import read_csv
from tsheads.frames import to_panel


def write(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_read_csv_comma_semicolon_tab(tmp_path):
    rows = ["2020-01-01,1,2.5", "2020-01-02,2,3.5", "2020-01-03,3,"]
    for sep in (",", ";", "\t"):
        text = "\n".join(r.replace(",", sep) for r in ["Date,a,b", *rows]) + "\n"
        df = read_csv(write(tmp_path, text))
        assert isinstance(df.index, pd.DatetimeIndex) and df.index.name == "Date"
        assert list(df.columns) == ["a", "b"] and np.isnan(df["b"].iloc[2])
    assert to_panel(df).freq == pd.offsets.Day()


def test_read_csv_detects_first_column_timestamps_and_no_time_column(tmp_path):
    df = read_csv(write(tmp_path, "when,a\n2020-01-01 10:00,1\n2020-01-01 11:00,2\n"))
    assert df.index.name == "when" and isinstance(df.index, pd.DatetimeIndex)
    df = read_csv(write(tmp_path, "a,b\n1,2\n3,4\n"))
    assert isinstance(df.index, pd.RangeIndex) and list(df.columns) == ["a", "b"]
    df = read_csv(write(tmp_path, "t,a\n0,1\n1,2\n"), time_col="t", columns=["a"])
    assert list(df.index) == [0, 1] and list(df.columns) == ["a"]


def test_read_csv_long_format_is_sorted(tmp_path):
    text = "unique_id,ds,y\nb,2020-01-02,4\na,2020-01-02,2\nb,2020-01-01,3\na,2020-01-01,1\n"
    df = read_csv(write(tmp_path, text))
    assert list(df["y"]) == [1, 2, 3, 4] and df["ds"].dtype.kind == "M"
    assert to_panel(df).layout == "long"


def test_read_csv_errors_name_file_line_and_column(tmp_path):
    path = write(tmp_path, "date,a,b\n2020-01-01,1,2\n2020-01-02,x,3\n")
    with pytest.raises(ValueError, match=r"data.csv, line 3, column 'a': non-numeric value 'x'"):
        read_csv(path)
    assert list(read_csv(path, columns=["b"]).columns) == ["b"]
    with pytest.raises(ValueError, match=r"no column\(s\) 'c'; available value columns: a, b"):
        read_csv(path, columns=["c"])
    with pytest.raises(ValueError, match="no time column 'when'; available columns: date, a, b"):
        read_csv(path, time_col="when")
    bad_time = write(tmp_path, "date,a\n2020-01-01,1\n2020-01-02,2\nsoon,3\n")
    dst = "time,a\n2020-03-29T01:00+01:00,1\n2020-03-29T03:00+02:00,2\n"
    mixed = write(tmp_path, dst, "tz.csv")
    assert str(read_csv(mixed).index.tz) == "UTC"
    with pytest.raises(ValueError, match="line 4, column 'date': cannot parse timestamp 'soon'"):
        read_csv(bad_time)
    with pytest.raises(ValueError, match="parsed into one column 'date;a' .* pass sep=';'"):
        read_csv(write(tmp_path, "date;a\n2020-01-01;1\n"), sep=",")
    with pytest.raises(FileNotFoundError, match="no such file: '.*missing.csv'"):
        read_csv(tmp_path / "missing.csv")
    with pytest.raises(ValueError, match="the file is empty"):
        read_csv(write(tmp_path, ""))
