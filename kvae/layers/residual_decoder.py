import keras

from kvae.layers.label_conditioning import DEFAULT_MODE
from kvae.layers.label_conditioning import conditioned
from kvae.layers.label_conditioning import conditioning_stages
from kvae.layers.residual_block import ResidualBlock
from kvae.layers.upsample_2d import Upsample2D
from kvae.layers.utils import build_by_tracing
from kvae.layers.utils import check_filters
from kvae.layers.utils import check_image_shape


@keras.saving.register_keras_serializable(package="kvae")
class ResidualDecoder(keras.layers.Layer):
    """A residual convolutional decoder for 64x64 RGB images.

    `Dense` to a 4x4 map, then per stage a 2x `Upsample2D` and
    `blocks_per_stage` residual blocks, then BatchNorm, LeakyReLU and a
    3x3 convolution to the image channels (linear output).

    Args:
        output_shape: tuple of int. Image shape; height and width divisible
            by `2 ** len(filters)`.
        filters: tuple of int. Channels of each stage, widest first.
        blocks_per_stage: int. Residual blocks per stage.
        upsampling: str. `"pixel_shuffle"`, `"nearest"` or `"transpose"`.
        negative_slope: float. LeakyReLU slope.
        conditioning: str. How a `condition` given to `call` enters each
            stage: `"film"` (per-channel scale and bias) or `"bias"` (see
            `kvae.layers.LabelConditioning`).

    Call arguments:
        inputs: tensor `(batch, latent_dim)`.
        condition: tensor `(batch, condition_dim)` or `None`. A label
            embedding (`kvae.ConditionalVAE` passes one-hot labels); `None`
            for an unconditional model.
        training: bool. BatchNorm mode.

    Returns:
        Tensor `(batch, *output_shape)`.
    """

    def __init__(
        self,
        output_shape=(64, 64, 3),
        filters=(256, 128, 64, 32),
        blocks_per_stage=1,
        upsampling="pixel_shuffle",
        negative_slope=0.2,
        conditioning=DEFAULT_MODE,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.filters = check_filters(filters)
        self.output_shape = check_image_shape(output_shape, len(self.filters))
        self.blocks_per_stage = int(blocks_per_stage)
        self.upsampling = upsampling
        self.negative_slope = float(negative_slope)
        policy = self.dtype_policy
        factor = 2 ** len(self.filters)
        height, width, channels = self.output_shape
        base_shape = (height // factor, width // factor, self.filters[0])
        self.project = keras.layers.Dense(
            base_shape[0] * base_shape[1] * base_shape[2], dtype=policy
        )
        self.reshape = keras.layers.Reshape(base_shape, dtype=policy)
        self.stages = []
        for f in self.filters:
            self.stages.append(
                Upsample2D(f, 3, method=upsampling, dtype=policy)
            )
            for _ in range(self.blocks_per_stage):
                self.stages.append(
                    ResidualBlock(
                        f, negative_slope=negative_slope, dtype=policy
                    )
                )
        self.norm = keras.layers.BatchNormalization(dtype=policy)
        self.act = keras.layers.LeakyReLU(negative_slope, dtype=policy)
        self.out = keras.layers.Conv2D(
            channels, 3, padding="same", dtype=policy
        )
        self.conditioning = conditioning
        # After the reshape, and after each upsampling.
        self.label_stages = conditioning_stages(
            (base_shape[2],) + self.filters, conditioning, policy
        )

    def build(self, input_shape):
        build_by_tracing(self, input_shape)

    def call(self, inputs, condition=None, training=None):
        x = self.reshape(self.project(inputs))
        x = conditioned(self.label_stages, x, condition, 0)
        stage = 1
        for layer in self.stages:
            if isinstance(layer, ResidualBlock):
                x = layer(x, training=training)
            else:
                x = conditioned(self.label_stages, layer(x), condition, stage)
                stage += 1
        return self.out(self.act(self.norm(x, training=training)))

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + self.output_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "output_shape": self.output_shape,
                "filters": self.filters,
                "blocks_per_stage": self.blocks_per_stage,
                "upsampling": self.upsampling,
                "negative_slope": self.negative_slope,
                "conditioning": self.conditioning,
            }
        )
        return config
