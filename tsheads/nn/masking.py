"""Pure mask functions: True marks a hidden value, everywhere.

Every function takes the mask shape (B, L) and a ``torch.Generator`` so that masks are
reproducible for a seed. Ratios may be one float or one value per row.
"""

from __future__ import annotations

import torch


def _row_ratio(ratio: float | torch.Tensor, batch: int) -> torch.Tensor:
    """Broadcast a ratio to one value per row."""
    return torch.as_tensor(ratio, dtype=torch.float32).expand(batch).clone()


def point_mask(
    shape: tuple[int, int], ratio: float | torch.Tensor, generator: torch.Generator
) -> torch.Tensor:
    """Hide scattered single points: each row hides round(ratio * L) points at random."""
    batch, length = shape
    counts = (_row_ratio(ratio, batch) * length).round().long()  # (B,)
    ranks = torch.rand(shape, generator=generator).argsort(dim=1).argsort(dim=1)  # (B, L)
    return ranks < counts[:, None]


def block_mask(
    shape: tuple[int, int],
    ratio: float | torch.Tensor,
    patch_length: int,
    generator: torch.Generator,
) -> torch.Tensor:
    """Hide whole patches: each row hides round(ratio * P) patch-aligned blocks."""
    batch, length = shape
    patches = point_mask((batch, length // patch_length), ratio, generator)  # (B, P)
    return patches.repeat_interleave(patch_length, dim=1)  # (B, L)


def hybrid_mask(
    shape: tuple[int, int], ratio: float, patch_length: int, generator: torch.Generator
) -> torch.Tensor:
    """TSPulse's hybrid mask: 4 * ratio / 0.125 whole patches, then random points up to ratio."""
    n_blocks = round(4 * ratio / 0.125)
    blocks = block_mask(shape, n_blocks * patch_length / shape[1], patch_length, generator)
    scores = torch.rand(shape, generator=generator).masked_fill(blocks, 2.0)  # (B, L)
    ranks = (-scores).argsort(dim=1).argsort(dim=1)  # (B, L): block points rank first
    return ranks < round(ratio * shape[1])


def gap_mask(shape: tuple[int, int], gap: int, generator: torch.Generator) -> torch.Tensor:
    """Hide one contiguous gap of ``gap`` steps at a random place in each row."""
    batch, length = shape
    starts = torch.randint(0, length - gap + 1, (batch, 1), generator=generator)  # (B, 1)
    steps = torch.arange(length)[None, :]  # (1, L)
    return (steps >= starts) & (steps < starts + gap)


def pretraining_mask(
    shape: tuple[int, int], patch_length: int, generator: torch.Generator
) -> torch.Tensor:
    """A mix of point, block, hybrid and gap masks at random ratios, for pretraining.

    Training on blocks alone leaves scattered points weak, and points alone leave long gaps
    weak, so each row draws one kind.
    """
    batch, length = shape
    kind = torch.randint(0, 4, (batch,), generator=generator)  # (B,)
    ratio = 0.05 + 0.55 * torch.rand(batch, generator=generator)  # (B,)
    points = point_mask(shape, ratio, generator)
    blocks = block_mask(shape, ratio, patch_length, generator)
    hybrid = block_mask(shape, ratio / 2, patch_length, generator) | point_mask(
        shape, ratio / 2, generator
    )
    gap_len = int(torch.randint(patch_length, length // 4, (1,), generator=generator))
    gaps = gap_mask(shape, gap_len, generator) | point_mask(shape, ratio / 4, generator)
    choices = torch.stack([points, blocks, hybrid, gaps])  # (4, B, L)
    return choices[kind, torch.arange(batch)]
