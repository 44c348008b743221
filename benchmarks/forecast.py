"""Forecasting: tsheads zero-shot against statistical and linear peers on ETTh1 and M4 Hourly.

ETTh1: the test split z-normalised with train statistics, context 512, horizons 96 / 192 / 336
/ 720, all 7 channels; one window every ``--stride`` rows (default 96), its first target step
at test rows 11520 + k * stride, kept for a horizon only if its target ends inside the test
split. MSE and MAE on the normalised scale for tsheads (every window x channel one series of
a long frame, fitted and predicted in one batch), statsforecast SeasonalNaive / AutoETS /
AutoTheta (season 24) on the same contexts, and a DLinear-style linear map fitted on the
train split; tsheads again after fine-tuning a copy on the train split (``--fine-tune-steps``,
default 500). Published TTM-R2 and PatchTST numbers are quoted, not run.

M4 Hourly: h = 48 from the end of each of the 414 train series. sMAPE, MASE (m = 24) and OWA
against Naive2, computed here as in the M4 organisers' R code; weighted quantile loss and the
coverage of the 0.9 quantile for tsheads and AutoETS; and the wall time of each method.

Needs the peers, which live outside the main venv: run it in .venv-bench
(``pip install -e ".[bench]"``). Writes benchmarks/results/forecast.md.

Usage: python benchmarks/forecast.py [--weights PATH] [--out PATH] [--quick] [--skip-ets]
                                     [--threads N] [--stride N] [--fine-tune-steps N]
                                     [--heads H,..] [--unmirrored H,..] [--one-context H,..]
                                     [--tsheads-stand-in]
"""

from __future__ import annotations

import argparse
import inspect
import sys
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view
from statsforecast import StatsForecast
from statsforecast.models import AutoETS, AutoTheta, SeasonalNaive
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).parent))
from common import (  # noqa: E402
    ETT_TEST,
    ETT_TRAIN,
    ETT_VAL,
    RESULTS,
    bold_best,
    ett_h1_normalised,
    m4_hourly,
    markdown_table,
    mase,
    smape,
    write_report,
)

Timings = dict[tuple[str, str], float]  # (dataset, method) -> seconds

CONTEXT, STRIDE, SEASON = 512, 96, 24
HORIZONS = (96, 192, 336, 720)
M4_HORIZON = 48
QUANTILES = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
RIDGE_ALPHAS = (1.0, 10.0, 100.0, 1000.0, 10000.0)
QUICK_ETT_WINDOWS, QUICK_M4_SERIES = 3, 24
SHORT_CONTEXT = 104  # M4 Hourly cut to its last 104 values: the short-context table
FINE_TUNE_STEPS = 500  # about 3 minutes on one thread; kept only if it helps the hold-out
M4_START = pd.Timestamp("2000-01-01")  # M4 has no timestamps: every series starts here, hourly
TSHEADS, FINE_TUNED = "tsheads (zero-shot)", "tsheads (fine-tuned on train)"
LINEAR = "DLinear-style linear (train split)"
REFERENCES = {
    "TTM-R2 (published, zero-shot, context 512; not run)": (0.363, 0.387, 0.402, 0.475),
    "PatchTST/64 (published, supervised; not run)": (0.370, 0.413, 0.422, 0.447),
}


@contextmanager
def timed(timings: Timings, dataset: str, method: str) -> Iterator[None]:
    """Add the wall time of the block to ``timings[(dataset, method)]``."""
    started = time.perf_counter()
    yield
    key = (dataset, method)
    timings[key] = timings.get(key, 0.0) + time.perf_counter() - started


# --- frames -------------------------------------------------------------------------------


def long_frame(series: list[np.ndarray], ids: list[str], starts: list[pd.Timestamp],
               freq: str = "h") -> pd.DataFrame:
    """A long frame (unique_id, ds, y) with ds every ``freq`` from each series' start."""
    ds = [pd.date_range(start, periods=len(s), freq=freq)
          for s, start in zip(series, starts, strict=True)]
    return pd.DataFrame({
        "unique_id": np.repeat(ids, [len(s) for s in series]),
        "ds": np.concatenate([d.to_numpy() for d in ds]),
        "y": np.concatenate(series),
    })


def to_matrix(out: pd.DataFrame, ids: list[str], column: str, horizon: int) -> np.ndarray:
    """(len(ids), horizon) forecasts of ``column`` from a long output, rows in ``ids`` order."""
    order = out["unique_id"].map({sid: i for i, sid in enumerate(ids)})
    rows = out.assign(_order=order).sort_values(["_order", "ds"])
    return rows.groupby("_order")[column].head(horizon).to_numpy().reshape(len(ids), horizon)


