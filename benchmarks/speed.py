"""Speed of the tsheads runtime, eager vs compiled, and of each estimator against its peer.

All in one run on the same data, so that the ratios are comparable even on a noisy machine:

1. ``import tsheads`` (and whether it pulls in torch), model load time;
2. runtime throughput (windows per second) for the passes behind forecast (forecast head),
   impute (the fill head on windows with hidden points) and score (fill + spectrum +
   forecast heads), the fill being the imputation head, and impute and score again with
   the reconstruction head that fills without one; at batch sizes 1 to 1,024 (`BATCHES`),
   eager vs ``torch.compile``, plus each compiled shape's first-call (compile) time and the
   p50/p95 latency of one series;
3. estimators against peers on the same series: Forecaster on all 414 M4 Hourly series
   (horizon 48) vs statsforecast AutoETS; AnomalyDetector on a 100,000-step series vs
   TSB-AD Sub-PCA; Imputer on 100,000 x 8 values vs pandas interpolation.

Run in the bench environment (statsforecast, tsb-ad):
    python benchmarks/speed.py [--threads 1] [--quick]
Writes ``benchmarks/results/speed.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).parent))
from common import RESULTS, m4_hourly, markdown_table  # noqa: E402

from tsheads import AnomalyDetector, Forecaster, Imputer  # noqa: E402
from tsheads.nn import TinyModel  # noqa: E402
from tsheads.runtime import WEIGHTS, compile_mode, fill_head, run_heads  # noqa: E402
from tsheads.windows import left_pad  # noqa: E402

# "fill" is runtime.fill_head: the imputation head, or without one the reconstruction head,
# as the Imputer and the anomaly detector's time view use
TASK_HEADS = {
    "forecast": ("forecast",),
    "impute": ("fill",),
    "score": ("fill", "spectrum", "forecast"),
    # the same passes with the reconstruction head, the fill of weights without an
    # imputation head, on the same windows: what the imputation head costs
    "impute, reconstruction head": ("reconstruction",),
    "score, reconstruction head": ("reconstruction", "spectrum", "forecast"),
}
BATCHES = (1, 16, 64, 256, 1024)
LATENCY_CALLS = 30
HORIZON = 48
SEASON = 24


def best_of(fn, repeats: int) -> float:
    """The fastest of ``repeats`` timed calls: the figure least disturbed by other load."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


# ---------------------------------------------------------------- start-up


def import_seconds(runs: int = 5) -> dict[str, float]:
    """Median seconds of ``import tsheads`` and of ``import torch`` in fresh interpreters."""
    code = ("import sys, time; t = time.perf_counter(); import {mod}; "
            "print(time.perf_counter() - t, 'torch' in sys.modules)")
    out = {}
    for mod in ("tsheads", "torch"):
        results = [subprocess.run([sys.executable, "-c", code.format(mod=mod)], check=True,
                                  capture_output=True, text=True).stdout.split()
                   for _ in range(runs)]
        out[f"import {mod} (s)"] = statistics.median(float(r[0]) for r in results)
        if mod == "tsheads":
            out["import tsheads loads torch"] = results[0][1]
    return out


