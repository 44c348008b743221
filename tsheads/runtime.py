"""The one place that loads, batches, compiles and runs the model.

Estimators hand numpy windows in their original scale; this module normalises them,
runs the model in bounded batches under ``torch.inference_mode`` and hands numpy back.
With compilation on, each batch is padded to one of a few fixed sizes (``BUCKETS``) so
that ``torch.compile`` builds one graph per size and never recompiles per call.
"""

from __future__ import annotations

import contextlib
import contextvars
import warnings
import weakref
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from tsheads.nn import TinyModel
from tsheads.nn.encoder import inverse_spectrum
from tsheads.nn.heads import (
    fourier_coefficients,
    fourier_mean,
    fourier_quantiles,
    fourier_samples,
)
from tsheads.windows import standardize, unstandardize

WEIGHTS = Path(__file__).parent / "weights" / "tiny.pt"
BUCKETS = (1, 4, 16, 64, 256, 1024, 4096)  # batch sizes a compiled model is built for
RECOMPILE_LIMIT = 64  # graphs per compiled function: buckets x the head sets in use
# Windows per call from which "auto" compiles; None: compiling never paid on the machine
# benchmarks/speed.py last ran on (see benchmarks/results/speed.md).
AUTO_COMPILE_MIN_WINDOWS: int | None = None

_COMPILE_MODE: contextvars.ContextVar[bool | str] = contextvars.ContextVar(
    "tsheads_compile", default=False
)
_COMPILED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
compilations = 0  # graphs built by the compiler in this process (tests count them)


@lru_cache(maxsize=4)
def _load_cached(path: str) -> TinyModel:
    return TinyModel.load(path)


def load_model(path: str | Path | None = None) -> TinyModel:
    """The shipped pretrained model (or the one at ``path``), loaded once per process."""
    return _load_cached(str(Path(path) if path is not None else WEIGHTS))


@contextlib.contextmanager
def compile_mode(mode: bool | str) -> Iterator[None]:
    """Within this block, models run compiled (True), eagerly (False) or compiled only
    for calls of at least ``AUTO_COMPILE_MIN_WINDOWS`` windows ("auto")."""
    token = _COMPILE_MODE.set(mode)
    try:
        yield
    finally:
        _COMPILE_MODE.reset(token)


@contextlib.contextmanager
def threads(n_threads: int | None, mode: bool | str) -> Iterator[None]:
    """Within this block, torch runs on ``n_threads`` threads (None keeps its setting) and
    models in the given compile mode; both are restored after."""
    before = torch.get_num_threads()
    if n_threads is not None:
        torch.set_num_threads(int(n_threads))
    try:
        with compile_mode(mode):
            yield
    finally:
        torch.set_num_threads(before)


def spectrum_to_time(spec: np.ndarray) -> np.ndarray:
    """(N, L) windows in time from the spectrum head's (N, 2, L/2) output, in the same
    normalised scale (see `tsheads.nn.encoder.inverse_spectrum`)."""
    return inverse_spectrum(torch.from_numpy(np.ascontiguousarray(spec))).numpy()


def _counting_inductor(graph, example_inputs):
    """The inductor backend, counting each graph it builds."""
    global compilations
    from torch._inductor.compile_fx import compile_fx

    compilations += 1
    return compile_fx(graph, example_inputs)


def bucket(n: int) -> int:
    """The smallest bucket size that holds ``n`` rows (or ``n`` itself past the largest)."""
    return next((size for size in BUCKETS if size >= n), n)


class CompiledModel:
    """A TinyModel run through ``torch.compile`` at fixed batch sizes, falling back to
    eager with one warning if compilation fails (no C compiler, unsupported platform)."""

    def __init__(self, model: TinyModel) -> None:
        self.model = model
        self.config = model.config
        self.heads = model.heads
        # One graph per (bucket, heads asked for): raise dynamo's limit of graphs per
        # function (8 by default) so that no combination silently falls back to eager.
        limit = torch._dynamo.config.recompile_limit
        torch._dynamo.config.recompile_limit = max(limit, RECOMPILE_LIMIT)
        self._forward = torch.compile(model, dynamic=False, backend=_counting_inductor)

    def eval(self) -> CompiledModel:
        return self

    def __call__(self, z: torch.Tensor, mask: torch.Tensor, heads=None):
        rows = z.shape[0]
        pad = bucket(rows) - rows
        z = torch.nn.functional.pad(z, (0, 0, 0, pad))  # (bucket, L)
        mask = torch.nn.functional.pad(mask, (0, 0, 0, pad))
        try:
            out = self._forward(z, mask, heads)
        except Exception as err:  # compilers fail in many ways; eager always works
            warnings.warn(f"torch.compile failed ({type(err).__name__}: "
                          f"{str(err).splitlines()[0][:120]}); running eagerly.",
                          RuntimeWarning, stacklevel=3)
            self._forward = self.model
            out = self.model(z, mask, heads)
        return {name: value[:rows] for name, value in out.items()}