def quantile_columns(alias: str) -> dict[float, str]:
    """Quantile -> column of a tsheads long output, e.g. 0.1 -> 'tsheads-q0.1'."""
    return {q: f"{alias}-q{q:g}" for q in QUANTILES}


# --- tsheads ------------------------------------------------------------------------------


def _seasonal_stand_in(df: pd.DataFrame, horizon: int, quantiles=QUANTILES) -> pd.DataFrame:
    """Stand-in for ``Forecaster().fit(df).predict(horizon, quantiles=...)`` while it is written:
    seasonal naive (24) with Gaussian quantiles from each series' 24-step differences."""
    from scipy.stats import norm

    parts = []
    for sid, group in df.groupby("unique_id", sort=False):
        y, last = group["y"].to_numpy(), group["ds"].iloc[-1]
        point = np.resize(y[-SEASON:], horizon)
        spread = np.std(y[SEASON:] - y[:-SEASON]) * np.sqrt(1 + np.arange(horizon) // SEASON)
        part = {"unique_id": sid, "ds": pd.date_range(last, periods=horizon + 1, freq="h")[1:],
                "tsheads": point}
        part |= {col: point + norm.ppf(q) * spread for q, col in quantile_columns("tsheads").items()
                 if q in quantiles}
        parts.append(pd.DataFrame(part))
    return pd.concat(parts, ignore_index=True)


def forecaster(args: argparse.Namespace, **params):
    """The real ``tsheads.Forecaster`` with the benchmark's weights and threads."""
    from tsheads import Forecaster

    params = {"head": "auto", **params}
    return Forecaster(weights=args.weights, batch_size=256, n_threads=args.threads, **params)


def tsheads_forecasts(df: pd.DataFrame, horizons: tuple[int, ...], args: argparse.Namespace,
                      quantiles: tuple | None = None, model=None, **params
                      ) -> dict[int, pd.DataFrame]:
    """Fit once on every series of ``df``, then predict each horizon (long output frames).

    ``model`` replaces the fitted model (a copy fine-tuned elsewhere) before predicting;
    ``params`` go to the Forecaster (head, intervals).
    """
    if args.tsheads_stand_in:
        return {h: _seasonal_stand_in(df, h, quantiles or ()) for h in horizons}
    fitted = forecaster(args, **params).fit(df)
    if model is not None:
        fitted.model_ = model  # no public way yet to forecast new contexts with a tuned model
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="horizon .* beyond the direct head")
        return {h: fitted.predict(h, quantiles=list(quantiles) if quantiles else None)
                for h in horizons}


def seasonal_note(df: pd.DataFrame, horizon: int, args: argparse.Namespace, label: str) -> str:
    """How many series ``head="auto"`` forecast with the seasonal repeat at ``horizon``."""
    if args.tsheads_stand_in:
        return f"{label}: stand-in run, no seasonal check."
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="horizon .* beyond the direct head")
        uses = forecaster(args).fit(df).backtest_summary(horizon)["uses"]
    seasonal = int((uses == "seasonal").sum())
    return (f"{label}: `head=\"auto\"` repeated the last season on {seasonal} of {len(uses)} "
            f"series at h = {horizon}; the rest got the network's {auto_head()} head.")


def auto_head() -> str:
    """The head ``head="auto"`` builds on (``tsheads.estimators.network.AUTO_HEAD``)."""
    from tsheads.estimators.network import AUTO_HEAD

    return AUTO_HEAD


def default_fractions() -> tuple[float, ...]:
    """The context shares whose forecasts the Forecaster averages by default."""
    from tsheads import Forecaster

    return Forecaster().get_params()["context_fractions"]


def variant(head: str, **off: object) -> str:
    """Row name of tsheads with one forecast head forced (and the options ``off`` turned off)."""
    return f"tsheads head={head}{''.join(f', {name}={value}' for name, value in off.items())} " \
        "(zero-shot)"


def head_variants(args: argparse.Namespace) -> list[tuple[str, dict]]:
    """(row name, Forecaster params) of every forced-head row: ``--heads`` as shipped and
    ``--unmirrored`` with mirror averaging off, ``--one-context`` from the whole context
    alone."""
    rows = [(variant(h), {"head": h}) for h in args.heads]
    for flag, option, value in (("unmirrored", "mirror", False),
                                ("one_context", "context_fractions", (1.0,))):
        rows += [(variant(h, **{option: value}), {"head": h, option: value})
                 for h in getattr(args, flag)]
    return rows


def supports_fine_tuning() -> bool:
    """Whether ``tsheads.Forecaster`` takes ``fine_tune_steps``."""
    try:
        from tsheads import Forecaster
    except ImportError:
        return False
    return "fine_tune_steps" in inspect.signature(Forecaster).parameters


