import keras

from kvae.layers.utils import build_by_tracing


@keras.saving.register_keras_serializable(package="kvae")
class ResidualBlock(keras.layers.Layer):
    """A pre-activation residual block: (BatchNorm, LeakyReLU, Conv2D) x 2.

    The skip connection is the identity, or a 1x1 convolution where the
    number of channels changes.

    Args:
        filters: int. Output channels.
        kernel_size: int. Convolution kernel size.
        negative_slope: float. Slope of LeakyReLU for negative inputs.

    Call arguments:
        inputs: tensor `(batch, height, width, channels)`.
        training: bool. BatchNorm uses batch statistics when `True`.

    Returns:
        Tensor `(batch, height, width, filters)`.

    Reference:
    - [He et al., 2016](https://arxiv.org/abs/1603.05027)
    """

    def __init__(self, filters, kernel_size=3, negative_slope=0.2, **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.kernel_size = kernel_size
        self.negative_slope = float(negative_slope)
        policy = self.dtype_policy
        self.norm1 = keras.layers.BatchNormalization(dtype=policy)
        self.norm2 = keras.layers.BatchNormalization(dtype=policy)
        self.act = keras.layers.LeakyReLU(negative_slope, dtype=policy)
        self.conv1 = keras.layers.Conv2D(
            filters, kernel_size, padding="same", dtype=policy
        )
        self.conv2 = keras.layers.Conv2D(
            filters, kernel_size, padding="same", dtype=policy
        )
        self.skip = None

    def build(self, input_shape):
        if input_shape[-1] != self.filters:
            self.skip = keras.layers.Conv2D(
                self.filters, 1, dtype=self.dtype_policy
            )
        build_by_tracing(self, input_shape)

    def call(self, inputs, training=None):
        x = self.conv1(self.act(self.norm1(inputs, training=training)))
        x = self.conv2(self.act(self.norm2(x, training=training)))
        shortcut = inputs if self.skip is None else self.skip(inputs)
        return x + shortcut

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.filters,)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "filters": self.filters,
                "kernel_size": self.kernel_size,
                "negative_slope": self.negative_slope,
            }
        )
        return config
