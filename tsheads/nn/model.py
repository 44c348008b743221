"""TinyModel: the encoder with its named heads, and saving/loading it safely."""

from __future__ import annotations

import hashlib
import json
import pickle
from pathlib import Path

import torch
from torch import nn

from tsheads.nn.encoder import Encoder, EncoderConfig, EncoderOutput
from tsheads.nn.heads import DEFAULT_HEADS, HEADS

FORMAT_VERSION = 1


class TinyModel(nn.Module):
    """One encoder pass shared by every head."""

    def __init__(self, config: EncoderConfig, heads: tuple[str, ...] = DEFAULT_HEADS) -> None:
        super().__init__()
        unknown = sorted(set(heads) - set(HEADS))
        if unknown:
            raise ValueError(f"unknown heads {unknown}; available: {sorted(HEADS)}.")
        self.config = config
        self.encoder = Encoder(config)
        self.heads = nn.ModuleDict({name: HEADS[name](config) for name in heads})

    def forward(
        self, z: torch.Tensor, mask: torch.Tensor, heads: tuple[str, ...] | None = None
    ) -> dict[str, torch.Tensor]:
        """Run the encoder once and the named heads (all by default) on it; values stay in
        the normalised scale."""
        out = self.encoder(z, mask)
        names = tuple(self.heads) if heads is None else heads
        return {name: self.heads[name](out) for name in names}

    def encode(self, z: torch.Tensor, mask: torch.Tensor) -> EncoderOutput:
        return self.encoder(z, mask)

    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def save(self, path: str | Path, *, half: bool = False, extra: dict | None = None) -> Path:
        """Write ``path`` (a state_dict) and ``path.json`` (config, heads, sha256)."""
        path = Path(path)
        state = {k: (v.half() if half and v.is_floating_point() else v) for k, v in
                 self.state_dict().items()}
        torch.save(state, path)
        meta = {
            "format_version": FORMAT_VERSION,
            "config": self.config.to_dict(),
            "heads": list(self.heads),
            "sha256": _sha256(path),
            **(extra or {}),
        }
        path.with_suffix(".json").write_text(json.dumps(meta, indent=2) + "\n")
        return path

    @classmethod
    def load(cls, path: str | Path) -> TinyModel:
        """Load weights saved by ``save``: checksum first, then ``weights_only=True``."""
        path = Path(path)
        meta_path = path.with_suffix(".json")
        if not path.exists() or not meta_path.exists():
            raise FileNotFoundError(f"model files {path} and {meta_path} must both exist.")
        meta = json.loads(meta_path.read_text())
        if meta.get("format_version") != FORMAT_VERSION:
            raise ValueError(
                f"{meta_path} has format version {meta.get('format_version')!r}; "
                f"this tsheads reads version {FORMAT_VERSION}."
            )
        if not meta.get("sha256"):
            raise ValueError(f"{meta_path} has no 'sha256'; tsheads loads only weights whose "
                             "checksum is recorded: save the model with TinyModel.save.")
        digest = _sha256(path)
        if digest != meta["sha256"]:
            raise ValueError(
                f"checksum of {path} is {digest[:12]}..., expected {meta['sha256'][:12]}... "
                "from its .json; the file is corrupt or was replaced."
            )
        model = cls(EncoderConfig(**meta["config"]), heads=tuple(meta["heads"]))
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError:
            raise ValueError(
                f"{path} holds Python objects, not only tensors; tsheads loads weights with "
                "weights_only=True and never runs code from a file: save the model with "
                "TinyModel.save."
            ) from None
        try:
            model.load_state_dict({k: v.float() for k, v in state.items()})
        except RuntimeError as err:
            raise ValueError(f"weights in {path} do not fit the config in {meta_path}: "
                             f"{str(err).splitlines()[0]}") from err
        return model.eval()


def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
