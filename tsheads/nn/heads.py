"""Heads read the encoder's tokens and answer one question each.

Every head is an ``nn.Module`` whose ``forward`` takes an ``EncoderOutput`` and returns a
tensor in the normalised scale of the window. ``HEADS`` maps the names stored in a
checkpoint to their classes, so forecast heads of later versions plug in by name.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from tsheads.nn.encoder import EncoderConfig, EncoderOutput
from tsheads.nn.imputation import ImputationHead
from tsheads.nn.periods import detected_period


class ReconstructionHead(nn.Module):
    """Time reconstruction: a correction to the interpolated window, one patch per token."""

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        self.proj = nn.Linear(config.d_model, config.patch_length)

    def forward(self, out: EncoderOutput) -> torch.Tensor:  # -> (B, L)
        residual = self.proj(out.time).flatten(1)  # (B, P, p) -> (B, L)
        return out.filled + residual


class SpectrumHead(nn.Module):
    """Spectrum reconstruction: the full window's rFFT (B, 2, L/2) from the frequency tokens."""

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        self.proj = nn.Linear(config.d_model, config.patch_length)

    def forward(self, out: EncoderOutput) -> torch.Tensor:  # -> (B, 2, L/2)
        batch, n_tokens, _ = out.freq.shape
        parts = self.proj(out.freq).reshape(batch, n_tokens, 2, -1)  # (B, F, 2, p/2)
        return parts.transpose(1, 2).reshape(batch, 2, -1)  # (B, 2, L/2)


class ForecastHead(nn.Module):
    """Direct forecast: the next ``config.horizon`` steps at once, from every token."""

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        self.squeeze = nn.Linear(config.d_model, config.patch_length)
        self.proj = nn.Linear(config.n_tokens * config.patch_length, config.horizon)

    def forward(self, out: EncoderOutput) -> torch.Tensor:  # -> (B, H)
        tokens = torch.cat([out.time, out.freq, out.registers], dim=1)  # (B, T, D)
        return self.proj(self.squeeze(tokens).flatten(1))  # (B, T * p) -> (B, H)


SEASON_CHECK = 48  # steps after each backtest origin inside the context
SEASON_ORIGINS = 4  # backtest origins, SEASON_CHECK apart, ending at the context's end
# (seasons, drift) of each repeat: the last season, the mean of the last three, and the last
# season plus the change in level between the last two
SEASON_RULES = ((1, False), (3, False), (1, True))
GATE_WIDTH = 32  # hidden width of the gate's per-candidate MLP




