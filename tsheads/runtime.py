"""The one place that loads, batches, compiles and runs the model.

Estimators hand numpy windows in their own units; this module normalises them, runs the
model in bounded batches under ``torch.inference_mode`` and hands numpy back in the same
units (the spectrum head's output as the window it rebuilds, in time), so that callers
never scale, unscale or touch torch.
With compilation on, each batch is padded to one of a few fixed sizes (``BUCKETS``) so
that ``torch.compile`` builds one graph per size and never recompiles per call.
"""

from __future__ import annotations

import contextlib
import contextvars
import warnings
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from tqdm import tqdm

from tsheads.nn import TinyModel
from tsheads.nn.encoder import inverse_spectrum
from tsheads.nn.heads import fourier_coefficients, fourier_quantiles, fourier_samples
from tsheads.scaling import standardize, unstandardize

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


VALUE_HEADS = ("reconstruction", "spectrum", "forecast", "autoregressive", "imputation")
FORECAST_HEADS = {"direct": "forecast", "autoregressive": "autoregressive"}


class Outputs(NamedTuple):
    """What `run_heads` hands back for (N, L) windows."""

    values: dict[str, np.ndarray]  # per head: values in the windows' units (see `run_heads`)
    scale: np.ndarray  # (N, 1) each window's normalisation scale (errors are kept in it)


def run_heads(
    model: TinyModel,
    values: np.ndarray,
    mask: np.ndarray,
    *,
    heads: tuple[str, ...] | None = None,
    batch_size: int = 64,
    group: int = 1,
    progress: bool = False,
) -> Outputs:
    """Heads' outputs for (N, L) windows, in the windows' own units.

    ``heads`` picks the outputs (all by default); ``mask`` is True where a value is hidden or
    missing. Reconstruction and forecasts come back as values; the spectrum head as the
    (N, L) window its spectrum rebuilds; the Fourier head as its raw density parameters
    (a density of normalised values, see `Density`). Rows come in groups of ``group`` that
    share a batch (the masked copies of one window): batches hold whole groups.
    """
    names = tuple(model.heads) if heads is None else heads
    raw, loc, scale = _run(model, values, mask, names, batch_size, group, progress)
    out = {name: _in_units(name, raw[name], loc, scale) for name in names}
    return Outputs(out, scale)


