import numpy as np
import pandas as pd
import pytest
from conftest import generate_series

from tsheads.cli import main


def gappy_csv(path, n: int = 200, sep: str = ",") -> pd.DataFrame:
    frame = pd.DataFrame(
        {"a": generate_series(n, seed=1), "b": generate_series(n, seed=2)},
        index=pd.date_range("2024-01-01", periods=n, freq="h", name="date"),
    )
    frame.iloc[10:20, 0] = np.nan
    frame.iloc[::7, 1] = np.nan
    frame.to_csv(path, sep=sep)
    return frame


def test_impute_writes_a_filled_csv(tmp_path, tiny_weights, capsys):
    src, dst = tmp_path / "in.csv", tmp_path / "out.csv"
    original = gappy_csv(src)
    assert main(["impute", str(src), "-o", str(dst), "--weights", tiny_weights]) == 0
    out = pd.read_csv(dst, index_col="date", parse_dates=True)
    assert not out.isna().any().any() and list(out.columns) == ["a", "b"]
    kept = original.notna()
    assert np.allclose(out[kept].fillna(0), original[kept].fillna(0))
    assert "filled" in capsys.readouterr().out


def test_impute_selects_columns_and_reads_semicolons(tmp_path, tiny_weights):
    src, dst = tmp_path / "in.csv", tmp_path / "out.csv"
    gappy_csv(src, sep=";")
    args = ["impute", str(src), "-o", str(dst), "--columns", "b", "--weights", tiny_weights]
    assert main(args) == 0
    assert list(pd.read_csv(dst).columns) == ["date", "b"]


