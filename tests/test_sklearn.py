"""scikit-learn conformance: the estimator contract, pickling across processes, Pipeline and
GridSearchCV, and the safety of the weights files estimators load."""

import hashlib
import json
import os
import pickle
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import TINY, generate_series
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV, TimeSeriesSplit, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils.estimator_checks import parametrize_with_checks
from sklearn.utils.validation import check_is_fitted

from tsheads import AnomalyDetector, Forecaster, Imputer
from tsheads.cli import main
from tsheads.nn import EncoderConfig, TinyModel

ESTIMATORS = (Imputer, Forecaster, AnomalyDetector)


def frame(n: int = 160, gaps: bool = False) -> pd.DataFrame:
    index = pd.date_range("2024-01-01", periods=n, freq="h", name="ds")
    out = pd.DataFrame({"a": generate_series(n, seed=1), "b": generate_series(n, seed=2)}, index)
    if gaps:
        out.iloc[[3, 30, 31, 100], 0] = np.nan
        out.iloc[[50, 51], 1] = np.nan
    return out


def output(estimator, X):
    """What a fitted estimator gives for X: fills, forecasts or scores."""
    if isinstance(estimator, Imputer):
        return estimator.transform(X)
    if isinstance(estimator, Forecaster):
        return estimator.predict(8, level=[80])
    return estimator.anomaly_score(X, per_channel=True)


# ---------------------------------------------------------------- the estimator contract

def _check_weights() -> str:
    """Tiny random weights for the conformance checks, which are collected before fixtures
    exist."""
    torch.manual_seed(0)
    path = Path(tempfile.mkdtemp(prefix="tsheads-checks-")) / "tiny.pt"
    TinyModel(TINY).save(path)
    return str(path)


TIME_SERIES = "rows are time steps: a 1-D array is one series, and their order is the series"
OWN_MESSAGES = ("our error names the column, row and value (docs/input-validation.md) instead "
                "of scikit-learn's wording")
SHORT = "a series needs at least 16 observed values; the check fits on fewer"
HORIZON = "predict takes a horizon, not X: the check passes X as the horizon"
NAN_IS_MISSING = "NaN is a missing value, which every estimator handles by design"
NO_FEATURE_COUNT = ("no n_features_in_: a frame's columns (or a long frame's ids) are named "
                    "series, checked by name at transform/score time, not by count")
SHARED_EXPECTED = {
    "check_n_features_in": NO_FEATURE_COUNT,
    "check_n_features_in_after_fitting": NO_FEATURE_COUNT,
    "check_complex_data": OWN_MESSAGES,
    "check_dtype_object": OWN_MESSAGES,
    "check_estimators_empty_data_messages": OWN_MESSAGES,
    "check_estimators_nan_inf": NAN_IS_MISSING,
    "check_fit1d": TIME_SERIES,
    "check_fit2d_predict1d": TIME_SERIES,
}
EXPECTED_FAILED = {
    "Imputer": {
        **SHARED_EXPECTED,
        "check_transformer_data_not_an_array": OWN_MESSAGES,
        "check_transformer_general": NO_FEATURE_COUNT,
    },
    "Forecaster": {
        **SHARED_EXPECTED,
        **{name: HORIZON for name in (
            "check_estimators_dtypes", "check_estimators_pickle",
            "check_f_contiguous_array_estimator", "check_methods_sample_order_invariance",
            "check_methods_subset_invariance", "check_dict_unchanged", "check_fit_idempotent",
            "check_fit2d_predict1d")},
        "check_fit2d_1sample": SHORT,
        "check_fit2d_1feature": SHORT,
    },
    "AnomalyDetector": {
        **SHARED_EXPECTED,
        "check_methods_sample_order_invariance": TIME_SERIES,
        "check_methods_subset_invariance": SHORT,
        "check_fit2d_1sample": SHORT,
        "check_fit2d_1feature": SHORT,
    },
}


CHECK_WEIGHTS = _check_weights()


@parametrize_with_checks([cls(weights=CHECK_WEIGHTS) for cls in ESTIMATORS],
                         expected_failed_checks=lambda est: EXPECTED_FAILED[type(est).__name__])
