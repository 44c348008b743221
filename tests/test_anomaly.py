import numpy as np
import pandas as pd
import pytest
import torch
from conftest import generate_series
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from tsheads import AnomalyDetector
from tsheads.estimators.anomaly_views import (
    forecast_origins,
    phase_masks,
    smooth,
)
from tsheads.windows import grid_starts


def series(n: int = 600, seed: int = 0) -> pd.Series:
    index = pd.date_range("2024-01-01", periods=n, freq="h")
    return pd.Series(generate_series(n, seed=seed), index=index, name="y")


def wide(n: int = 400, channels: int = 3) -> pd.DataFrame:
    data = {f"c{i}": generate_series(n, seed=i) for i in range(channels)}
    return pd.DataFrame(data, index=pd.date_range("2024-01-01", periods=n, freq="h"))


def long() -> pd.DataFrame:
    parts = []
    for uid, n in (("a", 300), ("b", 200)):
        ds = pd.date_range("2024-01-01", periods=n, freq="D")
        parts.append(pd.DataFrame({"unique_id": uid, "ds": ds, "y": generate_series(n, len(uid))}))
    return pd.concat(parts, ignore_index=True)


def test_scores_align_with_the_input_in_every_layout(tiny_weights):
    s = series()
    out = AnomalyDetector(weights=tiny_weights).fit(s).anomaly_score(s)
    assert isinstance(out, pd.Series) and out.index.equals(s.index) and np.isfinite(out).all()

    frame = wide()
    out = AnomalyDetector(weights=tiny_weights).fit(frame).anomaly_score(frame)
    assert isinstance(out, pd.Series) and out.index.equals(frame.index)
    assert out.name == "anomaly_score"

    frame = long().sample(frac=1.0, random_state=0)
    out = AnomalyDetector(weights=tiny_weights).fit(frame).anomaly_score(frame)
    assert list(out.columns) == ["unique_id", "ds", "anomaly_score"]
    assert out.index.equals(frame.index) and (out["ds"] == frame["ds"]).all()

    values = wide().to_numpy()
    detector = AnomalyDetector(weights=tiny_weights).fit(values)
    assert detector.anomaly_score(values).shape == (len(values),)
    assert detector.anomaly_score(values, per_channel=True).shape == values.shape
    one = values[:, 0]
    assert AnomalyDetector(weights=tiny_weights).fit(one).anomaly_score(one).shape == one.shape


def test_the_score_is_the_most_anomalous_channel(tiny_weights):
    frame = wide()
    detector = AnomalyDetector(weights=tiny_weights).fit(frame)
    per = detector.anomaly_score(frame, per_channel=True)
    assert per.shape == frame.shape and list(per.columns) == list(frame.columns)
    assert per.index.equals(frame.index)
    np.testing.assert_allclose(per.max(axis=1), detector.anomaly_score(frame))


@pytest.mark.parametrize("view", ["time", "spectrum", "forecast"])
def test_a_wild_point_ranks_top_in_each_view_even_untrained(tiny_weights, view):
    s = series()
    wild = s.copy()
    wild.iloc[450] *= 1000
    detector = AnomalyDetector(weights=tiny_weights, views=(view,), window=1).fit(s[:400])
    scores = detector.anomaly_score(wild)
    assert scores.to_numpy().argmax() == 450
    assert detector.predict(wild).iloc[450]


def test_smoothing_keeps_the_top_near_the_anomaly(tiny_weights):
    s = series()
    wild = s.copy()
    wild.iloc[450] += 30
    detector = AnomalyDetector(weights=tiny_weights).fit(s[:400])
    top = int(detector.anomaly_score(wild).to_numpy().argmax())
    assert abs(top - 450) <= detector.window_


def test_constant_and_short_series_give_defined_scores(tiny_weights):
    constant = np.full(300, 7.0)
    detector = AnomalyDetector(weights=tiny_weights).fit(constant)
    assert np.isfinite(detector.anomaly_score(constant)).all()
    assert detector.predict(constant).dtype == bool
    short = generate_series(24)
    detector = AnomalyDetector(weights=tiny_weights).fit(short)
    assert detector.window_ == 6  # a quarter of the series: a longer one smooths scores flat
    scores = detector.anomaly_score(short)
    assert scores.shape == (24,) and np.isfinite(scores).all() and scores.std() > 0
    with pytest.raises(ValueError, match="has 12 observed values; anomaly scoring needs at "
                                         "least 16"):
        AnomalyDetector(weights=tiny_weights).fit(generate_series(12))