def fine_tuned_model(train: pd.DataFrame, args: argparse.Namespace):
    """A copy of the model fine-tuned on the 7 train-split channels (kept only if it helps)."""
    df = long_frame([train[c].to_numpy() for c in train.columns], list(train.columns),
                    [train.index[0]] * train.shape[1])
    tuned = forecaster(args, fine_tune_steps=args.fine_tune_steps, random_state=0).fit(df)
    return tuned.model_, tuned.fine_tune_report_


# --- statsforecast ------------------------------------------------------------------------


def stats_models(skip_ets: bool) -> dict[str, object]:
    """The statsforecast peers by alias, all with a 24-hour season."""
    models = {"SeasonalNaive": SeasonalNaive(season_length=SEASON),
              "AutoETS": AutoETS(season_length=SEASON),
              "AutoTheta": AutoTheta(season_length=SEASON)}
    return {k: v for k, v in models.items() if not (skip_ets and k == "AutoETS")}


def stats_forecast(df: pd.DataFrame, model, horizon: int, n_jobs: int,
                   level: list[int] | None = None, freq: str = "h") -> pd.DataFrame:
    """``StatsForecast(...).forecast`` of one model; a long frame with a column per alias."""
    sf = StatsForecast(models=[model], freq=freq, n_jobs=n_jobs)
    return sf.forecast(df=df, h=horizon, level=level)


def warm_up(args: argparse.Namespace) -> float:
    """Compile numba and load the weights on two short series; returns the seconds spent."""
    started = time.perf_counter()
    t = np.arange(3 * CONTEXT, dtype=float)
    series = [10 + np.sin(2 * np.pi * t / SEASON) + 0.1 * np.cos(t / 7) + k for k in range(2)]
    df = long_frame(series, ["a", "b"], [M4_START] * 2)
    for model in stats_models(args.skip_ets).values():
        stats_forecast(df, model, M4_HORIZON, 1, level=[80])
    tsheads_forecasts(df, (M4_HORIZON,), args, QUANTILES)
    return time.perf_counter() - started


# --- DLinear-style linear map -------------------------------------------------------------


def _pairs(values: np.ndarray, first: int, last: int, horizon: int, stride: int = 1
           ) -> tuple[np.ndarray, np.ndarray]:
    """Contexts X (N, CONTEXT + 1, with a ones column) and targets Y (N, horizon) of every
    channel of ``values`` (T, C) whose target starts in [first, last - horizon]."""
    xs, ys = [], []
    for channel in values.T:
        starts = np.arange(max(first, CONTEXT), last - horizon + 1, stride)
        xs.append(sliding_window_view(channel, CONTEXT)[starts - CONTEXT])
        ys.append(sliding_window_view(channel, horizon)[starts])
    x = np.concatenate(xs)
    return np.hstack([x, np.ones((len(x), 1))]), np.concatenate(ys)


def fit_linear(values: np.ndarray, horizon: int, stride: int,
               val: tuple[int, int] = ETT_VAL) -> tuple[np.ndarray, float]:
    """Ridge map (CONTEXT + 1, horizon) shared by all channels, fitted on train-split windows
    (the rows before ``val``); the penalty is chosen on the ``val`` rows. DLinear's
    trend/seasonal split is itself linear in the context, so this closed-form fit spans
    DLinear's (individual=False) function class."""
    x, y = _pairs(values, CONTEXT, val[0], horizon, stride)
    gram, cross = x.T @ x, x.T @ y
    x_val, y_val = _pairs(values, val[0], val[1], horizon, stride)
    penalty = np.eye(len(gram))
    penalty[-1, -1] = 0.0  # the intercept is not shrunk
    fits = {a: np.linalg.solve(gram + a * penalty, cross) for a in RIDGE_ALPHAS}
    scores = {a: np.mean((x_val @ w - y_val) ** 2) for a, w in fits.items()}
    best = min(scores, key=scores.get)
    return fits[best], best


def linear_forecasts(values: np.ndarray, contexts: np.ndarray, quick: bool,
                     val: tuple[int, int] = ETT_VAL
                     ) -> tuple[dict[int, np.ndarray], dict[int, float]]:
    """Per horizon, forecasts (N, horizon) of the linear map fitted on the rows of ``values``
    before ``val`` and its penalty chosen on ``val``."""
    stride = 8 if quick else 1
    x = np.hstack([contexts, np.ones((len(contexts), 1))])
    out, alphas = {}, {}
    for h in HORIZONS:
        weights, alphas[h] = fit_linear(values, h, stride, val)
        out[h] = x @ weights
    return out, alphas


