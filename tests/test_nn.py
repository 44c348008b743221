import numpy as np
import pytest
import torch
from conftest import TINY

from tsheads.nn import EncoderConfig, TinyModel
from tsheads.nn.encoder import fill_linear, inverse_spectrum, spectrum
from tsheads.nn.masking import block_mask, gap_mask, hybrid_mask, point_mask, pretraining_mask


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_point_mask_hides_exact_share_and_is_seeded():
    mask = point_mask((4, 512), 0.25, gen())
    assert mask.shape == (4, 512) and mask.dtype == torch.bool
    assert (mask.sum(dim=1) == 128).all()
    assert torch.equal(mask, point_mask((4, 512), 0.25, gen()))
    assert not torch.equal(mask, point_mask((4, 512), 0.25, gen(1)))


def test_block_mask_hides_whole_patches():
    mask = block_mask((3, 64), 0.5, 8, gen())
    patches = mask.reshape(3, 8, 8)
    assert ((patches.all(dim=2)) | (~patches.any(dim=2))).all()
    assert (mask.sum(dim=1) == 32).all()


@pytest.mark.parametrize("ratio", [0.125, 0.25, 0.375, 0.5])
def test_hybrid_mask_has_blocks_and_hits_the_ratio(ratio):
    mask = hybrid_mask((5, 512), ratio, 8, gen())
    assert (mask.sum(dim=1) == round(ratio * 512)).all()
    full_patches = mask.reshape(5, 64, 8).all(dim=2).sum(dim=1)
    assert (full_patches >= round(4 * ratio / 0.125)).all()


def test_gap_mask_is_one_contiguous_run():
    mask = gap_mask((6, 100), 17, gen())
    assert (mask.sum(dim=1) == 17).all()
    starts = (mask.int().diff(dim=1) == 1).sum(dim=1) + mask[:, 0].int()
    assert (starts == 1).all()


def test_pretraining_mask_varies_by_row():
    mask = pretraining_mask((64, 512), 8, gen())
    shares = mask.float().mean(dim=1)
    assert shares.min() > 0.0 and shares.max() < 0.9 and shares.std() > 0.02


def test_fill_linear_interpolates_and_holds_edges():
    z = torch.tensor([[9.0, 1.0, 9.0, 9.0, 4.0, 9.0], [9.0] * 6])
    mask = torch.tensor([[1, 0, 1, 1, 0, 1], [1] * 6], dtype=torch.bool)
    out = fill_linear(z, mask)
    assert torch.allclose(out[0], torch.tensor([1.0, 1.0, 2.0, 3.0, 4.0, 4.0]))
    assert torch.equal(out[1], torch.zeros(6))


def test_spectrum_round_trips_without_nyquist():
    z = torch.randn(3, 64)
    coeffs = torch.fft.rfft(z, norm="ortho")
    coeffs[:, -1] = 0
    expected = torch.fft.irfft(coeffs, n=64, norm="ortho")
    assert torch.allclose(inverse_spectrum(spectrum(z)), expected, atol=1e-5)


def test_model_shapes(tiny_model):
    z, mask = torch.randn(5, 64), torch.rand(5, 64) < 0.3
    out = tiny_model(z, mask)
    assert out["reconstruction"].shape == (5, 64)
    assert out["spectrum"].shape == (5, 2, 32)
    assert tiny_model.encode(z, mask).embedding.shape == (5, TINY.d_model)


def test_constant_and_all_hidden_windows_stay_finite(tiny_model):
    z = torch.zeros(2, 64)
    mask = torch.tensor([[False] * 64, [True] * 64])
    out = tiny_model(z, mask)
    assert torch.isfinite(out["reconstruction"]).all()


@pytest.mark.parametrize("backbone", ["mixer", "transformer"])
def test_both_backbones_fit_the_budget(backbone):
    model = TinyModel(EncoderConfig(backbone=backbone, d_model=64, n_layers=6))
    assert model.n_parameters() <= 1_500_000


