import pickle
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import TINY, generate_series
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from tsheads import Forecaster
from tsheads.estimators.backtests import MIN_HISTORY
from tsheads.estimators.network import AUTO_HEAD, Network
from tsheads.nn import TinyModel


def wide(n: int = 200) -> pd.DataFrame:
    data = {"a": generate_series(n, seed=1), "b": generate_series(n, seed=2)}
    return pd.DataFrame(data, index=pd.date_range("2024-01-01", periods=n, freq="h"))


def long() -> pd.DataFrame:
    parts = []
    for uid, n, start in (("x", 120, "2024-01-01"), ("y", 90, "2024-01-03")):
        ds = pd.date_range(start, periods=n, freq="D")
        parts.append(pd.DataFrame({"unique_id": uid, "ds": ds, "y": generate_series(n)}))
    return pd.concat(parts, ignore_index=True)


def test_long_output_drops_into_statsforecast_code(tiny_weights):
    out = Forecaster(weights=tiny_weights).fit(long()).predict(5, level=[80])
    assert list(out.columns) == ["unique_id", "ds", "tsheads", "tsheads-lo-80", "tsheads-hi-80"]
    assert len(out) == 10
    first_x = out.loc[out["unique_id"] == "x", "ds"].iloc[0]
    first_y = out.loc[out["unique_id"] == "y", "ds"].iloc[0]
    assert first_x == pd.Timestamp("2024-01-01") + pd.Timedelta(days=120)
    assert first_y == pd.Timestamp("2024-01-03") + pd.Timedelta(days=90)
    assert (out["tsheads-lo-80"] <= out["tsheads-hi-80"]).all()


def test_wide_output_has_future_index(tiny_weights):
    frame = wide()
    out = Forecaster(weights=tiny_weights).fit(frame).predict(7)
    assert list(out.columns) == ["a", "b"]
    assert out.index[0] == frame.index[-1] + pd.Timedelta(hours=1) and len(out) == 7


def test_array_in_array_out(tiny_weights):
    values = np.stack([generate_series(100, seed=s) for s in range(3)], axis=1)
    out = Forecaster(weights=tiny_weights).fit(values).predict(4)
    assert isinstance(out, np.ndarray) and out.shape == (4, 3)


def test_quantiles_are_monotone_and_named(tiny_weights):
    qs = [0.1, 0.25, 0.5, 0.75, 0.9]
    out = Forecaster(weights=tiny_weights).fit(long()).predict(6, quantiles=qs)
    cols = [f"tsheads-q{q:g}" for q in qs]
    assert cols == [c for c in out.columns if "-q" in c]
    assert (np.diff(out[cols].to_numpy(), axis=1) >= 0).all()


def test_long_horizon_rolls_out_with_a_warning(tiny_weights):
    fitted = Forecaster(weights=tiny_weights, head="direct").fit(wide())
    with pytest.warns(UserWarning, match="beyond the direct head"):
        out = fitted.predict(40)
    assert len(out) == 40 and np.isfinite(out.to_numpy()).all()
    # the roll-out continues the direct forecast: its first pass is the 16-step forecast
    np.testing.assert_allclose(out.to_numpy()[:16], fitted.predict(16).to_numpy(), rtol=1e-6)
    assert not np.allclose(out.to_numpy()[16:32], out.to_numpy()[:16])  # not a repeat


@pytest.mark.parametrize(
    ("horizon", "error", "match"),
    [(0, ValueError, "positive int"), (-3, ValueError, "positive int"),
     (2.5, TypeError, "positive int"), (True, TypeError, "positive int")],
)
def test_bad_horizons(tiny_weights, horizon, error, match):
    fitted = Forecaster(weights=tiny_weights).fit(wide())
    with pytest.raises(error, match=match):
        fitted.predict(horizon)


def test_bad_levels_and_params(tiny_weights):
    fitted = Forecaster(weights=tiny_weights).fit(wide())
    with pytest.raises(ValueError, match="level must be a number in"):
        fitted.predict(3, level=[120])
    with pytest.raises(ValueError, match="quantile must be a number in"):
        fitted.predict(3, quantiles=[1.5])
    with pytest.raises(ValueError, match="head must be one of"):
        Forecaster(weights=tiny_weights, head="fourier").fit(wide())
    with pytest.raises(ValueError, match="context_length must be an int"):
        Forecaster(weights=tiny_weights, context_length=4).fit(wide())
    for fractions, error in (((), ValueError), ((1.0, 1.5), ValueError), (0.5, TypeError),
                             (("half",), TypeError)):
        with pytest.raises(error, match="context_fractions must be a non-empty tuple"):
            Forecaster(weights=tiny_weights, context_fractions=fractions).fit(wide())
    with pytest.raises(NotFittedError):
        Forecaster().predict(3)


