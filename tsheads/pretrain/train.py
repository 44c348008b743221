"""The pretraining loop: masked reconstruction in time and frequency space.

A plain loop: draw windows, hide values, normalise by what stays visible, reconstruct,
step. Every few minutes the whole state (model, optimiser, random generators, loss
history) goes to a checkpoint so that a stopped run resumes where it was, bit for bit.

On a GPU the model outruns one process drawing windows, so ``workers`` data-loading
processes can draw them instead, each from its own seed (seed, stage, the step it started
at, its number): such a run is repeatable from its start, and a resumed one continues from
the checkpoint's weights and optimiser with fresh windows rather than bit for bit.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from tsheads.nn import EncoderConfig, TinyModel
from tsheads.nn.heads import ENCODER_HEADS, FORECAST_HEADS, IMPUTATION_HEADS
from tsheads.nn.masking import pretraining_mask
from tsheads.pretrain.forecast_heads import freeze_all_but, head_losses
from tsheads.sampling import WindowSampler, check_shares
from tsheads.training import Batch, losses, make_batch, sample_batch, step, total_loss

Draw = Callable[[WindowSampler, torch.Generator, "TrainConfig"], Batch]

HEAD_WARMUP = 100  # warm-up steps of stage two


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
    mix_share: float = 0.0  # real windows that are TSMixup mixes of 2-3 series
    coarse_share: float = 0.0  # real windows from copies down-sampled by 2-4
    spectrum_weight: float = 0.5  # loss = time + spectrum_weight * spectrum + forecast_weight * ...
    forecast_weight: float = 0.2  # forecast errors are heavy-tailed: keep them from dominating
    head_steps: int = 0  # stage two: autoregressive + Fourier heads on the frozen encoder
    head_lr: float = 1e-3
    head_forecast: bool = False  # stage two trains the direct forecast head too
    imputation_steps: int = 0  # stage three: the imputation head on the frozen encoder
    init: str | None = None  # weights to continue from (fresh optimiser and schedule)
    checkpoint_seconds: float = 180.0
    log_every: int = 250
    device: str = "cpu"  # where the model trains ("cuda" on a GPU machine)
    workers: int = 0  # data-loading processes; 0: drawn in the training process
    bf16: bool = False  # bfloat16 autocast of the forward passes (for GPUs)
    encoder: EncoderConfig = field(default_factory=EncoderConfig)

    def __post_init__(self) -> None:
        check_shares(self.mix_share, self.coarse_share)  # before the corpus loads
        check_device(self.device)
        if self.workers < 0:
            raise ValueError(f"workers must be >= 0, got {self.workers}.")


def check_device(name: str) -> None:
    """``name`` must be a torch device this machine has."""
    try:
        device = torch.device(name)
    except RuntimeError as error:
        raise ValueError(f"device must be a torch device such as 'cpu' or 'cuda', got "
                         f"{name!r}.") from error
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} asked for, but torch sees no CUDA GPU here; use "
                         "--device cpu.")
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise ValueError(f"device {name!r} asked for, but torch sees "
                         f"{torch.cuda.device_count()} GPU(s) here.")


class BatchStream(torch.utils.data.IterableDataset):
    """Endless training batches drawn in data-loading processes, each worker with its own
    window and mask generators seeded from ``seed`` and its number."""

    def __init__(self, sampler: WindowSampler, draw: Draw, cfg: TrainConfig,
                 seed: tuple[int, ...]) -> None:
        super().__init__()
        self.sampler, self.draw, self.cfg, self.seed = sampler, draw, cfg, seed

    def __iter__(self) -> Iterator[Batch]:
        info = torch.utils.data.get_worker_info()
        worker = info.id if info is not None else 0
        sampler = copy.copy(self.sampler)
        sampler.rng = np.random.default_rng([*self.seed, worker])
        generator = torch.Generator().manual_seed(int(sampler.rng.integers(2**62)))
        while True:
            yield self.draw(sampler, generator, self.cfg)


def draw_masked(sampler: WindowSampler, generator: torch.Generator, cfg: TrainConfig
                ) -> Batch:
    """A stage-one batch: windows with values hidden in all rows but a clean share."""
    return sample_batch(sampler, cfg.batch_size, cfg.encoder.patch_length, generator)


def draw_clean(sampler: WindowSampler, generator: torch.Generator, cfg: TrainConfig
               ) -> Batch:
    """A stage-two batch: windows with nothing hidden."""
    context, future = sampler.sample(cfg.batch_size)
    return make_batch(context, future, np.zeros(context.shape, dtype=bool))


def draw_hidden(sampler: WindowSampler, generator: torch.Generator, cfg: TrainConfig
                ) -> Batch:
    """A stage-three batch: windows with values hidden in every row."""
    context, future = sampler.sample(cfg.batch_size)
    hide = pretraining_mask(context.shape, cfg.encoder.patch_length, generator)
    return make_batch(context, future, hide.numpy())


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
    draw = staticmethod(draw_masked)

    def __init__(self, cfg: TrainConfig, corpus: dict[str, list[np.ndarray]],
                 synthetic: np.ndarray) -> None:
        seed = cfg.seed + 1000 * (self.stage - 1)  # stage two draws other windows
        torch.manual_seed(seed)
        self.cfg = cfg
        self.device = torch.device(cfg.device)
        self.model = TinyModel(cfg.encoder, heads=ENCODER_HEADS)
        if cfg.init:
            _load_matching(self.model, cfg.init)
        self.model.to(self.device)
        self.optimizer = torch.optim.AdamW(
            self.model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay
        )
        self.rng = np.random.default_rng(seed)
        self.generator = torch.Generator().manual_seed(seed)
        enc = cfg.encoder
        self.sampler = WindowSampler(
            corpus, synthetic, enc.context_length, enc.horizon, cfg.synthetic_share, self.rng,
            mix_share=cfg.mix_share, coarse_share=cfg.coarse_share,
        )
        self.step = 0
        self.history: list[dict] = []
        self.seconds = 0.0
        self._stream: Iterator[Batch] | None = None

    def next_batch(self) -> Batch:
        """The next batch on the training device, from the workers when there are any."""
        if not self.cfg.workers:
            return self.draw(self.sampler, self.generator, self.cfg).to(self.device)
        if self._stream is None:  # started at the first step, so a resumed run knows its step
            stream = BatchStream(self.sampler, self.draw, self.cfg,
                                 (self.cfg.seed, self.stage, self.step))
            self._stream = iter(torch.utils.data.DataLoader(
                stream, batch_size=None, num_workers=self.cfg.workers,
                pin_memory=self.device.type == "cuda"))
        return next(self._stream).to(self.device)

    @property
    def steps(self) -> int:
        return self.cfg.steps

    def lr(self) -> float:
        return lr_at(self.step, self.cfg.lr, self.cfg.warmup, self.cfg.steps)

    def step_losses(self) -> dict[str, torch.Tensor]:
        return losses(self.model, self.next_batch())

    def combine(self, parts: dict[str, torch.Tensor]) -> torch.Tensor:
        return total_loss(parts, self.cfg.spectrum_weight, self.cfg.forecast_weight)

    def train_step(self) -> dict[str, float]:
        for group in self.optimizer.param_groups:
            group["lr"] = self.lr()
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.cfg.bf16):
            parts = self.step_losses()
        step(self.model, self.optimizer, self.combine(parts))
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


class FrozenEncoderTrainer(Trainer):
    """A later stage: heads trained on the frozen stage-one encoder, for the number of steps
    in the config's ``steps_setting``, at ``head_lr``."""

    steps_setting = "head_steps"

    @property
    def steps(self) -> int:
        return getattr(self.cfg, self.steps_setting)

    def lr(self) -> float:
        return lr_at(self.step, self.cfg.head_lr, HEAD_WARMUP, self.steps)

    def train_step(self) -> dict[str, float]:
        self.model.encoder.eval()  # frozen: no dropout either
        return super().train_step()