# --- ETTh1 --------------------------------------------------------------------------------


def ett_starts(stride: int, quick: bool) -> np.ndarray:
    """Rows of the first target step of each window: every ``stride`` rows of the test split
    whose shortest-horizon target fits; in quick mode a few of them, evenly spread over those
    that fit every horizon."""
    starts = np.arange(ETT_TEST[0], ETT_TEST[1] - min(HORIZONS) + 1, stride)
    if quick:
        fits_all = starts[starts + max(HORIZONS) <= ETT_TEST[1]]
        starts = fits_all[np.linspace(0, len(fits_all) - 1, QUICK_ETT_WINDOWS).astype(int)]
    return starts


def channel_windows(frame: pd.DataFrame, starts: np.ndarray, freq: str = "h"
                    ) -> tuple[pd.DataFrame, list[str], np.ndarray, np.ndarray, np.ndarray]:
    """Every channel x start: the long frame of contexts (``ds`` every ``freq``), ids,
    contexts (N, CONTEXT), targets (N, max horizon; NaN past the frame's last row) and the
    start row of each."""
    keys = [(c, s) for c in frame.columns for s in starts]
    ids = [f"{c}@{s}" for c, s in keys]
    values = {c: np.r_[frame[c].to_numpy(), np.full(max(HORIZONS), np.nan)]
              for c in frame.columns}
    contexts = np.stack([values[c][s - CONTEXT : s] for c, s in keys])
    targets = np.stack([values[c][s : s + max(HORIZONS)] for c, s in keys])
    df = long_frame(list(contexts), ids, [frame.index[s - CONTEXT] for _, s in keys], freq)
    return df, ids, contexts, targets, np.array([s for _, s in keys])


def horizon_scores(predictions: dict[str, dict[int, np.ndarray]], targets: np.ndarray,
                   rows: np.ndarray, end: int = ETT_TEST[1]) -> pd.DataFrame:
    """Long table (method, horizon, MSE, MAE) over the windows whose target ends by row
    ``end`` (the test split's end) at each horizon."""
    records = []
    for method, by_horizon in predictions.items():
        for h, forecast in by_horizon.items():
            keep = rows + h <= end
            err = forecast[keep, :h] - targets[keep, :h]
            records.append({"method": method, "horizon": h, "MSE": float(np.mean(err**2)),
                            "MAE": float(np.mean(np.abs(err)))})
    return pd.DataFrame(records)


def ett_stats(df: pd.DataFrame, ids: list[str], args: argparse.Namespace, timings: Timings
              ) -> dict[str, dict[int, np.ndarray]]:
    """statsforecast peers at the longest horizon, cut to each (their fits do not depend on h)."""
    out = {}
    for name, model in stats_models(args.skip_ets).items():
        with timed(timings, "ETTh1", name):
            frame = stats_forecast(df, model, max(HORIZONS), args.threads)
        full = to_matrix(frame, ids, name, max(HORIZONS))
        out[name] = {h: full[:, :h] for h in HORIZONS}
    return out


def ett_tsheads(df: pd.DataFrame, ids: list[str], args: argparse.Namespace, timings: Timings,
                frame: pd.DataFrame) -> tuple[dict[str, dict[int, np.ndarray]], str]:
    """tsheads zero-shot (and fine-tuned on train when asked): forecasts and a note."""
    with timed(timings, "ETTh1", TSHEADS):
        outs = tsheads_forecasts(df, HORIZONS, args)
    preds = {TSHEADS: {h: to_matrix(o, ids, "tsheads", h) for h, o in outs.items()}}
    for name, params in head_variants(args):
        with timed(timings, "ETTh1", name):
            outs = tsheads_forecasts(df, HORIZONS, args, **params)
        preds[name] = {h: to_matrix(o, ids, "tsheads", h) for h, o in outs.items()}
    if not supports_fine_tuning():
        return preds, "tsheads fine-tuned on train: skipped, `Forecaster` has no `fine_tune_steps`."
    if args.fine_tune_steps == 0 or args.tsheads_stand_in:
        return preds, (f"{FINE_TUNED}: not run (pass `--fine-tune-steps N`, real Forecaster).")
    with timed(timings, "ETTh1", FINE_TUNED):
        model, report = fine_tuned_model(frame.iloc[slice(*ETT_TRAIN)], args)
        outs = tsheads_forecasts(df, HORIZONS, args, model=model)
    preds[FINE_TUNED] = {h: to_matrix(o, ids, "tsheads", h) for h, o in outs.items()}
    return preds, (f"{FINE_TUNED}: {args.fine_tune_steps} steps on the train split, then applied "
                   f"to the test contexts; {_fine_tune_summary(report)}.")


