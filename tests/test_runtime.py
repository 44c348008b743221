import warnings

import numpy as np
import pytest
import torch
from conftest import TINY, generate_series

from tsheads import Forecaster, runtime
from tsheads.nn import TinyModel
from tsheads.runtime import bucket, compile_mode, reconstruct, run_heads


def windows(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    starts = rng.integers(0, 200, n)
    series = generate_series(300, seed)
    return np.stack([series[s : s + TINY.context_length] for s in starts])


@pytest.fixture
def model() -> TinyModel:
    torch.manual_seed(0)
    return TinyModel(TINY).eval()


def test_buckets_round_batch_sizes_up():
    assert [bucket(n) for n in (1, 2, 5, 64, 65, 5000)] == [1, 4, 16, 64, 256, 5000]


def test_batching_never_changes_results(model):
    values = windows(37)
    values[3, 10:20] = np.nan
    mask = np.isnan(values)
    runs = [run_heads(model, values, mask, batch_size=b)[0] for b in (1, 8, 256)]
    for other in runs[1:]:
        for name, value in runs[0].items():
            np.testing.assert_allclose(other[name], value, rtol=1e-5, atol=1e-6)


def test_mirrored_reconstruction_averages_the_flipped_windows_mapped_back(model):
    values = windows(5) * 3 + 7
    mask = np.zeros(values.shape, dtype=bool)
    mask[:, 20:28] = True
    mask[1, :10] = True  # a padded window: its padding stays in front when reversed
    order = np.arange(values.shape[1])[None, :].repeat(5, axis=0)
    order[[0, 2, 3, 4]] = order[[0, 2, 3, 4], ::-1]
    order[1, 10:] = order[1, 10:][::-1]

    def flip(a):
        return np.take_along_axis(a, order, axis=1)

    plain = reconstruct(model, values, mask)
    negated = -reconstruct(model, -values, mask)
    backwards = flip(reconstruct(model, flip(values), flip(mask)))
    both = -flip(reconstruct(model, -flip(values), flip(mask)))
    padding = np.array([0, 10, 0, 0, 0])
    mirrored = reconstruct(model, values, mask, mirror=True, padding=padding)
    np.testing.assert_allclose(mirrored, (plain + negated + backwards + both) / 4,
                               rtol=1e-5, atol=1e-6)
    assert not np.allclose(mirrored, plain)  # an untrained model is not symmetric


def test_mirrored_reconstruction_runs_in_chunks_alike(model, monkeypatch):
    values = windows(7)
    mask = np.zeros(values.shape, dtype=bool)
    mask[:, 30:40] = True
    whole = reconstruct(model, values, mask, mirror=True)
    monkeypatch.setattr(runtime, "MIRROR_CHUNK", 3)
    np.testing.assert_allclose(reconstruct(model, values, mask, mirror=True), whole,
                               rtol=1e-5, atol=1e-6)


def test_memory_stays_bounded_for_ten_thousand_series(model, monkeypatch):
    seen = []
    forward = model.forward

    def spy(z, mask, heads=None):
        seen.append(z.shape[0])
        return forward(z, mask, heads)

    monkeypatch.setattr(model, "forward", spy)
    values = np.tile(windows(100), (100, 1))  # 10 000 windows
    out = run_heads(model, values, np.isnan(values), heads=("forecast",), batch_size=512)
    assert max(seen) == 512 and sum(seen) == 10_000
    assert out.values["forecast"].shape == (10_000, TINY.horizon)
    assert out.scale.shape == (10_000, 1)


def test_compiled_matches_eager_and_does_not_recompile_within_a_bucket(model):
    values = windows(40)
    mask = np.isnan(values)
    eager = run_heads(model, values, mask, heads=("forecast", "reconstruction"))[0]
    with compile_mode(True):
        first = run_heads(model, values[:10], mask[:10], heads=("forecast", "reconstruction"))
        built = runtime.compilations
        again = run_heads(model, values[:13], mask[:13], heads=("forecast", "reconstruction"))
        assert runtime.compilations == built  # 10 and 13 rows share the bucket of 16
    for name in eager:
        np.testing.assert_allclose(first[0][name], eager[name][:10], rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(again[0][name], eager[name][:13], rtol=1e-4, atol=1e-5)


def test_failed_compilation_falls_back_to_eager_with_one_warning(model, monkeypatch):
    def broken(module, **kwargs):
        def fail(*args):
            raise RuntimeError("no C compiler found")

        return fail

    monkeypatch.setattr(torch, "compile", broken)
    monkeypatch.setattr(runtime, "_COMPILED", __import__("weakref").WeakKeyDictionary())
    values = windows(5)
    eager = run_heads(model, values, np.isnan(values))[0]
    with compile_mode(True), pytest.warns(RuntimeWarning, match="no C compiler"):
        fallen = run_heads(model, values, np.isnan(values))[0]
    with compile_mode(True), warnings.catch_warnings():
        warnings.simplefilter("error")
        run_heads(model, values, np.isnan(values))  # warned once, eager from then on
    for name in eager:
        np.testing.assert_allclose(fallen[name], eager[name], rtol=1e-5, atol=1e-6)


def test_auto_compiles_only_past_the_threshold(model, monkeypatch):
    monkeypatch.setattr(runtime, "AUTO_COMPILE_MIN_WINDOWS", 100)
    with compile_mode("auto"):
        assert runtime.prepared(model, 99) is model
        assert isinstance(runtime.prepared(model, 100), runtime.CompiledModel)
    monkeypatch.setattr(runtime, "AUTO_COMPILE_MIN_WINDOWS", None)
    with compile_mode("auto"):
        assert runtime.prepared(model, 10**9) is model


@pytest.mark.parametrize("bad", ["yes", 1, None])
def test_compile_parameter_is_validated(tiny_weights, bad):
    frame = np.stack([generate_series(100), generate_series(100, 1)], axis=1)
    with pytest.raises(ValueError, match="compile must be 'auto', True or False"):
        Forecaster(weights=tiny_weights, compile=bad).fit(frame)


def test_forecast_refuses_unknown_heads_and_answers_no_contexts(tiny_model):
    from tsheads.runtime import forecast

    assert forecast(tiny_model, np.empty((0, TINY.context_length)), 20).shape == (0, 20)
    with pytest.raises(ValueError, match="head must be 'direct' or 'autoregressive'"):
        forecast(tiny_model, np.zeros((1, TINY.context_length)), 4, head="fourier")