def prepared(model: TinyModel, n_windows: int) -> TinyModel | CompiledModel:
    """The model to run ``n_windows`` windows with, compiled or not by the current mode."""
    mode = _COMPILE_MODE.get()
    if mode == "auto":
        mode = AUTO_COMPILE_MIN_WINDOWS is not None and n_windows >= AUTO_COMPILE_MIN_WINDOWS
    if not mode or isinstance(model, CompiledModel):
        return model
    if model not in _COMPILED:
        _COMPILED[model] = CompiledModel(model)
    return _COMPILED[model]


def run_heads(
    model: TinyModel,
    values: np.ndarray,
    mask: np.ndarray,
    *,
    heads: tuple[str, ...] | None = None,
    batch_size: int = 64,
    progress: bool = False,
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Heads' outputs for (N, L) windows in the normalised scale, with each window's
    ``loc`` and ``scale`` (N, 1).

    ``heads`` picks the outputs to keep (all by default); ``mask`` is True where a value is
    hidden or missing. For outputs that are not values in time (the spectrum), mapping back
    to the original scale is the caller's business.
    """
    names = tuple(model.heads) if heads is None else heads
    outs: dict[str, list[np.ndarray]] = {name: [] for name in names}
    locs, scales = [], []
    model = prepared(model.eval(), len(values))
    starts = range(0, len(values), batch_size)
    with torch.inference_mode():
        for start in tqdm(starts, disable=not progress, unit="batch", desc="tsheads",
                          delay=2.0):
            rows = slice(start, start + batch_size)
            z, loc, scale = standardize(np.nan_to_num(values[rows]), mask[rows])
            result = model(torch.from_numpy(z).float(), torch.from_numpy(mask[rows]), names)
            for name in names:
                outs[name].append(result[name].double().numpy())
            locs.append(loc)
            scales.append(scale)
    if not locs:
        return {name: np.empty((0, 0)) for name in names}, np.empty((0, 1)), np.empty((0, 1))
    joined = {name: np.concatenate(parts) for name, parts in outs.items()}
    return joined, np.concatenate(locs), np.concatenate(scales)


def run_head(
    model: TinyModel,
    head: str,
    values: np.ndarray,
    mask: np.ndarray,
    *,
    batch_size: int = 64,
    progress: bool = False,
) -> np.ndarray:
    """One head's output for (N, L) windows, mapped back to each window's original scale."""
    outs, loc, scale = run_heads(model, values, mask, heads=(head,), batch_size=batch_size,
                                 progress=progress)
    return unstandardize(outs[head], loc, scale) if len(loc) else np.empty((0, 0))


def reconstruct(
    model: TinyModel,
    values: np.ndarray,
    mask: np.ndarray,
    *,
    batch_size: int = 64,
    progress: bool = False,
) -> np.ndarray:
    """Reconstruct (N, L) windows from their visible values; ``mask`` is True where hidden.

    Observed values come back as the model reconstructs them; callers that must keep
    them put them back.
    """
    return run_head(model, "reconstruction", values, mask, batch_size=batch_size,
                    progress=progress)


def forecast(
    model: TinyModel,
    contexts: np.ndarray,
    horizon: int,
    *,
    head: str = "direct",
    batch_size: int = 64,
    density_mean: bool = False,
) -> np.ndarray:
    """Point forecasts (N, horizon) from (N, L) contexts holding NaN where unknown.

    ``head="direct"`` forecasts ``H_max`` steps per pass; ``"autoregressive"`` one patch per
    pass. Either way each forecast is appended to the context and the window encoded again
    until the horizon is reached. With ``density_mean`` each direct pass is the mean of
    the Fourier head's forecast distribution instead of the direct head's own value.
    """
    if head not in ("direct", "autoregressive"):
        raise ValueError(f"head must be 'direct' or 'autoregressive', got {head!r}.")
    window = np.array(contexts, dtype=np.float64)
    if not len(window):
        return np.empty((0, horizon))
    parts: list[np.ndarray] = []
    while sum(p.shape[1] for p in parts) < horizon:
        if head == "autoregressive":
            step = run_head(model, head, window, np.isnan(window), batch_size=batch_size)
        else:
            step = _direct_pass(model, window, batch_size, density_mean)
        parts.append(step)
        window = np.concatenate([window, step], axis=1)[:, -window.shape[1] :]
    return np.concatenate(parts, axis=1)[:, :horizon]


def _direct_pass(model: TinyModel, window: np.ndarray, batch_size: int, density_mean: bool
                 ) -> np.ndarray:
    """(N, H_max) forecasts of one direct pass in original units: the direct head's value,
    or with ``density_mean`` the mean of the Fourier head's distribution around it."""
    if not density_mean:
        return run_head(model, "forecast", window, np.isnan(window), batch_size=batch_size)
    direct, coeffs, loc, scale = _fourier(model, window, model.config.horizon, batch_size)
    return unstandardize(direct + fourier_mean(coeffs).numpy(), loc, scale)


def _fourier(model: TinyModel, contexts: np.ndarray, horizon: int, batch_size: int):
    """Direct forecasts (N, horizon) and Fourier coefficients (N, horizon, K), normalised,
    with each window's loc and scale (N, 1)."""
    outs, loc, scale = run_heads(model, contexts, np.isnan(contexts),
                                 heads=("forecast", "fourier"), batch_size=batch_size)
    coeffs = fourier_coefficients(torch.from_numpy(outs["fourier"][:, :horizon]))
    return outs["forecast"][:, :horizon], coeffs, loc, scale


def forecast_quantiles(
    model: TinyModel,
    contexts: np.ndarray,
    horizon: int,
    levels: list[float],
    *,
    batch_size: int = 64,
    offsets: str | None = None,
) -> np.ndarray:
    """Quantiles (N, horizon, Q) of each step from the Fourier head, ``horizon <= H_max``.

    The Fourier head's density is of the value around the direct forecast, so a quantile
    is the direct forecast plus the density's quantile, in the window's original scale.
    For callers that centre the density on a point forecast of their own, ``offsets``
    gives only the distances from the direct forecast (``"direct"``) or from the
    density's mean (``"mean"``).
    """
    if not len(contexts):
        return np.empty((0, horizon, len(levels)))
    direct, coeffs, loc, scale = _fourier(model, contexts, horizon, batch_size)
    residual = fourier_quantiles(coeffs, torch.tensor(levels, dtype=torch.float64)).numpy()
    return _around(direct, residual, coeffs, loc, scale, offsets)


def _around(direct, residual, coeffs, loc, scale, offsets: str | None) -> np.ndarray:
    """Residuals (N, H, Q) of the normalised direct forecast (N, H) in original units:
    as values, or as distances from the direct forecast or the density's mean."""
    if offsets == "mean":
        residual = residual - fourier_mean(coeffs).numpy()[:, :, None]
    elif offsets not in (None, "direct"):
        raise ValueError(f"offsets must be None, 'direct' or 'mean', got {offsets!r}.")
    if offsets:
        return residual * scale[:, :, None]
    return (direct[:, :, None] + residual) * scale[:, :, None] + loc[:, :, None]


def forecast_samples(
    model: TinyModel,
    contexts: np.ndarray,
    horizon: int,
    n_samples: int,
    *,
    seed: int = 0,
    batch_size: int = 64,
    offsets: str | None = None,
) -> np.ndarray:
    """Draws (N, horizon, n_samples) from each step's Fourier density, ``horizon <= H_max``.

    Steps are drawn independently: the draws match each step's marginal distribution, not
    the joint behaviour of a path. ``offsets`` as in `forecast_quantiles`.
    """
    if not len(contexts):
        return np.empty((0, horizon, n_samples))
    direct, coeffs, loc, scale = _fourier(model, contexts, horizon, batch_size)
    generator = torch.Generator().manual_seed(seed)
    residual = fourier_samples(coeffs, n_samples, generator).numpy()
    return _around(direct, residual, coeffs, loc, scale, offsets)