def _fine_tune_summary(report: dict | None) -> str:
    """One line from ``Forecaster.fine_tune_report_``: which model was kept and why."""
    if not report:
        return "no fine-tuning report"
    scores = ", ".join(f"{k} {v:.3f}" for k, v in report.get("holdout_mse", {}).items())
    return f"kept the {report.get('kept', '?')} model (hold-out MSE: {scores})"


def ett_benchmark(args: argparse.Namespace, timings: Timings) -> tuple[pd.DataFrame, list[str]]:
    """ETTh1 scores of every method, and notes for the report."""
    frame = ett_h1_normalised()
    starts = ett_starts(args.stride, args.quick)
    df, ids, contexts, targets, rows = channel_windows(frame, starts)
    predictions, note = ett_tsheads(df, ids, args, timings, frame)
    predictions |= ett_stats(df, ids, args, timings)
    with timed(timings, "ETTh1", LINEAR):
        train_val = frame.iloc[: ETT_VAL[1]].to_numpy()
        predictions[LINEAR], alphas = linear_forecasts(train_val, contexts, args.quick)
    counts = {h: int(np.sum(starts + h <= ETT_TEST[1])) for h in HORIZONS}
    notes = [note, "Windows per horizon (x 7 channels): "
             + ", ".join(f"{h}: {n}" for h, n in counts.items()) + ".",
             "Ridge penalty chosen on the val split per horizon: "
             + ", ".join(f"{h}: {a:g}" for h, a in alphas.items()) + ".",
             seasonal_note(df, min(HORIZONS), args, "Seasonal check")]
    return horizon_scores(predictions, targets, rows), notes


# --- M4 Hourly: metrics and Naive2 ---------------------------------------------------------


def acf(y: np.ndarray, lags: int) -> np.ndarray:
    """Sample autocorrelations at lags 1..lags (R's ``acf``)."""
    d = y - y.mean()
    return np.array([d[k:] @ d[:-k] for k in range(1, lags + 1)]) / (d @ d)


def seasonality_test(y: np.ndarray, m: int) -> bool:
    """M4's test (R ``SeasonalityTest``): |r_m| beyond the 90 % one-sided limit
    1.645 * sqrt((1 + 2 * sum_{k<m} r_k^2) / n); never seasonal below 3 m observations."""
    if len(y) < 3 * m:
        return False
    r = acf(y, m)
    return bool(abs(r[m - 1]) > 1.645 * np.sqrt((1 + 2 * np.sum(r[: m - 1] ** 2)) / len(y)))


def seasonal_indices(y: np.ndarray, m: int) -> np.ndarray:
    """Classical multiplicative seasonal indices (R ``decompose``), one per position t % m."""
    weights = np.r_[0.5, np.ones(m - 1), 0.5] / m if m % 2 == 0 else np.ones(m) / m
    half = len(weights) // 2
    trend = np.full(len(y), np.nan)
    trend[half : len(y) - half] = np.convolve(y, weights, mode="valid")
    ratio = y / trend
    figure = np.array([np.nanmean(ratio[i::m]) for i in range(m)])
    return figure / figure.mean()


def naive2(y: np.ndarray, horizon: int, m: int = SEASON) -> np.ndarray:
    """M4's Naive2: the last seasonally adjusted value, re-seasonalised; plain naive when the
    seasonality test fails."""
    if not seasonality_test(y, m):
        return np.full(horizon, y[-1])
    index = seasonal_indices(y, m)
    adjusted = y / index[np.arange(len(y)) % m]
    return adjusted[-1] * index[np.arange(len(y), len(y) + horizon) % m]


def point_scores(history: list[np.ndarray], actual: np.ndarray,
                 forecasts: dict[str, np.ndarray]) -> pd.DataFrame:
    """sMAPE and MASE averaged over series, and OWA relative to Naive2 (ratio of averages)."""
    table = pd.DataFrame({name: {"sMAPE": smape(actual, f).mean(),
                                 "MASE": mase(history, actual, f).mean()}
                          for name, f in forecasts.items()}).T
    base = table.loc["Naive2"]
    table["OWA"] = 0.5 * (table["sMAPE"] / base["sMAPE"] + table["MASE"] / base["MASE"])
    table.index.name = "method"
    return table


def wql(actual: np.ndarray, quantiles: dict[float, np.ndarray]) -> float:
    """Weighted quantile loss: 2 * sum of pinball losses / sum |y|, averaged over quantiles."""
    losses = [np.sum(np.maximum(q * (actual - f), (q - 1) * (actual - f)))
              for q, f in quantiles.items()]
    return float(2 * np.mean(losses) / np.sum(np.abs(actual)))


