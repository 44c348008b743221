"""What pretraining and fine-tuning share: training batches, the losses and one
optimisation step.

`tsheads pretrain` (``tsheads.pretrain.train``) and an estimator's ``fine_tune_steps`` both
train through `step`, so both clip gradients the same way; the losses are those the shipped
weights were pretrained with.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import torch

from tsheads.nn import TinyModel
from tsheads.nn.encoder import fill_linear, spectrum
from tsheads.nn.heads import ENCODER_HEADS
from tsheads.nn.masking import pretraining_mask
from tsheads.sampling import WindowSampler
from tsheads.scaling import standardize, standardize_like

CLEAN_SHARE = 0.3  # rows shown with nothing hidden: forecasting sees clean contexts too
MIN_VISIBLE = 16  # rows with fewer visible values teach nothing and are dropped from the loss
MAX_GRAD_NORM = 1.0  # gradients are clipped to this norm at every step
FINE_TUNE_LR = 1e-4


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

    def to(self, device: torch.device) -> Batch:
        """The same batch on ``device`` (pinned batches copy without blocking)."""
        return Batch(**{f.name: getattr(self, f.name).to(device, non_blocking=True)
                        for f in fields(self)})

    def pin_memory(self) -> Batch:
        """The same batch in page-locked memory (a GPU data loader calls this)."""
        return Batch(**{f.name: getattr(self, f.name).pin_memory() for f in fields(self)})


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
        target=as_t(standardize_like(context, known, loc, scale)).float(),
        hidden=as_t(hidden & usable),
        known=as_t(known & usable),
        future=as_t(standardize_like(future, future_known, loc, scale)).float(),
        future_known=as_t(future_known),
    )


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


def total_loss(parts: dict[str, torch.Tensor], spectrum_weight: float = 0.5,
               forecast_weight: float = 0.2) -> torch.Tensor:
    """The stage-one objective; forecast errors are heavy-tailed, so their weight is small."""
    return parts["time"] + spectrum_weight * parts["spectrum"] + forecast_weight * parts["forecast"]


def step(model: TinyModel, optimizer: torch.optim.Optimizer, loss: torch.Tensor) -> None:
    """One optimisation step on ``loss``: gradients of the trainable parameters clipped to
    ``MAX_GRAD_NORM`` (one heavy-tailed batch must not undo the weights)."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    trainable = [p for p in model.parameters() if p.requires_grad]
    torch.nn.utils.clip_grad_norm_(trainable, MAX_GRAD_NORM)
    optimizer.step()


def fine_tune(
    model: TinyModel, series: list[np.ndarray], steps: int, seed: int, batch_size: int = 32
) -> TinyModel:
    """Adapt ``model`` to the user's series by hiding observed values and reconstructing them,
    with the stage-one losses.

    The autoregressive and Fourier heads are left as they are, deliberately: they learn
    from clean forecasting batches in stage two, which a user's few series cannot stand in
    for, and they take no part in these losses."""
    cfg = model.config
    sampler = WindowSampler({"user": list(series)}, np.empty((0, cfg.context_length)),
                            cfg.context_length, cfg.horizon, 0.0, np.random.default_rng(seed))
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=FINE_TUNE_LR)
    model.train()
    for _ in range(steps):
        batch = sample_batch(sampler, batch_size, cfg.patch_length, generator)
        step(model, optimizer, total_loss(losses(model, batch)))
    return model.eval()
