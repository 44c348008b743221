"""What every tsheads estimator shares: parameter checks, frames, the model and threads."""

from __future__ import annotations

import contextlib
import copy
import numbers
import os
import warnings

import numpy as np

from tsheads.frames import describe_inserted, given_rows, to_panel
from tsheads.nn import TinyModel
from tsheads.runtime import load_model, threads
from tsheads.training import fine_tune


def frame_args(id_col: str, time_col: str, target_col: str, freq) -> dict:
    """The frame keywords every public method takes, as one dict for `to_panel`."""
    return {"id_col": id_col, "time_col": time_col, "target_col": target_col, "freq": freq}


class ModelMixin:
    """Shared plumbing of the estimators; holds no parameters of its own."""

    def _validate_common(self) -> None:
        """Check the parameters every estimator has; messages name the parameter and value."""
        for name, low in (("batch_size", 1), ("fine_tune_steps", 0), ("random_state", 0)):
            value = getattr(self, name)
            if not is_int(value) or value < low:
                raise ValueError(f"{name} must be an int >= {low}, got {value!r}.")
        if self.n_threads is not None and (not is_int(self.n_threads) or self.n_threads < 1):
            raise ValueError(f"n_threads must be None or an int >= 1, got {self.n_threads!r}.")
        if not (isinstance(self.compile, bool) or self.compile == "auto"):
            raise ValueError(f"compile must be 'auto', True or False, got {self.compile!r}.")
        weights = self.weights
        is_path = isinstance(weights, (str, os.PathLike)) and str(weights) != ""
        if weights is not None and not is_path:
            raise ValueError(
                f"weights must be None (the shipped model) or the path of a .pt file, "
                f"got {weights!r}."
            )
        progress = getattr(self, "progress", False)
        if not isinstance(progress, (bool, np.bool_)):
            raise ValueError(f"progress must be True or False, got {progress!r}.")

    def _panel(self, X, frame_kwargs: dict):
        """``X`` as a panel; warns when missing grid timestamps were inserted, since the
        output (imputed or scored rows) then holds rows the input did not have."""
        panel = to_panel(X, **frame_kwargs)
        note = describe_inserted(panel)
        if note:
            warnings.warn(f"{note}; {self._inserted_hint()}", UserWarning, stacklevel=3)
        return panel

    def _inserted_hint(self) -> str:
        reindex = getattr(self, "reindex", None)
        if reindex is None:
            return "they are gaps in the history the forecast starts from."
        if reindex:
            return ("the output has rows for them; pass reindex=False (--keep-rows on the "
                    "command line) to get only the input rows back.")
        return "they are used as gaps, and left out of the output (reindex=False)."

    def _check_reindex(self) -> None:
        if not isinstance(self.reindex, bool | np.bool_):
            raise ValueError(f"reindex must be True or False, got {self.reindex!r}.")

    def _given(self, panel, values: list[np.ndarray]):
        """With ``reindex=False``, the panel and values cut back to the input's rows."""
        return (panel, values) if self.reindex else given_rows(panel, values)

    def _fitted_model(self, series: list[np.ndarray]) -> TinyModel:
        """The shared pretrained model, or a fine-tuned copy when fine_tune_steps > 0."""
        model = load_model(self.weights)
        if self.fine_tune_steps == 0:
            return model
        with self._threads():
            return fine_tune(copy.deepcopy(model), series, self.fine_tune_steps,
                             self.random_state)

    def _threads(self) -> contextlib.AbstractContextManager[None]:
        """Run with the estimator's thread count and compile mode, restoring both after."""
        return threads(self.n_threads, self.compile)


def check_observed(ids: list, series: list[np.ndarray], minimum: int, task: str) -> None:
    """Every series needs ``minimum`` observed values for ``task``; the error names the first
    that has fewer (too short must be an error, never a quiet result)."""
    for sid, values in zip(ids, series, strict=True):
        observed = int(np.isfinite(values).sum())
        if observed < minimum:
            raise ValueError(
                f"series {sid!r} has {observed} observed values; {task} needs at least "
                f"{minimum}. Drop it or give it a longer history."
            )


def is_int(value) -> bool:
    """An integer that is not a bool (``True`` would pass as 1 otherwise)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


Units = tuple[int, float, float]


def series_units(values: np.ndarray) -> Units:
    """``(e, loc, spread)`` that map a series to about [-1, 1] (see `to_units`).

    The model normalises each window by its mean and spread, with fixed floors that keep
    constant windows finite (see `tsheads.windows.standardize`). Those floors would flatten
    a series of values like 1e-15, or one that varies by 1 around a level of 1e15, and sums
    of values near 1e308 would overflow. Estimators therefore hand the model each series in
    these units and map its output back. ``e`` is a power of two (exact scaling, so values
    near the float limits stay finite); ``loc`` the median and ``spread`` the largest
    distance from it of the scaled values (1 for a constant series).
    """
    finite = values[np.isfinite(values)]
    peak = np.abs(finite).max() if finite.size else 0.0
    e = int(np.frexp(peak)[1]) if peak > 0 else 0
    scaled = np.ldexp(finite, -e)
    loc = float(np.median(scaled)) if finite.size else 0.0
    spread = float(np.abs(scaled - loc).max()) if finite.size else 0.0
    return e, loc, spread if spread > 0 else 1.0


def to_units(values: np.ndarray, units: Units) -> np.ndarray:
    """A series in the units of `series_units`; NaN stays NaN."""
    e, loc, spread = units
    return (np.ldexp(values, -e) - loc) / spread


def from_units(values: np.ndarray, units: Units) -> np.ndarray:
    """The inverse of `to_units` (up to rounding)."""
    e, loc, spread = units
    return np.ldexp(values * spread + loc, e)
