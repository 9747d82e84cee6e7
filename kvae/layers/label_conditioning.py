import keras
from keras import ops

# "film": per-channel scale and bias; "bias": per-channel bias only, which
# is what concatenating the (tiled) one-hot label to the features amounts
# to at the next linear layer or convolution. Chosen by measurement
# (docs/conditional.md).
MODES = ("film", "bias")
DEFAULT_MODE = "film"


def check_conditioning(mode):
    """`mode` is one of `MODES`."""
    if mode not in MODES:
        raise ValueError(
            f"Unknown conditioning {mode!r}. Use 'film' (a per-channel "
            "scale and bias from the label) or 'bias' (a per-channel bias, "
            "the same as concatenating the label to the features)."
        )
    return mode


@keras.saving.register_keras_serializable(package="kvae")
class LabelConditioning(keras.layers.Layer):
    """Mixes a label embedding into features, per channel.

    `features * (1 + scale(c)) + bias(c)` (FiLM, `mode="film"`) or
    `features + bias(c)` (`mode="bias"`), with `scale` and `bias` one
    `Dense` projection of the condition `c` (a one-hot label in
    `kvae.ConditionalVAE`), broadcast over any spatial axes. The projection
    starts at zero, so a new layer passes the features through unchanged.
    kvae's Conv, Residual and MLP encoders and decoders hold one per stage
    and use them when called with `condition=`.

    Args:
        units: int. Channels of the features (their last axis).
        mode: str. `"film"` or `"bias"`.

    Call arguments:
        inputs: tensor `(batch, ..., units)`.
        condition: tensor `(batch, condition_dim)`.

    Returns:
        Tensor of the shape of `inputs`.

    Example:

    ```python
    film = kvae.layers.LabelConditioning(32)
    y = film(np.ones((8, 7, 7, 32)), condition=np.eye(10)[:8])
    ```

    Reference:
    - [Perez et al., 2018](https://arxiv.org/abs/1709.07871) (FiLM)
    """

    def __init__(self, units, mode=DEFAULT_MODE, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        self.mode = check_conditioning(mode)
        factor = 2 if mode == "film" else 1
        self.project = keras.layers.Dense(
            factor * self.units,
            kernel_initializer="zeros",
            dtype=self.dtype_policy,
        )

    def build(self, inputs_shape, condition_shape):
        self.project.build(tuple(condition_shape))

    def call(self, inputs, condition):
        params = self.project(ops.cast(condition, self.compute_dtype))
        shape = (-1,) + (1,) * (len(inputs.shape) - 2) + (params.shape[-1],)
        params = ops.reshape(params, shape)
        if self.mode == "bias":
            return inputs + params
        scale, bias = ops.split(params, 2, axis=-1)
        return inputs * (1.0 + scale) + bias

    def compute_output_shape(self, inputs_shape, condition_shape):
        return inputs_shape

    def get_config(self):
        config = super().get_config()
        config.update({"units": self.units, "mode": self.mode})
        return config


def conditioned(stages, x, condition, index):
    """`x` through `stages[index]` when a condition is given, else `x`."""
    if condition is None:
        return x
    return stages[index](x, condition=condition)


def build_conditioning(layer, condition_dim):
    """Builds every `LabelConditioning` inside `layer` for conditions of
    `condition_dim` features. A layer with its own `compute_output_shape`
    (the decoders) is not traced when called on symbolic tensors, so its
    stages would otherwise stay unbuilt, and a saved model's weights would
    not load into them."""
    for sublayer in layer._flatten_layers():
        if isinstance(sublayer, LabelConditioning) and not sublayer.built:
            sublayer.build(None, (None, condition_dim))
            sublayer.built = True


def conditioning_stages(units, mode, dtype):
    """One `LabelConditioning` per entry of `units`."""
    check_conditioning(mode)
    return [LabelConditioning(u, mode=mode, dtype=dtype) for u in units]
