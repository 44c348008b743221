"""Zero-shot imputation on the ETTh1 test split: tsheads against classical fills.

Windows of 512 on every channel (stride 128), z-normalised with train statistics; three
seeded mask families: random points and TSPulse's hybrid masks (patch 8) at 12.5 / 25 /
37.5 / 50 %, and one contiguous gap of 8 / 32 / 96 steps per window. MSE and MAE on the
hidden points for tsheads (``Imputer`` on each window's 7 channels, with and without
regression on the other channels, and the model alone), scikit-learn's iterative imputer on
the same 7 channels, pandas linear / time / cubic-spline interpolation, a seasonal fill and
the statsmodels state-space smoother. The smoother is slow, so it runs on an even subset of
the windows, where every other method is scored again. Writes benchmarks/results/impute.md.

With --cli-scale it instead times ``tsheads impute`` on a generated 1,000,000 x 8 CSV
against pandas read_csv + interpolate + to_csv and appends that section to the output.

Usage: python benchmarks/impute.py [--weights PATH] [--out PATH] [--quick] [--threads N]
                                   [--smoother-windows N] [--cli-scale]
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy.interpolate import CubicSpline
from sklearn.experimental import enable_iterative_imputer  # noqa: F401
from sklearn.impute import IterativeImputer
from statsmodels.tsa.statespace.structural import UnobservedComponents

sys.path.insert(0, str(Path(__file__).parent))
from common import (  # noqa: E402
    RESULTS,
    ett_h1,
    markdown_table,
    reconstruction_head_only,
    test_windows,
)
from reconstruction import RATIOS, TSPULSE_HYBRID, linear, masks  # noqa: E402

from tsheads import Imputer, fills  # noqa: E402
from tsheads.estimators.imputer import fill_series  # noqa: E402
from tsheads.nn.masking import gap_mask  # noqa: E402
from tsheads.runtime import WEIGHTS, load_model  # noqa: E402

Fill = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (values, mask) -> filled, all (N, L)

LENGTH, STRIDE, SEED, PERIOD, CHANNELS = 512, 128, 0, 24, 7
GAPS = (8, 32, 96)
FAMILIES = ("random", "hybrid", "gap")
SMOOTHER = "state-space smoother (statsmodels)"
REFERENCE = "TSPulse (published, zero-shot; not run here)"
CLI_HEADING = "## `tsheads impute` at scale"
CLI_TARGETS = (120.0, 4.0)  # seconds, GiB
GNU_TIME = Path("/usr/bin/time")


# --- fills: each takes (N, L) values and mask (True where hidden) and returns (N, L) ---


def time_interpolation(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """pandas ``interpolate(method="time")`` on an hourly DatetimeIndex (equals linear here)."""
    index = pd.date_range("2016-01-01", periods=values.shape[1], freq="h")
    frame = pd.DataFrame(np.where(mask, np.nan, values).T, index=index)
    return frame.interpolate(method="time", limit_direction="both").to_numpy().T


def cubic_spline(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """scipy ``CubicSpline`` through the observed points; the nearest value beyond the edges."""
    out = values.copy()
    steps = np.arange(values.shape[1])
    for row, hidden in zip(out, mask, strict=True):
        seen = steps[~hidden]
        inside = np.clip(steps[hidden], seen[0], seen[-1])
        row[hidden] = CubicSpline(seen, row[seen])(inside)
    return out


def seasonal_fill(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean of the same hour one and two days either side, where observed; else linear
    (``tsheads.fills.seasonal_fill``, the blend's own candidate, row by row)."""
    hidden = np.where(mask, np.nan, values)
    return np.where(mask, np.stack([fills.seasonal_fill(row, PERIOD) for row in hidden]), values)


def smoothed_signal(y: np.ndarray) -> np.ndarray:
    """Smoothed level + 24-step season of a local-level model fitted to ``y`` (NaN = missing).

    The smoothed signal conditions on the whole window, so it interpolates a gap from both
    sides; ``fittedvalues`` are one-step-ahead predictions and only look back. It equals
    ``res.get_prediction(information_set="smoothed").predicted_mean``.
    """
    model = UnobservedComponents(y, level="local level",
                                 freq_seasonal=[{"period": PERIOD, "harmonics": 4}])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence warnings on some windows
        res = model.fit(disp=False)
    return res.level["smoothed"] + res.freq_seasonal[0]["smoothed"]


