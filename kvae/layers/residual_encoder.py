import keras

from kvae.layers.gaussian_head import GaussianHead
from kvae.layers.label_conditioning import DEFAULT_MODE
from kvae.layers.label_conditioning import conditioned
from kvae.layers.label_conditioning import conditioning_stages
from kvae.layers.residual_block import ResidualBlock
from kvae.layers.utils import build_by_tracing
from kvae.layers.utils import check_filters
from kvae.layers.utils import check_image_shape


@keras.saving.register_keras_serializable(package="kvae")
class ResidualEncoder(keras.layers.Layer):
    """A residual convolutional encoder for 64x64 RGB images.

    The "SharpVAE" design of the Stanford Dogs tutorial: a 3x3 stem, then
    per stage `blocks_per_stage` residual blocks (BatchNorm, LeakyReLU) and
    a stride-2 convolution; then BatchNorm, LeakyReLU, flatten and the
    Gaussian head. 64x64 becomes 4x4 with the default four stages.

    Args:
        latent_dim: int. Size of the latent code (up to 256 is typical).
        filters: tuple of int. Channels of each stage.
        blocks_per_stage: int. Residual blocks per stage.
        negative_slope: float. LeakyReLU slope.
        conditioning: str. How a `condition` given to `call` enters each
            stage: `"film"` (per-channel scale and bias) or `"bias"` (see
            `kvae.layers.LabelConditioning`).

    Call arguments:
        inputs: tensor `(batch, height, width, channels)`.
        condition: tensor `(batch, condition_dim)` or `None`. A label
            embedding (`kvae.ConditionalVAE` passes one-hot labels); `None`
            for an unconditional model.
        training: bool. BatchNorm mode.

    Returns:
        Tuple `(z_mean, z_log_var)`, each `(batch, latent_dim)`.
    """

    def __init__(
        self,
        latent_dim=256,
        filters=(32, 64, 128, 256),
        blocks_per_stage=1,
        negative_slope=0.2,
        conditioning=DEFAULT_MODE,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.head = GaussianHead(latent_dim, dtype=self.dtype_policy)
        self.latent_dim = self.head.latent_dim
        self.filters = check_filters(filters)
        self.blocks_per_stage = int(blocks_per_stage)
        self.negative_slope = float(negative_slope)
        policy = self.dtype_policy
        self.stem = keras.layers.Conv2D(
            self.filters[0], 3, padding="same", dtype=policy
        )
        self.stages = []
        for f in self.filters:
            for _ in range(self.blocks_per_stage):
                self.stages.append(
                    ResidualBlock(
                        f, negative_slope=negative_slope, dtype=policy
                    )
                )
            self.stages.append(
                keras.layers.Conv2D(
                    f, 3, strides=2, padding="same", dtype=policy
                )
            )
        self.norm = keras.layers.BatchNormalization(dtype=policy)
        self.act = keras.layers.LeakyReLU(negative_slope, dtype=policy)
        self.flatten = keras.layers.Flatten(dtype=policy)
        self.conditioning = conditioning
        # After each stage's stride-2 convolution.
        self.label_stages = conditioning_stages(
            self.filters, conditioning, policy
        )

    def build(self, input_shape):
        check_image_shape(input_shape[1:], len(self.filters), role="encoder")
        build_by_tracing(self, input_shape)

    def call(self, inputs, condition=None, training=None):
        x = self.stem(inputs)
        stage = 0
        for layer in self.stages:
            if isinstance(layer, ResidualBlock):
                x = layer(x, training=training)
            else:
                x = conditioned(self.label_stages, layer(x), condition, stage)
                stage += 1
        x = self.act(self.norm(x, training=training))
        return self.head(self.flatten(x))

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "latent_dim": self.latent_dim,
                "filters": self.filters,
                "blocks_per_stage": self.blocks_per_stage,
                "negative_slope": self.negative_slope,
                "conditioning": self.conditioning,
            }
        )
        return config