def interval_quantiles(frame: pd.DataFrame, alias: str, ids: list[str]) -> dict[float, np.ndarray]:
    """statsforecast ``<alias>-lo/hi-<level>`` columns (and the mean for 0.5) as quantiles."""
    out = {}
    for q in QUANTILES:
        level = round(200 * abs(q - 0.5))
        side = "lo" if q < 0.5 else "hi"
        column = alias if level == 0 else f"{alias}-{side}-{level}"
        out[q] = to_matrix(frame, ids, column, M4_HORIZON)
    return out


# --- M4 Hourly: the run --------------------------------------------------------------------


def m4_data(quick: bool) -> tuple[list[str], list[np.ndarray], np.ndarray]:
    """The M4 Hourly ids, histories and test values; a spread of a few series in quick mode."""
    ids, history, actual = m4_hourly()
    if quick:
        keep = np.linspace(0, len(ids) - 1, QUICK_M4_SERIES).astype(int)
        ids, history, actual = [ids[i] for i in keep], [history[i] for i in keep], actual[keep]
    return ids, history, actual


def m4_stats(df: pd.DataFrame, ids: list[str], args: argparse.Namespace, timings: Timings
             ) -> tuple[dict[str, np.ndarray], dict[float, np.ndarray] | None]:
    """Point forecasts of the statsforecast peers, and AutoETS quantiles from its intervals."""
    levels = sorted({round(200 * abs(q - 0.5)) for q in QUANTILES} - {0})
    points, ets_quantiles = {}, None
    for name, model in stats_models(args.skip_ets).items():
        level = levels if name == "AutoETS" else None
        with timed(timings, "M4 Hourly", name):
            frame = stats_forecast(df, model, M4_HORIZON, args.threads, level=level)
        points[name] = to_matrix(frame, ids, name, M4_HORIZON)
        if level:
            ets_quantiles = interval_quantiles(frame, name, ids)
    return points, ets_quantiles


def m4_benchmark(args: argparse.Namespace, timings: Timings
                 ) -> tuple[pd.DataFrame, pd.DataFrame, int, str]:
    """M4 Hourly point scores, probabilistic scores, the number of series and a note."""
    ids, history, actual = m4_data(args.quick)
    df = long_frame(history, ids, [M4_START] * len(ids))
    with timed(timings, "M4 Hourly", TSHEADS):
        out = tsheads_forecasts(df, (M4_HORIZON,), args, QUANTILES)[M4_HORIZON]
    points = {TSHEADS: to_matrix(out, ids, "tsheads", M4_HORIZON)}
    quantiles = {TSHEADS: {q: to_matrix(out, ids, c, M4_HORIZON)
                           for q, c in quantile_columns("tsheads").items()}}
    for name, params in head_variants(args):
        with timed(timings, "M4 Hourly", name):
            out = tsheads_forecasts(df, (M4_HORIZON,), args, **params)[M4_HORIZON]
        points[name] = to_matrix(out, ids, "tsheads", M4_HORIZON)
    for source in args.intervals:
        name = f"tsheads intervals={source} (zero-shot)"
        with timed(timings, "M4 Hourly", name):
            out = tsheads_forecasts(df, (M4_HORIZON,), args, QUANTILES,
                                    intervals=source)[M4_HORIZON]
        quantiles[name] = {q: to_matrix(out, ids, c, M4_HORIZON)
                           for q, c in quantile_columns("tsheads").items()}
    stats_points, ets_quantiles = m4_stats(df, ids, args, timings)
    points |= stats_points
    if ets_quantiles is not None:
        quantiles["AutoETS"] = ets_quantiles
    with timed(timings, "M4 Hourly", "Naive2"):
        points["Naive2"] = np.stack([naive2(y, M4_HORIZON) for y in history])
    probabilistic = pd.DataFrame(
        {name: {"WQL": wql(actual, qs), "coverage of q0.9": float(np.mean(actual <= qs[0.9]))}
         for name, qs in quantiles.items()}).T
    probabilistic.index.name = "method"
    note = seasonal_note(df, M4_HORIZON, args, "Seasonal check")
    return point_scores(history, actual, points), probabilistic, len(ids), note


