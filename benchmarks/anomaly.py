"""Anomaly detection: tsheads.AnomalyDetector against TSB-AD's detectors on NAB and SKAB valve2.

NAB: the 45 labelled series of ../shared/data/anomaly/nab (a step is anomalous when its
timestamp lies in a window of labels/combined_windows.json; files without windows are left out).
tsheads fits on the first 15 % of each file (NAB's probationary period) and scores the whole
file. SKAB valve2: the four 8-channel files; tsheads and the semi-supervised peers (AutoEncoder,
CNN) fit on the first 400 rows of each file, which hold no anomaly (anomaly-free.csv was
recorded in another operating regime: its flow is four times valve2's). TSB-AD's AutoEncoder
needs a small shim to run with scikit-learn >= 1.6 (see ``_patch_autoencoder``). Peers run
through TSB-AD's own wrappers (``run_Unsupervise_AD`` / ``run_Semisupervise_AD``) with TSB-AD's
tuned hyper-parameters (``Optimal_Uni_algo_HP_dict`` / ``Optimal_Multi_algo_HP_dict``), on the
whole file, as TSB-AD's leaderboard does.

Metrics: TSB-AD's own code for VUS-PR, VUS-ROC, AUC-PR, AUC-ROC (the lines of its
``get_metrics`` that compute them, called the same way) with TSB-AD's sliding
window (``find_length_rank`` of the series; of the first channel for SKAB), on every step of
each file, the fit part included; every score is min-max scaled first, as TSB-AD does.
Ablation: each tsheads view alone and the mean fusion beside the default max fusion. Speed:
a 100,000-step seasonal series scored by tsheads and by Sub-PCA in the same run.

Needs the peers, which live outside the main venv: run it in .venv-bench. Writes
benchmarks/results/anomaly.md.

Usage: python benchmarks/anomaly.py [--weights PATH] [--out PATH] [--quick]
                                    [--skip-slow-peers] [--threads N] [--speed-only]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).parent))
from common import DATA, RESULTS, markdown_table  # noqa: E402

from tsheads import AnomalyDetector  # noqa: E402

NAB = DATA / "anomaly" / "nab"
SKAB = DATA / "anomaly" / "skab"
NAB_FIT_SHARE, SKAB_FIT_ROWS = 0.15, 400
METRICS = ("VUS-PR", "VUS-ROC", "AUC-PR", "AUC-ROC")
UNI_PEERS = ("Sub_PCA", "IForest", "Sub_IForest", "POLY", "SR", "LOF", "MatrixProfile",
             "KShapeAD")
MULTI_PEERS = ("PCA", "IForest", "HBOS", "KNN", "AutoEncoder", "CNN")
SEMI_SUPERVISED = ("AutoEncoder", "CNN")
SLOW_PEERS = ("LOF", "MatrixProfile", "KShapeAD", "KNN", "AutoEncoder", "CNN")
QUICK_NAB = ("realAWSCloudwatch/ec2_cpu_utilization_825cc2.csv",
             "realTraffic/occupancy_6005.csv", "artificialWithAnomaly/art_daily_jumpsup.csv")
VARIANTS = {  # tsheads rows: name -> AnomalyDetector parameters
    "tsheads (fused, max)": {},
    "tsheads (fused, mean)": {"fusion": "mean"},
    "tsheads time view": {"views": ("time",)},
    "tsheads spectrum view": {"views": ("spectrum",)},
    "tsheads forecast view": {"views": ("forecast",)},
}
SPEED_STEPS = 100_000

Scorer = Callable[[np.ndarray, int], np.ndarray]  # (values (n, C), fit rows) -> score (n,)


# ---------------------------------------------------------------- data


def nab_series(quick: bool) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(name, values (n, 1), labels (n,)) of every NAB file with at least one window."""
    windows = json.loads((NAB / "labels" / "combined_windows.json").read_text())
    out = []
    for name, spans in sorted(windows.items()):
        if not spans or (quick and name not in QUICK_NAB):
            continue
        frame = pd.read_csv(NAB / "data" / name, parse_dates=["timestamp"])
        stamps = frame["timestamp"].to_numpy()
        labels = np.zeros(len(frame), dtype=int)
        for start, end in spans:
            labels[(stamps >= pd.Timestamp(start)) & (stamps <= pd.Timestamp(end))] = 1
        out.append((name, frame[["value"]].to_numpy(dtype=float), labels))
    return out