def test_scikit_learn_estimator_checks(estimator, check):
    """scikit-learn's own conformance suite; the expected failures are time-series
    departures from tabular data, each with its reason."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check(estimator)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_clone_get_params_set_params_and_repr(cls, tiny_weights):
    est = cls(weights=tiny_weights, batch_size=7)
    twin = clone(est)
    assert twin is not est and twin.get_params() == est.get_params()
    assert est.set_params(batch_size=9) is est and est.get_params()["batch_size"] == 9
    assert " ".join(repr(est).split()) == f"{cls.__name__}(batch_size=9, weights='{tiny_weights}')"
    assert repr(cls()) == f"{cls.__name__}()"
    with pytest.raises(ValueError, match="Invalid parameter 'batchsize'"):
        est.set_params(batchsize=3)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_constructor_is_keyword_only(cls):
    with pytest.raises(TypeError):
        cls(None)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_fitted_attributes_end_in_underscore_and_fit_returns_self(cls, tiny_weights):
    est = cls(weights=tiny_weights)
    params = set(est.get_params())
    assert set(vars(est)) == params  # nothing learned before fit
    assert est.fit(frame()) is est
    learned = set(vars(est)) - params
    assert learned and all(name.endswith("_") and not name.startswith("_") for name in learned)
    check_is_fitted(est)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_not_fitted_error_before_fit(cls):
    est = cls()
    with pytest.raises(NotFittedError, match=f"This {cls.__name__} instance is not fitted yet"):
        check_is_fitted(est)
    with pytest.raises(NotFittedError):
        output(est, frame())
    if cls is AnomalyDetector:
        with pytest.raises(NotFittedError):
            est.predict(frame())


# ---------------------------------------------------------------- parameter validation in fit

# every constructor parameter with a value that fit must refuse, the error it raises (a value
# of the wrong type: TypeError; of the right type but out of range or not a choice:
# ValueError) and the message it gives
COMMON = {
    "weights": (123, TypeError, "weights must be None .* or the path of a .pt file, got 123"),
    "batch_size": (0, ValueError, "batch_size must be an int >= 1, got 0"),
    "fine_tune_steps": (-1, ValueError, "fine_tune_steps must be an int >= 0, got -1"),
    "n_threads": (True, TypeError, "n_threads must be None or an int >= 1, got True"),
    "random_state": ("abc", TypeError, "random_state must be an int >= 0, got 'abc'"),
    "compile": ("yes", ValueError, "compile must be 'auto', True or False, got 'yes'"),
}
BAD_PARAMS = {
    Imputer: {
        **COMMON,
        "stride": (2.5, TypeError, "stride must be 'auto' or a positive int, got 2.5"),
        "progress": ("yes", TypeError, "progress must be True or False, got 'yes'"),
        "blend": (1, TypeError, "blend must be True or False, got 1"),
        "mirror": ("no", TypeError, "mirror must be 'auto', True or False, got 'no'"),
        "cross_series": ("no", TypeError, "cross_series must be True or False, got 'no'"),
        "reindex": ("no", TypeError, "reindex must be True or False, got 'no'"),
    },
    Forecaster: {
        **COMMON,
        "context_length": (8, ValueError, "context_length must be an int >= 16, got 8"),
        "head": ("lstm", ValueError, r"head must be one of \('auto', 'direct'.*got 'lstm'"),
        "alias": ("", ValueError, "alias must be a non-empty string, got ''"),
        "intervals": ("bootstrap", ValueError,
                      r"intervals must be one of \(.*\), got 'bootstrap'"),
        "mirror": ("yes", TypeError, "mirror must be True or False, got 'yes'"),
        "context_fractions": ((1.0, 0.0), ValueError,
                              r"context_fractions must be a non-empty tuple of numbers in "
                              r"\(0, 1\], got \(1.0, 0.0\)"),
    },
    AnomalyDetector: {
        **COMMON,
        "views": ("time", TypeError,
                  "views must be a non-empty tuple of distinct names .* got 'time'"),
        "fusion": ("median", ValueError, r"fusion must be one of \('mean', 'max'\), got 'median'"),
        "window": (0, ValueError, "window must be 'auto' or a positive int, got 0"),
        "contamination": (0.5, ValueError,
                          r"contamination must be 'auto' or a number in \(0, 0.5\)"),
        "trim": (1.0, ValueError, r"trim must be a number in \[0, 1\), got 1.0"),
        "lookback": (-2, ValueError, r"lookback must be a non-negative int \(0: fit units "
                                     r"alone\), got -2"),
        "stride": (-1, ValueError, "stride must be 'auto' or a positive int, got -1"),
        "horizon": (1.5, TypeError, "horizon must be 'auto' or a positive int, got 1.5"),
        "reindex": (0, TypeError, "reindex must be True or False, got 0"),
    },
}


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_every_constructor_parameter_has_a_checked_bad_value(cls):
    assert set(BAD_PARAMS[cls]) == set(cls().get_params())


@pytest.mark.parametrize(
    ("cls", "name"), [(cls, name) for cls in ESTIMATORS for name in BAD_PARAMS[cls]]
)
def test_bad_parameter_is_refused_in_fit_not_in_init(cls, name, tiny_weights):
    value, error, match = BAD_PARAMS[cls][name]
    est = cls(**{"weights": tiny_weights, name: value})  # stored verbatim, no error yet
    assert est.get_params()[name] == value
    with pytest.raises(error, match=match) as raised:
        est.fit(frame())
    assert raised.type is error


# ---------------------------------------------------------------- pickling


@pytest.mark.parametrize(
    ("cls", "call"),
    [(Imputer, "transform(X)"), (AnomalyDetector, "anomaly_score(X, per_channel=True)")],
)
def test_pickled_estimator_gives_identical_output_in_a_fresh_process(
    cls, call, tiny_weights, tmp_path
):
    """The Forecaster's twin of this test is in test_forecaster.py."""
    X = frame(gaps=True)
    fitted = cls(weights=tiny_weights).fit(X)
    expected = output(fitted, X)
    (tmp_path / "est.pkl").write_bytes(pickle.dumps(fitted))
    X.to_pickle(tmp_path / "X.pkl")
    script = (
        "import pickle, sys, pandas as pd\n"
        "est = pickle.loads(open(sys.argv[1] + '/est.pkl', 'rb').read())\n"
        "X = pd.read_pickle(sys.argv[1] + '/X.pkl')\n"
        f"est.{call}.to_pickle(sys.argv[1] + '/out.pkl')\n"
    )
    subprocess.run([sys.executable, "-c", script, str(tmp_path)], check=True)
    got = pd.read_pickle(tmp_path / "out.pkl")
    pd.testing.assert_frame_equal(got, expected, check_exact=True)