def test_short_series_is_named(tiny_weights):
    frame = long()
    frame = frame[(frame["unique_id"] == "x") | (frame.index < 130)]
    with pytest.raises(ValueError, match="series 'y' has 10 observed values"):
        Forecaster(weights=tiny_weights).fit(frame)


def test_constant_series_forecasts_the_constant(tiny_weights):
    frame = pd.DataFrame({"c": np.full(80, 7.0)}, index=pd.RangeIndex(80))
    out = Forecaster(weights=tiny_weights).fit(frame).predict(5, level=[90])
    assert np.allclose(out.xs("c", axis=1, level=0).to_numpy(), 7.0, atol=1e-2)


def test_stateless_forecast_equals_fit_predict(tiny_weights):
    f = Forecaster(weights=tiny_weights)
    a = f.forecast(long(), 5, quantiles=[0.5])
    b = Forecaster(weights=tiny_weights).fit(long()).predict(5, quantiles=[0.5])
    pd.testing.assert_frame_equal(a, b)


def test_sklearn_conventions(tiny_weights):
    f = Forecaster(weights=tiny_weights, context_length=64)
    assert clone(f).get_params() == f.get_params()
    assert f.set_params(alias="m").alias == "m"
    out = f.fit(long()).predict(3)
    assert "m" in out.columns


def test_fine_tuning_reports_and_keeps_the_better_model(tiny_weights):
    f = Forecaster(weights=tiny_weights, fine_tune_steps=3).fit(wide())
    report = f.fine_tune_report_
    mse = report["holdout_mse"]
    assert set(mse) == {"pretrained", "fine-tuned"} and mse["pretrained"] != mse["fine-tuned"]
    assert report["kept"] == min(mse, key=mse.get)  # the lower holdout error wins
    pretrained = TinyModel.load(tiny_weights).state_dict()
    same = all(torch.equal(v, f.model_.state_dict()[k]) for k, v in pretrained.items())
    assert same == (report["kept"] == "pretrained")  # and it is the model that predicts


def test_pickled_forecaster_predicts_identically_in_another_process(tiny_weights, tmp_path):
    fitted = Forecaster(weights=tiny_weights).fit(long())
    expected = fitted.predict(5, level=[80])
    path = tmp_path / "f.pkl"
    path.write_bytes(pickle.dumps(fitted))
    script = (
        "import pickle, sys; f = pickle.loads(open(sys.argv[1], 'rb').read()); "
        "f.predict(5, level=[80]).to_pickle(sys.argv[2])"
    )
    subprocess.run([sys.executable, "-c", script, str(path), str(tmp_path / "o.pkl")], check=True)
    pd.testing.assert_frame_equal(pd.read_pickle(tmp_path / "o.pkl"), expected)


def test_autoregressive_head_reaches_long_horizons_without_warning(tiny_weights, recwarn):
    fitted = Forecaster(weights=tiny_weights, head="autoregressive").fit(wide())
    out = fitted.predict(70)
    assert len(out) == 70 and np.isfinite(out.to_numpy()).all()
    assert not [w for w in recwarn if "beyond the direct head" in str(w.message)]
    # patches are rolled forward one by one, so a longer horizon extends a shorter one
    np.testing.assert_allclose(out.to_numpy()[:10], fitted.predict(10).to_numpy(), rtol=1e-6)


def test_ensemble_is_the_mean_of_direct_and_autoregressive(tiny_weights):
    frame = wide()
    runs = {h: Forecaster(weights=tiny_weights, head=h).fit(frame).predict(12)
            for h in ("direct", "autoregressive", "ensemble")}
    mean = (runs["direct"] + runs["autoregressive"]) / 2
    np.testing.assert_allclose(runs["ensemble"].to_numpy(), mean.to_numpy(), rtol=1e-12)


def test_mirror_averages_the_forecasts_of_the_context_and_its_negation(tiny_weights):
    frame = wide()
    flipped = 2 * frame.median() - frame  # negated around the level the model is given

    def direct(data, mirror):
        return Forecaster(weights=tiny_weights, head="direct", mirror=mirror).fit(data).predict(12)

    plain, of_flipped = direct(frame, False), direct(flipped, False)
    expected = (plain + 2 * frame.median() - of_flipped) / 2
    np.testing.assert_allclose(direct(frame, True).to_numpy(), expected.to_numpy(), rtol=1e-6)
    assert not np.allclose(direct(frame, True).to_numpy(), plain.to_numpy())


