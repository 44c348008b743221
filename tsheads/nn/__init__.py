"""Neural network modules: the dual-space encoder, its heads and the mask functions.

The modules here see only tensors. Pandas, scaling, batching and devices live outside.

Shape legend used in comments throughout:
    B batch, L context, P time patches, F frequency tokens, R register tokens,
    T all tokens (P + F + R), D width, H horizon, Q quantiles, K Fourier terms.
"""

from tsheads.nn.encoder import Encoder, EncoderConfig, EncoderOutput
from tsheads.nn.model import TinyModel

__all__ = ["Encoder", "EncoderConfig", "EncoderOutput", "TinyModel"]