# ---------------------------------------------------------------- Pipeline and GridSearchCV


def lags(X: pd.DataFrame, n_lags: int = 3) -> pd.DataFrame:
    """Each column and its previous ``n_lags`` values as features (first rows repeat)."""
    shifted = {f"{c}_lag{k}": X[c].shift(k).bfill() for c in X for k in range(n_lags + 1)}
    return pd.DataFrame(shifted, index=X.index)


def test_imputer_in_a_pipeline_before_a_regressor_on_lag_features(tiny_weights):
    X = frame(gaps=True)
    y = frame()["a"].shift(-1).ffill()  # the next value of the first sensor
    pipe = make_pipeline(Imputer(weights=tiny_weights), FunctionTransformer(lags), Ridge())
    pipe.fit(X, y)
    assert pipe.predict(X).shape == (len(X),)
    scores = cross_val_score(pipe, X, y, cv=TimeSeriesSplit(3), scoring="r2")
    assert np.isfinite(scores).all() and scores.mean() > 0.5
    assert X.isna().sum().sum() == 6  # the pipeline did not fill the caller's frame


def forecast_mae(estimator: Forecaster, X: pd.DataFrame, y=None) -> float:
    """Scorer for GridSearchCV: forecast the test fold from the train fold the estimator was
    fitted on (negative mean absolute error, so that higher is better)."""
    predicted = estimator.predict(len(X))
    assert predicted.index.equals(X.index)  # folds are contiguous: the horizon is the fold
    return -float(np.mean(np.abs(predicted.to_numpy() - X.to_numpy())))


