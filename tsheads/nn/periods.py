"""A window's autocorrelation and period, in torch, for the heads that repeat seasons."""

from __future__ import annotations

import torch

from tsheads.seasonality import MIN_ACF, PEAK_SHARE


def autocorrelation(filled: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Autocorrelation (B, L) of each window's observed values at every lag, with its linear
    trend removed first (a trend would mask the season), and the count of observed values
    (B, 1). Each lag averages the products of the observed pairs it joins."""
    length = filled.shape[1]
    seen = (~mask).to(filled.dtype)
    count = seen.sum(1, keepdim=True).clamp(min=1)
    steps = torch.arange(length, device=filled.device, dtype=filled.dtype)
    t = steps - (steps * seen).sum(1, keepdim=True) / count
    x = filled - (filled * seen).sum(1, keepdim=True) / count
    slope = (t * x * seen).sum(1, keepdim=True) / (t * t * seen).sum(1, keepdim=True).clamp(
        min=1e-8)
    x = (x - slope * t) * seen
    power = torch.fft.irfft(torch.fft.rfft(x, n=2 * length).abs() ** 2, n=2 * length)
    pairs = torch.fft.irfft(torch.fft.rfft(seen, n=2 * length).abs() ** 2, n=2 * length)
    pairs = pairs[:, :length].round().clamp(min=1)
    return power[:, :length] / pairs / (power[:, :1] / count).clamp(min=1e-8), count


def detected_period(filled: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Each window's period (B, 1) from the autocorrelation of its detrended observed
    values: the shortest peak within ``PEAK_SHARE`` of the highest one, between lag 3 and half the
    observed length; 1 where no peak reaches ``MIN_ACF``."""
    return peak_period(*autocorrelation(filled, mask))


def peak_period(acf: torch.Tensor, count: torch.Tensor) -> torch.Tensor:
    """`detected_period` from an `autocorrelation` (B, L) and observed count (B, 1) already
    computed."""
    lags = torch.arange(acf.shape[1], device=acf.device)
    peak = torch.zeros_like(acf, dtype=torch.bool)
    peak[:, 1:-1] = (acf[:, 1:-1] >= acf[:, :-2]) & (acf[:, 1:-1] >= acf[:, 2:])
    allowed = peak & (lags >= 3) & (2 * lags <= count) & (acf > MIN_ACF)
    scores = acf.masked_fill(~allowed, -1.0)
    best = scores.amax(1, keepdim=True)
    chosen = (allowed & (scores >= PEAK_SHARE * best)).float().argmax(1, keepdim=True)
    return torch.where(allowed.any(1, keepdim=True), chosen, torch.ones_like(chosen))
