"""Pretraining: the corpus (real + synthetic) and the staged training loop (its batches,
losses and optimisation step live in `tsheads.training`, shared with fine-tuning)."""

from __future__ import annotations

import contextlib
import json
import shlex
import sys
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from tsheads.pretrain.card import write_model_card
from tsheads.pretrain.train import (
    HeadTrainer,
    ImputationTrainer,
    TrainConfig,
    Trainer,
    checkpoint_path,
    run,
)

__all__ = ["TrainConfig", "pretrain", "write_model_card"]


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
    """Pretrain from scratch or resume from ``out``'s checkpoints; write weights and a card.

    Stage one trains the encoder with its reconstruction, spectrum and direct forecast
    heads; stage two (``cfg.head_steps`` > 0) the autoregressive and Fourier heads on the
    frozen encoder; stage three (``cfg.imputation_steps`` > 0) the imputation head on it.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    corpus, synthetic = load_corpus(real), synthetic_pool(cfg)
    with _gpu_precision(cfg.device):
        return _stages(cfg, out, corpus, synthetic, real, progress)


@contextlib.contextmanager
def _gpu_precision(device: str) -> Iterator[None]:
    """TF32 matrix products on a GPU while training (ample at this size); as before after."""
    previous = torch.get_float32_matmul_precision()
    if torch.device(device).type == "cuda":
        torch.set_float32_matmul_precision("high")
    try:
        yield
    finally:
        torch.set_float32_matmul_precision(previous)


def _stages(cfg: TrainConfig, out: Path, corpus: dict[str, list[np.ndarray]],
            synthetic: np.ndarray, real: bool, progress: bool) -> Trainer:
    """Stage one, then stage two if asked; the weights, their metadata and card written."""
    trainer = _resumed(Trainer(cfg, corpus, synthetic), out)
    run(trainer, out, progress=progress)
    extra = {
        "parameters": trainer.model.n_parameters(),
        "train": {k: v for k, v in asdict(cfg).items() if k != "encoder"},
        "steps_done": trainer.step,
        "minutes": round(trainer.seconds / 60, 1),
        "threads": torch.get_num_threads(),
        "hardware": _hardware(cfg.device),
        "history": trainer.history,
        "corpus": _corpus_counts(corpus),
        "command": _command(cfg, out, real),
        "init": _parent(cfg.init),
    }
    if cfg.head_steps > 0:
        encoder_state = trainer.model.state_dict()
        trainer = _resumed(HeadTrainer(cfg, corpus, synthetic, encoder_state), out)
        run(trainer, out, progress=progress)
        extra.update(parameters=trainer.model.n_parameters(), head_steps_done=trainer.step,
                     head_minutes=round(trainer.seconds / 60, 1), head_history=trainer.history)
    if cfg.imputation_steps > 0:
        trainer = _resumed(ImputationTrainer(cfg, corpus, synthetic, trainer.model.state_dict()),
                           out)
        run(trainer, out, progress=progress)
        extra.update(parameters=trainer.model.n_parameters(),
                     imputation_steps_done=trainer.step,
                     imputation_minutes=round(trainer.seconds / 60, 1),
                     imputation_history=trainer.history)
    trainer.model.to("cpu").eval().save(out, extra=extra)  # weights load on any machine
    write_model_card(out)
    return trainer


def _hardware(device: str) -> str:
    """What the run trained on, for the model card."""
    if torch.device(device).type == "cuda":
        return f"1 GPU ({torch.cuda.get_device_name(torch.device(device))})"
    return f"{torch.get_num_threads()} CPU thread(s)"


def _resumed(trainer: Trainer, out: Path) -> Trainer:
    """The trainer, with its stage's checkpoint loaded when one exists."""
    ckpt = checkpoint_path(out, trainer.stage)
    if ckpt.exists():
        trainer.load_state(torch.load(ckpt, map_location="cpu", weights_only=True))
        print(f"resuming stage {trainer.stage} from {ckpt} at step {trainer.step}",
              file=sys.stderr)
    return trainer


def _parent(init: str | None) -> dict | None:
    """What a continued run started from: the earlier weights' checksum and metadata
    (steps, losses, command, and their own parent), so the card can show the whole chain."""
    if not init:
        return None
    meta = json.loads(Path(init).with_suffix(".json").read_text())
    meta.pop("corpus", None)  # same corpus listing as the run itself
    return {"path": str(init), **meta}


def _command(cfg: TrainConfig, out: Path, real: bool) -> str:
    enc = cfg.encoder
    parts = [
        f"tsheads pretrain --steps {cfg.steps} --batch-size {cfg.batch_size}",
        f"--seed {cfg.seed} --lr {cfg.lr:g} --warmup {cfg.warmup}",
        f"--synthetic-share {cfg.synthetic_share:g}",
        *([f"--mix-share {cfg.mix_share:g} --coarse-share {cfg.coarse_share:g}"]
          if cfg.mix_share or cfg.coarse_share else []),
        f"--forecast-weight {cfg.forecast_weight:g} --head-steps {cfg.head_steps}",
        f"--head-lr {cfg.head_lr:g}{' --head-forecast' if cfg.head_forecast else ''}",
        *([f"--imputation-steps {cfg.imputation_steps}"] if cfg.imputation_steps else []),
        f"--d-model {enc.d_model} --n-layers {enc.n_layers} --patch-length {enc.patch_length}",
        f"--backbone {enc.backbone}{'' if real else ' --synthetic-only'}",
        *([f"--season-periods {','.join(map(str, enc.season_periods))}"]
          if enc.season_periods else []),
        *(["--detect-period"] if enc.detect_period else []),
        *([f"--init {shlex.quote(cfg.init)}"] if cfg.init else []),
        *([f"--device {cfg.device}"] if cfg.device != "cpu" else []),
        *([f"--workers {cfg.workers}"] if cfg.workers else []),
        *(["--bf16"] if cfg.bf16 else []),
        f"--out {shlex.quote(str(out))}",
    ]
    return " ".join(parts)


def _corpus_counts(corpus: dict[str, list[np.ndarray]]) -> dict[str, list[int]]:
    return {name: [len(series), int(sum(np.isfinite(s).sum() for s in series))]
            for name, series in corpus.items()}
