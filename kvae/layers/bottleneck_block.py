import keras

from kvae.layers.utils import build_by_tracing

# The activations a block can use. GELU is VDVAE's; SiLU (swish) is
# NVAE's: about a quarter of the exact GELU's forward and backward under
# torch on a CPU, which made the likelihood recipe's step 4 to 7% faster
# (docs/hierarchical.md, "Two more screens").
BLOCK_ACTIVATIONS = {
    "gelu": keras.activations.gelu,
    "silu": keras.activations.silu,
}
DEFAULT_ACTIVATION = "gelu"


def check_activation(activation):
    """`activation` if it names one of `BLOCK_ACTIVATIONS`, else an error
    saying which names there are."""
    if activation not in BLOCK_ACTIVATIONS:
        raise ValueError(
            f"Unknown block activation {activation!r}: choose one of "
            f"{sorted(BLOCK_ACTIVATIONS)}."
        )
    return activation


@keras.saving.register_keras_serializable(package="kvae")
class BottleneckBlock(keras.layers.Layer):
    """VDVAE's bottleneck block: (GELU, conv) x 4, 1x1 / 3x3 / 3x3 / 1x1.

    The block narrows to `middle` channels for its two 3x3 convolutions
    and widens back to `filters`. With `residual=True` its input is added
    to its output (then the input must have `filters` channels). There is
    no normalization layer: the block computes the same function in
    training and in inference, so `evaluate`, saving and multi-process
    training need no batch statistics (see docs/hierarchical.md).

    Args:
        filters: int. Output channels.
        middle: int. Channels of the two 3x3 convolutions.
        residual: bool. Add the input to the output.
        last_scale: float. Scale of the last convolution's initial
            weights: `0.0` starts the block at zero output (VDVAE's
            `zero_last`, used where a block's output is a prior), below
            1 damps a residual branch in a deep stack.
        activation: str. The activation before each convolution:
            `"gelu"` (VDVAE's, the default) or `"silu"` (NVAE's,
            cheaper on a CPU; see `BLOCK_ACTIVATIONS`).

    Call arguments:
        inputs: tensor `(batch, height, width, channels)`.

    Returns:
        Tensor `(batch, height, width, filters)`.

    Reference:
    - [Child, 2021](https://arxiv.org/abs/2011.10650)
    """

    def __init__(
        self,
        filters,
        middle,
        residual=True,
        last_scale=1.0,
        activation=DEFAULT_ACTIVATION,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.activation = check_activation(activation)
        self.filters = int(filters)
        self.middle = int(middle)
        self.residual = bool(residual)
        self.last_scale = float(last_scale)
        policy = self.dtype_policy
        if self.last_scale == 0.0:
            last_init = "zeros"
        else:
            last_init = keras.initializers.VarianceScaling(
                self.last_scale, mode="fan_in", distribution="truncated_normal"
            )
        self.convs = [
            keras.layers.Conv2D(middle, 1, dtype=policy),
            keras.layers.Conv2D(middle, 3, padding="same", dtype=policy),
            keras.layers.Conv2D(middle, 3, padding="same", dtype=policy),
            keras.layers.Conv2D(
                filters, 1, kernel_initializer=last_init, dtype=policy
            ),
        ]

    def build(self, input_shape):
        if self.residual and input_shape[-1] != self.filters:
            raise ValueError(
                f"A residual BottleneckBlock adds its input to its output, "
                f"so the input needs filters={self.filters} channels; it "
                f"has {input_shape[-1]}."
            )
        build_by_tracing(self, input_shape)

    def call(self, inputs):
        x = inputs
        for conv in self.convs:
            x = conv(BLOCK_ACTIVATIONS[self.activation](x))
        return inputs + x if self.residual else x

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.filters,)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "filters": self.filters,
                "middle": self.middle,
                "residual": self.residual,
                "last_scale": self.last_scale,
                "activation": self.activation,
            }
        )
        return config
