"""Pretraining: the corpus (real + synthetic), the window sampler and the training loop."""

from __future__ import annotations

import json
import shlex
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from tsheads.pretrain.train import TrainConfig, Trainer, checkpoint_path, run

__all__ = ["TrainConfig", "pretrain"]


def load_corpus(real: bool = True) -> dict[str, list[np.ndarray]]:
    """The real pretraining series by dataset: the shared corpus plus statsmodels' series."""
    if not real:
        return {}
    from tsheads.pretrain.corpus import load_real_corpus, load_statsmodels_series

    return {**load_real_corpus(), **load_statsmodels_series()}


def synthetic_pool(cfg: TrainConfig) -> np.ndarray:
    """A fixed pool of synthetic series, drawn from the run's seed."""
    from tsheads.pretrain.synthetic import synthetic_batch

    rng = np.random.default_rng([cfg.seed, 1])
    return synthetic_batch(rng, cfg.synthetic_pool, 2 * cfg.encoder.context_length)


def pretrain(
    cfg: TrainConfig, out: str | Path, *, real: bool = True, progress: bool = True
) -> Trainer:
    """Pretrain from scratch or resume from ``out``'s checkpoint; write weights and a card."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    corpus = load_corpus(real)
    trainer = Trainer(cfg, corpus, synthetic_pool(cfg))
    ckpt = checkpoint_path(out)
    if ckpt.exists():
        trainer.load_state(torch.load(ckpt, map_location="cpu", weights_only=True))
        print(f"resuming from {ckpt} at step {trainer.step}", file=sys.stderr)
    run(trainer, out, progress=progress)
    extra = {"train": {k: v for k, v in asdict(cfg).items() if k != "encoder"},
             "history": trainer.history, "corpus": _corpus_counts(corpus)}
    trainer.model.eval().save(out, extra=extra)
    out.with_suffix(".md").write_text(model_card(trainer, corpus, out))
    return trainer


def _corpus_counts(corpus: dict[str, list[np.ndarray]]) -> dict[str, list[int]]:
    return {name: [len(series), int(sum(np.isfinite(s).sum() for s in series))]
            for name, series in corpus.items()}


def model_card(trainer: Trainer, corpus: dict[str, list[np.ndarray]], out: Path) -> str:
    """A Markdown model card: size, data, steps, time, loss curve and the command to redo it."""
    cfg, model = trainer.cfg, trainer.model
    rows = "\n".join(f"| {name} | {n:,} | {points:,} |"
                     for name, (n, points) in _corpus_counts(corpus).items())
    curve = "\n".join(
        f"| {h['step']} | {h['minutes']} | {h['time']:.4f} | {h['spectrum']:.4f} |"
        for h in trainer.history
    )
    command = (f"tsheads pretrain --steps {cfg.steps} --batch-size {cfg.batch_size} "
               f"--seed {cfg.seed} --out {shlex.quote(str(out))}")
    return MODEL_CARD.format(
        params=model.n_parameters(), config=json.dumps(cfg.encoder.to_dict()),
        steps=trainer.step, batch=cfg.batch_size, minutes=trainer.seconds / 60,
        synthetic=cfg.synthetic_share, pool=cfg.synthetic_pool, rows=rows or "| (none) | | |",
        curve=curve, command=command, threads=torch.get_num_threads(),
    )


MODEL_CARD = """# tsheads tiny model card

- **Parameters:** {params:,} ({config})
- **Objective:** masked reconstruction in time (MSE on hidden points) plus 0.5 x the MSE of the
  full window's orthonormal rFFT from the spectrum head. Masks per window: scattered points,
  whole patches, hybrid (half each) or one long gap plus points, at ratios U(0.05, 0.6).
- **Training:** {steps:,} steps of {batch} windows, AdamW, {minutes:.1f} minutes of compute on
  {threads} CPU threads.
- **Data:** {synthetic:.0%} of windows from a pool of {pool:,} synthetic series (KernelSynth-style
  Gaussian-process kernels plus trends, seasonality, AR noise, level shifts, spikes, gaps); the rest
  drawn per dataset (weight proportional to the square root of its points), then per series, from:

| dataset | series | observed points |
|---|---:|---:|
{rows}

- **Kept out (zero-shot):** nothing from `shared/data/forecast/` or `shared/data/anomaly/`, and no
  copy of ETT, M4, NAB, SKAB, UCR, exchange-rate, illness or weather data; `corpus.py` refuses such
  paths. The `pretrain/` corpus itself was curated to exclude them (see its README).

## Loss curve (mean over each logging interval)

| step | minutes | time MSE (hidden points) | spectrum MSE |
|---:|---:|---:|---:|
{curve}

## Reproduce

```
{command}
```
Deterministic for a seed on the same machine and thread count; an interrupted run resumes from
the `.ckpt` file beside the output.
"""
