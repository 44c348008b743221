"""The one place that loads, batches and runs the model.

Estimators hand numpy windows in their original scale; this module normalises them,
runs the model in bounded batches under ``torch.inference_mode`` and hands numpy back.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from tsheads.nn import TinyModel
from tsheads.windows import standardize, unstandardize

WEIGHTS = Path(__file__).parent / "weights" / "tiny.pt"


@lru_cache(maxsize=4)
def _load_cached(path: str) -> TinyModel:
    return TinyModel.load(path)


def load_model(path: str | Path | None = None) -> TinyModel:
    """The shipped pretrained model (or the one at ``path``), loaded once per process."""
    return _load_cached(str(Path(path) if path is not None else WEIGHTS))


def reconstruct(
    model: TinyModel,
    values: np.ndarray,
    mask: np.ndarray,
    *,
    batch_size: int = 256,
    progress: bool = False,
) -> np.ndarray:
    """Reconstruct (N, L) windows from their visible values; ``mask`` is True where hidden.

    Returns (N, L) in the original scale. Observed values are returned as the model
    reconstructs them; callers that must keep them put them back.
    """
    out = np.empty(values.shape, dtype=np.float64)
    model.eval()
    with torch.inference_mode():
        starts = range(0, len(values), batch_size)
        for start in tqdm(starts, disable=not progress, unit="batch", desc="tsheads"):
            rows = slice(start, start + batch_size)
            z, loc, scale = standardize(values[rows], mask[rows])
            heads = model(torch.from_numpy(z).float(), torch.from_numpy(mask[rows]))
            out[rows] = unstandardize(heads["reconstruction"].double().numpy(), loc, scale)
    return out
