import keras

from kvae.layers.gaussian_head import GaussianHead
from kvae.layers.label_conditioning import DEFAULT_MODE
from kvae.layers.label_conditioning import conditioned
from kvae.layers.label_conditioning import conditioning_stages
from kvae.layers.utils import build_by_tracing
from kvae.layers.utils import check_filters
from kvae.layers.utils import check_image_shape


@keras.saving.register_keras_serializable(package="kvae")
class ConvEncoder(keras.layers.Layer):
    """A convolutional encoder: one stride-2 `Conv2D` per entry of `filters`.

    With the defaults, 28x28x1 goes to 14x14x32, 7x7x64, then a `Dense`
    layer and the Gaussian head. Any height and width divisible by
    `2 ** len(filters)` works.

    Args:
        latent_dim: int. Size of the latent code, at least 1.
        filters: tuple of int. Channels of each stride-2 convolution.
        kernel_size: int. Convolution kernel size.
        dense_units: int. Width of the dense layer before the head; 0 for
            none.
        activation: str. Activation of the hidden layers.
        conditioning: str. How a `condition` given to `call` enters each
            stage: `"film"` (per-channel scale and bias) or `"bias"` (see
            `kvae.layers.LabelConditioning`).

    Call arguments:
        inputs: tensor `(batch, height, width, channels)`.
        condition: tensor `(batch, condition_dim)` or `None`. A label
            embedding (`kvae.ConditionalVAE` passes one-hot labels); `None`
            for an unconditional model.

    Returns:
        Tuple `(z_mean, z_log_var)`, each `(batch, latent_dim)`.

    Example:

    ```python
    encoder = kvae.layers.ConvEncoder(latent_dim=16)
    z_mean, z_log_var = encoder(np.zeros((8, 28, 28, 1)))
    ```
    """

    def __init__(
        self,
        latent_dim,
        filters=(32, 64),
        kernel_size=3,
        dense_units=128,
        activation="relu",
        conditioning=DEFAULT_MODE,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.head = GaussianHead(latent_dim, dtype=self.dtype_policy)
        self.latent_dim = self.head.latent_dim
        self.filters = check_filters(filters)
        self.kernel_size = kernel_size
        self.dense_units = int(dense_units)
        self.activation = activation
        self.convs = [
            keras.layers.Conv2D(
                f,
                kernel_size,
                strides=2,
                padding="same",
                activation=activation,
                dtype=self.dtype_policy,
            )
            for f in self.filters
        ]
        self.flatten = keras.layers.Flatten(dtype=self.dtype_policy)
        self.dense = None
        if self.dense_units:
            self.dense = keras.layers.Dense(
                self.dense_units, activation=activation, dtype=self.dtype_policy
            )
        self.conditioning = conditioning
        self.label_stages = conditioning_stages(
            self.filters + ((self.dense_units,) if self.dense_units else ()),
            conditioning,
            self.dtype_policy,
        )

    def build(self, input_shape):
        check_image_shape(input_shape[1:], len(self.filters), role="encoder")
        build_by_tracing(self, input_shape)

    def call(self, inputs, condition=None):
        x = inputs
        for i, conv in enumerate(self.convs):
            x = conditioned(self.label_stages, conv(x), condition, i)
        x = self.flatten(x)
        if self.dense is not None:
            x = conditioned(self.label_stages, self.dense(x), condition, -1)
        return self.head(x)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "latent_dim": self.latent_dim,
                "filters": self.filters,
                "kernel_size": self.kernel_size,
                "dense_units": self.dense_units,
                "activation": self.activation,
                "conditioning": self.conditioning,
            }
        )
        return config
