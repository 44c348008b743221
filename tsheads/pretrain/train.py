"""The pretraining loop: masked reconstruction in time and frequency space.

A plain loop: draw windows, hide values, normalise by what stays visible, reconstruct,
step. Every few minutes the whole state (model, optimiser, random generators, loss
history) goes to a checkpoint so that a stopped run resumes where it was, bit for bit.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from tsheads.nn import EncoderConfig, TinyModel
from tsheads.nn.encoder import fill_linear, spectrum
from tsheads.nn.masking import pretraining_mask
from tsheads.pretrain.sampler import WindowSampler
from tsheads.windows import standardize

SPECTRUM_WEIGHT = 0.5
MIN_VISIBLE = 16  # rows with fewer visible values teach nothing and are dropped from the loss


@dataclass
class TrainConfig:
    """Settings of one pretraining run; stored in the checkpoint and the model card."""

    steps: int = 10_000
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 0.01
    warmup: int = 300
    seed: int = 0
    synthetic_share: float = 0.3
    synthetic_pool: int = 3000
    checkpoint_seconds: float = 180.0
    log_every: int = 250
    encoder: EncoderConfig = field(default_factory=EncoderConfig)


@dataclass
class Batch:
    """Tensors of one training step, all (B, L)."""

    z: torch.Tensor  # normalised visible values, 0 where hidden
    mask: torch.Tensor  # True where hidden, missing or padded
    target: torch.Tensor  # normalised true values, 0 where missing
    hidden: torch.Tensor  # True where a value was observed and then hidden: the loss points
    known: torch.Tensor  # True where the true value exists (not missing, not padding)


def make_batch(values: np.ndarray, pad: np.ndarray, hide: np.ndarray) -> Batch:
    """Hide values, normalise by the visible ones and keep the truth as the target."""
    known = ~np.isnan(values)
    hidden = hide & known
    mask = ~known | hidden
    z, loc, scale = standardize(values, mask)
    target = np.clip(np.where(known, (np.nan_to_num(values) - loc) / scale, 0.0), -20, 20)
    visible_rows = (~mask).sum(axis=1) >= MIN_VISIBLE
    hidden &= visible_rows[:, None]
    as_t = torch.from_numpy
    return Batch(
        z=as_t(z).float(),
        mask=as_t(mask),
        target=as_t(target).float(),
        hidden=as_t(hidden),
        known=as_t(known & visible_rows[:, None]),
    )


def losses(model: TinyModel, batch: Batch) -> dict[str, torch.Tensor]:
    """Masked time reconstruction MSE and full-window spectrum MSE."""
    out = model(batch.z, batch.mask)
    hidden = batch.hidden.float()
    time_err = (out["reconstruction"] - batch.target) ** 2 * hidden
    truth = spectrum(fill_linear(batch.target, ~batch.known))  # (B, 2, L/2)
    rows = batch.known.any(dim=1).float()[:, None, None]
    spec_err = (out["spectrum"] - truth) ** 2 * rows
    return {
        "time": time_err.sum() / hidden.sum().clamp(min=1),
        "spectrum": spec_err.sum() / (rows.sum() * truth[0].numel()).clamp(min=1),
    }


def total_loss(parts: dict[str, torch.Tensor]) -> torch.Tensor:
    return parts["time"] + SPECTRUM_WEIGHT * parts["spectrum"]


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Linear warm-up, then cosine decay to a tenth of the peak."""
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    progress = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    return cfg.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0))))


class Trainer:
    """Holds the model, optimiser, data and random state of one run."""

    def __init__(self, cfg: TrainConfig, corpus: dict[str, list[np.ndarray]],
                 synthetic: np.ndarray) -> None:
        torch.manual_seed(cfg.seed)
        self.cfg = cfg
        self.model = TinyModel(cfg.encoder)
        self.optimizer = torch.optim.AdamW(
            self.model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay
        )
        self.rng = np.random.default_rng(cfg.seed)
        self.generator = torch.Generator().manual_seed(cfg.seed)
        self.sampler = WindowSampler(
            corpus, synthetic, cfg.encoder.context_length, cfg.synthetic_share, self.rng
        )
        self.step = 0
        self.history: list[dict] = []
        self.seconds = 0.0

    def next_batch(self) -> Batch:
        values, pad = self.sampler.sample(self.cfg.batch_size)
        hide = pretraining_mask(values.shape, self.cfg.encoder.patch_length, self.generator)
        return make_batch(values, pad, hide.numpy())

    def train_step(self) -> dict[str, float]:
        for group in self.optimizer.param_groups:
            group["lr"] = lr_at(self.step, self.cfg)
        parts = losses(self.model, self.next_batch())
        loss = total_loss(parts)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.optimizer.step()
        self.step += 1
        return {name: float(value.detach()) for name, value in parts.items()}

    def state(self) -> dict:
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "step": self.step,
            "rng": self.rng.bit_generator.state,
            "generator": self.generator.get_state(),
            "torch_rng": torch.get_rng_state(),
            "history": self.history,
            "seconds": self.seconds,
        }

    def load_state(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.step = state["step"]
        self.rng.bit_generator.state = state["rng"]
        self.generator.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        self.history = state["history"]
        self.seconds = state["seconds"]


def checkpoint_path(out: Path) -> Path:
    return out.with_suffix(".ckpt")


def run(
    trainer: Trainer, out: Path, progress: bool = True, until: int | None = None
) -> list[dict]:
    """Train to ``cfg.steps`` (or stop early at ``until``), checkpointing every few minutes."""
    cfg, ckpt = trainer.cfg, checkpoint_path(out)
    last_step = cfg.steps if until is None else min(until, cfg.steps)
    trainer.model.train()
    last_save, running = time.perf_counter(), None
    bar = tqdm(total=cfg.steps, initial=trainer.step, disable=not progress, unit="step")
    window: list[dict[str, float]] = []
    while trainer.step < last_step:
        started = time.perf_counter()
        parts = trainer.train_step()
        trainer.seconds += time.perf_counter() - started
        window.append(parts)
        loss = parts["time"] + SPECTRUM_WEIGHT * parts["spectrum"]
        running = loss if running is None else 0.98 * running + 0.02 * loss
        bar.update(1)
        bar.set_postfix(loss=f"{running:.4f}")
        if trainer.step % cfg.log_every == 0 or trainer.step == last_step:
            trainer.history.append(_summary(trainer, window))
            window = []
        if time.perf_counter() - last_save > cfg.checkpoint_seconds:
            torch.save(trainer.state(), ckpt)
            last_save = time.perf_counter()
    bar.close()
    torch.save(trainer.state(), ckpt)
    return trainer.history


def _summary(trainer: Trainer, window: list[dict[str, float]]) -> dict:
    means = {k: float(np.mean([w[k] for w in window])) for k in window[0]}
    return {"step": trainer.step, "minutes": round(trainer.seconds / 60, 2), **means}
