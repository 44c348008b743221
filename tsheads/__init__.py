"""tsheads: tiny pretrained time-series models that fill gaps, forecast and score anomalies.

Importing tsheads is cheap: torch loads only when an estimator or model is first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"
__all__ = ["AnomalyDetector", "Forecaster", "Imputer", "load_model"]

if TYPE_CHECKING:
    from tsheads.estimators import AnomalyDetector, Forecaster, Imputer
    from tsheads.runtime import load_model


def __getattr__(name: str):
    if name in ("AnomalyDetector", "Forecaster", "Imputer"):
        from tsheads import estimators

        return getattr(estimators, name)
    if name == "load_model":
        from tsheads.runtime import load_model

        return load_model
    raise AttributeError(f"module 'tsheads' has no attribute {name!r}")