def skab_series(quick: bool) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(name, values (n, 8), labels (n,)) of the valve2 files."""
    files = sorted((SKAB / "valve2").glob("*.csv"))[: 1 if quick else None]
    out = []
    for path in files:
        frame = pd.read_csv(path, sep=";", index_col="datetime")
        labels = frame["anomaly"].to_numpy(dtype=int)
        values = frame.drop(columns=["anomaly", "changepoint"]).to_numpy(dtype=float)
        out.append((f"valve2/{path.name}", values, labels))
    return out


# ---------------------------------------------------------------- methods


def tsheads_scorer(args: argparse.Namespace, **params) -> Scorer:
    def score(values: np.ndarray, fit_rows: int) -> np.ndarray:
        detector = AnomalyDetector(weights=args.weights, n_threads=args.threads, **params)
        return detector.fit(values[:fit_rows]).anomaly_score(values)

    return score


def peer_scorer(name: str, multivariate: bool) -> Scorer:
    """A TSB-AD detector through TSB-AD's own wrappers and tuned hyper-parameters."""
    from TSB_AD.HP_list import Optimal_Multi_algo_HP_dict, Optimal_Uni_algo_HP_dict
    from TSB_AD.model_wrapper import run_Semisupervise_AD, run_Unsupervise_AD

    params = (Optimal_Multi_algo_HP_dict if multivariate else Optimal_Uni_algo_HP_dict)[name]
    if name == "AutoEncoder":
        _patch_autoencoder()

    def score(values: np.ndarray, fit_rows: int) -> np.ndarray:
        if name in SEMI_SUPERVISED:
            out = run_Semisupervise_AD(name, values[:fit_rows], values, **params)
        else:
            out = run_Unsupervise_AD(name, values, **params)
        if isinstance(out, str) or len(out) != len(values):
            raise RuntimeError(f"{name} failed: {out if isinstance(out, str) else len(out)}")
        return np.asarray(out, dtype=float)

    return score


def _patch_autoencoder() -> None:
    """TSB-AD's AutoEncoder calls sklearn's ``check_is_fitted`` on a class without sklearn
    tags, which scikit-learn >= 1.6 rejects; check the same attributes by hand instead."""
    import TSB_AD.models.AE as ae

    def check_is_fitted(estimator, attributes) -> None:
        missing = [a for a in attributes if not hasattr(estimator, a)]
        if missing:
            raise AttributeError(f"AutoEncoder is not fitted: no {missing}")

    ae.check_is_fitted = check_is_fitted


def methods(args: argparse.Namespace, multivariate: bool) -> dict[str, Scorer]:
    peers = MULTI_PEERS if multivariate else UNI_PEERS
    if args.quick or args.skip_slow_peers:
        peers = tuple(p for p in peers if p not in SLOW_PEERS)
    out = {name: tsheads_scorer(args, **params) for name, params in VARIANTS.items()}
    if args.quick:
        out = {k: v for k, v in out.items() if k == "tsheads (fused, max)" or "view" in k}
    out.update({name.replace("_", "-"): peer_scorer(name, multivariate) for name in peers})
    return out


# ---------------------------------------------------------------- evaluation


def sliding_window(values: np.ndarray) -> int:
    from TSB_AD.utils.slidingWindows import find_length_rank

    return int(find_length_rank(values[:, :1], rank=1))


def evaluate(score: np.ndarray, labels: np.ndarray, window: int) -> dict[str, float]:
    """TSB-AD's metrics of a min-max scaled score: the threshold-free lines of its
    ``get_metrics`` (its point-wise F1 searches cost 10x more and are not reported)."""
    from TSB_AD.evaluation.basic_metrics import basic_metricor, generate_curve

    span = np.ptp(score)
    scaled = (score - score.min()) / span if span > 0 else np.zeros_like(score)
    grader = basic_metricor()
    *_, vus_roc, vus_pr = generate_curve(labels.astype(int), scaled, window, "opt", 250)
    return {"VUS-PR": float(vus_pr), "VUS-ROC": float(vus_roc),
            "AUC-PR": float(grader.metric_PR(labels, scaled)),
            "AUC-ROC": float(grader.metric_ROC(labels, scaled))}


def run_dataset(series: list, scorers: dict[str, Scorer], fit_rows: Callable[[int], int]
                ) -> pd.DataFrame:
    """One row per (series, method): the four metrics and the seconds it took."""
    rows = []
    for name, values, labels in series:
        window = sliding_window(values)
        for method, scorer in scorers.items():
            start = time.perf_counter()
            try:
                with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    score = scorer(values, fit_rows(len(values)))
            except Exception as err:  # a peer crashing must not stop the benchmark
                print(f"  {method} on {name}: {err}", file=sys.stderr)
                rows.append({"series": name, "method": method, "seconds": np.nan})
                continue
            seconds = time.perf_counter() - start
            rows.append({"series": name, "method": method, "seconds": seconds,
                         **evaluate(score, labels, window)})
        print(f"  {name}: done", file=sys.stderr)
    return pd.DataFrame(rows)