def test_bad_config_is_refused():
    with pytest.raises(ValueError, match="multiple of 2 \\* patch_length"):
        EncoderConfig(context_length=100, patch_length=8)
    with pytest.raises(ValueError, match="backbone must be"):
        EncoderConfig(backbone="lstm")
    with pytest.raises(ValueError, match="unknown heads"):
        TinyModel(TINY, heads=("nope",))


def test_save_load_round_trip(tmp_path, tiny_model):
    path = tiny_model.save(tmp_path / "m.pt")
    loaded = TinyModel.load(path)
    z, mask = torch.randn(2, 64), torch.rand(2, 64) < 0.5
    with torch.no_grad():
        assert torch.equal(tiny_model(z, mask)["reconstruction"], loaded(z, mask)["reconstruction"])


def test_half_precision_save_is_close(tmp_path, tiny_model):
    loaded = TinyModel.load(tiny_model.save(tmp_path / "m.pt", half=True))
    z, mask = torch.randn(2, 64), torch.rand(2, 64) < 0.5
    with torch.no_grad():
        a, b = tiny_model(z, mask)["reconstruction"], loaded(z, mask)["reconstruction"]
    assert torch.allclose(a, b, atol=1e-2)


def test_corrupt_weights_are_refused(tmp_path, tiny_model):
    path = tiny_model.save(tmp_path / "m.pt")
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="checksum"):
        TinyModel.load(path)


def test_weights_of_the_wrong_shape_are_refused(tmp_path, tiny_model):
    path = tiny_model.save(tmp_path / "m.pt")
    other = TinyModel(EncoderConfig(context_length=64, d_model=8, n_layers=2, n_registers=2))
    torch.save(other.state_dict(), path)
    meta = path.with_suffix(".json")
    text = meta.read_text()
    import hashlib
    import json

    data = json.loads(text)
    data["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    meta.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="do not fit the config"):
        TinyModel.load(path)


def test_missing_weights_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="must both exist"):
        TinyModel.load(tmp_path / "absent.pt")


def test_standardize_is_invertible_and_safe_on_constants():
    from tsheads.scaling import standardize, unstandardize

    values = np.array([[1e15, 1e15 + 2, 1e15 + 4, 0.0], [5.0, 5.0, 5.0, 5.0]])
    mask = np.array([[False, False, False, True], [False] * 4])
    z, loc, scale = standardize(values, mask)
    assert np.isfinite(z).all() and z[0, 3] == 0.0
    assert np.allclose(unstandardize(z, loc, scale)[0, :3], values[0, :3], rtol=0, atol=1e-1)
    assert (z[1] == 0).all() and scale[1, 0] > 0


def test_fourier_density_is_non_negative_and_integrates_to_one():
    from tsheads.nn.heads import FOURIER_TERMS, fourier_coefficients, fourier_density

    torch.manual_seed(0)
    coeffs = fourier_coefficients(torch.randn(6, 2, FOURIER_TERMS + 1))
    density = fourier_density(coeffs, torch.linspace(-1, 1, 40001))
    assert density.min() > -1e-5
    torch.testing.assert_close(density.mean(-1) * 2, torch.ones(6), atol=1e-3, rtol=0)


def test_fourier_quantiles_are_monotone_and_match_samples():
    from tsheads.nn.heads import (
        FOURIER_TERMS,
        fourier_coefficients,
        fourier_quantiles,
        fourier_samples,
    )

    torch.manual_seed(0)
    coeffs = fourier_coefficients(torch.randn(4, 2, FOURIER_TERMS + 1).double())
    levels = torch.tensor([0.05, 0.5, 0.95], dtype=torch.float64)
    q = fourier_quantiles(coeffs, levels)  # (4, 3)
    assert (q.diff(dim=-1) > 0).all()
    draws = fourier_samples(coeffs, 50_000, torch.Generator().manual_seed(1))  # (4, n)
    share = (draws[:, None, :] <= q[:, :, None]).double().mean(-1)
    torch.testing.assert_close(share, levels.expand(4, 3), atol=0.01, rtol=0)


