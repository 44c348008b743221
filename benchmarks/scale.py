"""Scale-out: Forecaster over many series in one process vs a Dask LocalCluster, and
statsforecast AutoETS through its own Dask path, in one run.

Synthetic M4-Hourly-like series (lengths 700-1000, daily and weekly seasonality, trend,
noise; seeded per series, so every run and every partition sees the same data), forecast
at h=48. Cases:

1. ``head="direct", mirror=False``: one window per series, on 10,000 and 100,000 series;
2. the default Forecaster (ensemble of both heads, mirrored, seasonal check on backtests)
   on a subset of 10,000 sized by ``--default-series`` (it does about 16x the model work);
3. statsforecast ``AutoETS(season_length=24)`` on Dask, on a subset sized by
   ``--ets-series`` (about a second per series per core here), run by the
   ``.venv-bench`` interpreter (``--peer`` mode) because statsforecast lives there.

"one process" is a fresh process with one torch thread calling the pandas estimator;
"dask 2x1" is a fresh ``tsheads.distributed.local_cluster(2)`` for each case (two worker
processes of one thread, with glibc's adaptive malloc; AutoETS gets the same),
whose partitions are generated on the workers (``dd.from_map``), indexed by ``unique_id``
with known divisions, so tsheads needs no shuffle (statsforecast shuffles its own way).
Both times run from the generator to the forecasts in the client (generating is about
0.5 s per 1,000 series), so the Dask time includes gathering the forecasts, each partition
as it finishes (``tsheads.distributed.collect``; ``compute()`` on the frame would first
concatenate all of them on one worker); both load torch and the model before the clock
starts. Peak memory is each process's peak resident set (VmHWM).

    python benchmarks/scale.py [--quick]
Writes ``benchmarks/results/scale.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from common import RESULTS, markdown_table  # noqa: E402

HORIZON, SEASON, CHUNK = 48, 24, 250  # series per generated partition
BENCH_PYTHON = Path(__file__).resolve().parents[1] / ".venv-bench" / "bin" / "python"


def series_frame(first: int, count: int) -> pd.DataFrame:
    """Series ``first .. first + count - 1`` as a long frame (integer ids), each seeded by
    its id: a level, daily and weekly seasons of random strength and phase, a small trend
    and noise, 700-1000 hourly steps starting at an id-dependent hour."""
    parts = []
    for sid in range(first, first + count):
        rng = np.random.default_rng(sid)
        n = int(rng.integers(700, 1001))
        t = np.arange(n)
        daily = rng.uniform(0.1, 0.5) * np.sin(2 * np.pi * t / 24 + rng.uniform(0, 6.3))
        weekly = rng.uniform(0.0, 0.3) * np.sin(2 * np.pi * t / 168 + rng.uniform(0, 6.3))
        trend = rng.normal(0, 2e-4) * t
        y = rng.uniform(10, 1000) * (1 + daily + weekly + trend + rng.normal(0, 0.05, n))
        ds = pd.Timestamp("2024-01-01") + pd.to_timedelta(t + sid % 168, unit="h")
        parts.append(pd.DataFrame({"unique_id": np.full(n, sid), "ds": ds, "y": y}))
    return pd.concat(parts, ignore_index=True)


def dask_series(n_series: int):
    """The same series as a Dask frame whose partitions are generated on the workers,
    indexed by ``unique_id`` with known divisions (as data stored partitioned by id reads),
    so that tsheads runs it without a shuffle."""
    import dask.dataframe as dd

    starts = list(range(0, n_series, CHUNK))
    return dd.from_map(lambda s: series_frame(s, min(CHUNK, n_series - s)).set_index("unique_id"),
                       starts, meta=series_frame(0, 1).iloc[:0].set_index("unique_id"),
                       divisions=(*starts, n_series - 1))


def peak_mb() -> float:
    """This process's peak resident set so far, in MB: VmHWM, not ``ru_maxrss``, which a
    worker process inherits from its parent across exec (a fresh worker would report the
    client's peak)."""
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def cpu_seconds() -> float:
    """CPU time (user + system, all threads) this process has used so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def warm() -> None:
    """Import torch and load the shipped model, as a long-running worker would have."""
    from tsheads.runtime import load_model

    load_model()


def forecaster(params: dict):
    from tsheads import Forecaster

    return Forecaster(**params)


def one_process(n_series: int, params: dict) -> dict:
    """Run in a fresh process: generate, then time the pandas forecast alone."""
    import torch

    torch.set_num_threads(1)
    warm()
    start, cpu = time.perf_counter(), cpu_seconds()
    out = forecaster(params).forecast(series_frame(0, n_series), HORIZON, freq="h")
    seconds = time.perf_counter() - start
    assert len(out) == n_series * HORIZON
    return {"seconds": seconds, "peak_mb": [peak_mb()], "cpu_s": cpu_seconds() - cpu}


def on_cluster(n_series: int, params: dict) -> dict:
    """Time the Dask forecast on a fresh cluster; peak memory per worker."""
    from dask.distributed import Client

    from tsheads.distributed import collect, local_cluster

    with local_cluster(2) as cluster, Client(cluster) as client:
        client.run(warm)
        lazy = forecaster(params).forecast(dask_series(n_series), HORIZON, freq="h")
        start, cpu = time.perf_counter(), sum(client.run(cpu_seconds).values())
        out = collect(lazy, client)
        seconds = time.perf_counter() - start
        cpu = sum(client.run(cpu_seconds).values()) - cpu
        memory = sorted(client.run(peak_mb).values())
    assert len(out) == n_series * HORIZON and not out.duplicated(["unique_id", "ds"]).any()
    return {"seconds": seconds, "peak_mb": memory, "cpu_s": cpu}


def ets_on_dask(n_series: int) -> dict:
    """statsforecast's own Dask path with AutoETS (``--peer`` mode, bench environment)."""
    import dask
    from dask.distributed import Client, LocalCluster
    from statsforecast import StatsForecast
    from statsforecast.models import AutoETS

    from tsheads.distributed import collect

    trim = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}  # as tsheads
    with dask.config.set(trim), LocalCluster(n_workers=2, threads_per_worker=1) as cluster, \
            Client(cluster) as client:
        frame = dask_series(n_series).reset_index()
        frame["unique_id"] = frame["unique_id"].astype(str)
        model = StatsForecast(models=[AutoETS(season_length=SEASON)], freq="h")
        start, cpu = time.perf_counter(), sum(client.run(cpu_seconds).values())
        out = collect(model.forecast(df=frame, h=HORIZON), client)
        seconds = time.perf_counter() - start
        cpu = sum(client.run(cpu_seconds).values()) - cpu
        assert len(out) == n_series * HORIZON
        memory = sorted(client.run(peak_mb).values())
    return {"seconds": seconds, "peak_mb": memory, "cpu_s": cpu}


