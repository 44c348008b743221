"""Fill the gaps of a CSV and check the fills against values we hid on purpose.

    python examples/impute_csv.py [filled.csv]

Writes a small 10-minute sensor CSV with real gaps (empty cells), hides a few hundred more
known values, fills everything with the Imputer and compares the hidden values with linear
interpolation. Observed values come back untouched.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from tsheads import Imputer


def sensors(n: int = 3000) -> pd.DataFrame:
    """Two 10-minute sensors with a daily cycle, a drift and noise."""
    rng = np.random.default_rng(1)
    t = np.arange(n)
    day = 144  # 10-minute steps per day
    return pd.DataFrame(
        {
            "flow": 50 + 10 * np.sin(2 * np.pi * t / day) + 0.002 * t + rng.normal(0, 1, n),
            "pressure": 3 + 0.4 * np.sin(2 * np.pi * (t - 20) / day) + rng.normal(0, 0.03, n),
        },
        index=pd.date_range("2024-05-01", periods=n, freq="10min", name="time"),
    )


def with_gaps(truth: pd.DataFrame, rng: np.random.Generator) -> tuple[pd.DataFrame, np.ndarray]:
    """Blank 5 % of the cells and two whole hours; return the frame and where we blanked."""
    hidden = rng.random(truth.shape) < 0.05
    hidden[1000:1006, 0] = True
    hidden[2000:2006, 1] = True
    return truth.mask(hidden), hidden


def main(out: Path | None = None) -> Path:
    truth = sensors()
    gappy, hidden = with_gaps(truth, np.random.default_rng(2))
    path = Path(tempfile.mkdtemp(prefix="tsheads-")) / "sensors.csv"
    gappy.to_csv(path)

    frame = pd.read_csv(path, index_col="time", parse_dates=True)
    filled = Imputer().fit_transform(frame)
    linear = frame.interpolate(limit_direction="both")

    observed = frame.notna().to_numpy()
    assert (filled.to_numpy()[observed] == frame.to_numpy()[observed]).all()
    print(f"mean absolute error on the {hidden.sum()} hidden values, per column:")
    for name, guess in (("tsheads", filled), ("linear interpolation", linear)):
        errors = (guess - truth).abs().where(hidden).mean()
        print(f"  {name:>20}: " + ", ".join(f"{c} {e:.3f}" for c, e in errors.items()))
    out = out or path.with_name("filled.csv")
    filled.to_csv(out)
    print(f"filled {int(frame.isna().sum().sum())} cells; wrote {out}")
    return out


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else None)
