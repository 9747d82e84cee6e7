import keras
from keras import ops

UPSAMPLING_METHODS = ("pixel_shuffle", "nearest", "transpose")


@keras.saving.register_keras_serializable(package="kvae")
class Upsample2D(keras.layers.Layer):
    """Doubles height and width and maps to `filters` channels.

    Three interchangeable designs, measured in `docs/BENCHMARKS.md` on every
    backend because their speed differs a lot between backends:

    - `"pixel_shuffle"` (sub-pixel convolution): a `Conv2D` with
      `4 * filters` outputs at the low resolution, then
      `ops.depth_to_space(2)`. A transposed convolution of kernel `k` and
      stride 2 is exactly such a convolution of kernel `ceil(k / 2)`, so
      that is the kernel used: the same receptive field as `"transpose"`,
      but only plain convolutions, which every backend runs fast.
    - `"nearest"`: `UpSampling2D` then `Conv2D` at the high resolution.
    - `"transpose"`: `Conv2DTranspose(strides=2)`; fast on TensorFlow but
      several times slower under JAX on CPU.

    Args:
        filters: int. Output channels.
        kernel_size: int. Convolution kernel size.
        method: str. One of `"pixel_shuffle"`, `"nearest"`, `"transpose"`.
        activation: activation applied to the output, or `None`.

    Call arguments:
        inputs: tensor `(batch, height, width, channels)`.

    Returns:
        Tensor `(batch, 2 * height, 2 * width, filters)`.

    Reference:
    - [Shi et al., 2016](https://arxiv.org/abs/1609.05158)
    """

    def __init__(
        self,
        filters,
        kernel_size=3,
        method="pixel_shuffle",
        activation=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if method not in UPSAMPLING_METHODS:
            raise ValueError(
                f"Unknown upsampling method {method!r}; use one of "
                f"{UPSAMPLING_METHODS}."
            )
        self.filters = filters
        self.kernel_size = kernel_size
        self.method = method
        self.activation = keras.activations.get(activation)
        conv_kwargs = dict(
            kernel_size=kernel_size, padding="same", dtype=self.dtype_policy
        )
        if method == "transpose":
            self.conv = keras.layers.Conv2DTranspose(
                filters, strides=2, **conv_kwargs
            )
        elif method == "nearest":
            self.conv = keras.layers.Conv2D(filters, **conv_kwargs)
        else:
            conv_kwargs["kernel_size"] = (kernel_size + 1) // 2
            self.conv = keras.layers.Conv2D(4 * filters, **conv_kwargs)

    def build(self, input_shape):
        if self.method == "nearest":
            height, width = input_shape[1:3]
            upsampled = (input_shape[0], _double(height), _double(width))
            self.conv.build(upsampled + tuple(input_shape[3:]))
        else:
            self.conv.build(input_shape)

    def call(self, inputs):
        if self.method == "nearest":
            inputs = ops.repeat(ops.repeat(inputs, 2, axis=1), 2, axis=2)
        outputs = self.conv(inputs)
        if self.method == "pixel_shuffle":
            outputs = ops.depth_to_space(
                outputs, 2, data_format="channels_last"
            )
        return self.activation(outputs)

    def compute_output_shape(self, input_shape):
        batch, height, width = input_shape[:3]
        return (batch, _double(height), _double(width), self.filters)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "filters": self.filters,
                "kernel_size": self.kernel_size,
                "method": self.method,
                "activation": keras.activations.serialize(self.activation),
            }
        )
        return config


def _double(size):
    return None if size is None else 2 * size
