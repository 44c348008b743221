"""What every tsheads estimator shares: parameter checks, frames, the model and threads."""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator

import numpy as np
import torch

from tsheads.nn import TinyModel
from tsheads.runtime import load_model

FRAME_KWARGS = ("id_col", "time_col", "target_col", "freq")


class ModelMixin:
    """Shared plumbing of the estimators; holds no parameters of its own."""

    def _validate_common(self) -> None:
        for name in ("batch_size", "fine_tune_steps"):
            value = getattr(self, name)
            low = 1 if name == "batch_size" else 0
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < low:
                raise ValueError(f"{name} must be an int >= {low}, got {value!r}.")
        if self.n_threads is not None and (not isinstance(self.n_threads, int)
                                           or self.n_threads < 1):
            raise ValueError(f"n_threads must be None or an int >= 1, got {self.n_threads!r}.")

    def _panel(self, X, frame_kwargs: dict):
        from tsheads.data import to_panel

        unknown = sorted(set(frame_kwargs) - set(FRAME_KWARGS))
        if unknown:
            raise TypeError(f"unexpected keyword arguments {unknown}; "
                            f"accepted: {list(FRAME_KWARGS)}.")
        return to_panel(X, **frame_kwargs)

    def _fitted_model(self, series: list[np.ndarray]) -> TinyModel:
        """The shared pretrained model, or a fine-tuned copy when fine_tune_steps > 0."""
        model = load_model(self.weights)
        if self.fine_tune_steps == 0:
            return model
        with self._threads():
            return fine_tune(copy.deepcopy(model), series, self.fine_tune_steps,
                             self.random_state)

    @contextlib.contextmanager
    def _threads(self) -> Iterator[None]:
        before = torch.get_num_threads()
        if self.n_threads is not None:
            torch.set_num_threads(self.n_threads)
        try:
            yield
        finally:
            torch.set_num_threads(before)


def fine_tune(
    model: TinyModel, series: list[np.ndarray], steps: int, seed: int, batch_size: int = 32
) -> TinyModel:
    """Adapt ``model`` to the user's series by hiding observed values and reconstructing them."""
    from tsheads.pretrain.sampler import WindowSampler
    from tsheads.pretrain.train import TrainConfig, losses, sample_batch, total_loss

    cfg = model.config
    sampler = WindowSampler({"user": list(series)}, np.empty((0, cfg.context_length)),
                            cfg.context_length, cfg.horizon, 0.0, np.random.default_rng(seed))
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    model.train()
    for _ in range(steps):
        batch = sample_batch(sampler, batch_size, cfg.patch_length, generator)
        loss = total_loss(losses(model, batch), TrainConfig())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return model.eval()
