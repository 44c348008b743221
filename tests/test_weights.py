"""The shipped weights: they load safely, give the recorded output, and beat interpolation."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from tsheads.nn import TinyModel
from tsheads.runtime import WEIGHTS, forecast, forecast_quantiles, load_model, reconstruct

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
GOLDEN = Path(__file__).parent / "golden_reconstruction.json"


def golden_input() -> tuple[np.ndarray, np.ndarray]:
    """A fixed seasonal window with scattered points and one block hidden."""
    rng = np.random.default_rng(42)
    t = np.arange(512)
    values = 5 + np.sin(2 * np.pi * t / 24) + 0.3 * np.sin(2 * np.pi * t / 168)
    values = (values + 0.1 * rng.normal(size=512))[None, :]
    mask = rng.random((1, 512)) < 0.2
    mask[0, 200:240] = True
    return values, mask


def test_shipped_weights_are_small_and_checked():
    meta = json.loads(WEIGHTS.with_suffix(".json").read_text())
    assert WEIGHTS.stat().st_size < 8_000_000
    assert meta["parameters"] <= 1_500_000
    assert set(meta["heads"]) == {"reconstruction", "spectrum", "forecast", "autoregressive",
                                  "fourier", "imputation"}
    assert WEIGHTS.with_suffix(".md").exists()


def test_shipped_weights_give_the_recorded_output():
    values, mask = golden_input()
    out = reconstruct(load_model(), values, mask)[0]
    expected = np.array(json.loads(GOLDEN.read_text())["hidden_values"])
    np.testing.assert_allclose(out[mask[0]][:20], expected, rtol=1e-4, atol=1e-4)


def test_shipped_forecast_heads_give_the_recorded_output():
    values, _ = golden_input()
    golden = json.loads(GOLDEN.read_text())
    model = load_model()
    for head in ("direct", "autoregressive"):
        out = forecast(model, values, 16, head=head)[0]
        np.testing.assert_allclose(out, golden[f"forecast_{head}"], rtol=1e-4, atol=1e-4)
    bands = forecast_quantiles(model, values, 4, [0.1, 0.9])[0]
    np.testing.assert_allclose(bands, golden["fourier_q10_q90"], rtol=1e-4, atol=1e-4)


def test_loading_never_runs_pickled_code(tmp_path, monkeypatch):
    calls = []
    real_load = torch.load

    def spy(*args, **kwargs):
        calls.append(kwargs.get("weights_only"))
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    TinyModel.load(WEIGHTS)
    assert calls == [True]


@pytest.mark.slow
@pytest.mark.skipif(not (DATA / "forecast" / "ETTh1.csv").exists(), reason="no shared data")
def test_zero_shot_beats_linear_interpolation_on_etth1_blocks():
    import pandas as pd

    frame = pd.read_csv(DATA / "forecast" / "ETTh1.csv", index_col="date")
    train = frame.iloc[:8640]
    test = ((frame - train.mean()) / train.std(ddof=0)).iloc[11520:14400].to_numpy().T
    windows = np.stack([ch[s : s + 512] for ch in test for s in (0, 1024, 2048)])
    rng = np.random.default_rng(0)
    mask = np.zeros(windows.shape, dtype=bool)
    for row in mask:
        for start in rng.choice(np.arange(0, 512, 8), 8, replace=False):
            row[start : start + 8] = True
    model_err = np.mean((reconstruct(load_model(), windows, mask) - windows)[mask] ** 2)
    linear = pd.DataFrame(np.where(mask, np.nan, windows).T).interpolate(limit_direction="both")
    linear_err = np.mean((linear.to_numpy().T - windows)[mask] ** 2)
    assert model_err < linear_err