def state_space(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The statsmodels smoother's signal at the hidden points, one window at a time."""
    out = values.copy()
    for row, hidden in zip(out, mask, strict=True):
        row[hidden] = smoothed_signal(np.where(hidden, np.nan, row))[hidden]
    return out


def tsheads_fill(weights: str | None, mirror: bool = True, plain: bool = False) -> Fill:
    """tsheads' model alone (``fill_series``, as ``Imputer(blend=False)`` runs it), each
    window of each channel its own series; ``plain``: with the reconstruction head instead of
    the imputation head."""
    model = load_model(weights)
    if plain:
        model = reconstruction_head_only(model)

    def fill(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
        series = list(np.where(mask, np.nan, values))
        return np.stack(fill_series(model, series, stride=STRIDE, mirror=mirror))

    return fill


def by_window(fill_frame: Callable[[np.ndarray], np.ndarray]) -> Fill:
    """A Fill that hands each window's channels together, as a (L, C) array with NaN where
    hidden, to ``fill_frame``; rows of ``values`` are channel-major (see ``test_windows``)."""

    def fill(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
        hidden = np.where(mask, np.nan, values).reshape(CHANNELS, -1, values.shape[1])
        out = np.stack([fill_frame(hidden[:, w].T).T for w in range(hidden.shape[1])], axis=1)
        return np.where(mask, out.reshape(values.shape), values)  # (C, W, L) -> (N, L)

    return fill


def tsheads_imputer(weights: str | None, **params) -> Fill:
    """``tsheads.Imputer`` on each window as an hourly frame of 7 columns."""
    imputer = Imputer(weights=weights, stride=STRIDE, **params)
    index = pd.date_range("2016-07-01", periods=LENGTH, freq="h")
    return by_window(lambda frame: imputer.fit_transform(pd.DataFrame(frame, index=index))
                     .to_numpy())


def iterative(frame: np.ndarray) -> np.ndarray:
    """scikit-learn's ``IterativeImputer`` (Bayesian ridge on the other channels, 10 rounds)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence warnings
        return IterativeImputer(max_iter=10, random_state=SEED).fit_transform(frame)


# --- evaluation ---


def settings(shape: tuple[int, int]) -> list[tuple[str, float, np.ndarray]]:
    """(family, ratio or gap length, mask) for every mask setting, each seeded.

    Random and hybrid masks come from ``reconstruction.masks``, so they match that benchmark.
    """
    out = [(kind, ratio, masks(kind, shape, ratio)) for kind in ("random", "hybrid")
           for ratio in RATIOS]
    for gap in GAPS:
        generator = torch.Generator().manual_seed(SEED + 10_000 + gap)
        out.append(("gap", gap, gap_mask(shape, gap, generator).numpy()))
    return out


def even_subset(n: int, k: int) -> np.ndarray:
    """``k`` indices spread evenly over ``range(n)`` (all of them when k >= n)."""
    return np.unique(np.linspace(0, n - 1, min(k, n)).round().astype(int))


def scores(filled: np.ndarray, values: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    """MSE and MAE over the hidden points."""
    err = (filled - values)[mask]
    return {"MSE": float(np.mean(err**2)), "MAE": float(np.mean(np.abs(err)))}


def timed_fill(fill: Fill, values: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, float]:
    """The filled windows and the seconds the fill took."""
    started = time.perf_counter()
    filled = fill(values, mask)
    return filled, time.perf_counter() - started


def evaluate(
    methods: dict[str, Fill], windows: np.ndarray, subset: np.ndarray
) -> tuple[pd.DataFrame, dict[str, float]]:
    """Score every method on every mask setting, on all windows and on ``subset``.

    The smoother runs on ``subset`` only. Returns one row per (family, setting, method,
    windows) and the seconds each method took over all settings.
    """
    rows, seconds = [], dict.fromkeys([*methods, SMOOTHER], 0.0)
    for family, setting, mask in settings(windows.shape):
        key = {"family": family, "setting": setting}
        for name, fill in methods.items():
            filled, took = timed_fill(fill, windows, mask)
            seconds[name] += took
            rows.append({**key, "method": name, "on": "all", **scores(filled, windows, mask)})
            rows.append({**key, "method": name, "on": "subset",
                         **scores(filled[subset], windows[subset], mask[subset])})
        filled, took = timed_fill(state_space, windows[subset], mask[subset])
        seconds[SMOOTHER] += took
        rows.append({**key, "method": SMOOTHER, "on": "subset",
                     **scores(filled, windows[subset], mask[subset])})
    return pd.DataFrame(rows), seconds


# --- report ---


def bold_best(table: pd.DataFrame, skip: tuple[str, ...] = (), digits: int = 3) -> pd.DataFrame:
    """Cells as text, the lowest of each column (ties included) in bold; ``skip`` rows excluded."""
    text = table.map(lambda v: f"{v:.{digits}f}")
    compared = text.drop(index=[r for r in skip if r in text.index])
    for col in table.columns:
        best = f"{table.loc[compared.index, col].min():.{digits}f}"
        rows = compared.index[compared[col] == best]
        text.loc[rows, col] = f"**{best}**"
    return text


def column_label(family: str, setting: float) -> str:
    """'12.5%' for a ratio, '32 steps' for a gap."""
    return f"{int(setting)} steps" if family == "gap" else f"{setting:.1%}"


def family_table(results: pd.DataFrame, family: str, metric: str, order: list[str]) -> str:
    """Methods as rows, the family's ratios or gap lengths as columns, best local in bold."""
    part = results[(results["family"] == family) & (results["on"] == "all")]
    table = part.pivot(index="method", columns="setting", values=metric).reindex(order)
    table.columns = [column_label(family, s) for s in table.columns]
    if family == "hybrid" and metric == "MSE":
        table.loc[REFERENCE] = list(TSPULSE_HYBRID.values())
    table.index.name = "method"
    return markdown_table(bold_best(table, skip=(REFERENCE,)))


def subset_table(results: pd.DataFrame, metric: str, order: list[str]) -> str:
    """Every method, the smoother included, on the subset; one column per mask setting."""
    part = results[results["on"] == "subset"].copy()
    part["column"] = [f"{f} {column_label(f, s)}" for f, s in zip(part["family"],
                                                                 part["setting"], strict=True)]
    table = part.pivot(index="method", columns="column", values=metric)
    table = table.reindex(index=order, columns=list(dict.fromkeys(part["column"])))
    table.index.name = "method"
    return markdown_table(bold_best(table))


def header(n_windows: int, n_subset: int, weights: str, seconds: dict[str, float]) -> str:
    """Title and a paragraph on data, windows, masks, seeds and run times."""
    times = ", ".join(f"{name} {s:.1f} s" for name, s in seconds.items())
    return (
        "# Zero-shot imputation on ETTh1 (test split)\n\n"
        f"{n_windows} windows of {LENGTH} steps (7 channels, stride {STRIDE}), z-normalised "
        "with train statistics; MSE and MAE on the hidden points only. Masks: random points "
        "and TSPulse's hybrid masks (patch 8) at 12.5 / 25 / 37.5 / 50 %, seeded with "
        f"torch.Generator seed {SEED} + 1000 x ratio (the masks of reconstruction.md); one "
        f"contiguous gap of {' / '.join(map(str, GAPS))} steps per window, seed {SEED} + "
        "10000 + gap. tsheads runs five ways: `Imputer(stride=128)` on each window as an "
        "hourly frame of the 7 channels (the default: the model's fill blended, by a check "
        "on re-hidden observed values, with linear, seasonal and regression-on-other-channels "
        "fills), the same with `cross_series=False` (each channel filled from its own values "
        "only), and the model alone (`fill_series`, each "
        "window of each channel its own series), with `mirror=True` (each window's fill "
        "averaged with those of the window negated, reversed and both; what `mirror=\"auto\"` "
        "does at this size) and without it, and mirrored with the plain reconstruction head "
        "instead of the imputation head (which weighs it against seasonal shape fills, see "
        f"docs/imputer.md); weights `{weights}`. The iterative imputer "
        "is the local peer that also reads the other channels: scikit-learn's "
        "`IterativeImputer(max_iter=10)` on each window's 7 channels. Edges take the nearest "
        "observed value (pandas' own `method=\"cubicspline\"` would extrapolate the cubic "
        "there; inside the window it fills exactly as the scipy spline here, whose not-a-knot "
        "cubic swings far across long gaps in noisy hourly data). The seasonal fill averages "
        "the same hour 1 and 2 days either side, where observed, "
        f"falling back to linear. The state-space smoother runs on {n_subset} windows spread "
        "evenly over the set (same windows for every mask); see the last section. "
        f"Best local method per column in bold. Run time over all settings: {times}; "
        f"torch threads {torch.get_num_threads()}.\n"
    )


def report(results: pd.DataFrame, order: list[str], head: str) -> str:
    """The whole Markdown file: header, family tables, then the smoother-subset tables."""
    parts = [head]
    for family in FAMILIES:
        for metric in ("MSE", "MAE"):
            parts.append(f"## {metric}, {family} masks\n\n"
                         f"{family_table(results, family, metric, order)}\n")
    for metric in ("MSE", "MAE"):
        parts.append(f"## {metric} on the smoother's subset of windows\n\n"
                     f"{subset_table(results, metric, [*order, SMOOTHER])}\n")
    return "\n".join(parts)


def accuracy(args: argparse.Namespace) -> str:
    """Part 1: every method on every mask setting; returns the Markdown report."""
    _, test = ett_h1()
    windows = test_windows(test, LENGTH, STRIDE)
    if args.quick:  # two windows per channel, all channels of each
        starts = windows.reshape(CHANNELS, -1, LENGTH)
        windows = starts[:, even_subset(starts.shape[1], 2)].reshape(-1, LENGTH)
    subset = even_subset(len(windows), args.smoother_windows)
    methods = {
        "tsheads (channels together)": tsheads_imputer(args.weights),
        "tsheads (each channel alone)": tsheads_imputer(args.weights, cross_series=False),
        "tsheads, model alone (`blend=False`)": tsheads_fill(args.weights),
        "tsheads, model alone, `mirror=False`": tsheads_fill(args.weights, mirror=False),
        "tsheads, model alone, reconstruction head": tsheads_fill(args.weights, plain=True),
        "iterative imputer (scikit-learn, channels together)": by_window(iterative),
        "linear interpolation (pandas)": linear,
        "time interpolation (pandas)": time_interpolation,
        "cubic spline (scipy)": cubic_spline,
        "seasonal fill (24 h, ±2 days)": seasonal_fill,
    }
    results, seconds = evaluate(methods, windows, subset)
    head = header(len(windows), len(subset), args.weights or str(WEIGHTS), seconds)
    return report(results, list(methods), head)


# --- part 2: the CLI on a large CSV ---


def write_csv(path: Path, rows: int, columns: int = 8, seed: int = 0) -> int:
    """An hourly CSV: daily + weekly season + noise, 5 % random NaN and gaps; returns NaNs."""
    rng = np.random.default_rng(seed)
    t = np.arange(rows)[:, None]  # (rows, 1)
    phase = rng.uniform(0, 2 * np.pi, columns)  # (columns,)
    values = (10 + 3 * np.sin(2 * np.pi * t / 24 + phase) + np.sin(2 * np.pi * t / 168)
              + 0.5 * rng.standard_normal((rows, columns)))  # (rows, columns)
    values[rng.random(values.shape) < 0.05] = np.nan
    for col in range(columns):
        for start in rng.integers(0, rows - 200, max(1, rows // 5000)):
            values[start : start + rng.integers(8, 200), col] = np.nan
    index = pd.date_range("2000-01-01", periods=rows, freq="h", name="date")
    frame = pd.DataFrame(values, index=index, columns=[f"sensor_{c}" for c in range(columns)])
    frame.to_csv(path, float_format="%.4f")
    return int(np.isnan(values).sum())


def run_measured(cmd: list[str]) -> tuple[float, float]:
    """Wall seconds and peak resident memory (GiB) of a subprocess.

    Memory comes from GNU time when present; else from ``getrusage(RUSAGE_CHILDREN)``, the
    peak of any child so far (an upper bound).
    """
    prefix = [str(GNU_TIME), "-v"] if GNU_TIME.exists() else []
    started = time.perf_counter()
    proc = subprocess.run(prefix + cmd, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if proc.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr[-2000:]}")
    found = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    kib = int(found.group(1)) if found else resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return wall, kib / 2**20


def cli_command(weights: str | None, src: Path, dst: Path) -> list[str]:
    """``tsheads impute src -o dst``, with ``--weights`` when other weights are benchmarked."""
    command = ["tsheads", "impute", str(src), "-o", str(dst)]
    return command if weights is None else [*command, "--weights", weights]


PANDAS_SCRIPT = ("import sys, pandas as pd; pd.read_csv(sys.argv[1], index_col=0, "
                 "parse_dates=True).interpolate(limit_direction='both').to_csv(sys.argv[2])")


def verdict(seconds: float, gib: float) -> str:
    """Whether a run met the time and memory targets."""
    ok = seconds <= CLI_TARGETS[0] and gib <= CLI_TARGETS[1]
    return "met" if ok else "**missed**"


def cli_scale(args: argparse.Namespace) -> str:
    """Part 2: time the CLI and pandas on one generated CSV; returns the Markdown section."""
    rows = 50_000 if args.quick else 1_000_000
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "in.csv"
        missing = write_csv(src, rows)
        size = src.stat().st_size / 2**20
        pd_s, pd_gib = run_measured([sys.executable, "-c", PANDAS_SCRIPT, str(src),
                                     str(Path(tmp) / "pandas.csv")])
        dst = Path(tmp) / "out.csv"
        ts_s, ts_gib = run_measured(cli_command(args.weights, src, dst))
        left = int(pd.read_csv(dst, index_col=0).isna().to_numpy().sum())
    return (
        f"{CLI_HEADING}\n\n"
        f"{rows:,} rows x 8 columns, hourly: daily + weekly season + noise, 5 % random NaN "
        f"and {max(1, rows // 5000)} gaps of 8-199 steps per column; {missing:,} missing cells, "
        f"{size:.0f} MiB of CSV. Each command ran once as a subprocess (wall time includes "
        f"start-up and CSV I/O); OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}; "
        f"weights `{args.weights or WEIGHTS}`. Cells still missing in tsheads' output: {left}.\n\n"
        "| command | wall time | peak memory | targets (120 s, 4 GiB) |\n|---|---|---|---|\n"
        f"| `tsheads impute in.csv -o out.csv` | {ts_s:.1f} s | {ts_gib:.2f} GiB | "
        f"{verdict(ts_s, ts_gib)} |\n"
        f"| pandas read_csv + interpolate + to_csv | {pd_s:.1f} s | {pd_gib:.2f} GiB | — |\n\n"
        f"tsheads takes {ts_s / pd_s:.1f}x pandas' wall time.\n"
    )


def write_parts(path: Path, accuracy_part: str | None, cli_part: str | None) -> None:
    """Write the file, keeping whichever part this run did not redo from the old file."""
    old = path.read_text() if path.exists() else ""
    old_accuracy, found, old_cli = old.partition(CLI_HEADING)
    parts = [accuracy_part or old_accuracy.strip(), cli_part or (found + old_cli).strip()]
    path.write_text("\n\n".join(p.strip() for p in parts if p.strip()) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default=None, help="weights file (default: shipped)")
    parser.add_argument("--out", default=str(RESULTS / "impute.md"))
    parser.add_argument("--quick", action="store_true",
                        help="14 windows (or a 50,000-row CSV with --cli-scale), to try it")
    parser.add_argument("--smoother-windows", type=int, default=40,
                        help="windows the slow state-space smoother runs on (default 40)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    parser.add_argument("--cli-scale", action="store_true",
                        help="only time the CLI on a large CSV; append to --out")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if args.cli_scale:
        text = cli_scale(args)
        write_parts(out, None, text)
    else:
        text = accuracy(args)
        write_parts(out, text, None)
    print(text)


if __name__ == "__main__":
    main()
