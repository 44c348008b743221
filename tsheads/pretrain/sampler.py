"""Draw pretraining windows: per dataset first, then per series, then a random crop.

Sampling per dataset keeps big collections (air quality holds 42 % of the points) from
dominating; a share of windows comes from a fixed pool of synthetic series.
"""

from __future__ import annotations

import numpy as np

SHORT_CONTEXT_SHARE = 0.1  # windows cropped shorter than the context, to learn padding


class WindowSampler:
    """Yields (values, pad) batches of shape (B, L); values hold NaN where missing or padded."""

    def __init__(
        self,
        corpus: dict[str, list[np.ndarray]],
        synthetic: np.ndarray,
        length: int,
        synthetic_share: float,
        rng: np.random.Generator,
    ) -> None:
        self.datasets = [name for name, series in corpus.items() if series]
        self.corpus = corpus
        points = np.array([sum(len(s) for s in corpus[name]) for name in self.datasets])
        self.weights = np.sqrt(points) / np.sqrt(points).sum()
        self.synthetic = synthetic
        self.length = length
        self.synthetic_share = synthetic_share
        self.rng = rng

    def _pick_series(self) -> np.ndarray:
        if not self.datasets or self.rng.random() < self.synthetic_share:
            return self.synthetic[self.rng.integers(len(self.synthetic))]
        name = self.datasets[self.rng.choice(len(self.datasets), p=self.weights)]
        series = self.corpus[name]
        return series[self.rng.integers(len(series))]

    def _crop(self, series: np.ndarray) -> np.ndarray:
        """A random window of at most ``length`` steps, shorter now and then."""
        length = self.length
        if self.rng.random() < SHORT_CONTEXT_SHARE:
            length = int(self.rng.integers(self.length // 16, self.length))
        if len(series) <= length:
            return series
        start = int(self.rng.integers(0, len(series) - length + 1))
        return series[start : start + length]

    def sample(self, batch: int) -> tuple[np.ndarray, np.ndarray]:
        values = np.full((batch, self.length), np.nan)
        pad = np.ones((batch, self.length), dtype=bool)
        for row in range(batch):
            window = self._crop(self._pick_series())
            values[row, self.length - len(window) :] = window
            pad[row, self.length - len(window) :] = False
        return values, pad