def test_nans_are_masked_and_scored_from_their_neighbours(tiny_weights):
    s = series(900)
    gappy = s.copy()
    gappy.iloc[[10, 50, 51, 250]] = np.nan
    gappy.iloc[300:600] = np.nan  # longer than the smoothing window: scored as typical, 0
    detector = AnomalyDetector(weights=tiny_weights).fit(gappy)
    scores = detector.anomaly_score(gappy)
    assert np.isfinite(scores).all() and len(scores) == len(gappy)
    assert detector.window_ <= 120 and (scores.iloc[420:480] == 0.0).all()
    assert scores.iloc[10] != 0.0


@pytest.mark.parametrize("lookback", [0, 3])
def test_streaming_equals_batch_scoring(tiny_weights, lookback):
    s = series(700)
    detector = AnomalyDetector(weights=tiny_weights, lookback=lookback).fit(s[:300])
    everything = detector.anomaly_score(s)
    for split in (1, 100, 333, 650, 699):
        new = detector.anomaly_score(s[split:], history=s[:split])
        assert new.index.equals(s.index[split:])
        np.testing.assert_allclose(new, everything[split:], rtol=1e-6, atol=1e-6)


def test_streaming_equals_batch_for_frames_and_arrays(tiny_weights):
    frame = wide(500, 2)
    detector = AnomalyDetector(weights=tiny_weights).fit(frame[:250])
    everything = detector.anomaly_score(frame, per_channel=True)
    new = detector.anomaly_score(frame[420:], history=frame[:420], per_channel=True)
    np.testing.assert_allclose(new, everything[420:], rtol=1e-6, atol=1e-6)
    values = frame.to_numpy()
    fit = AnomalyDetector(weights=tiny_weights).fit(values[:250])
    np.testing.assert_allclose(fit.anomaly_score(values[420:], history=values[:420]),
                               fit.anomaly_score(values)[420:], rtol=1e-6, atol=1e-6)
    frame = long()
    detector = AnomalyDetector(weights=tiny_weights).fit(frame)
    everything = detector.anomaly_score(frame)
    late = frame["ds"] >= pd.Timestamp("2024-06-01")
    new = detector.anomaly_score(frame[late], history=frame[~late])
    np.testing.assert_allclose(new["anomaly_score"], everything.loc[late, "anomaly_score"],
                               rtol=1e-6, atol=1e-6)


def test_streaming_computes_only_windows_that_reach_the_new_steps():
    assert len(grid_starts(100_000, 512, 256, first=0)) == 392
    assert len(grid_starts(100_000, 512, 256, first=99_990)) <= 3
    assert len(forecast_origins(100_000, 32, first=99_990)) == 1


@pytest.mark.parametrize("contamination", [0.01, 0.05, 0.2])
def test_threshold_respects_contamination(tiny_weights, contamination):
    s = series(2000)
    detector = AnomalyDetector(weights=tiny_weights, contamination=contamination)
    flagged = detector.fit_predict(s)
    assert flagged.dtype == bool and flagged.index.equals(s.index)
    assert abs(flagged.mean() - contamination) <= 0.002


def test_auto_threshold_flags_less_than_the_top_two_percent(tiny_weights):
    s = series(2000)
    detector = AnomalyDetector(weights=tiny_weights, contamination="auto").fit(s)
    scores = detector.anomaly_score(s)
    assert np.isfinite(detector.threshold_)
    assert detector.threshold_ >= np.quantile(scores, 0.98)


def test_max_fusion_is_at_least_mean_fusion(tiny_weights):
    s = series()
    mean = AnomalyDetector(weights=tiny_weights, fusion="mean").fit(s).anomaly_score(s)
    top = AnomalyDetector(weights=tiny_weights, fusion="max").fit(s).anomaly_score(s)
    assert (top >= mean - 1e-12).all()


