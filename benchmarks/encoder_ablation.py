"""Encoder design under a fixed CPU budget: backbone, width vs depth, patch size.

Each variant pretrains for the same wall-clock minutes (same data, seed and masks) and is
then scored on the reconstruction benchmark's ETTh1 windows (random and hybrid masks at
12.5 % and 50 %). Variants run two at a time, one thread each. Writes
benchmarks/results/encoder_ablation.md.

Usage: python benchmarks/encoder_ablation.py [--minutes 6]
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).parent))
from common import RESULTS, ett_h1, markdown_table, test_windows  # noqa: E402
from reconstruction import LENGTH, STRIDE, masks  # noqa: E402

from tsheads.nn import EncoderConfig  # noqa: E402
from tsheads.pretrain import load_corpus, synthetic_pool  # noqa: E402
from tsheads.pretrain.train import TrainConfig, Trainer  # noqa: E402
from tsheads.runtime import reconstruct  # noqa: E402

VARIANTS = {
    "mixer d64 x6, patch 8": EncoderConfig(),
    "transformer d64 x4, patch 8": EncoderConfig(backbone="transformer", n_layers=4),
    "mixer d96 x8, patch 8": EncoderConfig(d_model=96, n_layers=8),
    "mixer d64 x6, patch 16": EncoderConfig(patch_length=16),
}


def train_for(name: str, minutes: float) -> dict:
    """Pretrain one variant for ``minutes`` of wall time on one thread; score it."""
    torch.set_num_threads(1)
    cfg = TrainConfig(steps=100_000, batch_size=64, encoder=VARIANTS[name], warmup=100)
    trainer = Trainer(cfg, load_corpus(), synthetic_pool(cfg))
    started = time.perf_counter()
    while time.perf_counter() - started < minutes * 60:
        trainer.train_step()
    trainer.model.eval()
    _, test = ett_h1()
    windows = test_windows(test, LENGTH, STRIDE)
    row = {"variant": name, "parameters": trainer.model.n_parameters(), "steps": trainer.step}
    for kind in ("random", "hybrid"):
        for ratio in (0.125, 0.5):
            mask = masks(kind, windows.shape, ratio)
            err = (reconstruct(trainer.model, windows, mask) - windows)[mask]
            row[f"{kind} {ratio:.1%}"] = float(np.mean(err**2))
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=6.0)
    parser.add_argument("--out", default=str(RESULTS / "encoder_ablation.md"))
    args = parser.parse_args()
    with ProcessPoolExecutor(max_workers=2) as pool:
        rows = list(pool.map(train_for, VARIANTS, [args.minutes] * len(VARIANTS)))
    table = pd.DataFrame(rows).set_index("variant")
    text = (f"# Encoder ablation: {args.minutes:g} minutes of pretraining each\n\n"
            "One CPU thread per variant, batch 64, same seed and data; MSE on hidden points of "
            f"ETTh1 test windows ({LENGTH} steps, stride {STRIDE}, z-normalised with train "
            "statistics).\n\n" + markdown_table(table, digits=4) + "\n")
    Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