def m4_short_benchmark(args: argparse.Namespace, timings: Timings) -> pd.DataFrame:
    """M4 Hourly point scores with every series cut to its last ``SHORT_CONTEXT`` values
    (MASE still scaled by the full history, as M4 defines it)."""
    ids, history, actual = m4_data(args.quick)
    short = [h[-SHORT_CONTEXT:] for h in history]
    df = long_frame(short, ids, [M4_START] * len(ids))
    label = f"M4 Hourly, last {SHORT_CONTEXT}"
    points = {}
    for name, params in ((TSHEADS, {}), (variant("direct"), {"head": "direct"})):
        with timed(timings, label, name):
            out = tsheads_forecasts(df, (M4_HORIZON,), args, **params)[M4_HORIZON]
        points[name] = to_matrix(out, ids, "tsheads", M4_HORIZON)
    for name, model in stats_models(args.skip_ets).items():
        with timed(timings, label, name):
            frame = stats_forecast(df, model, M4_HORIZON, args.threads)
        points[name] = to_matrix(frame, ids, name, M4_HORIZON)
    points["Naive2"] = np.stack([naive2(y, M4_HORIZON) for y in short])
    return point_scores(history, actual, points)


# --- report -------------------------------------------------------------------------------


def horizon_tables(scores: pd.DataFrame, references: dict = REFERENCES) -> list[str]:
    """MSE and MAE tables (methods x horizons), ``references`` (quoted, not run) under MSE,
    best run method bold."""
    parts = []
    for metric in ("MSE", "MAE"):
        table = scores.pivot(index="method", columns="horizon", values=metric)
        table = table.reindex(scores["method"].unique())
        if metric == "MSE":
            for name, values in references.items():
                table.loc[name] = values
        table.columns = [str(h) for h in table.columns]
        table.index.name = "method"
        shown = bold_best(table, skip=tuple(references))
        parts.append(f"### {metric} by horizon (normalised scale)\n\n{markdown_table(shown)}\n")
    return parts


def probabilistic_table(scores: pd.DataFrame) -> pd.DataFrame:
    """WQL with the best in bold; coverage as plain text (closest to 0.9 is best, not lowest)."""
    coverage = scores[["coverage of q0.9"]].map(lambda v: f"{v:.3f}")
    return bold_best(scores[["WQL"]]).join(coverage)


def speed_table(timings: Timings, n_series: int) -> str:
    """Forecasts per second on M4 Hourly for tsheads and AutoETS, and the ratio."""
    rows = {m: timings[("M4 Hourly", m)] for m in (TSHEADS, "AutoETS")
            if ("M4 Hourly", m) in timings}
    speed = {m: n_series / s for m, s in rows.items()}
    table = pd.DataFrame({"seconds": rows, "forecasts / s": speed})
    table.index.name = "method"
    text = markdown_table(table, digits=2)
    if len(rows) == 2:
        text += f"\n\ntsheads is {rows['AutoETS'] / rows[TSHEADS]:.1f}x the speed of AutoETS."
    return text


def timing_table(timings: Timings) -> str:
    """Seconds per method and dataset."""
    table = pd.Series(timings).unstack(0)
    table.index.name = "method"
    return markdown_table(table.map(lambda v: "—" if pd.isna(v) else f"{v:.1f}"))


def header(args: argparse.Namespace, seconds: float, warm: float, n_series: int) -> str:
    """What was run, on which windows, with which settings."""
    name = "stand-in (seasonal naive), NOT the model" if args.tsheads_stand_in else (
        f"`tsheads.Forecaster`, weights `{args.weights or 'shipped'}`")
    return (
        "# Forecasting: tsheads against statistical and linear peers\n\n"
        f"- tsheads: {name}. The row `tsheads (zero-shot)` is `head=\"auto\"`: the network's "
        f"{auto_head()} head, except for a series whose last season, "
        f"repeated, beat it by 20 % on 3 backtests at the end of its own history; the "
        "`head=...` rows are the network alone. Every row forecasts mirrored (`mirror=True`) "
        "and averages the forecasts from shares of its context "
        f"(`context_fractions={default_fractions()}`) unless its name says otherwise.\n"
        f"- ETTh1: test split rows {ETT_TEST[0]}-{ETT_TEST[1] - 1}, z-normalised with train "
        f"statistics; context {CONTEXT}; all 7 channels; window stride {args.stride}"
        f"{' (quick: a few windows)' if args.quick else ''}.\n"
        f"- M4 Hourly: {n_series} series, h = {M4_HORIZON}, seasonal period {SEASON}; no "
        "timestamps, so each series gets an hourly `ds` from 2000-01-01.\n"
        "- Seeds: every method here is deterministic (fine-tuning, if run, uses random_state 0).\n"
        f"- Threads: {args.threads} (torch, BLAS and statsforecast `n_jobs`). One warm-up call per"
        f" method (numba compilation, weight loading) took {warm:.0f} s and is not counted.\n"
        f"- Total run time {seconds:.0f} s.\n")


