"""Compare weights files on validation data that no benchmark table scores.

The numbers here choose between pretraining runs and defaults; the benchmark scripts then
report the chosen ones once on their test windows. Three checks, each run for every weights
file on the same windows:

- ETTh1 validation split (rows 8,640-11,519; contexts reach back into train), every channel,
  z-normalised with train statistics, windows every 96 steps: forecast MSE at 96 and 192 for
  each ``VARIANTS`` row: the direct head (mirrored, the default, and not), the
  ensemble (network alone), and ``head="auto"`` (the product default, which may hand a
  series to the seasonal repeat) on the shipped ``AUTO_HEAD`` and on the direct head;
  the direct head and "auto" again from the whole context alone (``context_fractions=(1.0,)``
  instead of the default's average over shares of it);
- M4 Hourly, inside the train split: the last 48 values of each train series are hidden and
  forecast from the rest (the test file is not read), MASE (m = 24) and sMAPE of each
  variant, with full contexts and with contexts cut to their last 104 values;
- ETTh1 validation split, reconstruction of hidden points (random and hybrid masks, 12.5 %
  and 50 %, and one gap of 8, 32 or 96 steps per window), MSE on the hidden points, by the
  head that fills gaps (`runtime.fill_head`).

Usage: python benchmarks/validate.py WEIGHTS [WEIGHTS ...] [--out PATH] [--threads N]
("shipped" names the package's weights.)
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).parent))
from common import DATA, ETT_VAL, ett_h1_normalised, markdown_table, mase, smape  # noqa: E402
from reconstruction import masks  # noqa: E402

from tsheads import Forecaster  # noqa: E402
from tsheads.estimators import network as network_module  # noqa: E402
from tsheads.nn.masking import gap_mask  # noqa: E402
from tsheads.runtime import load_model, reconstruct  # noqa: E402

CONTEXT, STRIDE, HORIZONS, M4_H, SEASON, SHORT = 512, 96, (96, 192), 48, 24, 104
GAPS = (8, 32, 96)  # one hidden gap per window, as benchmarks/impute.py hides them
VARIANTS = {  # row name -> Forecaster keywords; "auto" is the product default
    "direct": {"head": "direct"},
    "ensemble": {"head": "ensemble"},
    "auto": {"head": "auto"},
    "auto on the direct head": {"head": "auto", "auto_head": "direct"},
    "direct, not mirrored": {"head": "direct", "mirror": False},
    "direct, one context": {"head": "direct", "context_fractions": (1.0,)},
    "auto, one context": {"head": "auto", "context_fractions": (1.0,)},
}


def ett_windows() -> tuple[np.ndarray, np.ndarray]:
    """(N, CONTEXT) contexts and (N, max horizon) targets over the validation split."""
    values = ett_h1_normalised().to_numpy().T
    first, last = ETT_VAL
    starts = range(first, last - max(HORIZONS) + 1, STRIDE)
    contexts = [ch[s - CONTEXT : s] for ch in values for s in starts]
    targets = [ch[s : s + max(HORIZONS)] for ch in values for s in starts]
    return np.stack(contexts), np.stack(targets)


def forecast(weights: str | None, contexts: list[np.ndarray], horizon: int, variant: str
             ) -> np.ndarray:
    """(N, horizon) forecasts of one ``VARIANTS`` row, one series per context (array
    input)."""
    out = []
    for width in sorted({len(c) for c in contexts}):
        rows = [i for i, c in enumerate(contexts) if len(c) == width]
        block = np.column_stack([contexts[i] for i in rows])
        params = dict(VARIANTS[variant])
        with auto_head(params.pop("auto_head", network_module.AUTO_HEAD)):
            fitted = Forecaster(weights=weights, **params).fit(block)
            out.append((rows, fitted.predict(horizon).T))
    result = np.empty((len(contexts), horizon))
    for rows, values in out:
        result[rows] = values
    return result


@contextlib.contextmanager
def auto_head(name: str):
    """Within this block ``head="auto"`` builds on ``name`` (the seasonal check on top)."""
    shipped = network_module.AUTO_HEAD
    network_module.AUTO_HEAD = name
    try:
        yield
    finally:
        network_module.AUTO_HEAD = shipped


def ett_scores(weights: str | None) -> dict[str, float]:
    contexts, targets = ett_windows()
    scores = {}
    for head in VARIANTS:
        pred = forecast(weights, list(contexts), max(HORIZONS), head)
        for h in HORIZONS:
            error = pred[:, :h] - targets[:, :h]
            scores[f"ETTh1 val MSE@{h} {head}"] = float(np.mean(error**2))
    return scores


def m4_holdout() -> tuple[list[np.ndarray], np.ndarray]:
    train = pd.read_csv(DATA / "forecast" / "m4_hourly" / "Hourly-train.csv", index_col=0)
    series = [row[~np.isnan(row)] for row in train.to_numpy(dtype=float)]
    return [s[:-M4_H] for s in series], np.stack([s[-M4_H:] for s in series])


def m4_scores(weights: str | None) -> dict[str, float]:
    history, actual = m4_holdout()
    short = [h[-SHORT:] for h in history]
    scores = {}
    for head in VARIANTS:
        for suffix, contexts in (("", history), (f", last {SHORT}", short)):
            pred = forecast(weights, contexts, M4_H, head)
            scores[f"M4 holdout MASE {head}{suffix}"] = float(mase(history, actual, pred).mean())
            scores[f"M4 holdout sMAPE {head}{suffix}"] = float(smape(actual, pred).mean())
    seasonal = np.stack([np.resize(h[-SEASON:], M4_H) for h in history])
    scores["(SeasonalNaive on the M4 holdout)"] = float(mase(history, actual, seasonal).mean())
    scores["(SeasonalNaive on the M4 holdout, sMAPE)"] = float(smape(actual, seasonal).mean())
    return scores


def reconstruction_scores(weights: str | None) -> dict[str, float]:
    values = ett_h1_normalised().to_numpy().T[:, slice(*ETT_VAL)]
    windows = np.stack([ch[s : s + CONTEXT] for ch in values
                        for s in range(0, values.shape[1] - CONTEXT + 1, 128)])
    model = load_model(weights)
    scores = {}
    for kind in ("random", "hybrid"):
        for ratio in (0.125, 0.5):
            mask = masks(kind, windows.shape, ratio)
            filled = reconstruct(model, np.where(mask, np.nan, windows), mask)
            scores[f"ETTh1 val reconstruction MSE {kind} {ratio:.1%}"] = float(
                np.mean((filled - windows)[mask] ** 2))
    for gap in GAPS:
        mask = gap_mask(windows.shape, gap, torch.Generator().manual_seed(10_000 + gap)).numpy()
        filled = reconstruct(model, np.where(mask, np.nan, windows), mask)
        scores[f"ETTh1 val reconstruction MSE gap {gap}"] = float(
            np.mean((filled - windows)[mask] ** 2))
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("weights", nargs="+", help="weights files; 'shipped' for the package's")
    parser.add_argument("--out", help="also write the table here (Markdown)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    warnings.simplefilter("ignore")
    columns = {}
    for name in args.weights:
        weights = None if name == "shipped" else name
        start = time.perf_counter()
        scores = {**ett_scores(weights), **m4_scores(weights), **reconstruction_scores(weights)}
        print(f"{name}: {time.perf_counter() - start:.0f} s", file=sys.stderr)
        columns[name] = scores
    table = markdown_table(pd.DataFrame(columns).rename_axis("validation score (lower is better)"))
    print(table)
    if args.out:
        Path(args.out).write_text(f"# Validation scores\n\nWritten by `benchmarks/validate.py`"
                                  f" ({' '.join(sys.argv[1:])}).\n\n{table}\n")


if __name__ == "__main__":
    main()
