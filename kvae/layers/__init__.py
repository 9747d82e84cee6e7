"""Reusable, serializable encoders and decoders.

Encoders map images to `(z_mean, z_log_var)`; decoders map `z` to an output
of the image shape (logits or mean). Any `keras.Layer` that keeps this
contract can be given to `kvae.VAE` instead. Each also takes a label
embedding as `call(..., condition=c)` for `kvae.ConditionalVAE`, mixed in
by one `LabelConditioning` per stage. `HierarchicalEncoder` and
`HierarchicalDecoder` (with its `LatentGroup`s of `BottleneckBlock`s) are
the bottom-up and top-down paths of `kvae.HierarchicalVAE`.
"""

from kvae.layers.bottleneck_block import BottleneckBlock
from kvae.layers.conv_decoder import ConvDecoder
from kvae.layers.conv_encoder import ConvEncoder
from kvae.layers.gaussian_head import GaussianHead
from kvae.layers.hierarchical_decoder import HierarchicalDecoder
from kvae.layers.hierarchical_encoder import HierarchicalEncoder
from kvae.layers.label_conditioning import LabelConditioning
from kvae.layers.latent_group import LatentGroup
from kvae.layers.mlp_decoder import MLPDecoder
from kvae.layers.mlp_encoder import MLPEncoder
from kvae.layers.residual_block import ResidualBlock
from kvae.layers.residual_decoder import ResidualDecoder
from kvae.layers.residual_encoder import ResidualEncoder
from kvae.layers.upsample_2d import Upsample2D

__all__ = [
    "BottleneckBlock",
    "ConvDecoder",
    "ConvEncoder",
    "GaussianHead",
    "HierarchicalDecoder",
    "HierarchicalEncoder",
    "LabelConditioning",
    "LatentGroup",
    "MLPDecoder",
    "MLPEncoder",
    "ResidualBlock",
    "ResidualDecoder",
    "ResidualEncoder",
    "Upsample2D",
]