def test_fourier_mean_matches_samples_and_is_zero_for_even_densities():
    from tsheads.nn.heads import (
        FOURIER_TERMS,
        fourier_coefficients,
        fourier_mean,
        fourier_samples,
    )

    torch.manual_seed(0)
    coeffs = fourier_coefficients(torch.randn(4, 2, FOURIER_TERMS + 1).double())
    draws = fourier_samples(coeffs, 200_000, torch.Generator().manual_seed(1))  # (4, n)
    mean = fourier_mean(coeffs)
    assert mean.shape == (4,) and mean.abs().max() > 0.05
    torch.testing.assert_close(mean, draws.mean(-1), atol=0.01, rtol=0)
    even = torch.complex(coeffs.real, torch.zeros_like(coeffs.real))  # cosines only: symmetric
    torch.testing.assert_close(fourier_mean(even), torch.zeros(4, dtype=torch.float64),
                               atol=1e-9, rtol=0)


def test_autoregressive_head_predicts_one_patch(tiny_model):
    z, mask = torch.randn(3, TINY.context_length), torch.zeros(3, TINY.context_length, dtype=bool)
    out = tiny_model(z, mask, ("autoregressive",))
    assert list(out) == ["autoregressive"] and out["autoregressive"].shape == (3, 8)


def test_season_candidates_repeat_the_period_and_score_it_in_backtests():
    from tsheads.nn.heads import season_candidates, season_rules

    t = torch.arange(256, dtype=torch.float32)
    values = torch.sin(2 * torch.pi * t / 24)[None].repeat(2, 1)
    mask = torch.zeros(2, 256, dtype=bool)
    mask[1, :176] = True  # the second row: 80 observed steps, left-padded
    repeats, scores, usable = season_candidates(values, mask, (1, 24, 100), 48)
    names = [(p, k) for p, k, drift in season_rules((1, 24, 100), 256) if not drift]
    assert len(names) == repeats.shape[1] - 3  # each period has a drift rule too
    names = [(p, k, d) for p, k, d in season_rules((1, 24, 100), 256)]
    day = names.index((24, 1, False))
    future = torch.sin(2 * torch.pi * torch.arange(256, 256 + 48) / 24)
    torch.testing.assert_close(repeats[0, day], future, atol=1e-4, rtol=0)
    assert scores[0, day] < 1e-4 < scores[0, names.index((1, 1, False))]
    # a period longer than the observed context cannot be backtested there
    assert usable[0, names.index((100, 1, False))]
    assert not usable[1, names.index((100, 1, False))]
    assert usable[1, day] and not usable[1, names.index((24, 3, False))]


def test_seasonal_forecast_head_round_trips_and_weighs_its_candidates(tmp_path):
    config = EncoderConfig(context_length=64, d_model=16, n_layers=2, n_registers=2,
                           horizon=16, season_periods=[1, 12])
    assert config.season_periods == (1, 12)
    model = TinyModel(config).eval()
    z, mask = torch.randn(3, 64), torch.zeros(3, 64, dtype=bool)
    mask[2, :58] = True  # six observed steps: no period can be backtested
    with torch.no_grad():
        out = model.encoder(z, mask)
        candidates, weights = model.heads["forecast"].weights(out)
    torch.testing.assert_close(weights.sum(1), torch.ones(3))
    assert candidates.shape == (3, 1 + 6, 16)  # the network, 3 rules for each period
    assert torch.all(weights[2, 1:] < 1e-6)  # only the network's own forecast is left
    model.save(tmp_path / "s.pt")
    again = TinyModel.load(tmp_path / "s.pt")
    assert again.config == config
    with torch.no_grad():
        torch.testing.assert_close(again(z, mask)["forecast"], model(z, mask)["forecast"])
    with pytest.raises(ValueError, match="season_periods"):
        EncoderConfig(context_length=64, season_periods=(64,))
    with pytest.raises(ValueError, match="start with 1"):
        EncoderConfig(context_length=64, season_periods=(12, 24))
    with pytest.raises(ValueError, match="needs season_periods"):
        EncoderConfig(context_length=64, detect_period=True)