def test_context_fractions_average_the_forecasts_of_each_share(tiny_weights):
    frame = wide()

    def direct(fractions):
        return Forecaster(weights=tiny_weights, head="direct",
                          context_fractions=fractions).fit(frame).predict(12).to_numpy()

    whole, recent = direct((1.0,)), direct((0.5,))
    np.testing.assert_allclose(direct((1.0, 0.5)), (whole + recent) / 2, rtol=1e-6)
    assert not np.allclose(whole, recent)


def test_a_shorter_context_keeps_the_recent_share_of_the_context_length(tiny_weights):
    network = Network(TinyModel.load(tiny_weights), "direct", 60, False, 64)
    windows = network.contexts([np.arange(300.0), np.arange(40.0), np.arange(20.0)], 0.5)
    kept = [w[~np.isnan(w)] for w in windows]
    np.testing.assert_array_equal(kept[0], np.arange(270, 300))  # half the 60-step context
    np.testing.assert_array_equal(kept[1], np.arange(10, 40))
    np.testing.assert_array_equal(kept[2], np.arange(20))  # all a short series has
    tiny = network.contexts([np.arange(300.0)], 0.1)[0]
    assert (~np.isnan(tiny)).sum() == MIN_HISTORY  # not 6 steps


def test_fourier_quantiles_are_centred_on_the_point_forecast(tiny_weights):
    frame = wide()
    spreads = []
    for mirror in (False, True):
        out = Forecaster(weights=tiny_weights, intervals="fourier", head="direct",
                         mirror=mirror).fit(frame).predict(6, quantiles=[0.9])
        point = out.xs("tsheads", axis=1, level=1).to_numpy()
        spreads.append(out.xs("tsheads-q0.9", axis=1, level=1).to_numpy() - point)
    # the same spread both ways, up to float32 rounding of the point it is added to
    np.testing.assert_allclose(spreads[0], spreads[1], rtol=1e-6)


def test_fourier_intervals_come_from_the_model_pass_that_forecasts(tiny_weights, monkeypatch):
    from tsheads.runtime import forecast, forecast_quantiles

    frame = wide()
    contexts = frame.to_numpy().T[:, -TINY.context_length :]
    est = Forecaster(weights=tiny_weights, head="direct", mirror=False, context_fractions=(1.0,),
                     intervals="fourier").fit(frame)
    calls = []
    forward = est.model_.forward
    monkeypatch.setattr(est.model_, "forward",
                        lambda *args, **kwargs: calls.append(1) or forward(*args, **kwargs))
    out = est.predict(6, quantiles=[0.1, 0.9])
    monkeypatch.undo()
    assert len(calls) == 1  # point forecast and density from one run over the contexts
    model = TinyModel.load(tiny_weights)
    np.testing.assert_allclose(out.xs("tsheads", axis=1, level=1).to_numpy().T,
                               forecast(model, contexts, 6), rtol=1e-6)
    own = forecast_quantiles(model, contexts, 6, [0.1, 0.9])  # (series, steps, 2)
    for i, q in enumerate(("tsheads-q0.1", "tsheads-q0.9")):
        np.testing.assert_allclose(out.xs(q, axis=1, level=1).to_numpy().T, own[:, :, i],
                                   rtol=1e-6)


def test_fourier_intervals_are_monotone_and_bounded_to_the_head(tiny_weights):
    fitted = Forecaster(weights=tiny_weights, intervals="fourier").fit(long())
    out = fitted.predict(6, level=[80], quantiles=[0.1, 0.5, 0.9])
    q = out[["tsheads-q0.1", "tsheads-q0.5", "tsheads-q0.9"]].to_numpy()
    assert np.isfinite(q).all() and (np.diff(q, axis=1) >= 0).all()
    np.testing.assert_allclose(out["tsheads-lo-80"], out["tsheads-q0.1"])
    with pytest.raises(ValueError, match="Fourier head covers 16 steps"):
        fitted.predict(17, level=[80])


def test_samples_follow_the_fourier_quantiles(tiny_weights):
    fitted = Forecaster(weights=tiny_weights, intervals="fourier").fit(wide())
    draws = fitted.sample(4, n_samples=4000, seed=1)
    assert draws.shape == (2, 4, 4000)
    q90 = fitted.predict(4, quantiles=[0.9])
    below = (draws <= q90.xs("tsheads-q0.9", axis=1, level=1).to_numpy().T[:, :, None]).mean()
    assert abs(below - 0.9) < 0.02
    with pytest.raises(ValueError, match="n_samples"):
        fitted.sample(4, n_samples=0)


