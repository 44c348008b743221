"""Zero-shot reconstruction of hidden points on the ETTh1 test split.

Windows of 512 on every channel (stride 128), z-normalised with train statistics; points
hidden as random points and as TSPulse's hybrid masks at 12.5 / 25 / 37.5 / 50 %, seeded.
MSE and MAE on the hidden points for the pretrained model (its imputation head, where the
weights have one, and its plain reconstruction head), the same model untrained, linear
interpolation and the window mean. Writes benchmarks/results/reconstruction.md.

Usage: python benchmarks/reconstruction.py [--weights PATH] [--out PATH]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).parent))
from common import (  # noqa: E402
    RESULTS,
    ett_h1,
    markdown_table,
    reconstruction_head_only,
    test_windows,
)

from tsheads.nn import TinyModel  # noqa: E402
from tsheads.nn.masking import hybrid_mask, point_mask  # noqa: E402
from tsheads.runtime import load_model, reconstruct  # noqa: E402

RATIOS = (0.125, 0.25, 0.375, 0.5)
TSPULSE_HYBRID = {0.125: 0.146, 0.25: 0.155, 0.375: 0.168, 0.5: 0.183}
LENGTH, STRIDE, SEED = 512, 128, 0


def linear(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    frame = pd.DataFrame(np.where(mask, np.nan, values).T)
    return frame.interpolate(limit_direction="both").to_numpy().T


def window_mean(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    means = np.nanmean(np.where(mask, np.nan, values), axis=1, keepdims=True)
    return np.broadcast_to(means, values.shape)


def masks(kind: str, shape: tuple[int, int], ratio: float) -> np.ndarray:
    generator = torch.Generator().manual_seed(SEED + int(ratio * 1000))
    if kind == "random":
        return point_mask(shape, ratio, generator).numpy()
    return hybrid_mask(shape, ratio, 8, generator).numpy()


def evaluate(methods: dict, windows: np.ndarray) -> pd.DataFrame:
    rows = []
    for kind in ("random", "hybrid"):
        for ratio in RATIOS:
            mask = masks(kind, windows.shape, ratio)
            for name, fill in methods.items():
                err = (fill(windows, mask) - windows)[mask]
                rows.append({"mask": kind, "ratio": ratio, "method": name,
                             "MSE": float(np.mean(err**2)), "MAE": float(np.mean(np.abs(err)))})
    return pd.DataFrame(rows)


def report(results: pd.DataFrame, n_windows: int, weights: str, seconds: float) -> str:
    parts = [f"# Zero-shot reconstruction on ETTh1 (test split)\n\n"
             f"{n_windows} windows of {LENGTH} steps (7 channels, stride {STRIDE}), z-normalised "
             f"with train statistics; error on the hidden points only. Weights: `{weights}`. "
             f"Run time {seconds:.0f} s.\n"]
    for metric in ("MSE", "MAE"):
        for kind in ("random", "hybrid"):
            table = results[results["mask"] == kind].pivot(
                index="method", columns="ratio", values=metric)
            table.columns = [f"{r:.1%}" for r in table.columns]
            if kind == "hybrid" and metric == "MSE":
                table.loc["TSPulse (published, zero-shot)"] = list(TSPULSE_HYBRID.values())
            table.index.name = "method"
            parts.append(f"## {metric}, {kind} masks\n\n{markdown_table(table)}\n")
    return "\n".join(parts)


UNTRAINED_SEED = 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default=None, help="weights file (default: shipped)")
    parser.add_argument("--out", default=str(RESULTS / "reconstruction.md"))
    args = parser.parse_args()
    started = time.perf_counter()
    _, test = ett_h1()
    windows = test_windows(test, LENGTH, STRIDE)
    model = load_model(args.weights)
    torch.manual_seed(UNTRAINED_SEED)  # the untrained row is the same in every run
    untrained = TinyModel(model.config)
    plain = reconstruction_head_only(model)
    methods = {
        "tsheads (pretrained)": lambda v, m: reconstruct(model, v, m),
        "tsheads (pretrained, reconstruction head)": lambda v, m: reconstruct(plain, v, m),
        "tsheads (untrained)": lambda v, m: reconstruct(untrained, v, m),
        "linear interpolation": linear,
        "window mean": window_mean,
    }
    results = evaluate(methods, windows)
    text = report(results, len(windows), args.weights or "tsheads/weights/tiny.pt",
                  time.perf_counter() - started)
    Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
