"""Every script in examples/ runs as a user would run it (a smoke test on small data, with the
shipped weights), so the examples the README links to keep working."""

import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def run(script: str, *args: str, cwd: Path) -> str:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_every_example_has_a_smoke_test():
    tested = {"forecast_csv.py", "impute_csv.py", "anomaly_pipeline.py", "sklearn_pipeline.py",
              "dask_many_series.py"}
    assert {p.name for p in EXAMPLES.glob("*.py")} == tested


def test_forecast_csv_writes_a_plot(tmp_path):
    pytest.importorskip("matplotlib")
    png = tmp_path / "forecast.png"
    out = run("forecast_csv.py", str(png), cwd=tmp_path)
    assert png.read_bytes()[:4] == b"\x89PNG" and f"plot written to {png}" in out
    assert "tsheads-lo-80" in out


def test_impute_csv_fills_every_gap(tmp_path):
    dst = tmp_path / "filled.csv"
    out = run("impute_csv.py", str(dst), cwd=tmp_path)
    filled = pd.read_csv(dst, index_col="time", parse_dates=True)
    assert list(filled.columns) == ["flow", "pressure"] and not filled.isna().any().any()
    assert "linear interpolation" in out and "filled 2" in out


def test_anomaly_pipeline_ranks_the_faulty_machines_first(tmp_path):
    out = run("anomaly_pipeline.py", cwd=tmp_path)
    ranked = [line.split()[0] for line in out.splitlines() if re.match(r"m\d\d ", line)]
    top_four = ranked[:4]
    assert sorted(top_four) == ["m03", "m09", "m15", "m21"], out


def test_sklearn_pipeline_beats_mean_imputation(tmp_path):
    out = run("sklearn_pipeline.py", cwd=tmp_path)
    mae = {
        line.split("->")[0].strip(): float(line.split("MAE")[1].split()[0])
        for line in out.splitlines()
        if "-> Ridge" in line
    }
    assert mae["tsheads Imputer"] < mae["SimpleImputer"], out
    assert "Forecaster grid search: best {'context_length'" in out


def test_dask_many_series_matches_pandas(tmp_path):
    pytest.importorskip("distributed")
    out = run("dask_many_series.py", cwd=tmp_path)
    assert "2 workers x 1 thread" in out and "0 NaN left" in out, out
    gap = float(out.split("largest difference from pandas:")[1].split()[0])
    assert gap < 1e-3, out