def test_weights_without_forecast_heads_get_clear_errors(tmp_path):
    torch.manual_seed(0)
    path = TinyModel(TINY, heads=("reconstruction", "forecast")).save(tmp_path / "old.pt")
    assert Forecaster(weights=str(path)).fit(wide()).head_ == "direct"
    with pytest.raises(ValueError, match="needs an autoregressive head"):
        Forecaster(weights=str(path), head="ensemble").fit(wide())
    with pytest.raises(ValueError, match="needs a Fourier head"):
        Forecaster(weights=str(path), intervals="fourier").fit(wide())


def test_auto_repeats_the_season_of_a_series_the_network_forecasts_worse(tiny_weights):
    t = np.arange(560.0)
    periodic = 5 + np.sin(2 * np.pi * t / 24) + 0.3 * np.sin(2 * np.pi * t / 8)
    noise = np.cumsum(np.random.default_rng(0).normal(size=560))  # no period to repeat
    frame = pd.DataFrame({"periodic": periodic, "walk": noise},
                         index=pd.date_range("2024-01-01", periods=560, freq="h"))
    fc = Forecaster(weights=tiny_weights).fit(frame)
    summary = fc.backtest_summary(24)
    assert list(summary.columns) == ["period", "backtests", "network_mae", "seasonal_mae", "uses"]
    assert summary.loc["periodic", "period"] == 24 and summary.loc["periodic", "backtests"] == 3
    assert summary.loc["periodic", "uses"] == "seasonal"
    assert summary.loc["walk", "uses"] == AUTO_HEAD and pd.isna(summary.loc["walk", "period"])
    out = fc.predict(12)
    np.testing.assert_allclose(out["periodic"], np.resize(periodic[536:], 12), rtol=1e-9)
    network = Forecaster(weights=tiny_weights, head=AUTO_HEAD).fit(frame).predict(12)
    np.testing.assert_allclose(out["walk"], network["walk"], rtol=1e-6)
    assert not np.allclose(network["periodic"], out["periodic"], atol=1e-3)
    assert (Forecaster(weights=tiny_weights, head="ensemble").fit(frame).backtest_summary(24)
            ["uses"] == "ensemble").all()
    # cut 12, 24, 36 steps before the end, 70 steps leave less than the tiny model's 64-step
    # context: no backtest compares like with like, so the network forecasts
    short = Forecaster(weights=tiny_weights).fit(frame.iloc[-70:])
    assert (short.backtest_summary(12)["backtests"] == 0).all()
    assert (short.backtest_summary(12)["uses"] == AUTO_HEAD).all()


def test_a_single_level_or_quantile_needs_no_list(tiny_weights):
    fitted = Forecaster(weights=tiny_weights).fit(wide())
    pd.testing.assert_frame_equal(fitted.predict(4, level=80), fitted.predict(4, level=[80]))
    pd.testing.assert_frame_equal(fitted.predict(4, quantiles=0.9),
                                  fitted.predict(4, quantiles=[0.9]))
    with pytest.raises(TypeError, match="level must be a number or a list of numbers, got '80'"):
        fitted.predict(4, level="80")


def bounded_daily(n: int = 1200) -> pd.DataFrame:
    """Daily temperatures of a mild climate: a yearly cycle and weather, never below 0."""
    t = np.arange(n)
    noise = np.random.default_rng(0).normal(0, 2.8, n)
    temp = np.clip(11 + 6 * np.cos(2 * np.pi * t / 365.25) + noise, 0, 26)
    return pd.DataFrame({"temp": temp}, index=pd.date_range("1981-01-01", periods=n, freq="D"))


def test_long_bands_stop_growing_and_respect_a_non_negative_series(tiny_weights):
    history = bounded_daily()
    with pytest.warns(UserWarning, match="beyond the direct head"):
        out = Forecaster(weights=tiny_weights).fit(history).predict(365, level=[80])["temp"]
    width = (out["tsheads-hi-80"] - out["tsheads-lo-80"]).to_numpy()
    # the random-walk rule grows as sqrt(h) up to the bound, then stays there
    assert np.all(np.diff(width) >= -1e-9) and width[-1] == pytest.approx(width[-150])
    assert width[-1] < 3 * width[0]
    assert (out.to_numpy() >= 0).all()
    signed = Forecaster(weights=tiny_weights).fit(history - 11.0)
    with pytest.warns(UserWarning, match="beyond the direct head"):
        shifted = signed.predict(365, level=[80])["temp"]
    assert (shifted.to_numpy() < 0).any()  # a series that went below 0 is not floored