def test_long_output_of_predict_and_input_untouched(tiny_weights):
    frame = long()
    before = frame.copy()
    out = AnomalyDetector(weights=tiny_weights).fit(frame).predict(frame)
    assert list(out.columns) == ["unique_id", "ds", "anomaly"] and out["anomaly"].dtype == bool
    pd.testing.assert_frame_equal(frame, before)


def test_sklearn_contract(tiny_weights):
    detector = AnomalyDetector(weights=tiny_weights, views=("time",), window=5)
    copy = clone(detector)
    assert copy.get_params() == detector.get_params()
    copy.set_params(fusion="max", contamination="auto")
    assert copy.fusion == "max" and detector.fusion == "mean"
    with pytest.raises(NotFittedError):
        detector.anomaly_score(series())
    assert detector.fit(series()) is detector and detector.window_ == 5


def test_auto_window_follows_the_period(tiny_weights):
    detector = AnomalyDetector(weights=tiny_weights).fit(series(1000))
    assert detector.period_ == 24 and detector.window_ == 120  # five whole periods


def test_phase_masks_hide_every_step_once():
    masks = phase_masks(64, 8)
    assert masks.shape == (4, 64) and (masks.sum(axis=0) == 1).all()


def test_smooth_skips_nan():
    out = smooth(np.array([1.0, np.nan, 3.0, np.nan, np.nan, np.nan]), 3)
    np.testing.assert_allclose(out[:4], [1.0, 2.0, 3.0, 3.0])
    assert np.isnan(out[4:]).all()


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"views": ("time", "wavelet")}, "views must be a non-empty tuple"),
        ({"views": ()}, "views must be a non-empty tuple"),
        ({"fusion": "median"}, "fusion must be one of"),
        ({"window": 0}, "window must be 'auto' or a positive int"),
        ({"contamination": 0.7}, r"contamination must be 'auto' or a number in \(0, 0.5\)"),
        ({"stride": 1000}, "stride 1000 is longer than the model's context"),
        ({"horizon": 100}, "horizon 100 is beyond the forecast head's 16 steps"),
        ({"batch_size": 0}, "batch_size must be an int >= 1"),
    ],
)
def test_bad_params_raise_clear_errors(tiny_weights, params, match):
    with pytest.raises(ValueError, match=match):
        AnomalyDetector(weights=tiny_weights, **params).fit(series())


def test_a_parameter_of_the_wrong_type_is_a_type_error(tiny_weights):
    with pytest.raises(TypeError, match="views must be a non-empty tuple"):
        AnomalyDetector(weights=tiny_weights, views="time").fit(series())
    with pytest.raises(TypeError, match="lookback must be a non-negative int"):
        AnomalyDetector(weights=tiny_weights, lookback="32").fit(series())
    with pytest.raises(TypeError, match="trim must be a number in"):
        AnomalyDetector(weights=tiny_weights, trim="0.1").fit(series())


def test_unseen_series_and_mismatched_history(tiny_weights):
    detector = AnomalyDetector(weights=tiny_weights).fit(wide(300, 2))
    with pytest.raises(ValueError, match="series 'c2' was not in the data passed to fit"):
        detector.anomaly_score(wide(300, 3))
    frame = wide(300, 2)
    with pytest.raises(TypeError, match="history must have the layout of X"):
        detector.anomaly_score(frame, history=frame.to_numpy())


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n=st.integers(16, 200), holes=st.lists(st.integers(0, 199), max_size=30))
def test_any_length_and_holes_give_one_finite_score_per_step(tiny_weights, n, holes):
    y = generate_series(n)
    y[[h for h in holes if h < n][: n - 16]] = np.nan  # keep the 16 values scoring needs
    before = y.copy()
    scores = AnomalyDetector(weights=tiny_weights).fit(y).anomaly_score(y)
    assert scores.shape == (n,) and np.isfinite(scores).all()
    np.testing.assert_array_equal(y, before)


