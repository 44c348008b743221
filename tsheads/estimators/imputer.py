"""Imputer: zero-shot gap filling with the pretrained reconstruction head."""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from tsheads.estimators.base import ModelMixin, from_units, is_int, series_units, to_units
from tsheads.nn import TinyModel
from tsheads.runtime import reconstruct
from tsheads.windows import cut_windows, stitch, tent

MIN_CONTEXT = 16  # a window needs this many known values before its fill is trusted


class Imputer(ModelMixin, TransformerMixin, BaseEstimator):
    """Fill every missing value zero-shot; observed values come back bit-for-bit.

    Each series (a column of a wide frame, an id of a long frame) is cut into overlapping
    windows of the model's context; only windows holding a gap are run. Fills from
    overlapping windows are averaged, favouring windows where the gap sits mid-window.
    Gaps longer than half the context are filled window by window, each pass trusting the
    previous pass's fills as context, and a warning says so.

    Parameters
    ----------
    weights : str or None
        Path to model weights; None uses the shipped pretrained model.
    stride : int or "auto"
        Step between window starts, at most the model's context; "auto" is a quarter of it.
    batch_size : int
        Windows per model call; bounds memory for any number of series.
    fine_tune_steps : int
        If positive, ``fit`` adapts a copy of the model to the data by hiding observed
        values and reconstructing them for this many steps.
    n_threads : int or None
        Torch threads while running; None keeps torch's setting.
    compile : {"auto", True, False}
        Run the model through ``torch.compile`` (True), eagerly (False), or compile only
        for calls big enough to repay the compile time ("auto"; see ``docs/runtime.md``).
    random_state : int
        Seed of fine-tuning.
    progress : bool
        Show a progress bar over the model's batches.

    Attributes
    ----------
    model_ : TinyModel
        The model used by ``transform`` (the shared pretrained one, or a fine-tuned copy).
    stride_ : int
        The resolved step between window starts.
    n_series_in_ : int
        Number of series seen by ``fit``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from tsheads import Imputer
    >>> t = np.arange(200.0)
    >>> df = pd.DataFrame({"y": np.sin(t / 5)}, index=pd.date_range("2024", periods=200, freq="h"))
    >>> df.iloc[50:60, 0] = np.nan
    >>> filled = Imputer().fit_transform(df)
    >>> bool(filled["y"].isna().any())
    False
    """

    def __init__(
        self,
        *,
        weights: str | None = None,
        stride: int | str = "auto",
        batch_size: int = 64,
        fine_tune_steps: int = 0,
        n_threads: int | None = None,
        compile: bool | str = "auto",
        random_state: int = 0,
        progress: bool = False,
    ) -> None:
        self.weights = weights
        self.stride = stride
        self.batch_size = batch_size
        self.fine_tune_steps = fine_tune_steps
        self.n_threads = n_threads
        self.compile = compile
        self.random_state = random_state
        self.progress = progress

    def fit(self, X, y=None, **frame_kwargs) -> Imputer:
        """Load the model (and fine-tune it if asked) and check ``X``; returns self."""
        self._validate_common()
        ok = self.stride == "auto" or (is_int(self.stride) and self.stride > 0)
        if not ok:
            raise ValueError(f"stride must be 'auto' or a positive int, got {self.stride!r}.")
        panel = self._panel(X, frame_kwargs)
        model = self._fitted_model(panel.values)
        length = model.config.context_length
        if self.stride != "auto" and self.stride > length:
            raise ValueError(f"stride {self.stride} is longer than the model's context ({length}); "
                             f"steps between windows would stay unfilled. Pass stride <= {length}.")
        self.model_ = model
        self.stride_ = length // 4 if self.stride == "auto" else int(self.stride)
        self.n_series_in_ = len(panel)
        return self

    def transform(self, X, **frame_kwargs):
        """Return ``X`` with every NaN filled, in the same layout, index and columns.

        Each series goes to the model centred and scaled to about [-1, 1] and its fills are
        mapped back, so values of any magnitude or level are filled alike; observed values
        are copied from ``X``.
        """
        check_is_fitted(self, "model_")
        panel = self._panel(X, frame_kwargs)
        units = [series_units(v) for v in panel.values]
        scaled = [to_units(v, u) for v, u in zip(panel.values, units, strict=True)]
        with self._threads():
            fills = fill_series(self.model_, scaled, self.stride_, self.batch_size,
                                self.progress)
        filled = [np.where(np.isnan(v), from_units(f, u), v)
                  for v, f, u in zip(panel.values, fills, units, strict=True)]
        return self._output(panel, filled)

    def fit_transform(self, X, y=None, **frame_kwargs):
        """``fit(X).transform(X)``, both reading ``X`` with the same ``frame_kwargs``
        (scikit-learn's default would pass them to ``fit`` only)."""
        return self.fit(X, **frame_kwargs).transform(X, **frame_kwargs)

    def _output(self, panel, filled: list[np.ndarray]):
        from tsheads.data import from_panel

        return from_panel(panel, filled)