def speed_check(args: argparse.Namespace) -> pd.DataFrame:
    """Seconds to score one long univariate series: tsheads (fit apart) and Sub-PCA."""
    rng = np.random.default_rng(0)
    t = np.arange(SPEED_STEPS)
    values = (np.sin(2 * np.pi * t / 144) + 0.2 * rng.normal(size=SPEED_STEPS))[:, None]
    detector = AnomalyDetector(weights=args.weights, n_threads=args.threads)
    start = time.perf_counter()
    detector.fit(values[: SPEED_STEPS // 10])
    fit = time.perf_counter() - start
    start = time.perf_counter()
    detector.anomaly_score(values)
    score = time.perf_counter() - start
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        peer_scorer("Sub_PCA", False)(values, 0)
    pca = time.perf_counter() - start
    rows = {"tsheads anomaly_score": score, "tsheads fit (10,000 steps)": fit,
            "Sub-PCA": pca}
    frame = pd.DataFrame({"seconds": rows})
    frame["x Sub-PCA"] = frame["seconds"] / pca
    return frame


# ---------------------------------------------------------------- report


def summary(results: pd.DataFrame) -> pd.DataFrame:
    """Average of each metric and total seconds per method, best VUS-PR first."""
    table = results.groupby("method", sort=False)[list(METRICS)].mean()
    table["seconds"] = results.groupby("method", sort=False)["seconds"].sum()
    failed = results.groupby("method", sort=False)["VUS-PR"].apply(lambda s: s.isna().sum())
    table["failed"] = failed.astype(int).astype(str)  # text, so the table prints no decimals
    return table.sort_values("VUS-PR", ascending=False).rename_axis("method")


def per_series(results: pd.DataFrame) -> str:
    parts = []
    for metric in METRICS:
        wide = results.pivot(index="series", columns="method", values=metric)
        parts.append(f"#### {metric}\n\n{markdown_table(wide)}\n")
    return "\n".join(parts)


def section(title: str, results: pd.DataFrame, note: str) -> str:
    return (f"## {title}\n\n{note}\n\n{markdown_table(summary(results))}\n\n"
            f"<details><summary>per series</summary>\n\n{per_series(results)}\n</details>\n")


def report(args: argparse.Namespace, nab: pd.DataFrame, skab: pd.DataFrame,
           speed: pd.DataFrame, seconds: float) -> str:
    weights = args.weights or "shipped tsheads/weights/tiny.pt"
    head = [
        "# Anomaly detection benchmark",
        "",
        f"Generated by `benchmarks/anomaly.py{' --quick' if args.quick else ''}"
        f"{' --skip-slow-peers' if args.skip_slow_peers else ''}` in {seconds:.0f} s "
        f"({args.threads} thread(s), weights: {weights}). Metrics are TSB-AD's own (the "
        "threshold-free lines of `get_metrics`, its sliding window from `find_length_rank`) "
        "on every step of each file (the fit part included), averaged over files; `seconds` is "
        "the total over files, fit included; `failed` counts files where the method raised (its "
        "averages leave them out). tsheads fits on the first 15 % of each NAB file and "
        "the first 400 rows of each SKAB file; peers use TSB-AD's tuned hyper-parameters.",
        "",
    ]
    body = [
        section("NAB (univariate)", nab, f"{nab['series'].nunique()} labelled series."),
        section("SKAB valve2 (multivariate, 8 channels)", skab,
                f"{skab['series'].nunique()} files."),
        speed_section(speed),
    ]
    return "\n".join(head + body) + "\n"


SPEED_HEADING = "## Speed: one 100,000-step univariate series"


def speed_section(speed: pd.DataFrame, note: str = "") -> str:
    return f"{SPEED_HEADING}\n\n{note}{markdown_table(speed, digits=2)}\n"


def replace_speed(path: Path, speed: pd.DataFrame) -> str:
    """The report at ``path`` with its speed section measured again (``--speed-only``)."""
    text = path.read_text()
    kept = text[: text.index(SPEED_HEADING)]
    return kept + speed_section(speed, "Measured again on its own with `--speed-only`, after "
                                       "the accuracy run above.\n\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default=None, help="weights file (default: shipped)")
    parser.add_argument("--out", default=str(RESULTS / "anomaly.md"))
    parser.add_argument("--quick", action="store_true",
                        help="3 NAB files, 1 SKAB file, cheap peers only")
    parser.add_argument("--skip-slow-peers", action="store_true",
                        help="leave out " + ", ".join(SLOW_PEERS))
    parser.add_argument("--threads", type=int, default=1, help="threads for every method")
    parser.add_argument("--speed-only", action="store_true",
                        help="measure the speed section again and replace it in --out")
    args = parser.parse_args()
    if args.speed_only:
        with threadpool_limits(args.threads):
            text = replace_speed(Path(args.out), speed_check(args))
        Path(args.out).write_text(text)
        print(text[text.index(SPEED_HEADING):])
        return
    start = time.perf_counter()
    with threadpool_limits(args.threads):
        print("NAB", file=sys.stderr)
        nab = run_dataset(nab_series(args.quick), methods(args, False),
                          lambda n: int(NAB_FIT_SHARE * n))
        print("SKAB", file=sys.stderr)
        skab = run_dataset(skab_series(args.quick), methods(args, True),
                           lambda n: SKAB_FIT_ROWS)
        speed = speed_check(args)
    text = report(args, nab, skab, speed, time.perf_counter() - start)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
