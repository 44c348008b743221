"""The network's forecast of a set of series, as the Forecaster configures it: the head or
heads, mirror averaging and the context each series gives; with what the weights can do."""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace

import numpy as np

from tsheads.estimators.backtests import MIN_HISTORY
from tsheads.estimators.base import is_number
from tsheads.nn import TinyModel
from tsheads.runtime import Forecast, forecast_run, load_model
from tsheads.training import fine_tune
from tsheads.windows import left_pad

# The head and interval source "auto" picks, chosen by benchmarks/validate.py (M4 Hourly
# holdout inside the train series, ETTh1 validation split), not on the benchmark's test
# windows: see docs/forecaster.md.
AUTO_HEAD = "direct"
AUTO_INTERVALS = "backtest"


@dataclass(frozen=True)
class Network:
    """Forecasts of the ``head`` ("direct", "autoregressive" or the "ensemble" mean of
    both) from the last ``context_length`` steps of each series, averaged over readings of
    its last ``fraction x context_length`` steps, one per ``context_fractions``, and, when
    ``mirror``, with the negated forecast of each negated reading."""

    model: TinyModel
    head: str
    context_length: int
    mirror: bool
    batch_size: int
    context_fractions: tuple[float, ...] = (1.0,)

    def contexts(self, series: list[np.ndarray], fraction: float = 1.0) -> np.ndarray:
        """(N, L) windows: the last ``fraction`` x ``context_length`` steps of each series
        (at least ``MIN_HISTORY``, the fewest a series is forecast from), left-padded. A
        series shorter than that is read whole: cutting an already short history (to two
        days of an hourly series, say) cost far more accuracy than the average of shorter
        contexts gains."""
        length = self.model.config.context_length
        keep = max(MIN_HISTORY, round(fraction * self.context_length))
        return np.stack([left_pad(s[-keep:], length)[0] for s in series])

    def __call__(self, series: list[np.ndarray], horizon: int, density: bool = False
                 ) -> Forecast:
        """Forecasts (N, horizon) with each context's scale and, if asked, the Fourier
        density of the first fraction's unmirrored contexts (from the direct pass itself:
        the model runs once)."""
        heads = ("direct", "autoregressive") if self.head == "ensemble" else (self.head,)
        blocks = [(fraction, sign) for fraction in self.context_fractions
                  for sign in ((1.0, -1.0) if self.mirror else (1.0,))]
        # one model call per head: every fraction and mirror rides in the same batches
        every = np.concatenate([sign * self.contexts(series, fraction)
                                for fraction, sign in blocks])
        runs = [forecast_run(self.model, every, horizon, head=head, batch_size=self.batch_size,
                             density=density and k == 0) for k, head in enumerate(heads)]
        n = len(series)
        point = np.mean([sign * run.point[k * n : (k + 1) * n] for run in runs
                         for k, (_, sign) in enumerate(blocks)], axis=0)
        found = runs[0].density.head(n) if density else None
        return Forecast(point, runs[0].scale[:n], found)


def check_fractions(fractions) -> None:
    """``fractions`` (the Forecaster's ``context_fractions``) is a non-empty tuple or list
    of numbers in (0, 1]: TypeError for another type, ValueError outside."""
    expected = (f"context_fractions must be a non-empty tuple of numbers in (0, 1], got "
                f"{fractions!r}; e.g. context_fractions=(1.0, 0.5), or (1.0,) for one pass.")
    if not isinstance(fractions, (tuple, list)) or not all(is_number(f) for f in fractions):
        raise TypeError(expected)
    if not fractions or not all(0 < f <= 1 for f in fractions):
        raise ValueError(expected)


def fine_tuned(network: Network, series: list[np.ndarray], steps: int, seed: int
               ) -> tuple[TinyModel, dict]:
    """Fine-tune a copy of the network's model on all but the last part of each series, and
    keep it only if it forecasts that part better; the model kept and a report."""
    model = network.model
    hold = max(1, min(model.config.horizon, min(len(s) for s in series) // 5))
    train = [s[:-hold] for s in series]
    tuned = fine_tune(copy.deepcopy(model), train, steps, seed)
    actual = np.stack([s[-hold:] for s in series])
    scores = {}
    for name, candidate in (("pretrained", model), ("fine-tuned", tuned)):
        point = replace(network, model=candidate)(train, hold).point
        scores[name] = float(np.nanmean((point - actual) ** 2))
    best = tuned if scores["fine-tuned"] < scores["pretrained"] else model
    return best, {"holdout_steps": hold, "holdout_mse": scores,
                  "kept": "fine-tuned" if best is tuned else "pretrained"}


def load_forecaster_model(weights: str | None) -> TinyModel:
    """The model at ``weights`` (None: the shipped one); an error if it cannot forecast."""
    model = load_model(weights)
    if "forecast" not in model.heads:
        raise ValueError(f"the weights {weights or 'shipped'} have no forecast head; "
                         "pretrain with a current tsheads.")
    return model


def resolve_head(head: str, model: TinyModel) -> str:
    """The head ``head`` means for these weights ("auto": ``AUTO_HEAD``)."""
    has_autoregressive = "autoregressive" in model.heads
    if head == "auto":
        return AUTO_HEAD if has_autoregressive else "direct"
    if head != "direct" and not has_autoregressive:
        raise ValueError(f"head={head!r} needs an autoregressive head, which these weights "
                         "lack; use head='direct'.")
    return head


def resolve_intervals(intervals: str, model: TinyModel) -> str:
    """The interval source ``intervals`` means for these weights ("auto": ``AUTO_INTERVALS``)."""
    if intervals == "auto":
        return AUTO_INTERVALS if "fourier" in model.heads else "backtest"
    if intervals == "fourier" and "fourier" not in model.heads:
        raise ValueError("intervals='fourier' needs a Fourier head, which these weights lack; "
                         "use intervals='backtest'.")
    return intervals


def check_fourier(model: TinyModel, horizon: int) -> None:
    """The weights have a Fourier head that reaches ``horizon``."""
    if "fourier" not in model.heads:
        raise ValueError("these weights have no Fourier head; use intervals='backtest'.")
    if horizon > model.config.horizon:
        raise ValueError(
            f"the Fourier head covers {model.config.horizon} steps, horizon "
            f"{horizon} is longer; use intervals='backtest' or a shorter horizon."
        )


def interval_source(intervals: str, resolved: str, model: TinyModel, horizon: int) -> str:
    """"fourier" or "backtest" for this horizon, from the parameter ``intervals`` and what
    it resolved to: an explicit "fourier" request the head cannot serve is an error, an
    "auto" one falls back to backtests."""
    if resolved == "fourier" and intervals == "auto":
        return "fourier" if horizon <= model.config.horizon else "backtest"
    if resolved == "fourier":
        check_fourier(model, horizon)
    return resolved
