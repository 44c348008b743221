"""Draw pretraining windows: per dataset first, then per series, then a random crop.

Sampling per dataset keeps big collections (air quality holds 42 % of the points) from
dominating; a share of windows comes from a fixed pool of synthetic series. Two optional
augmentations widen the real corpus without new data: convex mixes of two or three
standardised real series (TSMixup, Ansari et al. 2024, "Chronos", section 4.1) and copies
down-sampled by averaging 2-4 steps (TTM's multi-resolution trick), which turn hourly data
into 2-4 hourly and daily into weekly-ish series. Each crop is split into a context
(left-padded to L) and the future that follows it (right-padded to H).
"""

from __future__ import annotations

import numpy as np

SHORT_CONTEXT_SHARE = 0.1  # windows cropped shorter than the context, to learn padding
MIN_CONTEXT = 16  # a crop keeps at least this many steps of context before its future
MIX_SERIES = (2, 3)  # how many real series one TSMixup window mixes
COARSE_FACTORS = (2, 3, 4)  # steps averaged into one by a down-sampled copy
MIN_COARSE = 64  # a series is down-sampled only if this many steps remain


class WindowSampler:
    """Yields (context (B, L), future (B, H)) batches, NaN where missing or padded."""

    def __init__(
        self,
        corpus: dict[str, list[np.ndarray]],
        synthetic: np.ndarray,
        length: int,
        horizon: int,
        synthetic_share: float,
        rng: np.random.Generator,
        mix_share: float = 0.0,
        coarse_share: float = 0.0,
    ) -> None:
        check_shares(mix_share, coarse_share)
        self.datasets = [name for name, series in corpus.items() if series]
        self.corpus = corpus
        points = np.array([sum(len(s) for s in corpus[name]) for name in self.datasets])
        self.weights = np.sqrt(points) / np.sqrt(points).sum()
        self.synthetic = synthetic
        self.length = length
        self.horizon = horizon
        self.synthetic_share = synthetic_share
        self.mix_share = mix_share
        self.coarse_share = coarse_share
        self.rng = rng

    def _pick_series(self) -> np.ndarray:
        if not self.datasets or self.rng.random() < self.synthetic_share:
            return self.synthetic[self.rng.integers(len(self.synthetic))]
        if not (self.mix_share or self.coarse_share):  # no draw: runs without them reproduce
            return self._pick_real()
        draw = self.rng.random()
        if draw < self.mix_share:
            return self._mixed()
        if draw < self.mix_share + self.coarse_share:
            return coarsened(self._pick_real(), self.rng)
        return self._pick_real()

    def _pick_real(self) -> np.ndarray:
        name = self.datasets[self.rng.choice(len(self.datasets), p=self.weights)]
        series = self.corpus[name]
        return series[self.rng.integers(len(series))]

    def _mixed(self) -> np.ndarray:
        """A convex mix of standardised stretches of equal length from 2-3 real series."""
        parts = [self._pick_real() for _ in range(self.rng.choice(MIX_SERIES))]
        size = min(min(len(p) for p in parts), self.length + self.horizon)
        stretches = []
        for part in parts:
            start = int(self.rng.integers(0, len(part) - size + 1))
            stretches.append(_standardised(part[start : start + size]))
        weights = self.rng.dirichlet(np.ones(len(parts)))
        return np.sum([w * x for w, x in zip(weights, stretches, strict=True)], axis=0)

    def _crop(self, series: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """A random context of at most L steps (shorter now and then) and its future."""
        context = self.length
        if self.rng.random() < SHORT_CONTEXT_SHARE:
            context = int(self.rng.integers(self.length // 16, self.length))
        total = context + self.horizon
        if len(series) > total:
            start = int(self.rng.integers(0, len(series) - total + 1))
            series = series[start : start + total]
        future = min(self.horizon, max(0, len(series) - MIN_CONTEXT))
        return series[: len(series) - future], series[len(series) - future :]

    def sample(self, batch: int) -> tuple[np.ndarray, np.ndarray]:
        contexts = np.full((batch, self.length), np.nan)
        futures = np.full((batch, self.horizon), np.nan)
        for row in range(batch):
            context, future = self._crop(self._pick_series())
            contexts[row, self.length - len(context) :] = context
            futures[row, : len(future)] = future
        return contexts, futures


def check_shares(mix_share: float, coarse_share: float) -> None:
    """Refuse augmentation shares that are not fractions adding up to at most 1."""
    for name, share in (("mix_share", mix_share), ("coarse_share", coarse_share)):
        if not isinstance(share, int | float) or not 0 <= share <= 1:
            raise ValueError(f"{name} (--{name.replace('_', '-')}) must be a fraction in "
                             f"[0, 1], got {share!r}.")
    if mix_share + coarse_share > 1:
        raise ValueError(f"mix_share ({mix_share}) and coarse_share ({coarse_share}) are shares "
                         "of the same real windows and must add up to at most 1; lower one.")


def coarsened(series: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The series averaged over blocks of 2-4 steps (NaN where a block has nothing
    observed); the series itself when too short to keep ``MIN_COARSE`` steps."""
    factor = int(rng.choice(COARSE_FACTORS))
    blocks = len(series) // factor
    if blocks < MIN_COARSE:
        return series
    cut = series[len(series) - blocks * factor :].reshape(blocks, factor)
    seen = np.isfinite(cut)
    total = np.where(seen, cut, 0.0).sum(axis=1)
    count = seen.sum(axis=1)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _standardised(series: np.ndarray) -> np.ndarray:
    """Zero mean and unit spread over the observed values (spread floored, so a constant
    stretch stays constant instead of exploding)."""
    seen = series[np.isfinite(series)]
    if seen.size == 0:
        return series
    scale = float(seen.std())
    return (series - seen.mean()) / (scale if scale > 1e-8 * max(1.0, abs(seen.mean())) else 1.0)