class HeadTrainer(FrozenEncoderTrainer):
    """Stage two: the autoregressive and Fourier heads (and with ``head_forecast`` the
    direct one) on the frozen stage-one encoder, from clean contexts (nothing hidden)."""

    stage = 2
    draw = staticmethod(draw_clean)

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
        self.model.to(self.device)
        heads = FORECAST_HEADS + (("forecast",) if cfg.head_forecast else ())
        self.optimizer = torch.optim.AdamW(
            freeze_all_but(self.model, heads), lr=cfg.head_lr, weight_decay=cfg.weight_decay
        )

    def step_losses(self) -> dict[str, torch.Tensor]:
        batch = self.next_batch()
        return head_losses(self.model, batch.z, batch.mask, batch.future, batch.future_known,
                           direct=self.cfg.head_forecast)

    def combine(self, parts: dict[str, torch.Tensor]) -> torch.Tensor:
        return sum(parts.values())


class ImputationTrainer(FrozenEncoderTrainer):
    """Stage three: the imputation head on the frozen encoder, from windows with values
    hidden in every row (the other heads stay as they are). Its own reconstruction starts
    from the reconstruction head's, so the gate only has to learn when a season helps."""

    stage = 3
    draw = staticmethod(draw_hidden)
    steps_setting = "imputation_steps"

    def __init__(self, cfg: TrainConfig, corpus: dict[str, list[np.ndarray]],
                 synthetic: np.ndarray, state: dict) -> None:
        super().__init__(cfg, corpus, synthetic)
        earlier = TinyModel.load(cfg.init) if cfg.init else None
        known = {key.split(".")[1] for key in state if key.startswith("heads.")}
        known |= set(earlier.heads) if earlier is not None else set()
        heads = tuple(n for n in ENCODER_HEADS + FORECAST_HEADS if n in known)
        self.model = TinyModel(cfg.encoder, heads=heads + IMPUTATION_HEADS)
        if earlier is not None:
            _load_matching(self.model, cfg.init, earlier)
        self.model.load_state_dict(state, strict=False)
        if earlier is None or "imputation" not in earlier.heads:
            own = self.model.heads["imputation"].proj
            own.load_state_dict(self.model.heads["reconstruction"].proj.state_dict())
        self.model.to(self.device)
        self.optimizer = torch.optim.AdamW(
            freeze_all_but(self.model, IMPUTATION_HEADS), lr=cfg.head_lr,
            weight_decay=cfg.weight_decay)

    def step_losses(self) -> dict[str, torch.Tensor]:
        """MSE on the hidden points of the imputation head, and of the (frozen)
        reconstruction head on the same windows for comparison."""
        batch = self.next_batch()
        with torch.no_grad():
            out = self.model.encoder(batch.z, batch.mask)
            plain = self.model.heads["reconstruction"](out)
        hidden = batch.hidden.float()
        count = hidden.sum().clamp(min=1)

        def error(values: torch.Tensor) -> torch.Tensor:
            return ((values - batch.target) ** 2 * hidden).sum() / count

        return {"imputation": error(self.model.heads["imputation"](out)),
                "reconstruction": error(plain)}

    def combine(self, parts: dict[str, torch.Tensor]) -> torch.Tensor:
        return parts["imputation"]


def _load_matching(model: TinyModel, path: str, earlier: TinyModel | None = None) -> None:
    """Start ``model`` from the weights at ``path`` (``earlier``, if the caller has read them
    already): every tensor that both have. The encoder configs must agree, so a continued
    run trains the same network further; a forecast head that changes kind
    (``season_periods``) keeps what it shares."""
    earlier = earlier if earlier is not None else TinyModel.load(path)
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
    return out.with_suffix({1: ".ckpt", 2: ".heads.ckpt", 3: ".imputation.ckpt"}[stage])


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
    trainer._stream = None  # the data-loading processes end with their iterator
    torch.save(trainer.state(), ckpt)
    return trainer.history


def _summary(trainer: Trainer, window: list[dict[str, float]]) -> dict:
    means = {k: float(np.mean([w[k] for w in window])) for k in window[0]}
    return {"step": trainer.step, "minutes": round(trainer.seconds / 60, 2), **means}
