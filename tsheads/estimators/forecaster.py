"""Forecaster: zero-shot point and quantile forecasts behind ``fit(df).predict(horizon)``."""

from __future__ import annotations

import copy
import numbers
import warnings
from typing import NamedTuple

import numpy as np
from scipy.stats import norm
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from tsheads import distributed
from tsheads.estimators.base import (
    ModelMixin,
    check_observed,
    frame_args,
    from_units,
    series_units,
    to_units,
)
from tsheads.frames import from_panel_columns, future_index, series_table
from tsheads.nn import TinyModel
from tsheads.runtime import forecast, forecast_quantiles, forecast_samples
from tsheads.seasonality import detect_period, seasonal_repeat
from tsheads.training import fine_tune
from tsheads.windows import left_pad, standardize

HEADS = ("auto", "direct", "autoregressive", "ensemble")
INTERVALS = ("auto", "backtest", "fourier")
MIN_HISTORY = 16  # observed values a series needs before it can be forecast
BACKTEST_ORIGINS = 3  # per series: for the seasonal check of "auto" and for intervals
SEASONAL_MARGIN = 0.8  # "auto" repeats the season only where it beat the network by 20 %
MIN_BACKTESTS = 30  # fewer pooled backtests than this: intervals from a random-walk rule


class Forecaster(ModelMixin, BaseEstimator):
    """Forecast every series of a frame with the pretrained encoder's forecast head.

    ``fit`` keeps the history of every series (and fine-tunes a copy of the model on it if
    asked); ``predict(horizon)`` forecasts from the last ``context_length`` steps of each.
    The direct head reaches ``H_max`` = 96 steps at once; the autoregressive head forecasts
    one patch at a time and reaches any horizon. Quantiles and intervals come either from
    the model's own errors on backtests at the end of each history, pooled over series
    and scaled per series (split-conformal style), or from the Fourier head's density of
    each step.

    Parameters
    ----------
    context_length : int
        History steps used per forecast, at most the model's 512.
    head : {"auto", "direct", "autoregressive", "ensemble"}
        Forecast head: "direct" (``H_max`` steps per pass, rolled out beyond), the
        "autoregressive" one (one patch per pass), or the "ensemble" mean of both. "auto"
        uses the head chosen on validation data (``AUTO_HEAD``, see docs/forecaster.md),
        except for a series whose last season, repeated, forecast its own recent past
        better on backtests: that series gets the seasonal repeat (see ``backtest_summary``).
    intervals : {"auto", "backtest", "fourier"}
        Where quantiles and intervals come from: "backtest" errors, or the "fourier" head
        (horizons up to ``H_max`` only). "auto" uses ``AUTO_INTERVALS`` when the horizon
        allows and "backtest" otherwise.
    mirror : bool
        Average each network forecast with the negated forecast of the negated context.
        The network leans toward some continuations more than their mirror images; the
        average cancels that lean (lower error on M4 Hourly and on ETTh1's validation
        split, see ``docs/forecaster.md``) at twice the model work.
    density_mean : bool
        Make each direct-head forecast the mean of its forecast distribution: the direct
        head's value plus the mean of the Fourier head's density around it. Off by default:
        with the second weights, whose direct head is trained on absolute errors, the
        direct head's own value was the better forecast on every validation score (see
        ``docs/forecaster.md``). Used when the weights have a Fourier head; Fourier
        quantiles are then centred on that mean.
    fine_tune_steps : int
        If positive, ``fit`` adapts a copy of the model to the history (earlier part for
        training, the last part to check) and keeps it only if it forecasts that part better.
    batch_size : int
        Windows per model call.
    weights : str or None
        Path to model weights; None uses the shipped pretrained model.
    alias : str
        Name of the forecast column, and prefix of interval and quantile columns.
    n_threads : int or None
        Torch threads while running; None keeps torch's setting.
    compile : {"auto", True, False}
        Run the model through ``torch.compile`` (True), eagerly (False), or compile only
        for calls big enough to repay the compile time ("auto"; see ``docs/runtime.md``).
    random_state : int
        Seed of fine-tuning.

    Attributes
    ----------
    model_ : TinyModel
        The model that forecasts (the fine-tuned copy when it was kept).
    panel_ : Panel
        The fitted series, their index and layout; ``predict`` forecasts from their ends.
    units_ : list of tuple
        Per series, the centring and scaling that put its values at about [-1, 1] before the
        model sees them (see ``series_units``).
    context_length_ : int
        Steps of history each forecast reads: ``context_length``, at most the model's.
    head_ : str
        The resolved head ("auto" resolves to the network's direct head).
    seasonal_check_ : bool
        Whether each series' last season, repeated, competes with the network on backtests.
    periods_ : list of int or None
        Per series, the detected period (None without a clear season).
    intervals_ : str
        The resolved source of intervals and quantiles, "backtest" or "fourier".
    density_mean_ : bool
        Whether point forecasts are the Fourier head's density mean.
    fine_tune_report_ : dict or None
        With ``fine_tune_steps``: the held-out MSE of both models and which was kept.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from tsheads import Forecaster
    >>> t = np.arange(400.0)
    >>> df = pd.DataFrame({"y": 10 + np.sin(2 * np.pi * t / 24)},
    ...                   index=pd.date_range("2024", periods=400, freq="h"))
    >>> out = Forecaster().fit(df).predict(24, level=[80])
    >>> list(out.columns)
    [('y', 'tsheads'), ('y', 'tsheads-lo-80'), ('y', 'tsheads-hi-80')]
    """

    def __init__(
        self,
        *,
        context_length: int = 512,
        head: str = "auto",
        intervals: str = "auto",
        mirror: bool = True,
        density_mean: bool = False,
        fine_tune_steps: int = 0,
        batch_size: int = 64,
        weights: str | None = None,
        alias: str = "tsheads",
        n_threads: int | None = None,
        compile: bool | str = "auto",
        random_state: int = 0,
    ) -> None:
        self.context_length = context_length
        self.head = head
        self.intervals = intervals
        self.mirror = mirror
        self.density_mean = density_mean
        self.fine_tune_steps = fine_tune_steps
        self.batch_size = batch_size
        self.weights = weights
        self.alias = alias
        self.n_threads = n_threads
        self.compile = compile
        self.random_state = random_state

    def fit(self, X, y=None, *, id_col: str = "unique_id", time_col: str = "ds",
            target_col: str = "y", freq=None) -> Forecaster:
        """Check the parameters and the frame, keep each series' history; returns self."""
        frame_kwargs = frame_args(id_col, time_col, target_col, freq)
        if distributed.is_dask_frame(X):  # lazily, for predict to forecast on the cluster
            return distributed.fit_forecaster(self, X, frame_kwargs)
        self._validate_common()
        self._validate_forecast_params()
        panel = self._panel(X, frame_kwargs)
        check_observed(panel.ids, panel.values, MIN_HISTORY, "forecasting")
        model = _load(self.weights)
        self.context_length_ = min(self.context_length, model.config.context_length)
        self.head_ = _resolve_head(self.head, model)
        self.seasonal_check_ = self.head == "auto"
        self.periods_ = [detect_period(v) for v in panel.values]
        self.intervals_ = _resolve_intervals(self.intervals, model)
        self.density_mean_ = self.density_mean and "fourier" in model.heads
        self.fine_tune_report_ = None
        self.units_ = [series_units(v) for v in panel.values]
        self.panel_ = panel
        if self.fine_tune_steps:
            with self._threads():
                model, self.fine_tune_report_ = self._fine_tuned(model, self._history())
        self.model_ = model
        return self

    def _history(self) -> list[np.ndarray]:
        """Each series in the units of ``series_units`` (centred, about [-1, 1]), so that
        values of any magnitude or level are forecast alike."""
        return [to_units(v, u) for v, u in zip(self.panel_.values, self.units_, strict=True)]

    def predict(self, horizon: int, *, level=None, quantiles=None):
        """Forecast ``horizon`` steps after each series, in the layout that came in.

        Long frames get columns ``unique_id, ds, <alias>`` plus ``<alias>-lo-80`` /
        ``<alias>-hi-80`` per level and ``<alias>-q0.1`` per quantile; wide frames get the
        future timestamps as index (columns (series, column) when intervals are asked);
        arrays get an (horizon, n_series) array, or a dict of them by column.
        """
        if distributed.is_dask_frame(getattr(self, "panel_", None)):
            return distributed.predict_forecaster(self, horizon, level, quantiles)
        check_is_fitted(self, "model_")
        horizon = _check_horizon(horizon)
        probs = _probabilities(level, quantiles)
        source = self._interval_source(horizon) if probs else None
        if horizon > self.model_.config.horizon and self.head_ != "autoregressive":
            warnings.warn(
                f"horizon {horizon} is beyond the direct head's {self.model_.config.horizon} "
                "steps; later steps are rolled out from the model's own forecasts.",
                UserWarning,
                stacklevel=2,
            )
        series = self._history()
        with self._threads():
            backtest = self.seasonal_check_ or source == "backtest"
            plan = self._plan(series, horizon, backtest)
            bands = self._quantiles(series, horizon, sorted(probs), plan, source) if probs else {}
        columns = {self.alias: list(plan.point)}
        for name, p in _column_probs(self.alias, level, quantiles).items():
            columns[name] = list(bands[p])
        columns = {name: self._in_units(values) for name, values in columns.items()}
        out = from_panel_columns(self.panel_, columns, future_index(self.panel_, horizon))
        return out[self.alias] if isinstance(out, dict) and len(out) == 1 else out

    def backtest_summary(self, horizon: int):
        """Per series: the detected period, the number of backtests compared at the end of
        its history (those whose cut history is at least as long as the context the forecast
        uses), the mean absolute error there of the network forecast and of the seasonal
        repeat (in the series' units), and which one ``predict(horizon)`` uses."""
        check_is_fitted(self, "model_")
        horizon = _check_horizon(horizon)
        series = self._history()
        with self._threads():
            plan = self._plan(series, horizon, backtest=True)
        scale = np.array([np.ldexp(spread, e) for e, _, spread in self.units_])
        return series_table(self.panel_.ids, {
            "period": self.periods_,
            "backtests": plan.compared,
            "network_mae": plan.network_mae * scale,
            "seasonal_mae": plan.seasonal_mae * scale,
            "uses": np.where(plan.seasonal, "seasonal", self.head_),
        }, nullable_int=("period",))

    def sample(self, horizon: int, n_samples: int = 100, *, seed: int = 0) -> np.ndarray:
        """Draws (n_series, horizon, n_samples) from the Fourier head's density per step.

        Each step is drawn on its own, so the draws have the right spread per step but
        are not coherent paths. The density is centred on the point forecast ``predict``
        gives (mirrored, ensembled or seasonal). Needs ``horizon <= H_max``.
        """
        check_is_fitted(self, "model_")
        horizon = _check_horizon(horizon)
        self._check_fourier(horizon)
        if isinstance(n_samples, bool) or not isinstance(n_samples, numbers.Integral) or (
            n_samples < 1
        ):
            raise ValueError(f"n_samples must be a positive int, got {n_samples!r}.")
        series = self._history()
        with self._threads():
            offsets = forecast_samples(self.model_, self._contexts(series), horizon,
                                       int(n_samples), seed=seed, batch_size=self.batch_size,
                                       offsets=self._centre())
            plan = self._plan(series, horizon, backtest=self.seasonal_check_)
            draws = plan.point[:, :, None] + offsets
        return np.stack(self._in_units(draws))

    def forecast(self, X, horizon: int, *, level=None, quantiles=None, id_col: str = "unique_id",
                 time_col: str = "ds", target_col: str = "y", freq=None):
        """Stateless twin of ``fit(X).predict(horizon)``."""
        frame_kwargs = frame_args(id_col, time_col, target_col, freq)
        return self.fit(X, **frame_kwargs).predict(horizon, level=level, quantiles=quantiles)

    def _in_units(self, values) -> list[np.ndarray]:
        """Per series, forecast values back in the series' own units; never below 0 for a
        series whose history never went below 0 (counts, sales, rainfall, sunspots)."""
        out = []
        for v, u, s in zip(values, self.units_, self.panel_.values, strict=True):
            v = from_units(v, u)
            out.append(np.maximum(v, 0.0) if np.nanmin(s) >= 0 else v)
        return out

    def _validate_forecast_params(self) -> None:
        if self.head not in HEADS:
            raise ValueError(f"head must be one of {HEADS}, got {self.head!r}.")
        if self.intervals not in INTERVALS:
            raise ValueError(f"intervals must be one of {INTERVALS}, got {self.intervals!r}.")
        ok = isinstance(self.context_length, numbers.Integral) and self.context_length >= 16
        if not ok or isinstance(self.context_length, bool):
            raise ValueError(f"context_length must be an int >= 16, got {self.context_length!r}.")
        for name in ("mirror", "density_mean"):
            if not isinstance(getattr(self, name), bool | np.bool_):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}.")
        if not isinstance(self.alias, str) or not self.alias:
            raise ValueError(f"alias must be a non-empty string, got {self.alias!r}.")

    def _plan(self, series: list[np.ndarray], horizon: int, backtest: bool) -> _Plan:
        """Network forecasts of every series and of its backtests (one model call), the
        seasonal repeats of both, and the choice between them per series."""
        n = len(series)
        contexts, owners, actuals = self._backtest_windows(series, horizon) if backtest else (
            [], np.zeros(0, dtype=int), np.empty((0, horizon)))
        network = self._point(series + contexts, horizon)
        periods = self.periods_ + [self.periods_[i] for i in owners]
        seasonal = np.stack([_seasonal(s, p, horizon) for s, p in
                             zip(series + contexts, periods, strict=True)])
        # The check compares like with like: only backtests whose network saw as much context
        # as the forecast will, and whose seasonal repeat saw every phase.
        reach = np.array([min(len(s), self.context_length_) for s in series])
        fair = np.array([len(c) >= reach[i] for c, i in zip(contexts, owners, strict=True)],
                        dtype=bool) & ~np.isnan(seasonal[n:]).any(axis=1)
        network_mae = _per_owner(_row_mae(actuals, network[n:])[fair], owners[fair], n)
        seasonal_mae = _per_owner(_row_mae(actuals, seasonal[n:])[fair], owners[fair], n)
        choose = np.zeros(n, dtype=bool)
        if self.seasonal_check_:
            choose = np.isfinite(seasonal[:n]).all(axis=1) & (
                seasonal_mae < SEASONAL_MARGIN * network_mae)
        point = np.where(choose[:, None], seasonal[:n], network[:n])
        backtests = np.where(choose[owners][:, None], seasonal[n:], network[n:])
        windows = self._contexts(contexts) if contexts else np.empty((0, 1))
        errors = (actuals - backtests) / _scales(windows) if contexts else actuals
        return _Plan(point, network[:n], choose, owners, errors, np.bincount(
            owners[fair], minlength=n), network_mae, seasonal_mae)

    def _contexts(self, series: list[np.ndarray]) -> np.ndarray:
        """(N, L) windows: the last ``context_length_`` steps of each series, left-padded."""
        length = self.model_.config.context_length
        return np.stack([left_pad(s[-self.context_length_ :], length)[0] for s in series])

    def _point(self, series: list[np.ndarray], horizon: int) -> np.ndarray:
        """The network's point forecasts (N, horizon): the chosen head(s), mirrored if asked."""
        contexts = self._contexts(series)
        heads = ("direct", "autoregressive") if self.head_ == "ensemble" else (self.head_,)
        signs = (1.0, -1.0) if self.mirror else (1.0,)
        # one model call per head: the mirrored contexts ride in the same batches
        both = np.concatenate([sign * contexts for sign in signs])
        runs = [forecast(self.model_, both, horizon, head=head, batch_size=self.batch_size,
                         density_mean=self.density_mean_) for head in heads]
        n = len(contexts)
        return np.mean([sign * run[k * n : (k + 1) * n] for run in runs
                        for k, sign in enumerate(signs)], axis=0)

    def _check_fourier(self, horizon: int) -> None:
        if "fourier" not in self.model_.heads:
            raise ValueError("these weights have no Fourier head; use intervals='backtest'.")
        if horizon > self.model_.config.horizon:
            raise ValueError(
                f"the Fourier head covers {self.model_.config.horizon} steps, horizon "
                f"{horizon} is longer; use intervals='backtest' or a shorter horizon."
            )

    def _centre(self) -> str:
        """Where the Fourier density's distances are measured from: the point it is
        centred on is the direct forecast, or with ``density_mean_`` the density's mean."""
        return "mean" if self.density_mean_ else "direct"

    def _interval_source(self, horizon: int) -> str:
        """"fourier" or "backtest" for this horizon; an explicit "fourier" request the head
        cannot serve is an error, an "auto" one falls back to backtests."""
        if self.intervals_ == "fourier" and self.intervals == "auto":
            return "fourier" if horizon <= self.model_.config.horizon else "backtest"
        if self.intervals_ == "fourier":
            self._check_fourier(horizon)
        return self.intervals_

    def _quantiles(
        self,
        series: list[np.ndarray],
        horizon: int,
        probs: list[float],
        plan: _Plan,
        source: str,
    ) -> dict[float, np.ndarray]:
        """Forecast quantiles (N, horizon) by probability around the point forecast: the
        Fourier head's density (its distances from the direct forecast, centred on the point
        forecast), or the quantiles of backtest errors."""
        if source == "fourier":
            offsets = forecast_quantiles(self.model_, self._contexts(series), horizon, probs,
                                         batch_size=self.batch_size, offsets=self._centre())
            return {p: plan.point + offsets[:, :, i] for i, p in enumerate(probs)}
        scale = _scales(self._contexts(series))
        if len(plan.errors) >= MIN_BACKTESTS:
            errors = dict(zip(probs, np.nanquantile(plan.errors, probs, axis=0), strict=True))
        else:
            spread = _random_walk_spread(self._contexts(series), horizon)
            spread = np.minimum(spread, _spread_bound(plan, len(series))[:, None])
            errors = {p: norm.ppf(p) * spread for p in probs}
        return {p: plan.point + scale * errors[p] for p in probs}

    def _backtest_windows(self, series: list[np.ndarray], horizon: int
                          ) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
        """Histories cut 1, 2, ... horizons before each end, the series each belongs to, and
        the (M, horizon) actuals that follow each cut."""
        contexts, owners, actuals = [], [], []
        for i, s in enumerate(series):
            for k in range(1, BACKTEST_ORIGINS + 1):
                origin = len(s) - k * horizon
                if np.isfinite(s[:max(origin, 0)]).sum() < MIN_HISTORY:
                    break
                contexts.append(s[:origin])
                owners.append(i)
                actuals.append(s[origin : origin + horizon])
        actuals = np.stack(actuals) if actuals else np.empty((0, horizon))
        return contexts, np.array(owners, dtype=int), actuals

    def _fine_tuned(self, model: TinyModel, series: list[np.ndarray]) -> tuple[TinyModel, dict]:
        """Fine-tune on all but the last part of each series; keep it only if it helps there."""
        hold = max(1, min(model.config.horizon, min(len(s) for s in series) // 5))
        train = [s[:-hold] for s in series]
        tuned = fine_tune(copy.deepcopy(model), train, self.fine_tune_steps, self.random_state)
        actual = np.stack([s[-hold:] for s in series])
        scores = {}
        for name, candidate in (("pretrained", model), ("fine-tuned", tuned)):
            self.model_ = candidate
            scores[name] = float(np.nanmean((self._point(train, hold) - actual) ** 2))
        del self.model_
        best = tuned if scores["fine-tuned"] < scores["pretrained"] else model
        return best, {"holdout_steps": hold, "holdout_mse": scores,
                      "kept": "fine-tuned" if best is tuned else "pretrained"}


class _Plan(NamedTuple):
    """What ``predict`` forecasts, and the backtests behind that choice and its intervals."""

    point: np.ndarray  # (N, horizon) the forecast of each series
    network: np.ndarray  # (N, horizon) the network head's forecast
    seasonal: np.ndarray  # (N,) True where the seasonal repeat is used
    owners: np.ndarray  # (M,) the series of each backtest
    errors: np.ndarray  # (M, horizon) backtest errors of the forecast used, in context scales
    compared: np.ndarray  # (N,) backtests that entered the seasonal check of each series
    network_mae: np.ndarray  # (N,) mean absolute backtest error, NaN without backtests
    seasonal_mae: np.ndarray  # (N,) the same for the seasonal repeat


def _seasonal(history: np.ndarray, period: int | None, horizon: int) -> np.ndarray:
    """The seasonal repeat of ``history``; NaN without a period."""
    if period is None:
        return np.full(horizon, np.nan)
    return seasonal_repeat(history, period, horizon)


def _row_mae(actual: np.ndarray, forecast: np.ndarray) -> np.ndarray:
    """Mean absolute error of each row over the steps where both are known; NaN if none."""
    err = np.abs(actual - forecast)
    known = np.isfinite(err)
    count = known.sum(axis=1)
    total = np.where(known, err, 0.0).sum(axis=1)
    return np.divide(total, count, out=np.full(len(err), np.nan), where=count > 0)


def _per_owner(values, owners: np.ndarray, n: int) -> np.ndarray:
    """Mean of ``values`` per series index in ``owners``; NaN for series without any."""
    total = np.bincount(owners, weights=np.asarray(values, dtype=float), minlength=n)
    count = np.bincount(owners, minlength=n)
    return np.divide(total, count, out=np.full(n, np.nan), where=count > 0)


def _load(weights: str | None) -> TinyModel:
    from tsheads.runtime import load_model

    model = load_model(weights)
    if "forecast" not in model.heads:
        raise ValueError(f"the weights {weights or 'shipped'} have no forecast head; "
                         "pretrain with a current tsheads.")
    return model


# The head "auto" picks, chosen by benchmarks/validate.py (M4 Hourly holdout inside the train
# series, ETTh1 validation split), not on the benchmark's test windows: see docs/forecaster.md.
AUTO_HEAD = "direct"
AUTO_INTERVALS = "backtest"  # the interval source "auto" picks, from the same benchmark


def _resolve_head(head: str, model: TinyModel) -> str:
    has_autoregressive = "autoregressive" in model.heads
    if head == "auto":
        return AUTO_HEAD if has_autoregressive else "direct"
    if head != "direct" and not has_autoregressive:
        raise ValueError(f"head={head!r} needs an autoregressive head, which these weights "
                         "lack; use head='direct'.")
    return head


def _resolve_intervals(intervals: str, model: TinyModel) -> str:
    if intervals == "auto":
        return AUTO_INTERVALS if "fourier" in model.heads else "backtest"
    if intervals == "fourier" and "fourier" not in model.heads:
        raise ValueError("intervals='fourier' needs a Fourier head, which these weights lack; "
                         "use intervals='backtest'.")
    return intervals


def _check_horizon(horizon) -> int:
    if isinstance(horizon, bool) or not isinstance(horizon, numbers.Integral):
        raise TypeError(f"horizon must be a positive int, got {horizon!r}.")
    if horizon < 1:
        raise ValueError(f"horizon must be a positive int, got {horizon}.")
    return int(horizon)


def _probabilities(level, quantiles) -> set[float]:
    """Every probability that the requested levels and quantiles need."""
    return set(_column_probs("", level, quantiles).values())


def _column_probs(alias: str, level, quantiles) -> dict[str, float]:
    """Output column name -> probability, for levels (lo/hi pairs) and quantiles."""
    columns = {}
    for lv in _as_list("level", level):
        if not isinstance(lv, numbers.Real) or not 0 < lv < 100:
            raise ValueError(f"each level must be a number in (0, 100), got {lv!r}.")
        columns[f"{alias}-lo-{lv:g}"] = 0.5 - lv / 200
        columns[f"{alias}-hi-{lv:g}"] = 0.5 + lv / 200
    for q in _as_list("quantiles", quantiles):
        if not isinstance(q, numbers.Real) or not 0 < q < 1:
            raise ValueError(f"each quantile must be a number in (0, 1), got {q!r}.")
        columns[f"{alias}-q{q:g}"] = float(q)
    return columns


def _as_list(name: str, value) -> list:
    """``level=80`` means ``level=[80]`` (as in statsforecast); None means none."""
    if value is None:
        return []
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return [value]
    if isinstance(value, str) or not hasattr(value, "__iter__"):
        raise TypeError(f"{name} must be a number or a list of numbers, got {value!r}; "
                        f"e.g. {name}={[80, 95] if name == 'level' else [0.1, 0.9]}.")
    return list(value)


def _scales(windows: np.ndarray) -> np.ndarray:
    """Each window's normalisation scale (N, 1), the unit that forecast errors are kept in."""
    return standardize(np.nan_to_num(windows), np.isnan(windows))[2]


def _spread_bound(plan: _Plan, n: int) -> np.ndarray:
    """(N,) the widest error spread, in scale units, that the random-walk rule may reach per
    series: the spread of the context itself (1: a forecast no better than the context's
    mean), or the root mean square of the series' own backtest errors when that is larger."""
    if len(plan.errors) == 0:
        return np.ones(n)
    square = _row_mae(plan.errors**2, np.zeros_like(plan.errors))  # mean square per backtest
    known = np.isfinite(square)
    rms = np.sqrt(_per_owner(square[known], plan.owners[known], n))
    return np.fmax(1.0, rms)


def _random_walk_spread(windows: np.ndarray, horizon: int) -> np.ndarray:
    """Error spread per step in scale units when there is too little history to backtest."""
    z = standardize(np.nan_to_num(windows), np.isnan(windows))[0]
    steps = np.where(np.isnan(windows[:, 1:]) | np.isnan(windows[:, :-1]), np.nan, np.diff(z))
    one_step = np.nanmedian(np.nanstd(steps, axis=1)) if np.isfinite(steps).any() else 1.0
    return one_step * np.sqrt(np.arange(1, horizon + 1))
