"""The dual-space encoder: time patches + rFFT tokens + register tokens, mixed together.

Input is a per-window normalised context ``z`` (B, L) and its mask (B, L), True where a
value is hidden or padding. Hidden values are first filled by linear interpolation; the
time branch embeds patches of [filled values, mask], the frequency branch embeds the
rFFT of the filled window, and a light backbone mixes both with a few learned register
tokens whose mean is the window's semantic embedding.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class EncoderConfig:
    """Every size of the encoder; stored beside the weights so a checkpoint rebuilds itself."""

    context_length: int = 512  # L: steps per window; shorter contexts are left-padded
    patch_length: int = 8  # steps per time token; P = L / patch_length
    d_model: int = 64  # D: token width
    n_layers: int = 6  # backbone blocks
    n_registers: int = 4  # R: learned tokens that summarise the window
    expansion: int = 2  # hidden size of each MLP as a multiple of its input
    dropout: float = 0.0
    backbone: str = "mixer"  # "mixer" (TSMixer-style MLPs) or "transformer"
    n_heads: int = 4  # attention heads, transformer backbone only
    horizon: int = 96  # H_max of a direct forecast head, when one is attached
    # Periods whose seasonal repeats the direct forecast head weighs against its own
    # forecast (starting with 1); empty: the plain linear head of the first weights.
    season_periods: tuple[int, ...] = ()
    detect_period: bool = False  # ... plus each window's own period, from its autocorrelation

    def __post_init__(self) -> None:
        object.__setattr__(self, "season_periods", tuple(int(p) for p in self.season_periods))
        bad = [p for p in self.season_periods if not 1 <= p < self.context_length]
        if bad:
            raise ValueError(f"season_periods must lie in [1, context_length), got {bad}.")
        if self.season_periods and self.season_periods[0] != 1:
            raise ValueError("season_periods must start with 1 (the flat forecast the "
                             f"direct head's gate compares every repeat with), got "
                             f"{list(self.season_periods)}.")
        if self.detect_period and not self.season_periods:
            raise ValueError("detect_period adds a candidate to the seasonal direct head; it "
                             "needs season_periods (e.g. (1, 24, 168)).")
        if self.context_length % (2 * self.patch_length):
            raise ValueError(
                f"context_length {self.context_length} must be a multiple of "
                f"2 * patch_length = {2 * self.patch_length}."
            )
        if self.backbone not in ("mixer", "transformer"):
            raise ValueError(f"backbone must be 'mixer' or 'transformer', got {self.backbone!r}.")

    @property
    def n_patches(self) -> int:
        return self.context_length // self.patch_length

    @property
    def n_tokens(self) -> int:
        return 2 * self.n_patches + self.n_registers

    def to_dict(self) -> dict:
        return {**asdict(self), "season_periods": list(self.season_periods)}


@dataclass
class EncoderOutput:
    """Token states after the backbone, split by branch, plus the filled input."""

    time: torch.Tensor  # (B, P, D)
    freq: torch.Tensor  # (B, F, D), F == P
    registers: torch.Tensor  # (B, R, D)
    filled: torch.Tensor  # (B, L): the input with hidden values linearly interpolated
    mask: torch.Tensor  # (B, L): True where the input was hidden, missing or padding

    @property
    def embedding(self) -> torch.Tensor:
        """The window's semantic embedding (B, D): the mean of the register tokens."""
        return self.registers.mean(dim=1)


