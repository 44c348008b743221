"""Draw pretraining windows: per dataset first, then per series, then a random crop.

Sampling per dataset keeps big collections (air quality holds 42 % of the points) from
dominating; a share of windows comes from a fixed pool of synthetic series. Each crop is
split into a context (left-padded to L) and the future that follows it (right-padded to H).
"""

from __future__ import annotations

import numpy as np

SHORT_CONTEXT_SHARE = 0.1  # windows cropped shorter than the context, to learn padding
MIN_CONTEXT = 16  # a crop keeps at least this many steps of context before its future


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
    ) -> None:
        self.datasets = [name for name, series in corpus.items() if series]
        self.corpus = corpus
        points = np.array([sum(len(s) for s in corpus[name]) for name in self.datasets])
        self.weights = np.sqrt(points) / np.sqrt(points).sum()
        self.synthetic = synthetic
        self.length = length
        self.horizon = horizon
        self.synthetic_share = synthetic_share
        self.rng = rng

    def _pick_series(self) -> np.ndarray:
        if not self.datasets or self.rng.random() < self.synthetic_share:
            return self.synthetic[self.rng.integers(len(self.synthetic))]
        name = self.datasets[self.rng.choice(len(self.datasets), p=self.weights)]
        series = self.corpus[name]
        return series[self.rng.integers(len(series))]

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