def test_run_heads_gives_outputs_in_the_windows_units_and_their_scales(tiny_weights):
    from tsheads.nn.encoder import inverse_spectrum
    from tsheads.runtime import load_model, run_heads
    from tsheads.scaling import standardize

    model = load_model(tiny_weights)
    values = 1e3 + 50 * np.stack([generate_series(64, seed=i) for i in range(3)])
    mask = np.zeros(values.shape, dtype=bool)
    mask[:, 10:20] = True
    out = run_heads(model, values, mask, batch_size=2)
    z, loc, scale = standardize(values, mask)
    np.testing.assert_allclose(out.scale, scale, rtol=1e-12)
    with torch.no_grad():
        raw = model.eval()(torch.from_numpy(z).float(), torch.from_numpy(mask))
    np.testing.assert_allclose(out.values["reconstruction"],
                               raw["reconstruction"].double().numpy() * scale + loc, rtol=1e-6)
    spectrum = inverse_spectrum(raw["spectrum"].double()).numpy() * scale + loc
    assert out.values["spectrum"].shape == values.shape  # the window the spectrum rebuilds
    np.testing.assert_allclose(out.values["spectrum"], spectrum, rtol=1e-6)


def test_the_end_of_a_normal_series_is_not_flagged():
    """The last steps sit in windows padded on the right; with the shipped weights they must
    score like the rest (the spectrum view used to flag the last hour of this series)."""
    rng = np.random.default_rng(0)
    t = np.arange(2 * 1440.0)
    y = pd.Series(1 + 0.3 * np.sin(2 * np.pi * t / 1440) + 0.05 * rng.normal(size=len(t)),
                  index=pd.date_range("2024", periods=len(t), freq="min"))
    detector = AnomalyDetector(views=("spectrum",), contamination=0.01).fit(y[:1440])
    assert detector.predict(y).iloc[-60:].mean() <= 0.1


def test_trim_keeps_anomalies_in_the_fit_data_out_of_the_units(tiny_weights):
    """Fit on a file whose channel b is wild for a fifth of it: with ``trim`` the units of b
    stay near those learned from clean data, and the anomaly scores higher than without."""
    clean = wide(1000, channels=2)
    dirty = clean.copy()
    dirty.iloc[600:800, 1] += np.random.default_rng(1).normal(0, 6, 200)
    spread = {}
    for name, trim, data in (("clean", 0.25, clean), ("trimmed", 0.25, dirty),
                             ("untrimmed", 0.0, dirty)):
        detector = AnomalyDetector(weights=tiny_weights, views=("time",), trim=trim).fit(data)
        spread[name] = detector.stats_["c1"]["time"][1]
        if name != "clean":
            spread[name + " score"] = detector.anomaly_score(dirty).iloc[650:750].mean()
    assert abs(spread["trimmed"] - spread["clean"]) < 0.5 * abs(spread["untrimmed"]
                                                                 - spread["clean"])
    assert spread["trimmed score"] > spread["untrimmed score"]


def test_past_units_measure_each_step_against_the_steps_before_it():
    from tsheads.estimators.anomaly_scores import past_units

    calm = 1.0 + 0.1 * np.sin(np.arange(300))
    shifted = np.concatenate([calm, calm + 2.0])
    units = past_units(shifted, 64, 1e-9)
    assert np.isnan(units[:8]).all() and np.isfinite(units[8:]).all()  # an eighth of 64
    assert np.abs(units[100:300]).max() < 3 and units[300] > 10  # the shift, against its past
    assert units[300 + 64:].max() < 3  # once the past is the new level, it is normal again


def test_lookback_scores_a_change_of_state_that_the_fit_data_holds(tiny_weights):
    """Fit and score one file whose channel c1 is wild for its last third: in fit units the
    wild third reads as normal and hides under c0's own excursions; against c1's past its
    onset stands out."""
    frame = wide(900, channels=2)
    frame.iloc[600:, 1] += np.random.default_rng(1).normal(0, 6, 300)
    onset = {}
    for lookback in (0, 32):
        detector = AnomalyDetector(weights=tiny_weights, views=("time",), lookback=lookback)
        scores = detector.fit(frame).anomaly_score(frame)
        onset[lookback] = scores.iloc[600:700].mean() / np.quantile(scores.iloc[:550], 0.99)
    assert onset[32] > 1.0 > onset[0]
    with pytest.raises(ValueError, match="lookback must be a non-negative int"):
        AnomalyDetector(weights=tiny_weights, lookback=-1).fit(frame)
