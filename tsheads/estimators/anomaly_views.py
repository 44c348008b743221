"""The three views of `AnomalyDetector`: how far each step is from what the model expects.

Each view gives one raw deviation per step, ``|x - expected|`` in the series' own units, NaN
where it is undefined (a missing value, or no history to forecast from):

* **time**: every window of the context is run as ``N_PHASES`` copies, copy ``k`` hiding the
  patches whose number is ``k`` modulo ``N_PHASES``, so every step is reconstructed once per
  window while it is hidden, by the head that fills gaps (`tsheads.runtime.fill_head`: the
  imputation head where the weights have one). All copies of a window go through the model
  in one batch.
* **spectrum**: one more, unhidden copy of the same window; the spectrum head rebuilds the
  window's rFFT, which the runtime hands back as the window it rebuilds, in time.
* **forecast**: from the ``context_length`` steps before each origin (origins every
  ``horizon`` steps), the forecast head predicts the next ``horizon`` steps.

Windows sit on a grid anchored at the series' first step (see `tsheads.windows.grid_starts`), so the
deviation of a step depends only on the series around it and never on which steps were
asked for: scoring the tail of a series computes only the windows that reach the tail and
gives the same numbers as scoring the whole series.
"""

from __future__ import annotations

import numpy as np

from tsheads.nn import TinyModel
from tsheads.runtime import fill_head, run_head, run_heads
from tsheads.windows import grid_starts, stitch, tent, windows_at

VIEWS = ("time", "spectrum", "forecast")
HEAD_OF_VIEW = {"time": "reconstruction", "spectrum": "spectrum", "forecast": "forecast"}
N_PHASES = 4  # masked copies per window: each hides every 4th patch
MIN_HISTORY_SHARE = 4  # a forecast origin needs context_length / 4 observed context values
DEFAULT_HORIZON = 64  # forecast view: steps per origin when horizon="auto"


def check_views(views) -> None:
    """``views`` names distinct views: TypeError for a string or a non-sequence."""
    expected = (f"views must be a non-empty tuple of distinct names from {VIEWS}, "
                f"got {views!r}; e.g. views=('time',).")
    if isinstance(views, str) or not isinstance(views, (tuple, list)):
        raise TypeError(expected)
    if not views or not set(views) <= set(VIEWS) or len(set(views)) != len(views):
        raise ValueError(expected)


def view_settings(model: TinyModel, views, stride: int | str, horizon: int | str
                  ) -> tuple[int, int]:
    """The window stride and forecast horizon of the views (each "auto" resolved), checked
    against the model: its heads serve the views, its context and horizon reach."""
    cfg = model.config
    missing = [v for v in views if HEAD_OF_VIEW[v] not in model.heads]
    if missing:
        raise ValueError(f"views {missing} need heads the weights lack (they have "
                         f"{list(model.heads)}); drop those views or use other weights.")
    stride_ = cfg.context_length // 2 if stride == "auto" else stride
    if stride_ > cfg.context_length:
        raise ValueError(f"stride {stride} is longer than the model's context "
                         f"({cfg.context_length}); steps between windows would go unscored.")
    horizon_ = min(DEFAULT_HORIZON, cfg.horizon) if horizon == "auto" else horizon
    if horizon_ > cfg.horizon:
        raise ValueError(f"horizon {horizon} is beyond the forecast head's "
                         f"{cfg.horizon} steps; pass horizon <= {cfg.horizon}.")
    return stride_, horizon_


def view_deviations(
    model: TinyModel,
    series: list[np.ndarray],
    firsts: list[int],
    views: tuple[str, ...],
    stride: int,
    horizon: int,
    batch_size: int,
) -> list[dict[str, np.ndarray]]:
    """Per series, each view's raw deviation for every step from ``firsts[i]`` on.

    Steps before ``firsts[i]`` are NaN or incomplete; callers slice them off.
    """
    out: list[dict[str, np.ndarray]] = [{} for _ in series]
    if "time" in views or "spectrum" in views:
        recon = _window_views(model, series, firsts, stride, batch_size)
        for view in ("time", "spectrum"):
            if view in views:
                for d, s, r in zip(out, series, recon[view], strict=True):
                    d[view] = np.abs(s - r)
    if "forecast" in views:
        for d, s, f in zip(out, series, _forecasts(model, series, firsts, horizon, batch_size),
                           strict=True):
            d["forecast"] = np.abs(s - f)
    return out


def phase_masks(length: int, patch_length: int, n_phases: int = N_PHASES) -> np.ndarray:
    """(K, L) masks: copy k hides every patch whose number is k modulo K."""
    patch = np.arange(length) // patch_length
    return patch[None, :] % n_phases == np.arange(n_phases)[:, None]


