"""Heads read the encoder's tokens and answer one question each.

Every head is an ``nn.Module`` whose ``forward`` takes an ``EncoderOutput`` and returns a
tensor in the normalised scale of the window. ``HEADS`` maps the names stored in a
checkpoint to their classes, so forecast heads of later versions plug in by name.
"""

from __future__ import annotations

import torch
from torch import nn

from tsheads.nn.encoder import EncoderConfig, EncoderOutput


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


HEADS: dict[str, type[nn.Module]] = {
    "reconstruction": ReconstructionHead,
    "spectrum": SpectrumHead,
    "forecast": ForecastHead,
}