def report(args: argparse.Namespace, ett: tuple[pd.DataFrame, list[str]],
           m4: tuple[pd.DataFrame, pd.DataFrame, int], short: pd.DataFrame, timings: Timings,
           seconds: float, warm: float) -> str:
    """The Markdown report."""
    point, probabilistic, n_series, m4_note = m4
    parts = [header(args, seconds, warm, n_series), "## ETTh1 (multivariate, 7 channels)\n"]
    parts += horizon_tables(ett[0])
    parts.append("\n".join(f"- {note}" for note in ett[1]) + "\n")
    parts.append(
        "Statistical peers forecast each window once at h = 720 and are cut to each horizon "
        "(their fitted models do not depend on h); tsheads predicts each horizon (steps past its "
        "direct head are rolled out).\n")
    parts.append("## M4 Hourly (h = 48)\n\n### Point forecasts\n\n"
                 f"{markdown_table(bold_best(point))}\n")
    parts.append(NAIVE2_NOTE)
    parts.append(f"{m4_note}\n")
    parts.append(f"### Short contexts: every series cut to its last {SHORT_CONTEXT} values\n\n"
                 f"{markdown_table(bold_best(short))}\n\n"
                 "Each method sees only the cut series; MASE is still scaled by the full "
                 "history's seasonal differences, so the numbers compare with the table above.\n")
    parts.append("### Quantile forecasts (0.1 ... 0.9)\n\n"
                 f"{markdown_table(probabilistic_table(probabilistic))}\n\n"
                 "Coverage of the 0.9 quantile: share of actuals at or under it (ideal 0.9). "
                 "AutoETS quantiles come from its `level=[20, 40, 60, 80]` intervals and its "
                 "mean as the median.\n")
    parts.append(f"## Speed: {n_series} M4 Hourly series at h = 48\n\n"
                 f"{speed_table(timings, n_series)}\n\n"
                 "tsheads: fit + predict with 9 quantiles"
                 f"{'' if args.skip_ets else '; AutoETS: forecast with 4 intervals'}.\n")
    parts.append(f"## Run time per method (s)\n\n{timing_table(timings)}\n")
    return "\n".join(parts)


NAIVE2_NOTE = (
    "Naive2 follows the M4 organisers' R benchmarks: a series is seasonal when "
    "|r_24| > 1.645 * sqrt((1 + 2 * sum_{k<24} r_k^2) / n) (and n >= 72); seasonal series are "
    "divided by classical multiplicative indices (centred 2x24 moving average, mean ratio per "
    "hour, normalised to mean 1), forecast with the last adjusted value and multiplied back; "
    "others get plain naive. OWA = 0.5 * (sMAPE / sMAPE_Naive2 + MASE / MASE_Naive2) on the "
    "series averages.\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default=None, help="weights file (default: shipped)")
    parser.add_argument("--out", default=str(RESULTS / "forecast.md"))
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK_ETT_WINDOWS} ETTh1 windows and {QUICK_M4_SERIES} M4 series")
    parser.add_argument("--skip-ets", action="store_true", help="leave out the slow AutoETS")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch and BLAS threads, statsforecast n_jobs (default 1)")
    parser.add_argument("--stride", type=int, default=STRIDE, help="ETTh1 window stride")
    parser.add_argument("--heads", default="direct,autoregressive,ensemble",
                        type=lambda text: [h for h in text.split(",") if h],
                        help="forecast heads to run beside head='auto' (comma-separated)")
    parser.add_argument("--unmirrored", default="direct,ensemble",
                        type=lambda text: [h for h in text.split(",") if h],
                        help="forecast heads to run again with mirror=False (comma-separated)")
    parser.add_argument("--one-context", default="direct",
                        type=lambda text: [h for h in text.split(",") if h],
                        help="forecast heads to run again with context_fractions=(1.0,) "
                             "(comma-separated)")
    parser.add_argument("--intervals", default="backtest,fourier",
                        type=lambda text: [h for h in text.split(",") if h],
                        help="interval sources to score on M4 beside intervals='auto'")
    parser.add_argument("--fine-tune-steps", type=int, default=FINE_TUNE_STEPS,
                        help="steps of fine-tuning tsheads on the ETTh1 train split "
                             f"(default {FINE_TUNE_STEPS}; 0: no fine-tuned row)")
    parser.add_argument("--tsheads-stand-in", action="store_true",
                        help="a seasonal-naive stand-in instead of tsheads.Forecaster")
    args = parser.parse_args()
    started = time.perf_counter()
    timings: Timings = {}
    with threadpool_limits(args.threads):
        warm = warm_up(args)
        ett = ett_benchmark(args, timings)
        m4 = m4_benchmark(args, timings)
        short = m4_short_benchmark(args, timings)
    text = report(args, ett, m4, short, timings, time.perf_counter() - started, warm)
    write_report(args.out, text)


if __name__ == "__main__":
    main()
