import math

import keras

from kvae.layers.label_conditioning import DEFAULT_MODE
from kvae.layers.label_conditioning import conditioned
from kvae.layers.label_conditioning import conditioning_stages
from kvae.layers.utils import build_by_tracing
from kvae.layers.utils import check_hidden_units
from kvae.layers.utils import positive_ints


@keras.saving.register_keras_serializable(package="kvae")
class MLPDecoder(keras.layers.Layer):
    """A fully connected decoder from `z` to an output of `output_shape`.

    The output is linear: logits for a Bernoulli likelihood, the mean for a
    Gaussian one.

    Args:
        output_shape: tuple of int. Shape of one image, e.g. `(28, 28, 1)`.
        hidden_units: tuple of int. Width of each hidden layer.
        activation: str. Activation of the hidden layers.
        conditioning: str. How a `condition` given to `call` enters each
            hidden layer: `"film"` or `"bias"` (see
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
        hidden_units=(256, 512),
        activation="relu",
        conditioning=DEFAULT_MODE,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.output_shape = positive_ints(
            "output_shape", output_shape, "the image shape such as (28, 28, 1)"
        )
        self.hidden_units = check_hidden_units(hidden_units)
        self.activation = activation
        self.hidden = [
            keras.layers.Dense(
                u, activation=activation, dtype=self.dtype_policy
            )
            for u in self.hidden_units
        ]
        self.conditioning = conditioning
        self.label_stages = conditioning_stages(
            self.hidden_units, conditioning, self.dtype_policy
        )
        self.out = keras.layers.Dense(
            math.prod(self.output_shape), dtype=self.dtype_policy
        )
        self.reshape = keras.layers.Reshape(
            self.output_shape, dtype=self.dtype_policy
        )

    def build(self, input_shape):
        build_by_tracing(self, input_shape)

    def call(self, inputs, condition=None):
        x = inputs
        for i, layer in enumerate(self.hidden):
            x = conditioned(self.label_stages, layer(x), condition, i)
        return self.reshape(self.out(x))

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + self.output_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "output_shape": self.output_shape,
                "hidden_units": self.hidden_units,
                "activation": self.activation,
                "conditioning": self.conditioning,
            }
        )
        return config
