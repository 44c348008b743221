"""The pretraining loop: masked reconstruction in time and frequency space.

A plain loop: draw windows, hide values, normalise by what stays visible, reconstruct,
step. Every few minutes the whole state (model, optimiser, random generators, loss
history) goes to a checkpoint so that a stopped run resumes where it was, bit for bit.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from tsheads.nn import EncoderConfig, TinyModel
from tsheads.nn.encoder import fill_linear, spectrum
from tsheads.nn.heads import ENCODER_HEADS, FORECAST_HEADS
from tsheads.nn.masking import pretraining_mask
from tsheads.pretrain.forecast_heads import freeze_all_but, head_losses
from tsheads.pretrain.sampler import WindowSampler
from tsheads.windows import CLIP, standardize

HEAD_WARMUP = 100  # warm-up steps of stage two
CLEAN_SHARE = 0.3  # rows shown with nothing hidden: forecasting sees clean contexts too
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
    spectrum_weight: float = 0.5  # loss = time + spectrum_weight * spectrum + forecast_weight * ...
    forecast_weight: float = 0.2  # forecast errors are heavy-tailed: keep them from dominating
    head_steps: int = 0  # stage two: autoregressive + Fourier heads on the frozen encoder
    head_lr: float = 1e-3
    head_forecast: bool = False  # stage two trains the direct forecast head too
    init: str | None = None  # weights to continue from (fresh optimiser and schedule)
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
    future: torch.Tensor  # (B, H) normalised values after the context, 0 where unknown
    future_known: torch.Tensor  # (B, H) True where the future value exists


def make_batch(context: np.ndarray, future: np.ndarray, hide: np.ndarray) -> Batch:
    """Hide values, normalise by the visible ones and keep the truth as the target."""
    known = ~np.isnan(context)
    hidden = hide & known
    mask = ~known | hidden
    z, loc, scale = standardize(context, mask)
    usable = ((~mask).sum(axis=1) >= MIN_VISIBLE)[:, None]
    future_known = ~np.isnan(future) & usable
    as_t = torch.from_numpy
    return Batch(
        z=as_t(z).float(),
        mask=as_t(mask),
        target=as_t(_normalise(context, known, loc, scale)).float(),
        hidden=as_t(hidden & usable),
        known=as_t(known & usable),
        future=as_t(_normalise(future, future_known, loc, scale)).float(),
        future_known=as_t(future_known),
    )


def _normalise(values: np.ndarray, known: np.ndarray, loc: np.ndarray, scale: np.ndarray):
    return np.clip(np.where(known, (np.nan_to_num(values) - loc) / scale, 0.0), -CLIP, CLIP)


def sample_batch(
    sampler: WindowSampler, size: int, patch_length: int, generator: torch.Generator
) -> Batch:
    """Draw windows and hide values in all rows but a clean share."""
    context, future = sampler.sample(size)
    hide = pretraining_mask(context.shape, patch_length, generator)
    clean = torch.rand(size, generator=generator) < CLEAN_SHARE  # (B,)
    return make_batch(context, future, (hide & ~clean[:, None]).numpy())


def losses(model: TinyModel, batch: Batch) -> dict[str, torch.Tensor]:
    """Masked time reconstruction, full-window spectrum and direct forecast MSEs."""
    out = model(batch.z, batch.mask, ENCODER_HEADS)
    hidden = batch.hidden.float()
    time_err = (out["reconstruction"] - batch.target) ** 2 * hidden
    truth = spectrum(fill_linear(batch.target, ~batch.known))  # (B, 2, L/2)
    rows = batch.known.any(dim=1).float()[:, None, None]
    spec_err = (out["spectrum"] - truth) ** 2 * rows
    future_known = batch.future_known.float()
    forecast_err = (out["forecast"] - batch.future) ** 2 * future_known
    return {
        "time": time_err.sum() / hidden.sum().clamp(min=1),
        "spectrum": spec_err.sum() / (rows.sum() * truth[0].numel()).clamp(min=1),
        "forecast": forecast_err.sum() / future_known.sum().clamp(min=1),
    }


def total_loss(parts: dict[str, torch.Tensor], cfg: TrainConfig) -> torch.Tensor:
    return (parts["time"] + cfg.spectrum_weight * parts["spectrum"]
            + cfg.forecast_weight * parts["forecast"])


def lr_at(step: int, peak: float, warmup: int, steps: int) -> float:
    """Linear warm-up, then cosine decay to a tenth of the peak."""
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, steps - warmup)
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0))))


class Trainer:
    """Holds the model, optimiser, data and random state of stage one: the encoder with
    its reconstruction, spectrum and direct forecast heads."""

    stage = 1

    def __init__(self, cfg: TrainConfig, corpus: dict[str, list[np.ndarray]],
                 synthetic: np.ndarray) -> None:
        seed = cfg.seed + 1000 * (self.stage - 1)  # stage two draws other windows
        torch.manual_seed(seed)
        self.cfg = cfg
        self.model = TinyModel(cfg.encoder, heads=ENCODER_HEADS)
        if cfg.init:
            _load_matching(self.model, cfg.init)
        self.optimizer = torch.optim.AdamW(
            self.model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay
        )
        self.rng = np.random.default_rng(seed)
        self.generator = torch.Generator().manual_seed(seed)
        enc = cfg.encoder
        self.sampler = WindowSampler(
            corpus, synthetic, enc.context_length, enc.horizon, cfg.synthetic_share, self.rng
        )
        self.step = 0
        self.history: list[dict] = []
        self.seconds = 0.0

    def next_batch(self) -> Batch:
        return sample_batch(self.sampler, self.cfg.batch_size, self.cfg.encoder.patch_length,
                            self.generator)

    @property
    def steps(self) -> int:
        return self.cfg.steps

    def lr(self) -> float:
        return lr_at(self.step, self.cfg.lr, self.cfg.warmup, self.cfg.steps)

    def step_losses(self) -> dict[str, torch.Tensor]:
        return losses(self.model, self.next_batch())

    def combine(self, parts: dict[str, torch.Tensor]) -> torch.Tensor:
        return total_loss(parts, self.cfg)

    def train_step(self) -> dict[str, float]:
        for group in self.optimizer.param_groups:
            group["lr"] = self.lr()
        parts = self.step_losses()
        loss = self.combine(parts)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        trainable = [p for p in self.model.parameters() if p.requires_grad]
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
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


class HeadTrainer(Trainer):
    """Stage two: the autoregressive and Fourier heads (and with ``head_forecast`` the
    direct one) on the frozen stage-one encoder, from clean contexts (nothing hidden)."""

    stage = 2

    def __init__(self, cfg: TrainConfig, corpus: dict[str, list[np.ndarray]],
                 synthetic: np.ndarray, encoder_state: dict) -> None:
        super().__init__(cfg, corpus, synthetic)
        self.model = TinyModel(cfg.encoder)
        if cfg.init:  # the heads continue from the earlier weights too
            _load_matching(self.model, cfg.init)
        missing = self.model.load_state_dict(encoder_state, strict=False).missing_keys
        new = tuple(f"heads.{name}." for name in FORECAST_HEADS)
        if any(not key.startswith(new) for key in missing):
            raise ValueError(f"stage-one state lacks encoder weights: {missing[:3]}...")
        heads = FORECAST_HEADS + (("forecast",) if cfg.head_forecast else ())
        self.optimizer = torch.optim.AdamW(
            freeze_all_but(self.model, heads), lr=cfg.head_lr, weight_decay=cfg.weight_decay
        )

    @property
    def steps(self) -> int:
        return self.cfg.head_steps

    def lr(self) -> float:
        return lr_at(self.step, self.cfg.head_lr, HEAD_WARMUP, self.cfg.head_steps)

    def step_losses(self) -> dict[str, torch.Tensor]:
        context, future = self.sampler.sample(self.cfg.batch_size)
        batch = make_batch(context, future, np.zeros(context.shape, dtype=bool))
        return head_losses(self.model, batch.z, batch.mask, batch.future, batch.future_known,
                           direct=self.cfg.head_forecast)

    def combine(self, parts: dict[str, torch.Tensor]) -> torch.Tensor:
        return sum(parts.values())

    def train_step(self) -> dict[str, float]:
        self.model.encoder.eval()  # frozen: no dropout either
        return super().train_step()


def _load_matching(model: TinyModel, path: str) -> None:
    """Start ``model`` from the weights at ``path``: every tensor that both have. The
    encoder configs must agree, so a continued run trains the same network further; a
    forecast head that changes kind (``season_periods``) keeps what it shares."""
    earlier = TinyModel.load(path)
    head_free = {"season_periods": (), "detect_period": False}
    if replace(earlier.config, **head_free) != replace(model.config, **head_free):
        raise ValueError(f"--init {path} has config {earlier.config.to_dict()}, this run "
                         f"{model.config.to_dict()}; a continued run keeps the same network "
                         "(only the forecast head's season_periods and detect_period may "
                         "change).")
    own = model.state_dict()
    model.load_state_dict({k: v for k, v in earlier.state_dict().items()
                           if k in own and own[k].shape == v.shape}, strict=False)


def checkpoint_path(out: Path, stage: int = 1) -> Path:
    return out.with_suffix(".ckpt" if stage == 1 else ".heads.ckpt")


def run(
    trainer: Trainer, out: Path, progress: bool = True, until: int | None = None
) -> list[dict]:
    """Train to the trainer's last step (or stop early at ``until``), checkpointing every
    few minutes."""
    cfg, ckpt = trainer.cfg, checkpoint_path(out, trainer.stage)
    last_step = trainer.steps if until is None else min(until, trainer.steps)
    trainer.model.train()
    last_save, running = time.perf_counter(), None
    bar = tqdm(total=trainer.steps, initial=trainer.step, disable=not progress, unit="step")
    window: list[dict[str, float]] = []
    while trainer.step < last_step:
        started = time.perf_counter()
        parts = trainer.train_step()
        trainer.seconds += time.perf_counter() - started
        window.append(parts)
        loss = float(trainer.combine({k: torch.tensor(v) for k, v in parts.items()}))
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