def test_existing_output_needs_force(tmp_path, tiny_weights, capsys):
    src, dst = tmp_path / "in.csv", tmp_path / "out.csv"
    gappy_csv(src)
    dst.write_text("keep me")
    assert main(["impute", str(src), "-o", str(dst), "--weights", tiny_weights]) == 2
    assert "exists; pass --force" in capsys.readouterr().err
    assert dst.read_text() == "keep me"
    assert main(["impute", str(src), "-o", str(dst), "--force", "--weights", tiny_weights]) == 0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("date,a\n2024-01-01 00:00,1\n2024-01-01 01:00,x\n", "non-numeric"),
        ("date,a\n2024-01-01 00:00,1\nnot a date,2\n", "line 3"),
        ("", "empty"),
    ],
)
def test_bad_csv_gives_one_line_and_status_2(tmp_path, capsys, text, message):
    src = tmp_path / "bad.csv"
    src.write_text(text)
    assert main(["impute", str(src), "-o", str(tmp_path / "o.csv")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("tsheads impute: error:") and message in err
    assert len(err.splitlines()) == 1


def test_missing_input_file(tmp_path, capsys):
    assert main(["impute", str(tmp_path / "nope.csv"), "-o", str(tmp_path / "o.csv")]) == 2
    assert "nope.csv" in capsys.readouterr().err


def test_pretrain_needs_stage_one_steps_unless_it_continues(tmp_path, capsys):
    assert main(["pretrain", "--steps", "0", "--out", str(tmp_path / "w.pt")]) == 2
    err = capsys.readouterr().err
    assert "--steps must be >= 1 (or 0 with --init" in err and not (tmp_path / "w.pt").exists()


def test_pretrain_refuses_a_gpu_this_machine_lacks(tmp_path, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU")
    assert main(["pretrain", "--steps", "1", "--device", "cuda",
                 "--out", str(tmp_path / "w.pt")]) == 2
    assert "no CUDA GPU" in capsys.readouterr().err and not (tmp_path / "w.pt").exists()


def test_help_shows_an_example(capsys):
    for command in ("impute", "forecast", "detect", "demo", "pretrain"):
        with pytest.raises(SystemExit) as exc:
            main([command, "--help"])
        assert exc.value.code == 0
        assert "example:" in capsys.readouterr().out


def test_plot_is_written(tmp_path, tiny_weights):
    pytest.importorskip("matplotlib")
    src, dst, png = tmp_path / "in.csv", tmp_path / "out.csv", tmp_path / "p.png"
    gappy_csv(src)
    args = ["impute", str(src), "-o", str(dst), "--plot", str(png), "--weights", tiny_weights]
    assert main(args) == 0
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_demo_runs_on_co2(tiny_weights, capsys):
    assert main(["demo", "--no-plot", "--weights", tiny_weights]) == 0
    out = capsys.readouterr().out
    assert "Mauna Loa" in out and "observed values unchanged: True" in out


def test_forecast_writes_future_rows_with_intervals(tmp_path, tiny_weights):
    pytest.importorskip("matplotlib")
    src, dst, png = tmp_path / "in.csv", tmp_path / "f.csv", tmp_path / "f.png"
    gappy_csv(src)
    args = ["forecast", str(src), "-o", str(dst), "--horizon", "12", "--level", "80",
            "--plot", str(png), "--weights", tiny_weights]
    assert main(args) == 0
    out = pd.read_csv(dst, index_col=0, parse_dates=True)
    assert list(out.columns) == ["a", "a-lo-80", "a-hi-80", "b", "b-lo-80", "b-hi-80"]
    assert len(out) == 12 and out.index[0] == pd.Timestamp("2024-01-09 08:00")
    assert (out["a-lo-80"] <= out["a-hi-80"]).all()
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_forecast_bad_horizon_exits_2_before_the_file_is_read(tmp_path, capsys):
    args = ["forecast", str(tmp_path / "absent.csv"), "-o", str(tmp_path / "o.csv"),
            "--horizon", "0"]
    with pytest.raises(SystemExit) as stop:
        main(args)
    err = capsys.readouterr().err
    assert stop.value.code == 2 and "--horizon: expected a whole number >= 1, got 0" in err
    assert "no such file" not in err


def test_detect_writes_scores_flags_and_a_plot(tmp_path, tiny_weights, capsys):
    pytest.importorskip("matplotlib")
    src, dst, png = tmp_path / "in.csv", tmp_path / "s.csv", tmp_path / "s.png"
    frame = gappy_csv(src, n=400)
    args = ["detect", str(src), "-o", str(dst), "--fit-rows", "300", "--contamination", "0.05",
            "--per-channel", "--plot", str(png), "--weights", tiny_weights]
    assert main(args) == 0
    out = pd.read_csv(dst, index_col=0, parse_dates=True)
    assert list(out.columns) == ["anomaly_score", "anomaly", "a-score", "b-score"]
    assert out.index.equals(frame.index) and out["anomaly"].dtype == bool
    assert out["anomaly"].any() and np.isfinite(out["anomaly_score"]).all()
    np.testing.assert_allclose(out["anomaly_score"], out[["a-score", "b-score"]].max(axis=1))
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert "flagged" in capsys.readouterr().out


def test_detect_bad_contamination_exits_2(tmp_path, tiny_weights, capsys):
    src = tmp_path / "in.csv"
    gappy_csv(src)
    args = ["detect", str(src), "-o", str(tmp_path / "o.csv"), "--contamination", "0.9",
            "--weights", tiny_weights]
    assert main(args) == 2
    assert "contamination must be" in capsys.readouterr().err


# ------------------------------------------------- what a new user hit on public CSVs


def daily_csv(path, n: int = 400, drop=(100, 250), header: str = "Date") -> pd.DataFrame:
    """Daily values with a few rows (dates) left out of the file, like a real download."""
    frame = pd.DataFrame(
        {"Temp": generate_series(n, seed=3, period=7) + 5.0},
        index=pd.date_range("1981-01-01", periods=n, freq="D", name=header),
    )
    frame.iloc[30:33, 0] = np.nan
    frame.drop(index=frame.index[list(drop)]).to_csv(path)
    return frame


@pytest.mark.parametrize("command", ["impute", "detect"])
def test_missing_dates_are_added_with_a_warning_and_counted(command, tmp_path, tiny_weights,
                                                             capsys):
    src, dst = tmp_path / "in.csv", tmp_path / "out.csv"
    daily_csv(src)
    assert main([command, str(src), "-o", str(dst), "--weights", tiny_weights]) == 0
    out, err = capsys.readouterr()
    assert "2 timestamps were missing from the 'D' grid" in err
    assert "(1981-04-11, 1981-09-08)" in err and "--keep-rows" in err
    assert "398 read + 2 missing timestamps added" in out
    written = pd.read_csv(dst, index_col=0, parse_dates=True)
    assert len(written) == 400
    if command == "impute":  # 3 empty cells and the 2 added dates
        assert "filled 5 missing values" in out and not written.isna().any().any()


@pytest.mark.parametrize("command", ["impute", "detect"])
def test_keep_rows_writes_exactly_the_input_rows(command, tmp_path, tiny_weights, capsys):
    src, dst = tmp_path / "in.csv", tmp_path / "out.csv"
    full = daily_csv(src)
    args = [command, str(src), "-o", str(dst), "--keep-rows", "--weights", tiny_weights]
    assert main(args) == 0
    out = capsys.readouterr().out
    written = pd.read_csv(dst, index_col=0, parse_dates=True)
    assert written.index.equals(full.index.delete([100, 250]))
    assert "added" not in out
    if command == "impute":
        assert "filled 3 missing values" in out


def test_detect_plot_works_when_dates_were_added(tmp_path, tiny_weights):
    pytest.importorskip("matplotlib")
    src, png = tmp_path / "in.csv", tmp_path / "s.png"
    daily_csv(src)
    args = ["detect", str(src), "-o", str(tmp_path / "s.csv"), "--plot", str(png),
            "--weights", tiny_weights]
    assert main(args) == 0
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_short_dates_read_as_year_one_are_refused(tmp_path, capsys):
    src = tmp_path / "shampoo.csv"
    months = [f"{y}-{m:02d}" for y in (1, 2, 3) for m in range(1, 13)]
    pd.DataFrame({"Month": months, "Sales": np.arange(36.0) + 100}).to_csv(src, index=False)
    args = ["forecast", str(src), "-o", str(tmp_path / "f.csv"), "--horizon", "3"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "column 'Month': dates parse to year 1" in err
    assert "'1-01' -> 0001-01-01, '1-02' -> 0001-01-02" in err
    assert "--date-format" in err and "--freq" in err
    assert not (tmp_path / "f.csv").exists()


def test_date_format_and_freq_read_short_dates(tmp_path, tiny_weights):
    src, dst = tmp_path / "sales.csv", tmp_path / "f.csv"
    months = [f"{y:02d}-{m:02d}" for y in (1, 2, 3) for m in range(1, 13)]
    pd.DataFrame({"Month": months, "Sales": np.arange(36.0) + 100}).to_csv(src, index=False)
    args = ["forecast", str(src), "-o", str(dst), "--horizon", "3", "--date-format", "%y-%m",
            "--freq", "MS", "--weights", tiny_weights]
    assert main(args) == 0
    out = pd.read_csv(dst, index_col=0, parse_dates=True)
    assert list(out.index) == list(pd.date_range("2004-01-01", periods=3, freq="MS"))


def test_freq_silences_the_guess_and_date_format_must_match(tmp_path, tiny_weights, capsys):
    src = tmp_path / "in.csv"
    daily_csv(src)
    args = ["impute", str(src), "-o", str(tmp_path / "o.csv"), "--freq", "D",
            "--weights", tiny_weights]
    assert main(args) == 0
    assert "could not infer a regular frequency" not in capsys.readouterr().err
    args = ["impute", str(src), "-o", str(tmp_path / "p.csv"), "--date-format", "%d/%m/%Y"]
    assert main(args) == 2
    assert "does not match date_format '%d/%m/%Y'" in capsys.readouterr().err


def test_detect_on_five_rows_is_an_error_not_zeros(tmp_path, tiny_weights, capsys):
    src, dst = tmp_path / "in.csv", tmp_path / "s.csv"
    daily_csv(src, n=5, drop=())
    assert main(["detect", str(src), "-o", str(dst), "--weights", tiny_weights]) == 2
    err = capsys.readouterr().err
    assert "series 'Temp' has 5 observed values; anomaly scoring needs at least 16" in err
    assert not dst.exists()


def test_version(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0 and capsys.readouterr().out.strip() == "tsheads 0.1.0"


def test_a_year_ahead_on_a_bounded_positive_series_stays_plausible(tmp_path, tiny_weights):
    src, dst = tmp_path / "in.csv", tmp_path / "f.csv"
    t = np.arange(1200)
    noise = np.random.default_rng(0).normal(0, 2.8, t.size)
    temp = np.clip(11 + 6 * np.cos(2 * np.pi * t / 365.25) + noise, 0, 26)
    dates = pd.date_range("1981-01-01", periods=t.size, freq="D", name="Date")
    pd.DataFrame({"Temp": temp}, index=dates).to_csv(src)
    args = ["forecast", str(src), "-o", str(dst), "--horizon", "365", "--level", "80",
            "--weights", tiny_weights]
    assert main(args) == 0
    out = pd.read_csv(dst, index_col=0)
    width = out["Temp-hi-80"] - out["Temp-lo-80"]
    assert len(out) == 365 and (out.to_numpy() >= 0).all()
    assert width.iloc[-1] < 3 * width.iloc[0]  # a random walk's sqrt(365) would be 19x


def test_long_commands_show_progress(tmp_path, tiny_weights, capsys, monkeypatch):
    import tsheads.cli

    monkeypatch.setattr(tsheads.cli, "PROGRESS_DELAY", 0.0)
    src = tmp_path / "in.csv"
    gappy_csv(src)
    args = ["forecast", str(src), "-o", str(tmp_path / "f.csv"), "--horizon", "4",
            "--weights", tiny_weights]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "tsheads forecast:" in err and "/2 [" in err  # the bar over the command's 2 stages


def test_forecast_and_impute_on_a_local_dask_cluster_match_one_process(tmp_path, tiny_weights):
    pytest.importorskip("distributed")
    from tsheads import Forecaster, Imputer

    frame = pd.concat([pd.DataFrame({"unique_id": f"s{k}", "ds": pd.date_range(
        "2024-01-01", periods=60, freq="h"), "y": generate_series(60, seed=k)})
        for k in range(4)], ignore_index=True)
    frame.loc[[5, 70, 71], "y"] = np.nan
    src = tmp_path / "long.csv"
    frame.to_csv(src, index=False)
    expected = {
        "forecast": Forecaster(weights=tiny_weights).forecast(frame, 6),
        "impute": Imputer(weights=tiny_weights, cross_series=False).fit_transform(frame),
    }
    keys = ["unique_id", "ds"]
    for command, extra in (("forecast", ["--horizon", "6"]), ("impute", [])):
        parts = tmp_path / f"{command}-parts"
        args = [command, str(src), "-o", str(parts), "--workers", "2", "--weights",
                tiny_weights, *extra]
        assert main(args) == 0
        got = pd.concat(pd.read_csv(p, parse_dates=["ds"]) for p in sorted(parts.glob("part*")))
        want = expected[command].sort_values(keys).reset_index(drop=True)
        got = got.sort_values(keys).reset_index(drop=True)[list(want.columns)]
        pd.testing.assert_frame_equal(got, want, rtol=1e-5, atol=1e-6, check_dtype=False)
    args = ["detect", str(src), "-o", str(tmp_path / "d"), "--workers", "2"]
    assert main(args) == 2
