"""KernelSynth-style synthetic series (Ansari et al., 2024, "Chronos", section 4.2), numpy only.

A series starts as a Gaussian-process sample whose kernel is a random sum/product of 1-5 kernels
drawn from a bank (periodic, RBF, rational quadratic, linear, white noise, constant). Then, each
with its own probability, it gets a trend, explicit seasonality, AR noise, a random walk, level
shifts, heteroscedastic noise and spikes; it is rescaled by ``10**U(-3, 4)`` and offset, or,
rarely, turned into intermittent counts; and, rarely, short stretches go missing (NaN).

Sampling is exact-to-embedding and fast: a kernel is kept as a sum of terms
``a(s) a(t) k(s - t)`` with ``k`` stationary, so a sample is ``sum a(t) g(t)`` with each ``g`` a
stationary sample drawn by circulant embedding (two FFTs) instead of an O(L^3) Cholesky. A linear
kernel ``sigma0**2 + u(s) u(t)`` is two such terms; products multiply ``k``'s and ``a``'s pairwise.
Everything draws from the given ``np.random.Generator``, so a seeded generator gives the same
series.
"""

from __future__ import annotations

import numpy as np

# Periods in steps of common calendars (hourly: 24, 168; daily: 7, 30, 365; monthly: 12; ...).
PERIODS = (4, 5, 6, 7, 10, 12, 14, 24, 26, 30, 48, 52, 60, 96, 144, 168, 336, 365)
MAX_KERNELS = 5
KERNEL_KINDS = ("periodic", "rbf", "rational", "linear", "white", "constant")
KERNEL_WEIGHTS = (0.4, 0.15, 0.15, 0.1, 0.1, 0.1)


def synthetic_batch(rng: np.random.Generator, n: int, length: int) -> np.ndarray:
    """``n`` independent synthetic series as a float32 array of shape (n, length)."""
    return np.stack([synthetic_series(rng, length) for _ in range(n)])


def synthetic_series(rng: np.random.Generator, length: int) -> np.ndarray:
    """One float32 series of ``length`` steps; NaN marks rare missing stretches."""
    if length < 2:
        raise ValueError(f"length must be at least 2, got {length}.")
    series = kernel_synth(rng, length)
    for probability, ingredient in _SHAPE_INGREDIENTS:
        if rng.random() < probability:
            series = series + ingredient(rng, length)
    if rng.random() < 0.1:
        series = _add_spikes(rng, series)
    if rng.random() < 0.03:
        series = _intermittent_counts(rng, series)
    else:
        series = _rescale(rng, series)
    if length >= 20 and rng.random() < 0.05:
        series = _drop_stretches(rng, series)
    return series.astype(np.float32)


# --- Gaussian-process part ----------------------------------------------------------------------


def kernel_synth(rng: np.random.Generator, length: int) -> np.ndarray:
    """A GP sample under a random composite kernel, scaled to unit standard deviation."""
    size = _embedding_size(length)
    lags = np.minimum(np.arange(size), size - np.arange(size)).astype(np.float64)
    terms = _random_kernel(rng, lags, length)
    series = _sample_terms(rng, terms, length)
    std = series.std()
    return (series - series.mean()) / (std if std > 1e-12 else 1.0)


def _embedding_size(length: int) -> int:
    """Circulant size: a power of two at least eight times the length (see ``_sample_terms``)."""
    return 1 << int(np.ceil(np.log2(8 * length)))


def _random_kernel(rng, lags, length) -> list[tuple[np.ndarray, np.ndarray]]:
    """Fold 1-5 bank kernels with random + and *; a kernel is a list of (k(lag), a(t)) terms."""
    terms = _bank_kernel(rng, lags, length)
    for _ in range(rng.integers(0, MAX_KERNELS)):
        other = _bank_kernel(rng, lags, length)
        if rng.random() < 0.5:
            terms = terms + other
        else:
            terms = [(k1 * k2, a1 * a2) for k1, a1 in terms for k2, a2 in other]
    return terms


