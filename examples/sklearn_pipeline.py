"""tsheads inside scikit-learn: the Imputer fills sensor gaps ahead of a regressor.

    python examples/sklearn_pipeline.py

A building's hourly energy use is predicted one hour ahead from three sensors with gaps.
The pipeline is Imputer -> lag features -> Ridge, cross-validated over time with
TimeSeriesSplit, against the same pipeline with scikit-learn's SimpleImputer (column means).
Then GridSearchCV picks the Forecaster's context length on the same kind of split.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.impute import SimpleImputer
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV, TimeSeriesSplit, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from tsheads import Forecaster, Imputer


def building(n: int = 24 * 60, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    """Sensors (with 10 % of readings and a few outages missing) and next-hour energy use."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    day = np.sin(2 * np.pi * t / 24)
    sensors = pd.DataFrame(
        {
            "outdoor_temp": 10 + 6 * np.roll(day, 4) + rng.normal(0, 0.5, n),
            "occupancy": np.clip(50 + 45 * day + rng.normal(0, 5, n), 0, None),
            "energy": 200 + 60 * day + rng.normal(0, 5, n),
        },
        index=pd.date_range("2024-01-01", periods=n, freq="h", name="time"),
    )
    target = sensors["energy"].shift(-1).ffill().rename("energy_next_hour")
    gappy = sensors.mask(rng.random(sensors.shape) < 0.1)
    gappy.iloc[300:330, 1] = np.nan  # an occupancy sensor outage
    return gappy, target


def lags(X: pd.DataFrame, n_lags: int = 3) -> pd.DataFrame:
    """Each column and its previous ``n_lags`` values (the first rows repeat the first value)."""
    return pd.DataFrame(
        {f"{c}_lag{k}": X[c].shift(k).bfill() for c in X for k in range(n_lags + 1)},
        index=X.index,
    )


def forecast_mae(estimator: Forecaster, X: pd.DataFrame, y=None) -> float:
    """GridSearchCV scorer: forecast the test fold from the train fold (higher is better)."""
    return -float(np.mean(np.abs(estimator.predict(len(X)).to_numpy() - X.to_numpy())))


def main() -> dict:
    X, y = building()
    cv = TimeSeriesSplit(n_splits=4)
    results = {}
    means = SimpleImputer().set_output(transform="pandas")  # keep the frame for lags()
    for name, imputer in (("tsheads Imputer", Imputer()), ("SimpleImputer", means)):
        pipe = make_pipeline(imputer, FunctionTransformer(lags), Ridge())
        mae = -cross_val_score(pipe, X, y, cv=cv, scoring="neg_mean_absolute_error")
        results[name] = float(mae.mean())
        print(f"{name:>16} -> lags -> Ridge: next-hour MAE {mae.mean():.2f} (folds {mae.round(2)})")

    energy = Imputer().fit_transform(X)[["energy"]]
    search = GridSearchCV(
        Forecaster(),
        {"context_length": [96, 512]},
        cv=TimeSeriesSplit(n_splits=3, test_size=24),
        scoring=forecast_mae,
    )
    search.fit(energy)
    print(
        f"Forecaster grid search: best {search.best_params_}, "
        f"MAE {-search.best_score_:.2f} over the next 24 h"
    )
    return results


if __name__ == "__main__":
    main()