def _run(model, values, mask, names, batch_size: int, group: int, progress: bool
         ) -> tuple[dict[str, torch.Tensor], np.ndarray, np.ndarray]:
    """Normalised float64 outputs per head, with each window's loc and scale (N, 1)."""
    batch = max(batch_size // group, 1) * group
    outs: dict[str, list[torch.Tensor]] = {name: [] for name in names}
    locs, scales = [], []
    model = prepared(model.eval(), len(values))
    with torch.inference_mode():
        for start in tqdm(range(0, len(values), batch), disable=not progress, unit="batch",
                          desc="tsheads", delay=2.0):
            rows = slice(start, start + batch)
            z, loc, scale = standardize(np.nan_to_num(values[rows]), mask[rows])
            hidden = torch.from_numpy(np.ascontiguousarray(mask[rows]))
            result = model(torch.from_numpy(z).float(), hidden, names)
            for name in names:
                outs[name].append(result[name].double())
            locs.append(loc)
            scales.append(scale)
    if not locs:
        return {name: torch.empty((0, 0), dtype=torch.float64) for name in names}, \
            np.empty((0, 1)), np.empty((0, 1))
    return ({name: torch.cat(parts) for name, parts in outs.items()}, np.concatenate(locs),
            np.concatenate(scales))


def _in_units(name: str, raw: torch.Tensor, loc: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """One head's normalised output in the windows' units (the Fourier head's as it is)."""
    if name == "spectrum" and len(raw):
        raw = inverse_spectrum(raw)  # (N, 2, L/2) -> (N, L) in time
    if name not in VALUE_HEADS or not len(raw):
        return raw.numpy()
    return unstandardize(raw.numpy(), loc, scale)


def run_head(
    model: TinyModel,
    head: str,
    values: np.ndarray,
    mask: np.ndarray,
    *,
    batch_size: int = 64,
    progress: bool = False,
) -> np.ndarray:
    """One head's output for (N, L) windows, in the windows' own units."""
    return run_heads(model, values, mask, heads=(head,), batch_size=batch_size,
                     progress=progress).values[head]


MIRROR_CHUNK = 2048  # windows mirrored at once: bounds the four copies' memory


def reconstruct(
    model: TinyModel,
    values: np.ndarray,
    mask: np.ndarray,
    *,
    batch_size: int = 64,
    progress: bool = False,
    mirror: bool = False,
    padding: np.ndarray | None = None,
) -> np.ndarray:
    """Reconstruct (N, L) windows from their visible values with the model's `fill_head`;
    ``mask`` is True where hidden.

    With ``mirror`` the reconstruction is the mean of four: of the window, of its negation
    and of its time reversal (each mapped back), and of both. A gap looks alike to the model
    upside down or backwards, so the four differ mostly by the model's own errors, which the
    mean partly cancels (3-7 % lower MSE on the ETTh1 validation split, for 4x the work).
    ``padding`` (N,) counts each window's leading steps that lie before its series' start:
    they stay in front when the window is reversed, as pretraining's short contexts were
    padded (padding at the end is something the model never saw).
    Observed values come back as the model reconstructs them; callers that must keep
    them put them back.
    """
    head = fill_head(model)
    if not mirror:
        return run_head(model, head, values, mask, batch_size=batch_size, progress=progress)
    out = np.empty(values.shape)
    for start in range(0, len(values), MIRROR_CHUNK):  # four copies of a chunk at a time
        rows = slice(start, start + MIRROR_CHUNK)
        lead = np.zeros(len(values[rows]), dtype=int) if padding is None else padding[rows]
        order = _reversal(np.asarray(lead)[:, None], values.shape[1])
        flipped = np.take_along_axis(values[rows], order, axis=1)
        flipped_mask = np.take_along_axis(mask[rows], order, axis=1)
        views = np.concatenate([values[rows], -values[rows], flipped, -flipped])  # (4n, L)
        masks = np.concatenate([mask[rows], mask[rows], flipped_mask, flipped_mask])
        parts = np.split(run_head(model, head, views, masks,
                                  batch_size=batch_size, progress=progress), 4)
        back = np.take_along_axis(parts[2] - parts[3], order, axis=1)  # the order undoes itself
        out[rows] = (parts[0] - parts[1] + back) / 4
    return out


def fill_head(model: TinyModel) -> str:
    """The head that fills gaps: the imputation head where the weights have one (the
    reconstruction weighed against seasonal shape fills), else the reconstruction head."""
    return "imputation" if "imputation" in model.heads else "reconstruction"


def _reversal(lead: np.ndarray, length: int) -> np.ndarray:
    """Per row, the column order (N, L) that reverses the window after its first ``lead``
    (N, 1) steps and leaves those in front; applying it twice gives the identity."""
    steps = np.arange(length)[None, :]
    return np.where(steps < lead, steps, length - 1 - steps + lead)


@dataclass(frozen=True)
class Density:
    """The Fourier head's density of each forecast step around the direct forecast, for the
    contexts of one model pass (steps up to ``H_max``)."""

    direct: np.ndarray  # (N, H_max) the direct forecast, in the contexts' units
    raw: torch.Tensor  # (N, H_max, P) the Fourier head's parameters, normalised
    scale: np.ndarray  # (N, 1) each context's normalisation scale

    def head(self, n: int) -> Density:
        """The density of the first ``n`` contexts only."""
        return Density(self.direct[:n], self.raw[:n], self.scale[:n])

    def offsets(self, levels: list[float], horizon: int) -> np.ndarray:
        """(N, horizon, Q) each step's quantiles as distances from the direct forecast."""
        coeffs = fourier_coefficients(self.raw[:, :horizon])
        levels_t = torch.tensor(levels, dtype=torch.float64)
        return fourier_quantiles(coeffs, levels_t).numpy() * self.scale[:, :, None]

    def draws(self, n_samples: int, horizon: int, seed: int = 0) -> np.ndarray:
        """(N, horizon, n_samples) draws per step, as distances from the direct forecast;
        each step drawn on its own (right marginals, not coherent paths)."""
        coeffs = fourier_coefficients(self.raw[:, :horizon])
        generator = torch.Generator().manual_seed(seed)
        return fourier_samples(coeffs, n_samples, generator).numpy() * self.scale[:, :, None]


class Forecast(NamedTuple):
    """What `forecast_run` hands back for (N, L) contexts."""

    point: np.ndarray  # (N, horizon) in the contexts' units
    scale: np.ndarray  # (N, 1) each context's normalisation scale
    density: Density | None  # the first pass's Fourier density, when asked for


def forecast_run(
    model: TinyModel,
    contexts: np.ndarray,
    horizon: int,
    *,
    head: str = "direct",
    batch_size: int = 64,
    density: bool = False,
) -> Forecast:
    """Point forecasts (N, horizon) from (N, L) contexts holding NaN where unknown, with each
    context's scale and, if asked, the Fourier density of its first ``H_max`` steps from the
    same model pass.

    ``head="direct"`` forecasts ``H_max`` steps per pass; ``"autoregressive"`` one patch per
    pass. Either way each forecast is appended to the context and the window encoded again
    until the horizon is reached.
    """
    if head not in FORECAST_HEADS:
        raise ValueError(f"head must be 'direct' or 'autoregressive', got {head!r}.")
    name = FORECAST_HEADS[head]
    window = np.array(contexts, dtype=np.float64)
    if not len(window):
        return Forecast(np.empty((0, horizon)), np.empty((0, 1)), None)
    parts: list[np.ndarray] = []
    scale, found = np.empty((0, 1)), None
    while sum(p.shape[1] for p in parts) < horizon:
        first = not parts
        names = tuple(dict.fromkeys((name, "forecast", "fourier"))) if first and density \
            else (name,)
        raw, loc, step_scale = _run(model, window, np.isnan(window), names, batch_size, 1, False)
        step = _in_units(name, raw[name], loc, step_scale)
        if first:
            scale = step_scale
            if density:
                found = Density(_in_units("forecast", raw["forecast"], loc, step_scale),
                                raw["fourier"], step_scale)
        parts.append(step)
        window = np.concatenate([window, step], axis=1)[:, -window.shape[1] :]
    return Forecast(np.concatenate(parts, axis=1)[:, :horizon], scale, found)


def forecast(
    model: TinyModel,
    contexts: np.ndarray,
    horizon: int,
    *,
    head: str = "direct",
    batch_size: int = 64,
) -> np.ndarray:
    """Point forecasts (N, horizon) from (N, L) contexts holding NaN where unknown (see
    `forecast_run`)."""
    return forecast_run(model, contexts, horizon, head=head, batch_size=batch_size).point


def _density(model: TinyModel, contexts: np.ndarray, batch_size: int) -> Density:
    """The Fourier density of (N, L) contexts from one pass of the direct head."""
    return forecast_run(model, contexts, 1, batch_size=batch_size, density=True).density


def forecast_quantiles(
    model: TinyModel,
    contexts: np.ndarray,
    horizon: int,
    levels: list[float],
    *,
    batch_size: int = 64,
) -> np.ndarray:
    """Quantiles (N, horizon, Q) of each step from the Fourier head, ``horizon <= H_max``:
    the direct forecast plus the density's quantile, in the contexts' units."""
    if not len(contexts):
        return np.empty((0, horizon, len(levels)))
    found = _density(model, contexts, batch_size)
    return found.direct[:, :horizon, None] + found.offsets(levels, horizon)


def forecast_samples(
    model: TinyModel,
    contexts: np.ndarray,
    horizon: int,
    n_samples: int,
    *,
    seed: int = 0,
    batch_size: int = 64,
) -> np.ndarray:
    """Draws (N, horizon, n_samples) from each step's Fourier density, ``horizon <= H_max``,
    around the direct forecast (steps drawn independently, see `Density.draws`)."""
    if not len(contexts):
        return np.empty((0, horizon, n_samples))
    found = _density(model, contexts, batch_size)
    return found.direct[:, :horizon, None] + found.draws(n_samples, horizon, seed)