def _bank_kernel(rng, lags, length) -> list[tuple[np.ndarray, np.ndarray]]:
    ones = np.ones(length)
    kind = rng.choice(KERNEL_KINDS, p=KERNEL_WEIGHTS)
    if kind == "periodic":
        return [(_periodic(rng, lags, length), ones)]
    if kind == "rbf":
        scale = length * rng.choice([0.01, 0.03, 0.1, 0.3, 1.0])
        return [(np.exp(-0.5 * (lags / scale) ** 2), ones)]
    if kind == "rational":
        scale = length * rng.choice([0.03, 0.1, 0.3, 1.0])
        alpha = rng.choice([0.1, 1.0, 10.0])
        return [((1 + lags**2 / (2 * alpha * scale**2)) ** -alpha, ones)]
    if kind == "linear":
        sigma0 = rng.choice([0.0, 0.3, 1.0, 3.0])
        centred = (np.arange(length) - rng.uniform(0, length)) / length
        return [(np.ones_like(lags), sigma0 * ones), (np.ones_like(lags), centred)]
    if kind == "white":
        return [(rng.choice([0.01, 0.1, 1.0]) * (lags == 0), ones)]
    return [(rng.choice([0.1, 1.0, 10.0]) * np.ones_like(lags), ones)]


def _periodic(rng, lags, length) -> np.ndarray:
    """Exp-sine-squared kernel at a calendar period (jittered) or a random one."""
    if rng.random() < 0.7:
        period = rng.choice(PERIODS) * rng.uniform(0.9, 1.1)
    else:
        period = np.exp(rng.uniform(np.log(2.5), np.log(max(length, 3))))
    scale = rng.choice([0.5, 1.0, 2.0])
    return np.exp(-2 * np.sin(np.pi * lags / period) ** 2 / scale**2)


def _sample_terms(rng, terms, length) -> np.ndarray:
    """Sum over terms of a(t) g(t), g ~ GP(0, k) drawn by circulant embedding.

    Wrapping a kernel that has not decayed by lag M/2 (periodic, long RBF) onto the circle makes
    the circulant indefinite, and clipping its negative eigenvalues then distorts the covariance
    badly (30-60% for periodic kernels). Multiplying k by a Gaussian taper of width M/8 keeps it
    positive definite and leaves lags below the series length nearly untouched (>= 0.88 there):
    the sample is an exact draw from a slowly decorrelating version of k. Constant kernels embed
    exactly and are left as they are.
    """
    kernels = np.stack([k for k, _ in terms])  # (T, M) first rows of the circulants
    amplitudes = np.stack([a for _, a in terms])  # (T, length)
    size = kernels.shape[1]
    lags = np.minimum(np.arange(size), size - np.arange(size))
    constant = np.all(kernels == kernels[:, :1], axis=1, keepdims=True)  # (T, 1)
    kernels = np.where(constant, kernels, kernels * np.exp(-0.5 * (lags / (size / 8)) ** 2))
    # The circulant is symmetric, so its eigenvalues are the real rFFT of its first row. A real
    # sample puts independent N(0, 1) pairs on each frequency; interior frequencies also stand for
    # their mirror images, hence the sqrt(2) / 2 in place of 1.
    eigenvalues = np.clip(np.fft.rfft(kernels).real, 0, None)  # (T, M/2 + 1)
    weights = np.full(eigenvalues.shape[1], np.sqrt(0.5))
    weights[[0, -1]] = 1.0
    noise = rng.standard_normal(eigenvalues.shape) - 1j * rng.standard_normal(eigenvalues.shape)
    spectrum = np.sqrt(size * eigenvalues) * weights * noise  # (T, M/2 + 1)
    samples = np.fft.irfft(spectrum, n=size)[:, :length]  # (T, length)
    return (amplitudes * samples).sum(axis=0)


# --- additive ingredients, each (rng, length) -> array of that length ----------------------------


def _trend(rng, length) -> np.ndarray:
    """Linear, piecewise-linear or exponential trend with a random overall rise."""
    t = np.linspace(0, 1, length)
    kind = rng.integers(3)
    if kind == 0:
        curve = t
    elif kind == 1:
        knots = np.sort(rng.uniform(0, 1, rng.integers(1, 4)))
        slopes = rng.normal(size=knots.size + 1)
        curve = np.interp(t, [0, *knots, 1], np.cumsum([0, *np.diff([0, *knots, 1]) * slopes]))
    else:
        rate = rng.uniform(-4, 4)
        curve = np.expm1(rate * t) / (np.expm1(abs(rate)) + 1e-9)
    return rng.normal(0, 2) * curve


