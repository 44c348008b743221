"""TSB-AD's VUS-ROC and VUS-PR, vectorised over thresholds and windows.

TSB-AD's ``RangeAUC_volume_opt`` loops in Python over every buffer width (0 to the sliding
window) and 250 thresholds, about a second per NAB file; choosing settings by
leave-one-group-out scores every file under dozens of settings, so that loop would dominate
the benchmark. This module computes the same sums as matrix products over the steps near the
anomalies (outside them every range label is zero), and ``benchmarks/anomaly.py`` checks it
against TSB-AD's own function on every file it reports.
"""

from __future__ import annotations

import numpy as np


def label_ranges(labels: np.ndarray) -> list[tuple[int, int]]:
    """Inclusive (start, end) of each run of ones, as TSB-AD's ``range_convers_new``."""
    padded = np.concatenate([[0], labels.astype(int), [0]])
    edges = np.flatnonzero(np.diff(padded))
    return [(int(s), int(e) - 1) for s, e in zip(edges[::2], edges[1::2], strict=True)]


def buffered(n: int, ranges: list[tuple[int, int]], width: int) -> list[tuple[int, int]]:
    """The ranges widened by ``width // 2`` each side, touching ones merged (TSB-AD's
    ``new_sequence``)."""
    half = width // 2
    start = max(ranges[0][0] - half, 0)
    out = []
    for (_, end), (nxt, _) in zip(ranges[:-1], ranges[1:], strict=True):
        if end + half < nxt - half:
            out.append((start, end + half))
            start = nxt - half
    out.append((start, min(ranges[-1][1] + half, n - 1)))
    return out


def soft_labels(labels: np.ndarray, ranges: list[tuple[int, int]], width: int) -> np.ndarray:
    """Labels with a square-root ramp ``width // 2`` steps each side (TSB-AD's
    ``sequencing``)."""
    out = labels.astype(float).copy()
    n = len(out)
    for start, end in ranges:
        after = np.arange(end + 1, min(end + width // 2 + 1, n))
        out[after] += np.sqrt(1 - (after - end) / width)
        before = np.arange(max(start - width // 2, 0), start)
        out[before] += np.sqrt(1 - (start - before) / width)
    return np.minimum(out, 1.0)


def vus(labels: np.ndarray, score: np.ndarray, window: int, thresholds: int = 250
        ) -> tuple[float, float]:
    """(VUS-ROC, VUS-PR) of ``score`` against binary ``labels``, as TSB-AD's
    ``generate_curve(labels, score, window, "opt", thresholds)``."""
    labels = np.asarray(labels).astype(int)
    score = np.asarray(score, dtype=float)
    n = len(score)
    ranges = label_ranges(labels)
    outer = buffered(n, ranges, window)
    cols = np.concatenate([np.arange(s, e + 1) for s, e in outer])
    levels = -np.sort(-score)[np.linspace(0, n - 1, thresholds).astype(int)]
    pred = score[None, :] >= levels[:, None]  # (T, n)
    n_pred = pred.sum(axis=1).astype(float)
    hits = np.concatenate([np.zeros((thresholds, 1)), np.cumsum(pred, axis=1)], axis=1)
    near = pred[:, cols].astype(float)  # (T, m): only these steps carry range labels
    widths = np.arange(window + 1)
    soft = np.stack([soft_labels(labels, ranges, w)[cols] for w in widths], axis=1)  # (m, W)
    true_cols = labels[cols] == 1
    tp = near @ soft  # (T, W)
    n_labels = true_cols.sum() + near @ (soft * ~true_cols[:, None])
    n_pos = labels.sum()
    aucs, aps = [], []
    for k, w in enumerate(widths):
        inner = buffered(n, ranges, w)
        found = np.stack([hits[:, e + 1] - hits[:, s] > 0 for s, e in inner], axis=1)
        p_new = (n_pos + n_labels[:, k]) / 2
        tpr = np.minimum(tp[:, k] / p_new, 1) * found.sum(axis=1) / len(inner)
        fpr = (n_pred - tp[:, k]) / (n - p_new)
        precision = tp[:, k] / n_pred
        tpr_all = np.concatenate([[0.0], tpr, [1.0]])
        fpr_all = np.concatenate([[0.0], fpr, [1.0]])
        aucs.append(np.dot(np.diff(fpr_all), (tpr_all[1:] + tpr_all[:-1]) / 2))
        aps.append(np.dot(np.diff(tpr_all[:-1]), precision))
    return float(np.mean(aucs)), float(np.mean(aps))
