"""Second pretraining stage: the autoregressive and Fourier heads on the frozen encoder.

Freezing the encoder keeps every reconstruction and direct-forecast output of stage one
bit-identical, and makes a step cheap (no backward pass through the encoder). The
autoregressive head learns on its own roll-outs: each window is rolled forward a few
patches with the head's own predictions, so it sees the inputs it will meet at inference.
"""

from __future__ import annotations

import torch

from tsheads.nn import TinyModel
from tsheads.nn.heads import (
    FORECAST_HEADS,
    FOURIER_BINS,
    FOURIER_SQUASH,
    fourier_bins,
    fourier_coefficients,
    fourier_smoothness,
)
from tsheads.scaling import standardize_torch

ROLLOUT_PATCHES = 4  # patches each window is rolled forward per step
FOURIER_GAMMA = 1e-4  # weight of the smoothness penalty
NAIVE_FLOOR = 0.05  # least naive scale (window units) a direct-forecast error is divided by


def freeze_all_but(model: TinyModel, heads: tuple[str, ...] = FORECAST_HEADS) -> list:
    """Switch off gradients everywhere but in ``heads``; return their parameters."""
    for param in model.parameters():
        param.requires_grad_(False)
    trainable = [p for name in heads for p in model.heads[name].parameters()]
    for param in trainable:
        param.requires_grad_(True)
    return trainable


def fourier_loss(model: TinyModel, out, future: torch.Tensor, known: torch.Tensor):
    """Bin cross-entropy of the true residuals around the direct forecast + smoothness.

    Both run in float32 even under autocast: in bfloat16 the density's small tail bins
    cancel to zero and the residuals land in other bins."""
    with torch.no_grad(), torch.autocast(future.device.type, enabled=False):
        direct = model.heads["forecast"](out)  # (B, H)
    coeffs = fourier_coefficients(model.heads["fourier"](out))  # (B, H, K)
    with torch.autocast(future.device.type, enabled=False):
        probs = fourier_bins(coeffs)  # (B, H, bins)
    x = torch.tanh((future - direct) / FOURIER_SQUASH)
    target = ((x + 1) / 2 * FOURIER_BINS).long().clamp(0, FOURIER_BINS - 1)  # (B, H)
    nll = -torch.log(probs.gather(-1, target[..., None]).squeeze(-1).clamp(min=1e-9))
    weight = known.float()
    return (nll * weight).sum() / weight.sum().clamp(min=1) + FOURIER_GAMMA * fourier_smoothness(
        coeffs
    )


def rollout_loss(model: TinyModel, z, mask, out, future, known) -> torch.Tensor:
    """MSE of the autoregressive head over ``ROLLOUT_PATCHES`` patches of its own roll-out,
    in the units of the first window."""
    head, p = model.heads["autoregressive"], model.config.patch_length
    values, errors, weights = z, [], []
    loc = torch.zeros_like(z[:, :1])
    scale = torch.ones_like(loc)
    for k in range(min(ROLLOUT_PATCHES, future.shape[1] // p)):
        if k:
            zk, loc, scale = standardize_torch(values, mask)
            with torch.no_grad():
                out = model.encoder(zk, mask)
        patch = head(out) * scale + loc  # (B, p) in first-window units
        target, seen = future[:, k * p : (k + 1) * p], known[:, k * p : (k + 1) * p].float()
        errors.append(((patch - target) ** 2 * seen).sum())
        weights.append(seen.sum())
        values = torch.cat([values[:, p:], patch.detach()], dim=1)
        mask = torch.cat([mask[:, p:], torch.zeros_like(mask[:, :p])], dim=1)
    return torch.stack(errors).sum() / torch.stack(weights).sum().clamp(min=1)


def naive_scale(z: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean absolute step-to-step change of each window's visible values (B,), floored at
    ``NAIVE_FLOOR``: the scale of a flat forecast's error, as MASE uses it."""
    seen = (~mask).float()
    pairs = seen[:, 1:] * seen[:, :-1]
    change = ((z[:, 1:] - z[:, :-1]).abs() * pairs).sum(1) / pairs.sum(1).clamp(min=1)
    return change.clamp(min=NAIVE_FLOOR)


def direct_loss(model: TinyModel, out, z, mask, future: torch.Tensor, known: torch.Tensor):
    """Absolute error of the direct forecast head on the known future steps, relative to
    the window's ``naive_scale``.

    Relative absolute errors (as MASE measures them) keep noisy windows from outweighing
    smooth ones and make the seasonal gate choose between candidates rather than hedge
    between them, as a squared error would.
    """
    weight = known.float() / naive_scale(z, mask)[:, None]
    error = (model.heads["forecast"](out) - future).abs() * weight
    return error.sum() / known.float().sum().clamp(min=1)


def head_losses(model: TinyModel, z, mask, future, known, *, direct: bool = False
                ) -> dict[str, torch.Tensor]:
    """The stage-two losses from one encoder pass over the clean contexts; with ``direct``
    the direct forecast head's too."""
    with torch.no_grad():
        out = model.encoder(z, mask)
    parts = {
        "fourier": fourier_loss(model, out, future, known),
        "autoregressive": rollout_loss(model, z, mask, out, future, known),
    }
    if direct:
        parts["forecast"] = direct_loss(model, out, z, mask, future, known)
    return parts