def _seasonality(rng, length) -> np.ndarray:
    """Sum of sines at 1-3 periods, each with 1-3 harmonics of decaying amplitude."""
    t = np.arange(length)
    total = np.zeros(length)
    for _ in range(rng.integers(1, 4)):
        period = rng.choice(PERIODS) * rng.uniform(0.95, 1.05)
        amplitude = rng.uniform(0.2, 2)
        for harmonic in range(1, rng.integers(2, 5)):
            phase = rng.uniform(0, 2 * np.pi)
            total += amplitude / harmonic * np.sin(2 * np.pi * harmonic * t / period + phase)
    return total


def _ar_noise(rng, length) -> np.ndarray:
    """Stationary AR(1) or AR(2) noise; AR(2) has complex roots inside the unit circle."""
    if rng.random() < 0.5:
        phi = (rng.uniform(-0.5, 0.95), 0.0)
    else:
        radius, angle = rng.uniform(0.5, 0.97), rng.uniform(0, np.pi)
        phi = (2 * radius * np.cos(angle), -(radius**2))
    burn_in = 50
    shocks = rng.normal(0, rng.uniform(0.1, 0.8), length + burn_in)
    noise = np.zeros(length + burn_in)
    for t in range(2, length + burn_in):
        noise[t] = shocks[t] + phi[0] * noise[t - 1] + phi[1] * noise[t - 2]
    return noise[burn_in:]


def _random_walk(rng, length) -> np.ndarray:
    steps = rng.normal(size=length)
    return rng.uniform(0.3, 2) * np.cumsum(steps) / np.sqrt(length)


def _level_shifts(rng, length) -> np.ndarray:
    shifts = np.zeros(length)
    for start in rng.integers(1, length, rng.integers(1, 4)):
        shifts[start:] += rng.normal(0, 1.5)
    return shifts


def _heteroscedastic_noise(rng, length) -> np.ndarray:
    """White noise whose scale drifts smoothly (log-scale interpolated between random knots)."""
    knots = rng.normal(0, 1, rng.integers(2, 6))
    log_scale = np.interp(np.linspace(0, 1, length), np.linspace(0, 1, knots.size), knots)
    return rng.uniform(0.05, 0.5) * np.exp(log_scale) * rng.normal(size=length)


_SHAPE_INGREDIENTS = (
    (0.3, _trend),
    (0.3, _seasonality),
    (0.3, _ar_noise),
    (0.15, _random_walk),
    (0.1, _level_shifts),
    (0.15, _heteroscedastic_noise),
)


# --- whole-series transforms ---------------------------------------------------------------------


def _add_spikes(rng, series) -> np.ndarray:
    """A few isolated points pushed 3-8 standard deviations away."""
    series = series.copy()
    where = rng.integers(0, series.size, rng.integers(1, 4))
    series[where] += rng.choice([-1, 1], where.size) * rng.uniform(3, 8, where.size) * series.std()
    return series


def _rescale(rng, series) -> np.ndarray:
    """Multiply by 10**U(-3, 4) and, half the time, add an offset of a few scales."""
    scale = 10 ** rng.uniform(-3, 4)
    offset = rng.normal(0, 5) if rng.random() < 0.5 else 0.0
    return scale * (series + offset)


def _intermittent_counts(rng, series) -> np.ndarray:
    """Zero-inflated Poisson counts whose rate follows the series."""
    rate = 10 ** rng.uniform(-0.5, 1.5) * np.exp(np.clip(0.7 * series, -10, 10))
    counts = rng.poisson(rate).astype(np.float64)
    return counts * (rng.random(series.size) > rng.uniform(0.2, 0.9))


def _drop_stretches(rng, series) -> np.ndarray:
    """Set 1-3 short stretches (up to 5% of the length each) to NaN."""
    series = series.copy()
    for _ in range(rng.integers(1, 4)):
        width = rng.integers(1, series.size // 20 + 1)
        start = rng.integers(0, series.size - width + 1)
        series[start : start + width] = np.nan
    return series
