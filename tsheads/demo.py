"""``tsheads demo``: the whole product on a real series shipped with statsmodels.

The series is the weekly Mauna Loa CO2 record (1958-2001), which has real gaps and was
kept out of pretraining. The demo hides known values, fills them zero-shot and compares
with linear interpolation; then it forecasts the last year from the years before and
compares with a seasonal naive forecast; it prints a summary and writes a plot.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd


def co2() -> pd.DataFrame:
    """Weekly CO2 concentration at Mauna Loa (ppm), NaN where the record has gaps."""
    from statsmodels.datasets import co2 as dataset

    frame = dataset.load_pandas().data
    frame.index = pd.DatetimeIndex(frame.index, freq="W-SAT")
    return frame


def hide(frame: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """Hide 10 % of the observed points at random plus three gaps of 8, 26 and 52 weeks."""
    rng = np.random.default_rng(seed)
    hidden = frame.copy()
    observed = np.flatnonzero(frame["co2"].notna().to_numpy())
    hidden.iloc[rng.choice(observed, len(observed) // 10, replace=False), 0] = np.nan
    for start, length in ((600, 8), (1200, 26), (1800, 52)):
        hidden.iloc[start : start + length, 0] = np.nan
    return hidden


def _unchanged(before: pd.Series, after: pd.Series) -> bool:
    kept = before.notna()
    return bool((after[kept] == before[kept]).all())


HOLDOUT = 52  # weeks forecast in the demo


def impute_part(truth: pd.DataFrame, weights: str | None) -> tuple[list[str], pd.DataFrame,
                                                                    pd.DataFrame]:
    """Hide known values, fill them, and compare with linear interpolation."""
    from tsheads import Imputer

    hidden = hide(truth)
    scored = hidden["co2"].isna() & truth["co2"].notna()
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        filled = Imputer(weights=weights).fit_transform(hidden)
    seconds = time.perf_counter() - started
    linear = hidden.interpolate(limit_direction="both")
    lines = [
        f"Filling gaps: hid {int(scored.sum())} known values (10 % at random + gaps of 8, 26 "
        f"and 52 weeks), filled them zero-shot in {seconds:.2f} s:",
        *(_error_line(name, out["co2"][scored] - truth["co2"][scored])
          for name, out in (("tsheads", filled), ("linear interpolation", linear))),
        f"  observed values unchanged: {_unchanged(hidden['co2'], filled['co2'])}",
    ]
    return lines, hidden, filled


def forecast_part(truth: pd.DataFrame, weights: str | None) -> tuple[list[str], pd.DataFrame,
                                                                      pd.DataFrame]:
    """Forecast the last year from the years before; compare with a seasonal naive."""
    from tsheads import Forecaster

    history, actual = truth.iloc[:-HOLDOUT], truth["co2"].iloc[-HOLDOUT:]
    started = time.perf_counter()
    out = Forecaster(weights=weights).fit(history).predict(HOLDOUT, level=[80])
    seconds = time.perf_counter() - started
    point = out[("co2", "tsheads")].to_numpy()
    lo, hi = out[("co2", "tsheads-lo-80")].to_numpy(), out[("co2", "tsheads-hi-80")].to_numpy()
    naive = history["co2"].ffill().to_numpy()[-HOLDOUT:]
    inside = float(np.mean((actual.to_numpy() >= lo) & (actual.to_numpy() <= hi)))
    lines = [
        f"Forecasting: the last {HOLDOUT} weeks from the {len(history):,} before, zero-shot "
        f"in {seconds:.2f} s:",
        _error_line("tsheads", point - actual.to_numpy()),
        _error_line("seasonal naive (52 w)", naive - actual.to_numpy()),
        f"  actuals inside the 80 % interval: {inside:.0%}",
    ]
    frame = pd.DataFrame({"co2": point, "co2-lo-80": lo, "co2-hi-80": hi}, index=actual.index)
    return lines, history, frame


def _error_line(name: str, err) -> str:
    err = np.asarray(err, dtype=float)
    rmse = np.sqrt((err**2).mean())
    return f"  {name:<22} MAE {np.abs(err).mean():.3f} ppm   RMSE {rmse:.3f} ppm"


def run(plot: str | Path | None = "tsheads-demo.png", weights: str | None = None) -> str:
    """Run the demo and return its printed summary."""
    truth = co2()
    header = (f"tsheads demo: weekly CO2 at Mauna Loa, {len(truth):,} weeks with "
              f"{int(truth['co2'].isna().sum())} real gaps (kept out of pretraining)")
    fill_lines, hidden, filled = impute_part(truth, weights)
    cast_lines, history, cast = forecast_part(truth, weights)
    lines = [header, *fill_lines, *cast_lines]
    if plot:
        from tsheads.plotting import plot_demo

        plot_demo(hidden.iloc[1100:1400], filled.iloc[1100:1400], history.iloc[-156:], cast, plot)
        lines.append(f"plot written to {plot}")
    return "\n".join(lines)
