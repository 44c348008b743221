"""Forecaster: zero-shot point and quantile forecasts behind ``fit(df).predict(horizon)``."""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from tsheads import distributed
from tsheads.estimators.backtests import MIN_HISTORY, Plan, plan
from tsheads.estimators.base import (
    ModelMixin,
    check_bool,
    check_horizon,
    check_int,
    check_observed,
    frame_args,
    shared_parameters,
)
from tsheads.estimators.intervals import backtest_quantiles, column_probs, probabilities
from tsheads.estimators.network import (
    Network,
    check_fourier,
    check_fractions,
    fine_tuned,
    interval_source,
    load_forecaster_model,
    resolve_head,
    resolve_intervals,
)
from tsheads.frames import from_panel_columns, future_index, series_table
from tsheads.nn import TinyModel
from tsheads.scaling import from_units, series_units, to_units, unit_size
from tsheads.seasonality import detect_period

HEADS = ("auto", "direct", "autoregressive", "ensemble")
INTERVALS = ("auto", "backtest", "fourier")


@shared_parameters
class Forecaster(ModelMixin, BaseEstimator):
    """Forecast every series of a frame with the pretrained encoder's forecast head.

    ``fit`` keeps the history of every series (and fine-tunes a copy of the model on it if
    asked); ``predict(horizon)`` forecasts from the last ``context_length`` steps of each.
    The direct head reaches ``H_max`` = 96 steps at once; the autoregressive head forecasts
    one patch at a time and reaches any horizon. Quantiles and intervals come either from
    the model's own errors on backtests at the end of each history, pooled over series
    and scaled per series (split-conformal style), or from the Fourier head's density of
    each step. With ``fine_tune_steps``, ``fit`` tunes the copy on all but the last part of
    each history and keeps it only if it forecasts that part better (``fine_tune_report_``).

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
    context_fractions : tuple of float
        Average the network's forecasts from the last ``fraction x context_length_`` steps
        of each series, for each fraction in (0, 1] (a series shorter than that is read
        whole): forecasts that read the whole context and ones that read only its recent
        part err differently, and their mean had lower ETTh1 MSE and M4 MASE on the
        validation data, though higher M4 sMAPE (see docs/forecaster.md), at one model pass
        per fraction. ``(1.0,)`` reads the context once.
    alias : str
        Name of the forecast column, and prefix of interval and quantile columns.
    %(shared_parameters)s

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
        context_fractions: tuple[float, ...] = (1.0, 0.5),
        alias: str = "tsheads",
        fine_tune_steps: int = 0,
        batch_size: int = 64,
        weights: str | None = None,
        n_threads: int | None = None,
        compile: bool | str = "auto",
        random_state: int = 0,
    ) -> None:
        self.context_length = context_length
        self.head = head
        self.intervals = intervals
        self.mirror = mirror
        self.context_fractions = context_fractions
        self.alias = alias
        self.fine_tune_steps = fine_tune_steps
        self.batch_size = batch_size
        self.weights = weights
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
        model = load_forecaster_model(self.weights)
        self.context_length_ = min(self.context_length, model.config.context_length)
        self.head_ = resolve_head(self.head, model)
        self.seasonal_check_ = self.head == "auto"
        self.periods_ = [detect_period(v) for v in panel.values]
        self.intervals_ = resolve_intervals(self.intervals, model)
        self.fine_tune_report_ = None
        self.units_ = [series_units(v) for v in panel.values]
        self.panel_ = panel
        if self.fine_tune_steps:
            with self._threads():
                model, self.fine_tune_report_ = fine_tuned(self._network(model), self._history(),
                                                           self.fine_tune_steps,
                                                           self.random_state)
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
        horizon = check_horizon(horizon)
        probs = probabilities(level, quantiles)
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
            found = self._plan(series, horizon, backtest, density=source == "fourier")
            bands = self._quantiles(series, horizon, sorted(probs), found) if probs else {}
        columns = {self.alias: list(found.point)}
        for name, p in column_probs(self.alias, level, quantiles).items():
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
        horizon = check_horizon(horizon)
        series = self._history()
        with self._threads():
            found = self._plan(series, horizon, backtest=True)
        scale = np.array([unit_size(u) for u in self.units_])
        return series_table(self.panel_.ids, {
            "period": self.periods_,
            "backtests": found.compared,
            "network_mae": found.network_mae * scale,
            "seasonal_mae": found.seasonal_mae * scale,
            "uses": np.where(found.seasonal, "seasonal", self.head_),
        }, nullable_int=("period",))

    def sample(self, horizon: int, n_samples: int = 100, *, seed: int = 0) -> np.ndarray:
        """Draws (n_series, horizon, n_samples) from the Fourier head's density per step.

        Each step is drawn on its own, so the draws have the right spread per step but
        are not coherent paths. The density is centred on the point forecast ``predict``
        gives (mirrored, ensembled or seasonal). Needs ``horizon <= H_max``.
        """
        check_is_fitted(self, "model_")
        horizon = check_horizon(horizon)
        check_fourier(self.model_, horizon)
        check_int("n_samples", n_samples, 1, "a positive int")
        series = self._history()
        with self._threads():
            found = self._plan(series, horizon, backtest=self.seasonal_check_, density=True)
            offsets = found.density.draws(int(n_samples), horizon, seed)
            draws = found.point[:, :, None] + offsets
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
        check_int("context_length", self.context_length, 16, "an int >= 16")
        check_bool("mirror", self.mirror)
        check_fractions(self.context_fractions)
        if not isinstance(self.alias, str) or not self.alias:
            raise ValueError(f"alias must be a non-empty string, got {self.alias!r}.")

    def _plan(self, series: list[np.ndarray], horizon: int, backtest: bool,
              density: bool = False) -> Plan:
        """The forecast of every series and the backtests behind it (see `backtests.plan`)."""
        reach = np.array([min(len(s), self.context_length_) for s in series])
        network = self._network()
        return plan(lambda every: network(every, horizon, density), series,
                    self.periods_, horizon, reach, backtest=backtest,
                    seasonal_check=self.seasonal_check_)

    def _network(self, model: TinyModel | None = None) -> Network:
        """The network forecast as configured, of ``model`` (default: ``model_``)."""
        return Network(self.model_ if model is None else model, self.head_,
                       self.context_length_, self.mirror, self.batch_size,
                       tuple(float(f) for f in self.context_fractions))

    def _interval_source(self, horizon: int) -> str:
        return interval_source(self.intervals, self.intervals_, self.model_, horizon)

    def _quantiles(self, series: list[np.ndarray], horizon: int, probs: list[float],
                   found: Plan) -> dict[float, np.ndarray]:
        """Forecast quantiles (N, horizon) by probability around the point forecast: the
        Fourier head's density (its distances from the direct forecast, centred on the point
        forecast), or the quantiles of backtest errors."""
        if found.density is not None:
            offsets = found.density.offsets(probs, horizon)
            return {p: found.point + offsets[:, :, i] for i, p in enumerate(probs)}
        return backtest_quantiles(found, self._network().contexts(series), horizon, probs)