def run_peer(n_series: int) -> dict:
    """AutoETS through the bench interpreter; a dict with an "error" if it cannot run."""
    if not BENCH_PYTHON.exists():
        return {"error": f"{BENCH_PYTHON} not found"}
    done = subprocess.run([str(BENCH_PYTHON), __file__, "--peer", str(n_series)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def cases(quick: bool, default_series: int) -> list[tuple]:
    """(label, series, Forecaster parameters, run one process too) in the order run.

    The one-process call on 100,000 series is not run: it keeps every series and every
    window's Fourier-head output in memory and was killed by the out-of-memory killer at
    22 GB on this 24 GB machine (see the page this writes)."""
    direct = {"head": "direct", "mirror": False}
    small, large = (200, 1000) if quick else (10_000, 100_000)
    return [("default head", default_series, {}, True),
            ("direct head, one window", small, direct, True),
            ("direct head, one window", large, direct, quick)]


def row(label: str, n: int, where: str, result: dict, baseline: float | None) -> dict:
    rate = n / result["seconds"]
    return {
        "model": label, "series": f"{n:,}", "run": where,
        "seconds": round(result["seconds"], 1), "series/s": round(rate, 1),
        "speed-up vs one process": "" if baseline is None else f"{rate / baseline:.2f}x",
        "CPU s": round(result["cpu_s"], 1),
        "series per CPU s": round(n / result["cpu_s"], 1),
        "peak MB per process": ", ".join(f"{m:,.0f}" for m in result["peak_mb"]),
        "load average after": f"{os.getloadavg()[0]:.1f}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, to try the script")
    parser.add_argument("--default-series", type=int, default=500)
    parser.add_argument("--ets-series", type=int, default=200)
    parser.add_argument("--peer", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peer is not None:
        print(json.dumps(ets_on_dask(args.peer)))
        return
    began = time.perf_counter()
    rows = []
    rate = None  # a case without its own one-process run compares with the one before
    for label, n, params, single in cases(args.quick, args.default_series):
        if single:
            with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
                alone = pool.submit(one_process, n, params).result()
            rate = n / alone["seconds"]
            rows.append(row(label, n, "one process, 1 thread", alone, None))
        rows.append(row(label, n, "dask 2 workers x 1 thread", on_cluster(n, params), rate))
        print(*rows[-1 - single:], sep="\n", flush=True)
    peer = run_peer(args.ets_series)
    if "error" not in peer:
        rows.append(row("statsforecast AutoETS", args.ets_series, "dask 2 workers x 1 thread",
                        peer, None))
    minutes = (time.perf_counter() - began) / 60
    write(rows, peer, minutes, args)


def targets(rows: list[dict]) -> str:
    """The issue's three targets, computed from the rows, with the cores the workers had."""
    def find(model: str, series: str, run: str) -> dict:
        return next(r for r in rows if (r["model"], r["series"], r["run"]) == (model, series, run))

    def peak(r: dict) -> float:
        return max(float(m.replace(",", "")) for m in r["peak MB per process"].split(", "))

    dask, one = "dask 2 workers x 1 thread", "one process, 1 thread"
    direct = "direct head, one window"
    sizes = [r["series"] for r in rows if r["model"] == direct]
    small, large = sorted(set(sizes), key=lambda s: int(s.replace(",", "")))[-2:]
    big, alone = find(direct, large, dask), find(direct, small, one)
    large_peak, small_peak = peak(big), peak(find(direct, small, dask))
    default = next(r for r in rows if r["model"] == "default head" and r["run"] == dask)
    ets = next((r for r in rows if r["model"] == "statsforecast AutoETS"), None)
    lines = [
        f"- 2 workers on {large} series (direct head) vs one process on {small} (the one "
        f"process cannot hold {large}): {big['series/s'] / alone['series/s']:.2f}x "
        f"(target 1.7x); the two workers had {big['CPU s'] / big['seconds']:.2f} cores of CPU "
        "on average (CPU s / seconds) on this shared machine.",
        f"- peak memory per worker, {large} vs {small} series (direct head): "
        f"{large_peak:,.0f} vs {small_peak:,.0f} MB "
        f"({large_peak / small_peak - 1:+.0%} for {large} series instead of {small}).",
    ]
    if ets is not None:
        lines.append(f"- tsheads default head vs AutoETS, both on Dask: "
                     f"{default['series/s'] / ets['series/s']:.1f}x the series per second.")
    return "\n".join(lines)


def write(rows: list[dict], peer: dict, minutes: float, args) -> None:
    import torch

    note = f"\n\nstatsforecast did not run: {peer['error']}" if "error" in peer else ""
    text = f"""# Scale-out: one process vs a Dask LocalCluster (h={HORIZON})

`python benchmarks/scale.py{' --quick' if args.quick else ''} --default-series \
{args.default_series} --ets-series {args.ets_series}`; torch {torch.__version__}, \
{minutes:.1f} minutes in all, on a 2-core machine (the load average column shows what else ran).

Synthetic M4-Hourly-like series (700-1000 hourly steps, daily and weekly seasons, trend,
noise). "one process" runs the pandas call with one torch thread; "dask" is
`tsheads.distributed.local_cluster(2)`, two worker processes with one thread each (torch
one thread per task), started afresh for each case. Its partitions (250 series each) are
generated on the workers, indexed by `unique_id` with known divisions, as data stored
partitioned by id would read: tsheads then runs them without a shuffle. Both times run from
the data generator (about 0.5 s per 1,000 series) to every forecast in the client, which
fetches each partition as it finishes (`tsheads.distributed.collect`; `compute()` on the whole
frame would concatenate every partition on one worker first, and that worker's memory would
grow with the series); both load
torch and the model first. CPU s is the CPU time of the one process, or of both workers
together, in the timed part. Peak MB is the peak resident set of each process (VmHWM: a
worker's `ru_maxrss` starts at its parent's peak); the load
average (1 minute, 2 cores) shows what else the machine ran. The default head and AutoETS
ran on subsets of the 10,000 series (sizes in the table): at their speed the full 10,000
would take far longer than this run on two cores; compare their series per second, not
their totals. The one-process call on 100,000 series was not run: in an earlier run it
was killed by the out-of-memory killer at 22 GB (it holds every series and every window's
head outputs at once).

{markdown_table(pd.DataFrame(rows).set_index('model'), 1)}{note}

## Against the issue's targets

{targets(rows)}
"""
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "scale.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