def _window_views(
    model: TinyModel, series: list[np.ndarray], firsts: list[int], stride: int, batch_size: int
) -> dict[str, list[np.ndarray]]:
    """Stitched time reconstructions (each step while hidden) and spectrum reconstructions."""
    cfg = model.config
    length = cfg.context_length
    starts = [grid_starts(len(s), length, stride, f) for s, f in zip(series, firsts, strict=True)]
    windows = np.concatenate([windows_at(s, st, length)
                              for s, st in zip(series, starts, strict=True)])
    past_end = np.concatenate([st + length > len(s) for s, st in zip(series, starts, strict=True)])
    time, spec = _run_copies(model, windows, batch_size, past_end)
    out: dict[str, list[np.ndarray]] = {"time": [], "spectrum": []}
    weights = tent(length)
    offset = 0
    for s, st in zip(series, starts, strict=True):
        rows = slice(offset, offset + len(st))
        w = np.broadcast_to(weights, (len(st), length))
        reach = len(s) + length  # stitched past the end, where windows are padding
        out["time"].append(stitch(reach, time[rows], st, w)[0][: len(s)])
        out["spectrum"].append(stitch(reach, spec[rows], st, w)[0][: len(s)])
        offset += len(st)
    return out


def _run_copies(
    model: TinyModel, windows: np.ndarray, batch_size: int, reverse: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Run K masked copies and one unmasked copy of each (N, L) window in one batch.

    Returns the time reconstruction of every step from the copy that hid it (by the head
    that fills gaps, `fill_head`), and the spectrum reconstruction of the unmasked copy,
    both (N, L) in the original scale.
    Where ``reverse`` (N,) is True the unmasked copy runs time-reversed: those windows reach
    past the series' end, padding on the right never occurred in pretraining (it is on the
    left there), and the spectrum head answers it with a made-up continuation that would
    inflate every spectrum score near the end.
    """
    n, length = windows.shape
    phases = phase_masks(length, model.config.patch_length)  # (K, L)
    missing = np.isnan(windows)[:, None, :]  # (N, 1, L)
    masks = np.concatenate([missing | phases[None], missing], axis=1)  # (N, K + 1, L)
    copies = np.repeat(windows[:, None, :], N_PHASES + 1, axis=1)  # (N, K + 1, L)
    copies[reverse, N_PHASES] = copies[reverse, N_PHASES, ::-1]
    masks[reverse, N_PHASES] = masks[reverse, N_PHASES, ::-1]
    fill = fill_head(model)
    out = run_heads(model, copies.reshape(-1, length), masks.reshape(-1, length),
                    heads=(fill, "spectrum"), batch_size=batch_size, group=N_PHASES + 1).values
    recon = out[fill].reshape(n, N_PHASES + 1, length)
    time = (recon[:, :N_PHASES] * phases[None]).sum(axis=1)  # (N, L): each step once hidden
    spec = out["spectrum"].reshape(n, N_PHASES + 1, length)[:, N_PHASES]  # (N, L)
    spec[reverse] = spec[reverse, ::-1]
    return time, spec


def forecast_origins(n: int, horizon: int, first: int = 0) -> np.ndarray:
    """Origins ``horizon, 2 * horizon, ...`` whose forecast block reaches step ``first``."""
    origins = np.arange(horizon, n, horizon)
    return origins[origins + horizon > first]


def _forecasts(
    model: TinyModel, series: list[np.ndarray], firsts: list[int], horizon: int, batch_size: int
) -> list[np.ndarray]:
    """Per series, the forecast of every step from the origin before it; NaN where the context
    holds less than a quarter of ``context_length`` observed values (forecasts from a few
    steps are poor and would score the start of every series as anomalous)."""
    length = model.config.context_length
    origins = [forecast_origins(len(s), horizon, f) for s, f in zip(series, firsts, strict=True)]
    contexts = np.concatenate(
        [windows_at(s, o - length, length) for s, o in zip(series, origins, strict=True)]
    ).reshape(-1, length)
    enough = (~np.isnan(contexts)).sum(axis=1) >= length // MIN_HISTORY_SHARE
    predicted = np.full((len(contexts), horizon), np.nan)
    if enough.any():
        run = contexts[enough]
        predicted[enough] = run_head(model, "forecast", run, np.isnan(run),
                                     batch_size=batch_size)[:, :horizon]
    result, offset = [], 0
    for s, o in zip(series, origins, strict=True):
        path = np.full(len(s) + horizon, np.nan)
        for origin, row in zip(o, predicted[offset : offset + len(o)], strict=True):
            path[origin : origin + horizon] = row
        result.append(path[: len(s)])
        offset += len(o)
    return result


def smooth(values: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average over ``window`` steps that skips NaN; NaN where all are NaN."""
    ok = np.isfinite(values)
    total = np.concatenate([[0.0], np.cumsum(np.where(ok, values, 0.0))])
    count = np.concatenate([[0], np.cumsum(ok)])
    steps = np.arange(len(values))
    lo = np.clip(steps - (window - 1) // 2, 0, len(values))
    hi = np.clip(steps + window // 2 + 1, 0, len(values))
    n = count[hi] - count[lo]
    return np.divide(total[hi] - total[lo], n, out=np.full(len(values), np.nan), where=n > 0)
