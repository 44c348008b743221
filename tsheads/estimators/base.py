"""What every tsheads estimator shares: parameter checks, frames, the model and threads."""

from __future__ import annotations

import contextlib
import copy
import numbers
import os
import warnings

import numpy as np

from tsheads.frames import describe_inserted, given_rows, given_steps, to_panel
from tsheads.nn import TinyModel
from tsheads.runtime import load_model, threads
from tsheads.training import fine_tune

SHARED_PARAMETERS = """\
    fine_tune_steps : int
        If positive, ``fit`` adapts a copy of the model to the data for this many steps,
        by hiding observed values and reconstructing them (the pretraining losses).
    batch_size : int
        Windows per model call; bounds memory for any number of series.
    weights : str or None
        Path to model weights; None uses the shipped pretrained model.
    n_threads : int or None
        Torch threads while running; None keeps torch's setting.
    compile : {"auto", True, False}
        Run the model through ``torch.compile`` (True), eagerly (False), or compile only
        for calls big enough to repay the compile time ("auto"; see ``docs/runtime.md``).
    random_state : int
        Seed of fine-tuning.
"""
SHARED_MARKER = "    %(shared_parameters)s\n"


def shared_parameters(cls: type) -> type:
    """Write the parameters every estimator shares into ``cls``'s docstring, where it holds
    the line ``%(shared_parameters)s``: one text for all three, so they cannot drift."""
    if SHARED_MARKER not in (cls.__doc__ or ""):
        raise TypeError(f"{cls.__name__}'s docstring lacks the line {SHARED_MARKER.strip()}")
    cls.__doc__ = cls.__doc__.replace(SHARED_MARKER, SHARED_PARAMETERS)
    return cls


def frame_args(id_col: str, time_col: str, target_col: str, freq) -> dict:
    """The frame keywords every public method takes, as one dict for `to_panel`."""
    return {"id_col": id_col, "time_col": time_col, "target_col": target_col, "freq": freq}


class ModelMixin:
    """Shared plumbing of the estimators; holds no parameters of its own."""

    def _validate_common(self) -> None:
        """Check the parameters every estimator has; messages name the parameter and value."""
        for name, low in (("batch_size", 1), ("fine_tune_steps", 0), ("random_state", 0)):
            check_int(name, getattr(self, name), low, f"an int >= {low}")
        if self.n_threads is not None:
            check_int("n_threads", self.n_threads, 1, "None or an int >= 1")
        if not (isinstance(self.compile, bool) or self.compile == "auto"):
            raise ValueError(f"compile must be 'auto', True or False, got {self.compile!r}.")
        weights = self.weights
        expected = f"None (the shipped model) or the path of a .pt file, got {weights!r}."
        if weights is not None and not isinstance(weights, (str, os.PathLike)):
            raise TypeError(f"weights must be {expected}")
        if weights is not None and str(weights) == "":
            raise ValueError(f"weights must be {expected}")
        check_bool("progress", getattr(self, "progress", False))

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
        check_bool("reindex", self.reindex)

    def _given(self, panel, values):
        """With ``reindex=False``, the panel and values cut back to the input's rows:
        ``values`` per series, or one array of a value per step for the whole panel (a wide
        frame's score)."""
        if self.reindex:
            return panel, values
        if isinstance(values, np.ndarray):
            return given_steps(panel, values)
        return given_rows(panel, values)

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


def is_number(value) -> bool:
    """A real number that is not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def check_int(name: str, value, low: int, expected: str, auto: bool = False) -> None:
    """``value`` is an int >= ``low`` (or "auto" where ``auto``): TypeError for another
    type, ValueError for an int out of range; ``expected`` says what was expected."""
    if auto and isinstance(value, str) and value == "auto":
        return
    if not is_int(value):
        raise TypeError(f"{name} must be {expected}, got {value!r}.")
    if value < low:
        raise ValueError(f"{name} must be {expected}, got {value!r}.")


def check_number(name: str, value, inside, expected: str, auto: bool = False) -> None:
    """``value`` is a real number for which ``inside(value)`` holds (or "auto" where
    ``auto``): TypeError for another type, ValueError outside; ``expected`` is the message."""
    if auto and isinstance(value, str) and value == "auto":
        return
    if not is_number(value):
        raise TypeError(expected)
    if not inside(value):
        raise ValueError(expected)


def check_bool(name: str, value, auto: bool = False) -> None:
    """``value`` is True or False (numpy's too), or "auto" where ``auto``: TypeError
    otherwise."""
    if auto and isinstance(value, str) and value == "auto":
        return
    if not isinstance(value, bool | np.bool_):
        allowed = "'auto', True or False" if auto else "True or False"
        raise TypeError(f"{name} must be {allowed}, got {value!r}.")


def check_horizon(horizon) -> int:
    """A forecast horizon: a positive int (TypeError for another type)."""
    if not is_int(horizon):
        raise TypeError(f"horizon must be a positive int, got {horizon!r}.")
    if horizon < 1:
        raise ValueError(f"horizon must be a positive int, got {horizon}.")
    return int(horizon)
