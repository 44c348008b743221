"""scikit-learn compatible estimators built on the pretrained model."""

from tsheads.estimators.anomaly import AnomalyDetector
from tsheads.estimators.forecaster import Forecaster
from tsheads.estimators.imputer import Imputer

__all__ = ["AnomalyDetector", "Forecaster", "Imputer"]
