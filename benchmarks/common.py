"""Shared loading of the benchmark data in ../shared/data (never copied into the repo)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

DATA = Path(os.environ.get("TSHEADS_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
RESULTS = Path(__file__).parent / "results"

ETT_TRAIN, ETT_TEST = (0, 8640), (11520, 14400)
ETT_VAL = (8640, 11520)


def ett_h1() -> tuple[pd.DataFrame, pd.DataFrame]:
    """ETTh1 z-normalised with train-split statistics: (train, test) frames, 7 channels."""
    frame = pd.read_csv(DATA / "forecast" / "ETTh1.csv", index_col="date", parse_dates=True)
    train = frame.iloc[slice(*ETT_TRAIN)]
    normed = (frame - train.mean()) / train.std(ddof=0)
    return normed.iloc[slice(*ETT_TRAIN)], normed.iloc[slice(*ETT_TEST)]


def test_windows(test: pd.DataFrame, length: int, stride: int) -> np.ndarray:
    """(N, length) windows of every channel of the test split at the given stride."""
    values = test.to_numpy().T  # (channels, time)
    starts = range(0, values.shape[1] - length + 1, stride)
    return np.stack([channel[s : s + length] for channel in values for s in starts])


def ett_h1_normalised() -> pd.DataFrame:
    """Every row of ETTh1 z-normalised with train-split statistics, so windows may reach back."""
    frame = pd.read_csv(DATA / "forecast" / "ETTh1.csv", index_col="date", parse_dates=True)
    train = frame.iloc[slice(*ETT_TRAIN)]
    return (frame - train.mean()) / train.std(ddof=0)


def m4_hourly() -> tuple[list[str], list[np.ndarray], np.ndarray]:
    """M4 Hourly: series ids, the 414 train series (padding dropped) and the (414, 48) test."""
    folder = DATA / "forecast" / "m4_hourly"
    train = pd.read_csv(folder / "Hourly-train.csv", index_col=0)
    test = pd.read_csv(folder / "Hourly-test.csv", index_col=0).loc[train.index]
    history = [row[~np.isnan(row)] for row in train.to_numpy(dtype=float)]
    return list(train.index), history, test.to_numpy(dtype=float)


def smape(actual: np.ndarray, forecast: np.ndarray) -> np.ndarray:
    """Per-series sMAPE (%), 200/h * sum |y - f| / (|y| + |f|), as M4 defines it."""
    return 200 * np.mean(np.abs(actual - forecast) / (np.abs(actual) + np.abs(forecast)), axis=1)


def mase(history: list[np.ndarray], actual: np.ndarray, forecast: np.ndarray,
         m: int = 24) -> np.ndarray:
    """Per-series MASE, scaled by the in-sample mean absolute seasonal-naive error (period
    ``m``; M4 Hourly's 24 by default)."""
    scale = np.array([np.mean(np.abs(y[m:] - y[:-m])) for y in history])
    return np.mean(np.abs(actual - forecast), axis=1) / scale


def bold_best(frame: pd.DataFrame, digits: int = 3, skip: tuple = ()) -> pd.DataFrame:
    """Numbers as text for ``markdown_table``, the lowest per column in bold; rows in ``skip``
    (quoted references) are never bold and missing values read as a dash."""
    out = frame.map(lambda v: "—" if pd.isna(v) else f"{v:.{digits}f}").astype(object)
    ranked = frame.drop(index=[r for r in skip if r in frame.index])
    for col in frame.columns:
        if ranked[col].notna().any():
            best = ranked[col].idxmin()
            out.loc[best, col] = f"**{out.loc[best, col]}**"
    return out


def markdown_table(frame: pd.DataFrame, digits: int = 3) -> str:
    """A plain Markdown table of a frame (index as the first column)."""
    cols = [frame.index.name or ""] + [str(c) for c in frame.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for idx, row in frame.iterrows():
        cells = [_cell(v, digits) for v in row]
        lines.append("| " + " | ".join([str(idx)] + cells) + " |")
    return "\n".join(lines)


def _cell(value, digits: int) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) >= 1000:
        return f"{int(value):,}"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def reconstruction_head_only(model):
    """The same weights with the imputation head left out, so that gaps are filled by the
    plain reconstruction head (the fill before the imputation head, for comparison)."""
    from tsheads.nn import TinyModel

    plain = TinyModel(model.config, heads=tuple(h for h in model.heads if h != "imputation"))
    plain.load_state_dict(model.state_dict(), strict=False)
    return plain.eval()


def write_report(path: str | Path, text: str) -> None:
    """Write a benchmark's Markdown report to ``path`` (folders made as needed) and print it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    print(text)