def test_grid_search_over_fine_tuning_settings_with_a_time_series_split(tiny_weights):
    X = frame(200)
    grid = {"fine_tune_steps": [0, 2], "context_length": [32, 64]}
    search = GridSearchCV(
        Forecaster(weights=tiny_weights),
        grid,
        cv=TimeSeriesSplit(n_splits=3, test_size=12),
        scoring=forecast_mae,
    )
    search.fit(X)
    assert len(search.cv_results_["params"]) == 4
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    assert search.best_params_ in search.cv_results_["params"]
    future = search.predict(6)  # refitted on all of X with the best settings
    assert future.index[0] == X.index[-1] + pd.Timedelta("1h")


# ---------------------------------------------------------------- weights files


def resign(path) -> None:
    """Record the file's current checksum in its .json, as a careless or hostile author would."""
    meta_path = path.with_suffix(".json")
    meta = json.loads(meta_path.read_text())
    meta["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    meta_path.write_text(json.dumps(meta))


@pytest.fixture
def user_weights(tmp_path):
    torch.manual_seed(1)
    return TinyModel(TINY).save(tmp_path / "mine.pt")


def test_user_weights_with_a_wrong_shape_are_refused_by_estimators_and_cli(
    user_weights, tmp_path, capsys
):
    narrow = EncoderConfig(**{**TINY.to_dict(), "d_model": 8})
    torch.save(TinyModel(narrow).state_dict(), user_weights)
    resign(user_weights)
    for cls in ESTIMATORS:
        with pytest.raises(ValueError, match=r"weights in .*mine.pt do not fit the config"):
            cls(weights=str(user_weights)).fit(frame())
    frame().to_csv(tmp_path / "in.csv")
    args = ["impute", str(tmp_path / "in.csv"), "-o", str(tmp_path / "o.csv")]
    assert main(args + ["--weights", str(user_weights)]) == 2
    assert "do not fit the config" in capsys.readouterr().err


def test_user_weights_with_a_failed_checksum_are_refused_by_estimators_and_cli(
    user_weights, tmp_path, capsys
):
    data = bytearray(user_weights.read_bytes())
    data[-10] ^= 0xFF
    user_weights.write_bytes(bytes(data))
    for cls in ESTIMATORS:
        with pytest.raises(ValueError, match=r"checksum of .*mine.pt is .*the file is corrupt"):
            cls(weights=str(user_weights)).fit(frame())
    frame().to_csv(tmp_path / "in.csv")
    args = ["forecast", str(tmp_path / "in.csv"), "-o", str(tmp_path / "o.csv"), "--horizon", "3"]
    assert main(args + ["--weights", str(user_weights)]) == 2
    assert "checksum" in capsys.readouterr().err


class RunsCode:
    """Unpickling this calls os.system: what a hostile checkpoint would carry."""

    def __init__(self, marker) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_code_in_a_weights_file_never_runs(user_weights, tmp_path):
    marker = tmp_path / "ran"
    torch.save({"encoder.weight": RunsCode(marker)}, user_weights)
    resign(user_weights)  # the checksum matches: only weights_only=True stands in the way
    with pytest.raises(ValueError, match="not only tensors"):
        Imputer(weights=str(user_weights)).fit(frame())
    assert not marker.exists()


def test_a_weights_file_holding_code_gets_a_clear_error(user_weights, tmp_path):
    torch.save({"encoder.weight": RunsCode(tmp_path / "ran")}, user_weights)
    resign(user_weights)
    with pytest.raises(ValueError, match=r"mine.pt holds .* not only tensors"):
        TinyModel.load(user_weights)


def test_a_weights_json_without_checksum_gets_a_clear_error(user_weights):
    meta_path = user_weights.with_suffix(".json")
    meta = json.loads(meta_path.read_text())
    del meta["sha256"]
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(ValueError, match=r"mine.json has no 'sha256'"):
        TinyModel.load(user_weights)
