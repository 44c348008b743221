"""AnomalyDetector: one anomaly score per time step from three views of the pretrained encoder."""

from __future__ import annotations

import numpy as np
from scipy.stats import genpareto
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from tsheads import distributed
from tsheads.estimators.anomaly_views import (
    HEAD_OF_VIEW,
    VIEWS,
    smooth,
    view_deviations,
)
from tsheads.estimators.base import (
    ModelMixin,
    check_int,
    check_observed,
    frame_args,
    is_number,
    shared_parameters,
)
from tsheads.frames import concat, from_panel, given_rows, one_per_step
from tsheads.nn import TinyModel
from tsheads.scaling import Units, series_units, to_units
from tsheads.seasonality import detect_period

FUSIONS = ("mean", "max")
SCORE_NAME = "anomaly_score"
LABEL_NAME = "anomaly"
DEFAULT_HORIZON = 64  # forecast view: steps per origin when horizon="auto"
MAX_WINDOW = 128  # "auto" smoothing: whole detected periods within this many steps
MAX_WINDOW_SHARE = 4  # ... and at most this share of the shortest fit series
TAIL_QUANTILE = 0.99  # a view's unit: the distance from its median to this fit quantile
POT_RISK, POT_START, POT_MIN_EXCESSES = 1e-3, 0.98, 10
MIN_OBSERVED = 16  # observed values a series needs before its steps can be scored


