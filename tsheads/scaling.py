"""Every scaling the package does, each with its exact inverse (numpy float64, one torch twin).

Two layers, for two reasons:

* **Series units** (`series_units`, `to_units`, `from_units`): estimators hand the model each
  series centred and scaled by a power of two to about [-1, 1], and map results back. The
  window scaling below has fixed floors that keep constant windows finite; those floors would
  flatten a series of values like 1e-15, or one varying by 1 around 1e15, and sums of values
  near 1e308 would overflow.
* **Window scaling** (`standardize`, `unstandardize`): the model sees each window normalised
  by the mean and spread of its visible values; the runtime applies it around every model
  call, and training applies it to every batch (`standardize_torch` for windows that are
  already tensors, `standardize_like` for targets in a window's units).

Scaling happens outside the model, in float64, so that huge magnitudes keep their precision.
"""

from __future__ import annotations

import numpy as np
import torch

CLIP = 20.0  # normalised values beyond this are clipped: spikes stay large but finite
REL_FLOOR = 1e-4  # scale never drops below this share of |loc|: constant windows stay finite
ABS_FLOOR = 1e-8

Units = tuple[int, float, float]


def standardize(
    values: np.ndarray, mask: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Normalise each row by the mean and spread of its visible values.

    ``mask`` is True where a value is hidden or missing; those values do not enter the
    statistics and come back as 0. Returns ``(z, loc, scale)`` with loc/scale of shape
    (B, 1), so that ``unstandardize(z, loc, scale)`` inverts it exactly for unclipped values.
    """
    visible = ~mask
    count = np.maximum(visible.sum(axis=1, keepdims=True), 1)
    filled = np.where(visible, values, 0.0)
    loc = filled.sum(axis=1, keepdims=True) / count
    var = (np.where(visible, values - loc, 0.0) ** 2).sum(axis=1, keepdims=True) / count
    scale = np.maximum(np.sqrt(var), ABS_FLOOR + REL_FLOOR * np.abs(loc))
    z = np.where(visible, (filled - loc) / scale, 0.0)
    return np.clip(z, -CLIP, CLIP), loc, scale


def unstandardize(z: np.ndarray, loc: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """The inverse of ``standardize``."""
    return z * scale + loc


def standardize_like(values: np.ndarray, known: np.ndarray, loc: np.ndarray,
                     scale: np.ndarray) -> np.ndarray:
    """``values`` in the units of windows whose statistics are ``loc`` and ``scale`` (a
    training target), clipped as ``standardize`` clips; 0 where not ``known``."""
    return np.clip(np.where(known, (np.nan_to_num(values) - loc) / scale, 0.0), -CLIP, CLIP)


def standardize_torch(values: torch.Tensor, mask: torch.Tensor):
    """``standardize`` for tensors (windows rolled forward inside a training step):
    ``(z, loc, scale)`` with loc/scale (B, 1)."""
    visible = (~mask).to(values.dtype)
    count = visible.sum(1, keepdim=True).clamp(min=1)
    loc = (values * visible).sum(1, keepdim=True) / count
    var = (((values - loc) * visible) ** 2).sum(1, keepdim=True) / count
    scale = torch.maximum(var.sqrt(), ABS_FLOOR + REL_FLOOR * loc.abs())
    z = ((values - loc) / scale * visible).clamp(-CLIP, CLIP)
    return z, loc, scale


def series_units(values: np.ndarray) -> Units:
    """``(e, loc, spread)`` that map a series to about [-1, 1] (see `to_units`).

    ``e`` is a power of two (exact scaling, so values near the float limits stay finite);
    ``loc`` the median and ``spread`` the largest distance from it of the scaled values (1
    for a constant series).
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


def all_to_units(series: list[np.ndarray], units: list[Units]) -> list[np.ndarray]:
    """Each series in its units (see `to_units`)."""
    return [to_units(s, u) for s, u in zip(series, units, strict=True)]


def from_units(values: np.ndarray, units: Units) -> np.ndarray:
    """The inverse of `to_units` (up to rounding)."""
    e, loc, spread = units
    return np.ldexp(values * spread + loc, e)


def unit_size(units: Units) -> float:
    """How much one unit of `to_units` is in the series' own units (errors map back by it)."""
    e, _, spread = units
    return float(np.ldexp(spread, e))