def test_drift_rule_continues_a_trend_with_its_season_and_detection_finds_the_period():
    from tsheads.nn.heads import detected_period, season_candidates, season_rules

    t = torch.arange(300, 300 + 48, dtype=torch.float32)
    past = torch.arange(300, dtype=torch.float32)
    values = (torch.sin(2 * torch.pi * past / 50) + 0.01 * past)[None]
    mask = torch.zeros(1, 300, dtype=bool)
    assert int(detected_period(values, mask)) == 50
    repeats, scores, _ = season_candidates(values, mask, (7,), 48, detect=True)
    names = season_rules((7,), 300) + [("found", 1, False), ("found", 3, False),
                                       ("found", 1, True)]
    drift = names.index(("found", 1, True))
    future = torch.sin(2 * torch.pi * t / 50) + 0.01 * t
    torch.testing.assert_close(repeats[0, drift], future, atol=1e-3, rtol=0)
    assert scores[0, drift] < 1e-3 < scores[0, names.index(("found", 1, False))]


def test_shape_fill_keeps_the_local_level_and_borrows_the_season():
    from tsheads.nn.encoder import fill_linear
    from tsheads.nn.imputation import shape_fills

    t = torch.arange(240, dtype=torch.float32)
    season = torch.sin(2 * torch.pi * t / 24)
    values = (season + 0.05 * t)[None]  # a trend: each season sits higher than the last
    mask = torch.zeros(1, 240, dtype=bool)
    mask[0, 100:108] = True  # a hidden patch, with three seasons each side
    filled = fill_linear(values, mask)
    fills, count = shape_fills(filled, mask, torch.tensor([[24, 7]]))
    torch.testing.assert_close(fills[0, 0, 100:108], values[0, 100:108], atol=1e-4, rtol=0)
    assert float((fills[0, 1, 100:108] - values[0, 100:108]).abs().max()) > 0.1  # wrong period
    assert count[0, 0, 100:108].min() == 6 and int(count[0, :, ~mask[0]].abs().sum()) == 0
    torch.testing.assert_close(fills[0, :, ~mask[0]], values[0, ~mask[0]].expand(2, -1))


def test_departures_in_blocks_equal_one_pass(monkeypatch):
    from tsheads.nn import imputation

    g = torch.Generator().manual_seed(3)
    filled = torch.randn(3, 96, generator=g)
    mask = torch.rand(3, 96, generator=g) < 0.3
    period = torch.tensor([[12, 7], [24, 5], [12, 40]])
    row, col = mask.nonzero(as_tuple=True)
    whole = imputation.departures(filled, mask, period, row, col)
    monkeypatch.setattr(imputation, "DEPARTURE_CHUNK", 7)  # blocks of 7 steps, a short last
    blocks = imputation.departures(filled, mask, period, row, col)
    assert len(row) % 7 and whole[0].shape == (len(row), 2)
    for a, b in zip(whole, blocks, strict=True):
        assert torch.equal(a, b)
    empty = imputation.departures(filled, torch.zeros_like(mask), period, row[:0], col[:0])
    assert empty[0].shape == (0, 2) and empty[1].shape == (0, 2)


