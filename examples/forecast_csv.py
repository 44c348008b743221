"""Forecast every column of a CSV two days ahead, with an 80 % interval, and plot it.

    python examples/forecast_csv.py [forecast.png]

Writes a small hourly CSV (two seasonal sensors) to a temporary folder, reads it back as a
user would, forecasts 48 steps and saves a picture (to the path given, else next to the CSV).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display needed
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from tsheads import Forecaster


def write_csv(path: Path, n: int = 24 * 40) -> None:
    """Hourly load and temperature with daily and weekly cycles and noise."""
    rng = np.random.default_rng(0)
    t = np.arange(n)
    daily, weekly = np.sin(2 * np.pi * t / 24), np.sin(2 * np.pi * t / 168)
    frame = pd.DataFrame(
        {
            "load": 100 + 20 * daily + 8 * weekly + rng.normal(0, 2, n),
            "temperature": 12 + 5 * np.roll(daily, 3) + rng.normal(0, 0.5, n),
        },
        index=pd.date_range("2024-01-01", periods=n, freq="h", name="date"),
    )
    frame.to_csv(path)


def plot(history: pd.DataFrame, forecast: pd.DataFrame, path: Path) -> None:
    """The last week of history, the forecast and its interval, one panel per column."""
    fig, axes = plt.subplots(len(history.columns), 1, figsize=(9, 5), sharex=True)
    for ax, col in zip(np.atleast_1d(axes), history.columns, strict=True):
        ax.plot(history.index[-168:], history[col].iloc[-168:], color="0.3", label="history")
        ax.plot(forecast.index, forecast[(col, "tsheads")], color="tab:blue", label="forecast")
        lo, hi = forecast[(col, "tsheads-lo-80")], forecast[(col, "tsheads-hi-80")]
        ax.fill_between(forecast.index, lo, hi, color="tab:blue", alpha=0.2, label="80 %")
        ax.set_title(col, loc="left", fontsize=9)
    np.atleast_1d(axes)[0].legend(fontsize=8, loc="upper left")
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(out: Path | None = None) -> Path:
    folder = Path(tempfile.mkdtemp(prefix="tsheads-"))
    write_csv(folder / "sensors.csv")
    history = pd.read_csv(folder / "sensors.csv", index_col="date", parse_dates=True)
    forecast = Forecaster().fit(history).predict(48, level=[80])
    print(forecast.round(1).head(3).to_string())
    path = out or folder / "forecast.png"
    plot(history, forecast, path)
    print(f"plot written to {path}")
    return path


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else None)
