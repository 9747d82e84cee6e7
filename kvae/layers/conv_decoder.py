import keras

from kvae.layers.label_conditioning import DEFAULT_MODE
from kvae.layers.label_conditioning import conditioned
from kvae.layers.label_conditioning import conditioning_stages
from kvae.layers.upsample_2d import Upsample2D
from kvae.layers.utils import build_by_tracing
from kvae.layers.utils import check_filters
from kvae.layers.utils import check_image_shape


@keras.saving.register_keras_serializable(package="kvae")
class ConvDecoder(keras.layers.Layer):
    """A convolutional decoder: `Dense`, reshape, one 2x upsampling per
    entry of `filters`, and a final `Conv2D` to the image channels.

    With the defaults, `z` goes to 7x7x64, 14x14x64, 28x28x32 and 28x28x1.
    The output is linear (logits for a Bernoulli likelihood). The default
    upsampling is a sub-pixel convolution (`"pixel_shuffle"`), chosen by
    measuring all three methods on every backend (`docs/BENCHMARKS.md`).

    Args:
        output_shape: tuple of int. Image shape; height and width divisible
            by `2 ** len(filters)`.
        filters: tuple of int. Channels after each upsampling.
        kernel_size: int. Convolution kernel size.
        dense_units: int. Width of a dense layer before the reshape; 0 for
            none.
        upsampling: str. `"pixel_shuffle"`, `"nearest"` or `"transpose"`
            (see `kvae.layers.Upsample2D`).
        activation: str. Activation of the hidden layers.
        conditioning: str. How a `condition` given to `call` enters each
            stage: `"film"` (per-channel scale and bias) or `"bias"` (see
            `kvae.layers.LabelConditioning`).

    Call arguments:
        inputs: tensor `(batch, latent_dim)`.
        condition: tensor `(batch, condition_dim)` or `None`. A label
            embedding (`kvae.ConditionalVAE` passes one-hot labels); `None`
            for an unconditional model.

    Returns:
        Tensor `(batch, *output_shape)`.
    """

    def __init__(
        self,
        output_shape=(28, 28, 1),
        filters=(64, 32),
        kernel_size=3,
        dense_units=128,
        upsampling="pixel_shuffle",
        activation="relu",
        conditioning=DEFAULT_MODE,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.filters = check_filters(filters)
        self.output_shape = check_image_shape(output_shape, len(self.filters))
        self.kernel_size = kernel_size
        self.dense_units = int(dense_units)
        self.upsampling = upsampling
        self.activation = activation
        factor = 2 ** len(self.filters)
        height, width, channels = self.output_shape
        base_shape = (height // factor, width // factor, self.filters[0])
        self.dense = None
        if self.dense_units:
            self.dense = keras.layers.Dense(
                self.dense_units, activation=activation, dtype=self.dtype_policy
            )
        self.project = keras.layers.Dense(
            base_shape[0] * base_shape[1] * base_shape[2],
            activation=activation,
            dtype=self.dtype_policy,
        )
        self.reshape = keras.layers.Reshape(base_shape, dtype=self.dtype_policy)
        self.upsamples = [
            Upsample2D(
                f,
                kernel_size,
                method=upsampling,
                activation=activation,
                dtype=self.dtype_policy,
            )
            for f in self.filters
        ]
        self.out = keras.layers.Conv2D(
            channels, kernel_size, padding="same", dtype=self.dtype_policy
        )
        self.conditioning = conditioning
        # After the reshape, after each upsampling, and after the dense
        # layer (last), if there is one.
        self.label_stages = conditioning_stages(
            (base_shape[2],)
            + self.filters
            + ((self.dense_units,) if self.dense_units else ()),
            conditioning,
            self.dtype_policy,
        )

    def build(self, input_shape):
        build_by_tracing(self, input_shape)

    def call(self, inputs, condition=None):
        x = inputs
        if self.dense is not None:
            x = conditioned(self.label_stages, self.dense(x), condition, -1)
        x = self.reshape(self.project(x))
        x = conditioned(self.label_stages, x, condition, 0)
        for i, upsample in enumerate(self.upsamples, start=1):
            x = conditioned(self.label_stages, upsample(x), condition, i)
        return self.out(x)

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + self.output_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "output_shape": self.output_shape,
                "filters": self.filters,
                "kernel_size": self.kernel_size,
                "dense_units": self.dense_units,
                "upsampling": self.upsampling,
                "activation": self.activation,
                "conditioning": self.conditioning,
            }
        )
        return config
