"""AnomalyDetector: one anomaly score per time step from views of the pretrained encoder."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from tsheads import distributed
from tsheads.estimators.anomaly_scores import (
    across_channels,
    auto_window,
    entities_of,
    fuse,
    kept_steps,
    median_period,
    robust_stats,
    threshold,
)
from tsheads.estimators.anomaly_views import (
    check_views,
    smooth,
    view_deviations,
    view_settings,
)
from tsheads.estimators.base import (
    ModelMixin,
    check_int,
    check_number,
    check_observed,
    frame_args,
    shared_parameters,
)
from tsheads.frames import concat, from_panel, one_per_step
from tsheads.nn import TinyModel
from tsheads.scaling import Units, all_to_units, series_units

FUSIONS = ("mean", "max")
SCORE_NAME = "anomaly_score"
LABEL_NAME = "anomaly"
MIN_OBSERVED = 16  # observed values a series needs before its steps can be scored


@shared_parameters
class AnomalyDetector(ModelMixin, BaseEstimator):
    """Score how anomalous every time step is, zero-shot, from views of the encoder.

    Each step gets up to three raw deviations, ``|x - expected|``: *time* (the
    reconstruction of the step while it is hidden, by rolling patch masks), *spectrum* (the
    window rebuilt from its reconstructed spectrum) and *forecast* (a short-horizon forecast
    made from the steps before). Each is smoothed by a moving average over ``window_`` steps
    and expressed in units learned by ``fit`` (per series or channel: ``(smoothed - median) /
    (q99 - median)`` on the fit steps, optionally less the ``trim`` share that look most
    anomalous), or in units of the view's own preceding ``lookback`` windows where those
    read higher; the views are fused by their mean (or max). The defaults (time and spectrum
    views, mean fusion, no trim, a lookback of 32 windows) were chosen by
    leave-one-group-out over NAB's categories and SKAB valve2, among the settings within the
    speed target (docs/anomaly.md). A wide frame or 2-D array is one multivariate series:
    its channels are scored separately and the most anomalous channel gives the score of a
    step; each id of a long frame is its own series.
    Higher means more anomalous; ``predict`` flags scores above ``threshold_``.

    Parameters
    ----------
    views : tuple of {"time", "spectrum", "forecast"}
        The views to fuse; the forecast view costs a third more time.
    fusion : {"mean", "max"}
        How the normalised views combine per step: their mean, or the most surprised
        view; NaN views (no history to forecast from, a view undefined on the fit data)
        are left out.
    window : int or "auto"
        Smoothing window in steps; "auto" is the most whole periods (found by the
        autocorrelation of the fit data) that fit in 128 steps, or 128 without a period; at
        most a quarter of the shortest fit series.
    contamination : float or "auto"
        Share of fit steps expected to be anomalous: the threshold is that upper quantile of
        the fit scores. "auto" fits a generalised Pareto tail to the top 2 % of fit scores and
        puts the threshold where the tail's exceedance probability is 1e-3.
    trim : float
        Share of the fit steps left out when the views' units are learned: those that look
        most anomalous at first sight (in median/MAD units). Fit data that holds anomalies
        could otherwise teach the units that they are normal; 0 learns from every step.
        Off by default: on whole SKAB files trimming cost far more than it gained on NAB.
    lookback : int
        Smoothing windows of each view's own past that it is also measured against: a step
        reads in the units of the ``lookback x window_`` steps before it (their median and
        90th percentile) where those read higher than the fit units. Fit data that holds
        anomalies teaches the fit units to take them for normal; the steps just before an
        anomaly are its normal surroundings. 0 uses the fit units alone.
    stride : int or "auto"
        Steps between the windows of the time and spectrum views; "auto" is half the context.
    horizon : int or "auto"
        Steps forecast from each origin by the forecast view; "auto" is 64.
    reindex : bool
        Timestamps missing from the frequency grid are inserted as gaps and scored (with a
        warning that says how many and where); True returns scores for them too, False
        returns exactly the input's rows.
    %(shared_parameters)s

    Attributes
    ----------
    model_ : TinyModel
        The model used for scoring.
    views_ : tuple of str
        The views fused.
    window_, stride_, horizon_ : int
        The resolved smoothing window, window stride and forecast-view horizon.
    period_ : int or None
        The median period detected in the fit data (None when no series has one).
    units_ : dict
        Per fitted series (or channel), the centring and scaling that put its values at
        about [-1, 1] before the model sees them, so scores do not depend on magnitude.
    stats_ : dict
        Per fitted series (or channel) and view, the median and tail spread of the
        smoothed deviations on the fit data.
    threshold_ : float
        Scores above it are flagged by ``predict``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from tsheads import AnomalyDetector
    >>> t = np.arange(1200.0)
    >>> y = np.sin(2 * np.pi * t / 24) + np.random.default_rng(0).normal(0, 0.1, 1200)
    >>> y[1000] += 4
    >>> s = pd.Series(y, index=pd.date_range("2024", periods=1200, freq="h"), name="y")
    >>> detector = AnomalyDetector().fit(s[:800])
    >>> scores = detector.anomaly_score(s)
    >>> abs(int(scores.to_numpy().argmax()) - 1000) < detector.window_
    True
    >>> bool(detector.predict(s).iloc[1000])
    True
    """

    def __init__(
        self,
        *,
        views: tuple[str, ...] = ("time", "spectrum"),
        fusion: str = "mean",
        window: int | str = "auto",
        contamination: float | str = 0.01,
        trim: float = 0.0,
        lookback: int = 32,
        stride: int | str = "auto",
        horizon: int | str = "auto",
        batch_size: int = 64,
        weights: str | None = None,
        fine_tune_steps: int = 0,
        n_threads: int | None = None,
        compile: bool | str = "auto",
        random_state: int = 0,
        reindex: bool = True,
    ) -> None:
        self.views = views
        self.fusion = fusion
        self.window = window
        self.contamination = contamination
        self.trim = trim
        self.lookback = lookback
        self.stride = stride
        self.horizon = horizon
        self.batch_size = batch_size
        self.weights = weights
        self.fine_tune_steps = fine_tune_steps
        self.n_threads = n_threads
        self.compile = compile
        self.random_state = random_state
        self.reindex = reindex

    def fit(self, X, y=None, *, id_col: str = "unique_id", time_col: str = "ds",
            target_col: str = "y", freq=None) -> AnomalyDetector:
        """Learn each view's normalisation, the smoothing window and the threshold from ``X``.

        ``X`` may hold anomalies (the ``trim`` share that look most anomalous is left out
        of the views' units) but should be mostly normal; ``y`` is ignored. Returns self.
        """
        self._validate_common()
        self._check_reindex()
        self._validate_anomaly_params()
        panel = self._panel(X, frame_args(id_col, time_col, target_col, freq))
        check_observed(panel.ids, panel.values, MIN_OBSERVED, "anomaly scoring")
        self.units_ = {sid: series_units(v) for sid, v in zip(panel.ids, panel.values,
                                                               strict=True)}
        series = all_to_units(panel.values, list(self.units_.values()))
        self._resolve(self._fitted_model(series), series)
        with self._threads():
            raw = self._deviations(series, [0] * len(panel))
        smoothed = [self._smoothed(r) for r in raw]
        kept = kept_steps(panel, smoothed, self.trim)
        self.stats_ = {sid: robust_stats(sm, keep) for sid, sm, keep in
                       zip(panel.ids, smoothed, kept, strict=True)}
        channels = [self._fused(r, self.stats_[sid]) for sid, r in
                    zip(panel.ids, raw, strict=True)]
        self.threshold_ = threshold(np.concatenate(entities_of(panel, channels)),
                                     self.contamination)
        return self

    def anomaly_score(self, X, *, per_channel: bool = False, history=None,
                      id_col: str = "unique_id", time_col: str = "ds", target_col: str = "y",
                      freq=None):
        """One score per time step of ``X``, higher meaning more anomalous.

        Series in, Series out; a wide frame gives a Series over its index (the most
        anomalous channel per step), or with ``per_channel=True`` a frame of per-channel
        scores; a long frame gives ``id_col, time_col, anomaly_score``; arrays give arrays.
        ``history``, in the layout of ``X``, holds the steps just before ``X``: the scores of
        ``X`` then equal those of ``X`` appended to ``history`` and scored together, and only
        windows that reach ``X`` are computed.
        """
        frame_kwargs = frame_args(id_col, time_col, target_col, freq)
        if distributed.is_dask_frame(X):
            return distributed.anomaly_score(self, X, "anomaly_score", history, frame_kwargs)
        panel, channels = self._channel_scores(X, history, frame_kwargs)
        if per_channel or panel.layout == "long":
            return from_panel(*self._given(panel, channels), name=SCORE_NAME)
        return one_per_step(*self._given(panel, across_channels(channels)), SCORE_NAME)

    def predict(self, X, *, history=None, id_col: str = "unique_id", time_col: str = "ds",
                target_col: str = "y", freq=None):
        """True where the score exceeds ``threshold_``, in the layout of ``anomaly_score``."""
        frame_kwargs = frame_args(id_col, time_col, target_col, freq)
        if distributed.is_dask_frame(X):
            return distributed.anomaly_score(self, X, "predict", history, frame_kwargs)
        panel, channels = self._channel_scores(X, history, frame_kwargs)
        if panel.layout == "long":
            flags = [c > self.threshold_ for c in channels]
            return from_panel(*self._given(panel, flags), name=LABEL_NAME)
        flags = across_channels(channels) > self.threshold_
        return one_per_step(*self._given(panel, flags), LABEL_NAME)

    def fit_predict(self, X, y=None, *, id_col: str = "unique_id", time_col: str = "ds",
                    target_col: str = "y", freq=None):
        """Fit on ``X`` and flag its anomalous steps."""
        frame_kwargs = frame_args(id_col, time_col, target_col, freq)
        return self.fit(X, **frame_kwargs).predict(X, **frame_kwargs)

    # ---------------------------------------------------------------- fitting

    def _validate_anomaly_params(self) -> None:
        check_views(self.views)
        if self.fusion not in FUSIONS:
            raise ValueError(f"fusion must be one of {FUSIONS}, got {self.fusion!r}.")
        for name in ("window", "stride", "horizon"):
            check_int(name, getattr(self, name), 1, "'auto' or a positive int", auto=True)
        check_number("contamination", self.contamination, lambda c: 0 < c < 0.5,
                     f"contamination must be 'auto' or a number in (0, 0.5), got "
                     f"{self.contamination!r}.", auto=True)
        check_number("trim", self.trim, lambda t: 0 <= t < 1,
                     f"trim must be a number in [0, 1), got {self.trim!r}; e.g. trim=0.25.")
        check_int("lookback", self.lookback, 0, "a non-negative int (0: fit units alone)")

    def _resolve(self, model: TinyModel, series: list[np.ndarray]) -> None:
        """Check the parameters against the model and resolve every "auto"."""
        self.stride_, self.horizon_ = view_settings(model, self.views, self.stride, self.horizon)
        self.period_ = median_period(series)
        shortest = min(len(v) for v in series)
        self.window_ = auto_window(self.period_, shortest) if self.window == "auto" \
            else self.window
        self.views_ = tuple(self.views)
        self.model_ = model

    # ---------------------------------------------------------------- scoring

    def _deviations(self, series: list[np.ndarray], firsts: list[int]) -> list[dict]:
        return view_deviations(self.model_, series, firsts, self.views_, self.stride_,
                               self.horizon_, self.batch_size)

    def _smoothed(self, raw: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {view: smooth(dev, self.window_) for view, dev in raw.items()}

    def _fused(self, raw: dict[str, np.ndarray], stats: dict[str, tuple | None]) -> np.ndarray:
        """Smooth each view, normalise it with its fit statistics, and fuse the views."""
        return fuse(self._smoothed(raw), stats, self.fusion, self.lookback * self.window_)

    def _channel_scores(self, X, history, frame_kwargs: dict) -> tuple:
        """The panel of ``X`` and each of its series' fused scores."""
        check_is_fitted(self, "threshold_")
        panel = self._panel(X, frame_kwargs)
        stats, units = self._fitted_for(panel.ids)
        full, offsets = self._with_history(panel, X, history, frame_kwargs)
        check_observed(panel.ids, full, MIN_OBSERVED, "anomaly scoring")
        reach = (self.window_ - 1) // 2 + self.lookback * self.window_  # steps read before X
        firsts = [max(o - reach, 0) for o in offsets]
        with self._threads():
            raw = self._deviations(all_to_units(full, units), firsts)
        scores = [self._fused(r, st)[o:] for r, st, o in
                  zip(raw, stats, offsets, strict=True)]
        return panel, scores

    def _fitted_for(self, ids: list) -> tuple[list[dict], list[Units]]:
        """The fit statistics and units of each series; a lone series takes a lone fitted
        one."""
        if len(ids) == 1 and len(self.stats_) == 1:
            return list(self.stats_.values()), list(self.units_.values())
        unseen = [sid for sid in ids if sid not in self.stats_]
        if unseen:
            raise ValueError(f"series {unseen[0]!r} was not in the data passed to fit "
                             f"(fitted: {list(self.stats_)[:5]}); fit on data that holds it.")
        return [self.stats_[sid] for sid in ids], [self.units_[sid] for sid in ids]

    def _with_history(self, panel, X, history, frame_kwargs: dict) -> tuple[list, list[int]]:
        """Each series of ``X`` preceded by its history, and where ``X`` starts in it."""
        if history is None:
            return panel.values, [0] * len(panel)
        joined = self._panel(concat(history, X), frame_kwargs)
        lookup = dict(zip(joined.ids, joined.values, strict=True))
        full = [lookup[sid] for sid in panel.ids]
        return full, [len(f) - len(v) for f, v in zip(full, panel.values, strict=True)]