def fill_linear(z: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Replace hidden values by linear interpolation between observed neighbours.

    Leading and trailing gaps take the nearest observed value; a row with nothing
    observed becomes zeros (the normalised mean).
    """
    length = z.shape[1]
    z = z.masked_fill(mask, 0.0)
    prev, nxt, weight = gap_edges(mask)
    before = z.gather(1, prev.clamp(0, length - 1))
    after = z.gather(1, nxt.clamp(0, length - 1))
    inside = before + weight * (after - before)
    has_prev, has_next = prev >= 0, nxt < length
    edge = torch.where(has_prev, before, after).masked_fill(~(has_prev | has_next), 0.0)
    return torch.where(has_prev & has_next, inside, edge)


def gap_edges(mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """For every step (B, L): the last observed step at or before it (-1 if none), the next
    at or after it (L if none), and its linear weight between the two."""
    length = mask.shape[1]
    steps = torch.arange(length, device=mask.device).expand_as(mask)  # (B, L)
    prev = torch.where(mask, -1, steps).cummax(dim=1).values
    nxt = torch.where(mask, length, steps).flip(1).cummin(dim=1).values.flip(1)
    return prev, nxt, (steps - prev) / (nxt - prev).clamp(min=1)


def spectrum(z: torch.Tensor) -> torch.Tensor:
    """Real and imaginary parts of the orthonormal rFFT, Nyquist bin dropped: (B, 2, L/2)."""
    coeffs = torch.fft.rfft(z, norm="ortho")[:, :-1]  # (B, L/2) complex
    return torch.stack([coeffs.real, coeffs.imag], dim=1)


def inverse_spectrum(spec: torch.Tensor) -> torch.Tensor:
    """Back to the time domain from (B, 2, L/2), with a zero Nyquist bin: (B, L)."""
    coeffs = torch.complex(spec[:, 0], spec[:, 1])  # (B, L/2)
    coeffs = nn.functional.pad(coeffs, (0, 1))  # (B, L/2 + 1)
    return torch.fft.irfft(coeffs, n=2 * spec.shape[-1], norm="ortho")


class MLP(nn.Sequential):
    """Linear -> GELU -> dropout -> Linear, the unit of every mixer."""

    def __init__(self, size: int, hidden: int, dropout: float) -> None:
        super().__init__(
            nn.Linear(size, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, size)
        )


class MixerBlock(nn.Module):
    """TSMixer-style block: mix across tokens, then across the width of each token."""

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        tokens, width = config.n_tokens, config.d_model
        self.token_norm = nn.LayerNorm(width)
        self.token_mlp = MLP(tokens, tokens * config.expansion, config.dropout)
        self.width_norm = nn.LayerNorm(width)
        self.width_mlp = MLP(width, width * config.expansion, config.dropout)

    def forward(self, h: torch.Tensor) -> torch.Tensor:  # (B, T, D) -> (B, T, D)
        mixed = self.token_mlp(self.token_norm(h).transpose(1, 2))  # (B, D, T)
        h = h + mixed.transpose(1, 2)
        return h + self.width_mlp(self.width_norm(h))


def _backbone(config: EncoderConfig) -> nn.Module:
    if config.backbone == "mixer":
        return nn.Sequential(*(MixerBlock(config) for _ in range(config.n_layers)))
    layer = nn.TransformerEncoderLayer(
        config.d_model,
        config.n_heads,
        dim_feedforward=config.d_model * config.expansion * 2,
        dropout=config.dropout,
        activation="gelu",
        batch_first=True,
        norm_first=True,
    )
    return nn.TransformerEncoder(layer, config.n_layers, enable_nested_tensor=False)


class Encoder(nn.Module):
    """Embeds a normalised window in time and frequency space and mixes the tokens."""

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        self.config = config
        d, p = config.d_model, config.patch_length
        self.time_embed = nn.Linear(2 * p, d)
        self.freq_embed = nn.Linear(p, d)
        self.positions = nn.Parameter(torch.randn(config.n_tokens, d) * 0.02)
        self.registers = nn.Parameter(torch.randn(config.n_registers, d) * 0.02)
        self.backbone = _backbone(config)
        self.norm = nn.LayerNorm(d)

    def forward(self, z: torch.Tensor, mask: torch.Tensor) -> EncoderOutput:
        """Encode (B, L) normalised values with their (B, L) mask."""
        cfg = self.config
        batch, n_patches = z.shape[0], cfg.n_patches
        filled = fill_linear(z, mask)  # (B, L)
        pairs = torch.stack([filled, mask.to(filled.dtype)], dim=-1)  # (B, L, 2)
        time = self.time_embed(pairs.reshape(batch, n_patches, -1))  # (B, P, D)
        spec = spectrum(filled)  # (B, 2, L/2)
        half = cfg.patch_length // 2
        spec = spec.reshape(batch, 2, n_patches, half).transpose(1, 2)  # (B, F, 2, p/2)
        freq = self.freq_embed(spec.reshape(batch, n_patches, -1))  # (B, F, D)
        regs = self.registers.expand(batch, -1, -1)  # (B, R, D)
        h = torch.cat([time, freq, regs], dim=1) + self.positions  # (B, T, D)
        h = self.norm(self.backbone(h))
        time, freq, regs = h.split([n_patches, n_patches, cfg.n_registers], dim=1)
        return EncoderOutput(time=time, freq=freq, registers=regs, filled=filled, mask=mask)