def load_seconds(runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        TinyModel.load(WEIGHTS)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


# ---------------------------------------------------------------- runtime


def m4_windows(n: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` contexts of 512 from the M4 Hourly train series (repeated), and an impute mask
    hiding 10 % of the observed points."""
    _, history, _ = m4_hourly()
    contexts = np.stack([left_pad(s, 512)[0] for s in history])
    contexts = np.resize(contexts, (n, 512))
    hide = np.random.default_rng(0).random(contexts.shape) < 0.1
    return contexts, np.isnan(contexts) | hide


def throughput(model: TinyModel, task: str, batch: int, compiled: bool,
               data: tuple[np.ndarray, np.ndarray], latency: bool) -> dict:
    """Windows per second of one task at one batch size in one timed call (`runtime_table`
    keeps the best of its repeats), the compiled first call, and with ``latency`` at batch 1
    the latency of one series."""
    n = 64 if batch == 1 else len(data[0])
    values = data[0][:n]
    mask = data[1][:n] if task.startswith("impute") else np.isnan(values)

    heads = tuple(fill_head(model) if h == "fill" else h for h in TASK_HEADS[task])

    def call(rows=slice(None)):
        run_heads(model, values[rows], mask[rows], heads=heads, batch_size=batch)

    with compile_mode(compiled):
        first = best_of(lambda: call(slice(0, batch)), 1)
        seconds = best_of(call, 1)
        latencies = []
        for i in range(LATENCY_CALLS if batch == 1 and latency else 0):
            start = time.perf_counter()
            call(slice(i, i + 1))
            latencies.append(time.perf_counter() - start)
    row = {"task": task, "batch": batch, "mode": "compiled" if compiled else "eager",
           "windows/s": n / seconds, "first call (s)": first}
    if latencies:
        row["p50 one series (ms)"] = 1000 * float(np.percentile(latencies, 50))
        row["p95 one series (ms)"] = 1000 * float(np.percentile(latencies, 95))
    return row


def runtime_table(args: argparse.Namespace) -> pd.DataFrame:
    model = TinyModel.load(WEIGHTS)  # a private copy: compiling it leaves the cache alone
    data = m4_windows(1024)
    rows: dict[tuple, dict] = {}
    for batch in BATCHES:
        # the repeats go round the tasks, so that each task's best comes from the same spells
        # of the (noisy) machine as the others' and their ratios are fair
        for repeat in range(args.repeats):
            for task in TASK_HEADS:
                for compiled in (False, True):
                    row = throughput(model, task, batch, compiled, data, repeat == 0)
                    best = rows.setdefault((task, batch, row["mode"]), row)
                    best["windows/s"] = max(best["windows/s"], row["windows/s"])
                    print(f"  {row}", file=sys.stderr)
    return pd.DataFrame(list(rows.values()))


def fill_cost(table: pd.DataFrame) -> pd.DataFrame:
    """Windows per second of each pass with the imputation head as a share of the same pass
    with the reconstruction head (the fill of weights without one), per batch size and mode."""
    wide = table.pivot_table(index=["batch"], columns=["task", "mode"], values="windows/s")
    return pd.DataFrame({f"{task}, {mode}": wide[(task, mode)]
                         / wide[(f"{task}, reconstruction head", mode)]
                         for task in ("impute", "score") for mode in ("eager", "compiled")})


def compile_ratios(table: pd.DataFrame) -> pd.DataFrame:
    """Compiled throughput as a multiple of eager, per task and batch size."""
    wide = table.pivot_table(index=["task", "batch"], columns="mode", values="windows/s")
    out = pd.DataFrame({"eager windows/s": wide["eager"], "compiled windows/s": wide["compiled"],
                        "compiled / eager": wide["compiled"] / wide["eager"]})
    first = table[table["mode"] == "compiled"].set_index(["task", "batch"])["first call (s)"]
    out["compiled first call (s)"] = first
    return out


# ---------------------------------------------------------------- estimators vs peers


def forecast_vs_autoets(args: argparse.Namespace) -> dict[str, float]:
    from statsforecast import StatsForecast
    from statsforecast.models import AutoETS

    ids, history, _ = m4_hourly()
    long = pd.concat([pd.DataFrame({"unique_id": sid, "ds": np.arange(len(s)), "y": s})
                      for sid, s in zip(ids, history, strict=True)])
    sf = StatsForecast(models=[AutoETS(season_length=SEASON)], freq=1, n_jobs=1)
    sf.forecast(df=long[long["unique_id"].isin(ids[:2])], h=HORIZON)  # numba warm-up
    out = {}
    start = time.perf_counter()
    sf.forecast(df=long, h=HORIZON)
    out["AutoETS"] = time.perf_counter() - start
    for compiled in (False, True):
        name = "tsheads compiled" if compiled else "tsheads eager"
        forecaster = Forecaster(compile=compiled, n_threads=args.threads)
        start = time.perf_counter()
        forecaster.fit(long).predict(HORIZON)
        out[f"{name}, first call"] = time.perf_counter() - start
        out[name] = best_of(lambda f=forecaster: f.predict(HORIZON), args.repeats)
    return out


def score_vs_subpca(args: argparse.Namespace) -> dict[str, float]:
    from TSB_AD.model_wrapper import run_Unsupervise_AD

    steps = 20_000 if args.quick else 100_000
    rng = np.random.default_rng(0)
    t = np.arange(steps)
    values = (np.sin(2 * np.pi * t / 144) + 0.2 * rng.normal(size=steps))[:, None]
    out = {}
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        run_Unsupervise_AD("Sub_PCA", values)
    out["Sub-PCA"] = time.perf_counter() - start
    detector = AnomalyDetector(compile=False, n_threads=args.threads).fit(values[: steps // 10])
    start = time.perf_counter()
    detector.anomaly_score(values)
    out["tsheads eager"] = time.perf_counter() - start
    return out


def impute_vs_pandas(args: argparse.Namespace) -> dict[str, float]:
    rows = 20_000 if args.quick else 100_000
    rng = np.random.default_rng(0)
    t = np.arange(rows)
    frame = pd.DataFrame(np.sin(2 * np.pi * t[:, None] / 24 + np.arange(8)) +
                         0.1 * rng.normal(size=(rows, 8)),
                         index=pd.date_range("2020", periods=rows, freq="h"),
                         columns=[f"c{i}" for i in range(8)])
    frame = frame.mask(rng.random(frame.shape) < 0.1)
    out = {}
    for method in ("linear", "time"):
        out[f"pandas interpolate({method})"] = best_of(
            lambda m=method: frame.interpolate(method=m, limit_direction="both"), args.repeats)
    imputer = Imputer(compile=False, n_threads=args.threads)
    start = time.perf_counter()
    imputer.fit_transform(frame)
    out["tsheads eager"] = time.perf_counter() - start
    return out


def peer_table(args: argparse.Namespace) -> pd.DataFrame:
    parts = {
        "forecast: 414 M4 Hourly series, h=48": (forecast_vs_autoets(args), "AutoETS"),
        "score: one 100,000-step series": (score_vs_subpca(args), "Sub-PCA"),
        "impute: 100,000 x 8 values, 10 % missing": (impute_vs_pandas(args),
                                                     "pandas interpolate(linear)"),
    }
    rows = []
    for task, (seconds, peer) in parts.items():
        for name, value in seconds.items():
            rows.append({"task": task, "method": name, "seconds": value,
                         "peer's seconds / this": seconds[peer] / value, "peer": peer})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- report


def report(args, startup: dict, ratios: pd.DataFrame, runtime: pd.DataFrame,
           peers: pd.DataFrame, seconds: float) -> str:
    latency = runtime[runtime["batch"] == 1].set_index(["task", "mode"])[
        ["p50 one series (ms)", "p95 one series (ms)"]]
    start = pd.DataFrame({"value": {k: str(round(v, 3) if isinstance(v, float) else v)
                                    for k, v in startup.items()}})
    command = f"python benchmarks/speed.py --threads {args.threads} --repeats {args.repeats}"
    command += " --quick" if args.quick else ""
    return f"""# Speed: runtime (eager vs compiled) and estimators vs peers

`{command}`; torch {torch.__version__}, {args.threads} torch thread(s),
{seconds / 60:.1f} minutes in all. Every figure comes from this one run; compare the ratios, not
the absolute times (the machine is shared and noisy). Throughput is the best of
{args.repeats} repeats, taken in turn over every task at one batch size.

## Start-up

{markdown_table(start)}

## Runtime: compiled vs eager (windows per second, context 512)

Contexts are the 414 M4 Hourly series, repeated to 1,024 windows (64 at batch 1). "first
call" is the first batch of a new shape: with compilation, the compile time.

{markdown_table(ratios.reset_index().astype({"batch": str}).set_index("task"), 2)}

Windows per second of each pass with the imputation head as a share of the same pass with
the reconstruction head (the fill of weights without an imputation head), same windows and
masks:

{markdown_table(fill_cost(runtime).rename_axis("batch").reset_index().astype({"batch": str})
                .set_index("batch"), 2)}

Latency of one series (batch 1):

{markdown_table(latency.reset_index().set_index("task"), 1)}

## Estimators vs peers, same series, same run

"peer's seconds / this" above 1 means tsheads is faster than the peer.

{markdown_table(peers.set_index("task"), 3)}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="smaller series for the peers")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    startup = {**import_seconds(), "load model (s)": load_seconds()}
    runtime = runtime_table(args)
    peers = peer_table(args)
    text = report(args, startup, compile_ratios(runtime), runtime, peers,
                  time.perf_counter() - started)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "speed.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