def fill_series(
    model: TinyModel,
    series: list[np.ndarray],
    stride: int,
    batch_size: int = 64,
    progress: bool = False,
) -> list[np.ndarray]:
    """Fill the NaNs of each 1-D series; observed values are returned unchanged."""
    work = [np.asarray(s, dtype=np.float64).copy() for s in series]
    length = model.config.context_length
    _warn_long_gaps(work, length)
    for _ in range(max(1, max((len(s) for s in work), default=0) // MIN_CONTEXT)):
        todo = [i for i, s in enumerate(work) if np.isnan(s).any()]
        if not todo:
            break
        fills = _fill_pass(model, [work[i] for i in todo], stride, batch_size, progress)
        for i, fill in zip(todo, fills, strict=True):
            work[i] = np.where(np.isnan(work[i]), fill, work[i])
    return [np.where(np.isnan(orig), new, orig) for orig, new in zip(series, work, strict=True)]


def _fill_pass(
    model: TinyModel, series: list[np.ndarray], stride: int, batch_size: int, progress: bool
) -> list[np.ndarray]:
    """One pass: run every window holding a gap; steps no trusted window reaches stay NaN."""
    length = model.config.context_length
    cuts = [cut_windows(s, length, stride) for s in series]
    keep = [np.isnan(w).any(axis=1) & ((~np.isnan(w)).sum(axis=1) >= MIN_CONTEXT)
            for w, _, _ in cuts]
    windows = np.concatenate([w[k] for (w, _, _), k in zip(cuts, keep, strict=True)])
    if len(windows) == 0:
        return [_fallback(s) for s in series]
    recon = reconstruct(model, np.nan_to_num(windows), np.isnan(windows),
                        batch_size=batch_size, progress=progress)
    out, offset = [], 0
    for s, (_w, pad, starts), k in zip(series, cuts, keep, strict=True):
        n = int(k.sum())
        weights = np.where(pad[k], 0.0, tent(length))
        fill, _ = stitch(len(s), recon[offset : offset + n], starts[k], weights)
        out.append(fill if n else _fallback(s))
        offset += n
    return out


def _fallback(series: np.ndarray) -> np.ndarray:
    """For a series with too few known values to give a window context: its mean."""
    return np.full(len(series), np.nanmean(series))


def _warn_long_gaps(series: list[np.ndarray], length: int) -> None:
    longest = max((_longest_gap(s) for s in series), default=0)
    if longest > length // 2:
        warnings.warn(
            f"a gap of {longest} steps is longer than half the model's context "
            f"({length // 2}); it is filled window by window from both ends, so its middle "
            "is a smooth guess.",
            UserWarning,
            stacklevel=3,
        )


def _longest_gap(series: np.ndarray) -> int:
    missing = np.concatenate([[0], np.isnan(series).astype(np.int8), [0]])
    edges = np.flatnonzero(np.diff(missing))
    return int((edges[1::2] - edges[::2]).max()) if len(edges) else 0
