"""Shared fixtures: seeded series and a tiny random-initialised model (no shipped weights)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tsheads.nn import EncoderConfig, TinyModel

TINY = EncoderConfig(
    context_length=64, patch_length=8, d_model=16, n_layers=2, n_registers=2, horizon=16
)


def generate_series(n: int = 300, seed: int = 0, period: int = 24) -> np.ndarray:
    """A seasonal series with trend and noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return 10 + 0.01 * t + 3 * np.sin(2 * np.pi * t / period) + rng.normal(0, 0.3, n)


@pytest.fixture
def tiny_model() -> TinyModel:
    torch.manual_seed(0)
    return TinyModel(TINY).eval()


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory) -> str:
    """A tiny random-initialised model saved to disk, passed as ``weights=``."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("weights") / "tiny.pt"
    TinyModel(TINY).save(path)
    return str(path)