def test_departures_match_a_step_by_step_reading_of_their_definition():
    from tsheads.nn.imputation import SEASONS_EACH_SIDE, departures

    g = torch.Generator().manual_seed(5)
    length = 60
    filled = torch.randn(2, length, generator=g, dtype=torch.float64)
    mask = torch.rand(2, length, generator=g) < 0.25
    mask[1, 20:31] = True  # a long gap beside the scattered ones
    mask[0, :3] = True  # a gap at the window's start: only its far end is known
    period = torch.tensor([[7, 12], [5, 24]])
    row, col = mask.nonzero(as_tuple=True)
    departure, used = departures(filled, mask, period, row, col)
    for n, (r, c) in enumerate(zip(row.tolist(), col.tolist(), strict=True)):
        first = max([t for t in range(c) if not mask[r, t]], default=-1)
        last = min([t for t in range(c, length) if not mask[r, t]], default=length)
        w = (c - first) / (last - first)
        for j, p in enumerate(period[r].tolist()):
            gaps = []
            for lag in (k * side * p for k in range(1, SEASONS_EACH_SIDE + 1)
                        for side in (1, -1)):
                at, b, a = c - lag, first - lag, last - lag
                has_b, has_a = first >= 0 and 0 <= b < length, last < length and 0 <= a < length
                if not (0 <= at < length) or mask[r, at] or not (has_b or has_a):
                    continue
                line = (filled[r, b] + w * (filled[r, a] - filled[r, b]) if has_b and has_a
                        else filled[r, b] if has_b else filled[r, a])
                gaps.append(float(filled[r, at] - line))
            assert used[n, j] == len(gaps)
            assert abs(float(departure[n, j]) - (sum(gaps) / len(gaps) if gaps else 0.0)) < 1e-6


def test_imputation_head_prefers_the_season_a_backtest_confirms():
    from tsheads.nn.imputation import backtest_scores

    t = torch.arange(512, dtype=torch.float32)
    values = torch.sin(2 * torch.pi * t / 24)[None] + 0.01 * torch.randn(1, 512)
    mask = torch.zeros(1, 512, dtype=bool)
    mask[0, 200:216] = True
    ratio, checked = backtest_scores(values, mask, torch.tensor([[24, 7, 600]]), 8)
    assert checked[0, 0] and checked[0, 1] and not checked[0, 2]  # 600 reaches outside
    assert ratio[0, 0] < -2 < 0 < ratio[0, 1] and ratio[0, 2] == 0


def test_imputation_head_runs_on_padded_and_empty_windows():
    from tsheads.nn.imputation import ImputationHead

    config = EncoderConfig(context_length=64, d_model=16, n_layers=1, n_registers=2,
                           horizon=16, season_periods=(1, 4, 12, 48), detect_period=True)
    model = TinyModel(config, heads=("reconstruction", "imputation"))
    assert isinstance(model.heads["imputation"], ImputationHead)
    assert model.heads["imputation"].periods == (4, 12)  # up to half the context
    z = torch.randn(3, 64)
    mask = torch.rand(3, 64) < 0.3
    mask[1, :40] = True  # left padding
    mask[2] = True  # nothing observed
    out = model(z, mask)
    assert out["imputation"].shape == (3, 64) and torch.isfinite(out["imputation"]).all()
    assert "imputation" not in TinyModel(config).heads  # only weights that trained it


def test_imputation_head_skips_the_gate_for_windows_with_nothing_hidden():
    config = EncoderConfig(context_length=64, d_model=16, n_layers=1, n_registers=2,
                           horizon=16, season_periods=(1, 4, 12), detect_period=True)
    model = TinyModel(config, heads=("reconstruction", "imputation")).eval()
    head = model.heads["imputation"]
    torch.nn.init.normal_(head.patch_gate.weight)  # let the shape fills weigh in
    t = torch.arange(64, dtype=torch.float32)
    z = torch.sin(2 * torch.pi * t / 12) + 0.1 * torch.randn(4, 64)
    mask = torch.zeros(4, 64, dtype=torch.bool)
    mask[1, 20:30] = mask[3, 40:44] = True  # windows 0 and 2 are whole
    with torch.no_grad():
        out = model.encoder(z, mask)
        own = out.filled + head.proj(out.time).flatten(1)
        result = head(out)
        every = head._gated(out, own)  # the gate run on every window
    assert torch.equal(result[[0, 2]], own[[0, 2]])
    torch.testing.assert_close(result, every, rtol=0, atol=1e-6)
    assert not torch.allclose(result[[1, 3]], own[[1, 3]])  # gaps: the fills were mixed in