@shared_parameters
class AnomalyDetector(ModelMixin, BaseEstimator):
    """Score how anomalous every time step is, zero-shot, from three views of the encoder.

    Each step gets three raw deviations, ``|x - expected|``: *time* (the reconstruction of
    the step while it is hidden, by rolling patch masks), *spectrum* (the window rebuilt
    from its reconstructed spectrum) and *forecast* (a short-horizon forecast made from the
    steps before). Each is smoothed by a moving average over ``window_`` steps and expressed
    in units learned by ``fit`` (per series or channel: ``(smoothed - median) / (q99 -
    median)`` on the fit steps, less the ``trim`` share that look most anomalous, so that
    fit data holding anomalies does not learn them as normal); the views are fused by their
    max (or mean). A wide frame or 2-D array is one multivariate series: its channels are
    scored separately and the most anomalous channel gives the score of a step; each id of a
    long frame is its own series.
    Higher means more anomalous; ``predict`` flags scores above ``threshold_``.

    Parameters
    ----------
    views : tuple of {"time", "spectrum", "forecast"}
        The views to fuse.
    fusion : {"max", "mean"}
        How the normalised views combine per step: the most surprised view, or their
        mean; NaN views (no history to forecast from, a view undefined on the fit data)
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
        would otherwise teach the units that they are normal; 0 learns from every step.
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
        views: tuple[str, ...] = VIEWS,
        fusion: str = "max",
        window: int | str = "auto",
        contamination: float | str = 0.01,
        trim: float = 0.25,
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
        series = _scaled(panel.values, list(self.units_.values()))
        self._resolve(self._fitted_model(series), series)
        with self._threads():
            raw = self._deviations(series, [0] * len(panel))
        smoothed = [self._smoothed(r) for r in raw]
        kept = _kept_steps(panel, smoothed, self.trim)
        self.stats_ = {sid: _robust_stats(sm, keep) for sid, sm, keep in
                       zip(panel.ids, smoothed, kept, strict=True)}
        channels = [self._fused(r, self.stats_[sid]) for sid, r in
                    zip(panel.ids, raw, strict=True)]
        self.threshold_ = _threshold(np.concatenate(_entities(panel, channels)),
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
        return one_per_step(*self._given_one(panel, _across_channels(channels)), SCORE_NAME)

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
        flags = _across_channels(channels) > self.threshold_
        return one_per_step(*self._given_one(panel, flags), LABEL_NAME)

    def fit_predict(self, X, y=None, *, id_col: str = "unique_id", time_col: str = "ds",
                    target_col: str = "y", freq=None):
        """Fit on ``X`` and flag its anomalous steps."""
        frame_kwargs = frame_args(id_col, time_col, target_col, freq)
        return self.fit(X, **frame_kwargs).predict(X, **frame_kwargs)

    # ---------------------------------------------------------------- fitting

    def _validate_anomaly_params(self) -> None:
        views = self.views
        expected = (f"views must be a non-empty tuple of distinct names from {VIEWS}, "
                    f"got {views!r}; e.g. views=('time',).")
        if isinstance(views, str) or not isinstance(views, (tuple, list)):
            raise TypeError(expected)
        if not views or not set(views) <= set(VIEWS) or len(set(views)) != len(views):
            raise ValueError(expected)
        if self.fusion not in FUSIONS:
            raise ValueError(f"fusion must be one of {FUSIONS}, got {self.fusion!r}.")
        for name in ("window", "stride", "horizon"):
            check_int(name, getattr(self, name), 1, "'auto' or a positive int", auto=True)
        c = self.contamination
        expected = f"contamination must be 'auto' or a number in (0, 0.5), got {c!r}."
        if not (is_number(c) or (isinstance(c, str) and c == "auto")):
            raise TypeError(expected)
        if c != "auto" and not 0 < c < 0.5:
            raise ValueError(expected)
        t = self.trim
        expected = f"trim must be a number in [0, 1), got {t!r}; e.g. trim=0.25."
        if not is_number(t):
            raise TypeError(expected)
        if not 0 <= t < 1:
            raise ValueError(expected)

    def _resolve(self, model: TinyModel, series: list[np.ndarray]) -> None:
        """Check the parameters against the model and resolve every "auto"."""
        cfg = model.config
        missing = [v for v in self.views if HEAD_OF_VIEW[v] not in model.heads]
        if missing:
            raise ValueError(f"views {missing} need heads the weights lack (they have "
                             f"{list(model.heads)}); drop those views or use other weights.")
        self.stride_ = cfg.context_length // 2 if self.stride == "auto" else self.stride
        if self.stride_ > cfg.context_length:
            raise ValueError(f"stride {self.stride} is longer than the model's context "
                             f"({cfg.context_length}); steps between windows would go unscored.")
        self.horizon_ = min(DEFAULT_HORIZON, cfg.horizon) if self.horizon == "auto" \
            else self.horizon
        if self.horizon_ > cfg.horizon:
            raise ValueError(f"horizon {self.horizon} is beyond the forecast head's "
                             f"{cfg.horizon} steps; pass horizon <= {cfg.horizon}.")
        self.period_ = _median_period(series)
        shortest = min(len(v) for v in series)
        self.window_ = _auto_window(self.period_, shortest) if self.window == "auto" \
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
        smoothed = self._smoothed(raw)
        parts = [(smoothed[v] - st[0]) / st[1] for v, st in stats.items() if st is not None]
        stacked = np.vstack(parts) if parts else np.full((1, len(raw[self.views_[0]])), np.nan)
        ok = np.isfinite(stacked)
        if self.fusion == "max":
            fused = np.where(ok, stacked, -np.inf).max(axis=0)
        else:
            fused = np.where(ok, stacked, 0.0).sum(axis=0) / np.maximum(ok.sum(axis=0), 1)
        return np.where(ok.any(axis=0), fused, 0.0)

    def _channel_scores(self, X, history, frame_kwargs: dict) -> tuple:
        """The panel of ``X`` and each of its series' fused scores."""
        check_is_fitted(self, "threshold_")
        panel = self._panel(X, frame_kwargs)
        stats, units = self._fitted_for(panel.ids)
        full, offsets = self._with_history(panel, X, history, frame_kwargs)
        check_observed(panel.ids, full, MIN_OBSERVED, "anomaly scoring")
        firsts = [max(o - (self.window_ - 1) // 2, 0) for o in offsets]
        with self._threads():
            raw = self._deviations(_scaled(full, units), firsts)
        scores = [self._fused(r, st)[o:] for r, st, o in
                  zip(raw, stats, offsets, strict=True)]
        return panel, scores

    def _given_one(self, panel, values: np.ndarray) -> tuple:
        """`_given` for one value per step of the whole panel (a wide frame's score)."""
        if self.reindex or panel.given is None:
            return panel, values
        return given_rows(panel, panel.values)[0], values[panel.given.positions[0]]

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


def _scaled(series: list[np.ndarray], units: list[Units]) -> list[np.ndarray]:
    """Each series in the units learned by fit (see `series_units`): the model then sees
    every magnitude and level of data alike, and scores do not depend on them."""
    return [to_units(s, u) for s, u in zip(series, units, strict=True)]


def _kept_steps(panel, smoothed: list[dict[str, np.ndarray]], trim: float
                ) -> list[np.ndarray]:
    """Per series (or channel), the fit steps whose units are learned: all but the ``trim``
    share that look most anomalous at first sight.

    Fit data usually holds anomalies; learned from every step, a view's units would take
    them as normal variation, most of all in the channels where they show, and those
    channels would then read calm. The first sight is each view in median/MAD units (which
    a minority of anomalous steps barely moves), the most surprised view, and for a wide
    frame the most surprised channel, so that a step dropped in one channel is dropped in
    all of them."""
    if trim == 0:
        return [np.ones(len(next(iter(sm.values()))), dtype=bool) for sm in smoothed]
    first = [_first_sight(sm) for sm in smoothed]
    entities = _entities(panel, first)
    drop = [e > np.nanquantile(e, 1 - trim) if np.isfinite(e).any() else np.zeros(len(e), bool)
            for e in entities]
    return [~d for d in drop] if panel.layout == "long" else [~drop[0]] * len(smoothed)


def _first_sight(smoothed: dict[str, np.ndarray]) -> np.ndarray:
    """The most surprised view per step, each view in median/MAD units; NaN where none is
    defined."""
    parts = []
    for deviation in smoothed.values():
        x = deviation[np.isfinite(deviation)]
        if len(x):
            med = np.median(x)
            mad = max(float(np.median(np.abs(x - med))), 0.01 * med, 1e-12)
            parts.append((deviation - med) / mad)
    if not parts:
        return np.full(len(next(iter(smoothed.values()))), np.nan)
    stacked = np.vstack(parts)
    return np.where(np.isfinite(stacked), stacked, -np.inf).max(axis=0)


def _robust_stats(smoothed: dict[str, np.ndarray], keep: np.ndarray
                  ) -> dict[str, tuple[float, float] | None]:
    """Median and tail spread (99th percentile minus median) of each view's smoothed
    deviation on the kept fit steps; None where never defined.

    A normalised score of 1 is then as far out as the view's own top 1 % of normal steps.
    The views' errors have tails of different weight (forecast errors come in long runs,
    reconstruction errors in short bursts), so matching their bulk (a MAD) left one view's
    normal excursions louder than another's; matching their tails puts the views on equal
    terms exactly where an alarm is decided."""
    stats: dict[str, tuple[float, float] | None] = {}
    for view, deviation in smoothed.items():
        x = deviation[keep & np.isfinite(deviation)]
        if len(x) == 0:
            stats[view] = None
            continue
        med = float(np.median(x))
        spread = float(np.quantile(x, TAIL_QUANTILE)) - med
        stats[view] = (med, max(spread, 0.01 * med, 1e-12))
    return stats


def _median_period(series: list[np.ndarray]) -> int | None:
    periods = [p for p in map(detect_period, series) if p is not None]
    return int(np.median(periods)) if periods else None


def _auto_window(period: int | None, shortest: int) -> int:
    """The most whole periods that fit in ``MAX_WINDOW`` steps (``MAX_WINDOW`` without one),
    and at most a quarter of the shortest fit series: a window as long as the series would
    smooth every score flat."""
    most = max(1, min(MAX_WINDOW, shortest // MAX_WINDOW_SHARE))
    if period is None or period > most:
        return most
    return period * (most // period)


def _threshold(scores: np.ndarray, contamination: float | str) -> float:
    if contamination == "auto":
        return _pot_threshold(scores)
    return float(np.quantile(scores, 1 - contamination))


def _pot_threshold(scores: np.ndarray) -> float:
    """Peaks over threshold: a generalised Pareto fit to the excesses over the 98th
    percentile, solved for the score exceeded with probability ``POT_RISK``."""
    start = float(np.quantile(scores, POT_START))
    excess = scores[scores > start] - start
    if len(excess) < POT_MIN_EXCESSES or np.ptp(excess) == 0:
        return float(np.quantile(scores, 1 - POT_RISK))
    shape, _, spread = genpareto.fit(excess, floc=0)
    ratio = POT_RISK * len(scores) / len(excess)
    if abs(shape) < 1e-6:
        return start - spread * np.log(ratio)
    return float(start + spread / shape * (ratio ** -shape - 1))


def _entities(panel, channels: list[np.ndarray]) -> list[np.ndarray]:
    """One score per step of each scored unit: every long series, or all channels at once."""
    return channels if panel.layout == "long" else [_across_channels(channels)]


def _across_channels(channels: list[np.ndarray]) -> np.ndarray:
    """The most anomalous channel per step: a fault often shows in one sensor only."""
    return np.max(np.vstack(channels), axis=0)