def _repeat(filled: torch.Tensor, total: torch.Tensor, origin: int, period: torch.Tensor,
            rule: tuple[int, bool], steps: torch.Tensor) -> torch.Tensor:
    """The forecasts of one seasonal ``rule`` (seasons k, drift) made at ``origin`` for
    ``steps`` (offsets from it), one per column of ``period`` (B, G): the mean of the last k
    seasons repeated, and with drift the last season plus the change between the means of
    the last two seasons, once per season ahead. ``total`` (B, L + 1) holds the running sums
    of ``filled`` from 0. Returns (B, G, len(steps))."""
    (batch, length), groups = filled.shape, period.shape[1]
    seasons, drift = rule
    span = period[..., None]  # (B, G, 1)

    def at(lag: torch.Tensor) -> torch.Tensor:
        where = (origin - lag[..., None] + steps % span).clamp(0, length - 1)  # (B, G, S)
        return filled.gather(1, where.reshape(batch, -1)).reshape(batch, groups, -1)

    repeat = torch.stack([at(period * k) for k in range(1, seasons + 1)]).mean(0)
    if not drift:
        return repeat
    ends = [(origin - period * k).clamp(0, length) for k in range(3)]  # (B, G) each
    last = (total.gather(1, ends[0]) - total.gather(1, ends[1])) / period
    before = (total.gather(1, ends[1]) - total.gather(1, ends[2])) / period
    return repeat + (steps // span + 1) * (last - before)[..., None]


def season_rules(periods: tuple[int, ...], length: int) -> list[tuple[int, int, bool]]:
    """(period, seasons, drift) of every fixed-period candidate that fits in ``length``."""
    return [(p, k, drift) for p in periods for k, drift in SEASON_RULES
            if p * max(k, 2 if drift else 1) < length]


def season_candidates(
    filled: torch.Tensor, mask: torch.Tensor, periods: tuple[int, ...], horizon: int,
    detect: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Seasonal repeats as candidate forecasts and how each rule did inside the context.

    For every period p (the fixed ``periods``, then with ``detect`` each window's
    ``detected_period``) and rule in ``SEASON_RULES``, the candidate repeats the mean of the
    last seasons over the horizon, or the last season with the drift between the last two.
    The same rule is backtested from ``SEASON_ORIGINS`` origins in the context, each
    forecasting the next ``SEASON_CHECK`` observed steps, and its mean absolute error there
    is the candidate's score. Returns candidates (B, C, H), scores (B, C) and a flag (B, C)
    where at least one backtest fits in the observed context.
    """
    batch, length = filled.shape
    observed = ~mask
    first = torch.where(observed.any(1), observed.float().argmax(1), length)[:, None]  # (B, 1)
    ahead = torch.arange(horizon, device=filled.device)
    check = torch.arange(SEASON_CHECK, device=filled.device)
    rules = [((k, drift), torch.full((batch, 1), p, device=filled.device))
             for p, k, drift in season_rules(periods, length)]
    if detect:
        found = detected_period(filled, mask)
        rules += [(rule, found) for rule in SEASON_RULES]
    total = nn.functional.pad(filled.cumsum(1), (1, 0))  # total[:, i]: sum of the first i
    candidates = filled.new_empty(batch, len(rules), horizon)
    scores = filled.new_empty(batch, len(rules))
    usable = torch.empty(batch, len(rules), dtype=torch.bool, device=filled.device)
    for rule in SEASON_RULES:  # every period of a rule at once, in few large operations
        chosen = [c for c, (r, _) in enumerate(rules) if r == rule]
        if not chosen:
            continue
        period = torch.cat([rules[c][1] for c in chosen], 1)  # (B, G)
        reach = period * max(rule[0], 2 if rule[1] else 1)
        candidates[:, chosen] = _repeat(filled, total, length, period, rule, ahead)
        error = torch.zeros_like(period, dtype=filled.dtype)
        count = torch.zeros_like(error)
        for j in range(1, SEASON_ORIGINS + 1):
            origin = length - j * SEASON_CHECK
            if origin < 1:
                break
            past = _repeat(filled, total, origin, period, rule, check)  # (B, G, S)
            fits = (origin - reach >= first).to(filled.dtype)  # (B, G)
            scored = observed[:, None, origin : origin + SEASON_CHECK] * fits[..., None]
            actual = filled[:, None, origin : origin + SEASON_CHECK]
            error = error + ((actual - past).abs() * scored).sum(-1)
            count = count + scored.sum(-1)
        scores[:, chosen] = error / count.clamp(min=1)
        usable[:, chosen] = count > 0
    return candidates, scores, usable


class SeasonalForecastHead(ForecastHead):
    """Direct forecast as a learned choice between the network's own forecast and seasonal
    repeats of the context.

    The network forecast is the first weights' linear map of every token; the repeats are
    ``season_candidates``. A gate weighs them per window: each repeat by how it did in
    backtests inside the context (and the window's embedding), the network by the best
    repeat's backtest error, how far that beats a flat forecast, and the embedding. The
    first weights' linear head could express a seasonal repeat but learned to smooth the
    season and lag it; here the repeat is given, and choosing the period (or no period) is
    part of the network rather than a switch around it.
    """

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__(config)  # the network's own forecast: the plain head's linear map
        self.periods = config.season_periods
        self.horizon = config.horizon
        self.detect = config.detect_period
        n_candidates = (len(season_rules(self.periods, config.context_length))
                        + len(SEASON_RULES) * self.detect)
        self.score_mlp = nn.Sequential(nn.Linear(3, GATE_WIDTH), nn.GELU(),
                                       nn.Linear(GATE_WIDTH, 1))
        self.sharpness = nn.Parameter(torch.tensor(5.0))  # a lower score, a larger weight
        self.embedding_gate = nn.Linear(config.d_model, n_candidates)
        nn.init.zeros_(self.embedding_gate.weight)
        self.network_gate = nn.Sequential(nn.Linear(2 + config.d_model, GATE_WIDTH),
                                          nn.GELU(), nn.Linear(GATE_WIDTH, 1))

    def weights(self, out: EncoderOutput) -> tuple[torch.Tensor, torch.Tensor]:
        """Candidates (B, 1 + C, H), the network's forecast first, and the gate's weights
        (B, 1 + C), summing to one per row."""
        repeats, scores, usable = season_candidates(out.filled, out.mask, self.periods,
                                                    self.horizon, self.detect)
        log_score = torch.log(scores + 1e-3)
        best = log_score.masked_fill(~usable, float("inf")).amin(1, keepdim=True)
        best = torch.where(torch.isfinite(best), best, torch.zeros_like(best))
        flat = log_score[:, :1]  # season_periods starts with 1: the last value, repeated
        features = torch.stack([log_score, log_score - best, log_score - flat.expand_as(
            log_score)], -1)
        logits = (self.score_mlp(features).squeeze(-1) - self.sharpness * (log_score - best)
                  + self.embedding_gate(out.embedding))
        network_logit = self.network_gate(torch.cat([best, best - flat, out.embedding], 1))
        candidates = torch.cat([super().forward(out)[:, None], repeats], 1)
        offered = torch.cat([torch.ones_like(usable[:, :1]), usable], 1)
        logits = torch.cat([network_logit, logits], 1).masked_fill(~offered, -1e9)
        return candidates, torch.softmax(logits, dim=1)

    def forward(self, out: EncoderOutput) -> torch.Tensor:  # -> (B, H)
        candidates, weights = self.weights(out)
        return (weights[:, :, None] * candidates).sum(1)


def forecast_head(config: EncoderConfig) -> nn.Module:
    """The direct forecast head a config asks for: on seasonal repeats when it names
    ``season_periods``, the plain linear head otherwise."""
    return SeasonalForecastHead(config) if config.season_periods else ForecastHead(config)


AR_WIDTH = 256  # hidden width of the autoregressive head's MLP
FOURIER_WIDTH = 128  # width of the per-step features of the Fourier head
FOURIER_TERMS = 32  # K: frequencies of each step's density
FOURIER_BINS = 128  # bins of [-1, 1] the density is evaluated on
FOURIER_SQUASH = 2.0  # a residual r (in window units) sits at x = tanh(r / FOURIER_SQUASH)


class AutoregressiveHead(nn.Module):
    """Next patch: the ``patch_length`` steps after the window, as a change from its last
    value. The runtime appends each patch and encodes again, so one head reaches any
    horizon (GPHT-style roll-out)."""

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        self.squeeze = nn.Linear(config.d_model, config.patch_length)
        self.mlp = nn.Sequential(
            nn.Linear(config.n_tokens * config.patch_length, AR_WIDTH),
            nn.GELU(),
            nn.Linear(AR_WIDTH, config.patch_length),
        )

    def forward(self, out: EncoderOutput) -> torch.Tensor:  # -> (B, p)
        tokens = torch.cat([out.time, out.freq, out.registers], dim=1)  # (B, T, D)
        return out.filled[:, -1:] + self.mlp(self.squeeze(tokens).flatten(1))


class FourierHead(nn.Module):
    """Fourier head: per forecast step, a linear map to the coefficients of a truncated
    Fourier series that is a density on [-1, 1].

    The density describes where the value lands around the direct forecast: a residual
    ``r`` in window units sits at ``x = tanh(r / FOURIER_SQUASH)``, which gives fine bins
    near the point forecast and still covers the tails. Output: the complex vector ``a``
    (B, H, 2, K + 1) whose autocorrelation gives the series' coefficients, which keeps the
    density non-negative (see ``fourier_coefficients``).
    """

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        self.squeeze = nn.Linear(config.d_model, config.patch_length)
        self.features = nn.Linear(config.n_tokens * config.patch_length, FOURIER_WIDTH)
        self.steps = nn.Parameter(torch.randn(config.horizon, FOURIER_WIDTH) * 0.02)
        self.coeffs = nn.Linear(FOURIER_WIDTH, 2 * (FOURIER_TERMS + 1))

    def forward(self, out: EncoderOutput) -> torch.Tensor:  # -> (B, H, 2, K + 1)
        tokens = torch.cat([out.time, out.freq, out.registers], dim=1)  # (B, T, D)
        window = self.features(self.squeeze(tokens).flatten(1))  # (B, W)
        per_step = nn.functional.gelu(window[:, None, :] + self.steps)  # (B, H, W)
        a = self.coeffs(per_step)  # (B, H, 2 (K + 1))
        return a.unflatten(-1, (2, FOURIER_TERMS + 1))


def fourier_coefficients(a: torch.Tensor) -> torch.Tensor:
    """Normalised coefficients c_k / c_0, k = 1..K, (..., K) complex, from a (..., 2, K + 1).

    c is the autocorrelation of a, so sum_k c_k e^{i pi k x} = |sum_l a_l e^{i pi l x}|^2 is
    never negative; dividing by c_0 makes the density integrate to one on [-1, 1].
    """
    if a.dtype in (torch.float16, torch.bfloat16):  # from an autocast pass: no complex type
        a = a.float()
    z = torch.complex(a[..., 0, :], a[..., 1, :])  # (..., K + 1)
    n = z.shape[-1]
    c = torch.stack([(z[..., k:] * z[..., : n - k].conj()).sum(-1) for k in range(n)], -1)
    return c[..., 1:] / c[..., :1].real.clamp(min=1e-12)


def fourier_density(coeffs: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Density at points x (N,) in [-1, 1] from normalised coefficients (..., K): (..., N)."""
    k = torch.arange(1, coeffs.shape[-1] + 1, dtype=x.dtype, device=x.device)
    angle = math.pi * k[:, None] * x[None, :]  # (K, N)
    return 0.5 + coeffs.real @ torch.cos(angle) - coeffs.imag @ torch.sin(angle)


def bin_centres(n_bins: int = FOURIER_BINS) -> torch.Tensor:
    return -1 + (2 * torch.arange(n_bins, dtype=torch.float32) + 1) / n_bins


def fourier_bins(coeffs: torch.Tensor, n_bins: int = FOURIER_BINS) -> torch.Tensor:
    """Probabilities of ``n_bins`` equal bins of [-1, 1], from the density at their centres."""
    centres = bin_centres(n_bins).to(coeffs.real.device, coeffs.real.dtype)
    density = fourier_density(coeffs, centres).clamp(min=0)
    return density / density.sum(-1, keepdim=True).clamp(min=1e-12)


def fourier_smoothness(coeffs: torch.Tensor) -> torch.Tensor:
    """The Fourier head paper's smoothness penalty: mean over outputs of sum_k k^2 |c_k|^2."""
    k = torch.arange(1, coeffs.shape[-1] + 1, dtype=coeffs.real.dtype, device=coeffs.device)
    return (k**2 * coeffs.abs() ** 2).sum(-1).mean()


def _to_residual(x: torch.Tensor) -> torch.Tensor:
    """Back from the density's axis [-1, 1] to a residual in window units."""
    return FOURIER_SQUASH * torch.atanh(x.clamp(-1 + 1e-6, 1 - 1e-6))


def fourier_quantiles(coeffs: torch.Tensor, levels: torch.Tensor) -> torch.Tensor:
    """Residuals (..., Q) at probabilities ``levels`` (Q,), by inverting the binned CDF
    with linear interpolation inside each bin."""
    probs = fourier_bins(coeffs)  # (..., bins)
    n_bins = probs.shape[-1]
    cdf = probs.cumsum(-1)
    want = levels.to(cdf.device, cdf.dtype).expand(*cdf.shape[:-1], -1).contiguous()  # (..., Q)
    j = torch.searchsorted(cdf.contiguous(), want).clamp(max=n_bins - 1)  # (..., Q)
    below = torch.where(j > 0, cdf.gather(-1, (j - 1).clamp(min=0)), torch.zeros_like(want))
    share = ((want - below) / probs.gather(-1, j).clamp(min=1e-12)).clamp(0, 1)
    return _to_residual(-1 + (j + share) * 2 / n_bins)


def fourier_mean(coeffs: torch.Tensor) -> torch.Tensor:
    """Mean residual (...,) of each density, in window units.

    The density is fitted by likelihood to where the value lands around the direct
    forecast, so a mean away from zero is a bias the direct head, fitted by squared error
    alongside reconstruction, kept; adding it gives the mean of the forecast distribution.
    """
    probs = fourier_bins(coeffs)  # (..., bins)
    centres = _to_residual(bin_centres(probs.shape[-1]).to(probs.device, probs.dtype))
    return probs @ centres


def fourier_samples(
    coeffs: torch.Tensor, n_samples: int, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Residuals (..., n_samples) drawn from each density: a bin, then a point inside it."""
    probs = fourier_bins(coeffs)  # (..., bins)
    flat = probs.reshape(-1, probs.shape[-1])
    j = torch.multinomial(flat, n_samples, replacement=True, generator=generator)
    inside = torch.rand(j.shape, generator=generator, dtype=flat.dtype)
    x = -1 + (j + inside) * 2 / probs.shape[-1]
    return _to_residual(x).reshape(*probs.shape[:-1], n_samples)


HEADS: dict[str, Callable[[EncoderConfig], nn.Module]] = {
    "reconstruction": ReconstructionHead,
    "spectrum": SpectrumHead,
    "forecast": forecast_head,
    "autoregressive": AutoregressiveHead,
    "fourier": FourierHead,
    "imputation": ImputationHead,
}
ENCODER_HEADS = ("reconstruction", "spectrum", "forecast")  # trained with the encoder
FORECAST_HEADS = ("autoregressive", "fourier")  # trained after it, on the frozen encoder
IMPUTATION_HEADS = ("imputation",)  # trained last, on the frozen encoder, when asked
DEFAULT_HEADS = ENCODER_HEADS + FORECAST_HEADS  # a new model's heads
