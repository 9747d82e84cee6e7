import keras

from kvae.layers.gaussian_head import GaussianHead
from kvae.layers.label_conditioning import DEFAULT_MODE
from kvae.layers.label_conditioning import conditioned
from kvae.layers.label_conditioning import conditioning_stages
from kvae.layers.utils import build_by_tracing
from kvae.layers.utils import check_hidden_units


@keras.saving.register_keras_serializable(package="kvae")
class MLPEncoder(keras.layers.Layer):
    """A fully connected encoder: flatten, hidden `Dense` layers, Gaussian.

    Args:
        latent_dim: int. Size of the latent code, at least 1.
        hidden_units: tuple of int. Width of each hidden layer.
        activation: str. Activation of the hidden layers.
        conditioning: str. How a `condition` given to `call` enters each
            hidden layer: `"film"` or `"bias"` (see
            `kvae.layers.LabelConditioning`).

    Call arguments:
        inputs: tensor `(batch, ...)` of any shape, flattened per example.
        condition: tensor `(batch, condition_dim)` or `None`. A label
            embedding (`kvae.ConditionalVAE` passes one-hot labels); `None`
            for an unconditional model.

    Returns:
        Tuple `(z_mean, z_log_var)`, each `(batch, latent_dim)`.

    Example:

    ```python
    encoder = kvae.layers.MLPEncoder(latent_dim=16, hidden_units=(512, 256))
    z_mean, z_log_var = encoder(np.zeros((8, 28, 28, 1)))
    ```
    """

    def __init__(
        self,
        latent_dim,
        hidden_units=(512, 256),
        activation="relu",
        conditioning=DEFAULT_MODE,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.head = GaussianHead(latent_dim, dtype=self.dtype_policy)
        self.latent_dim = self.head.latent_dim
        self.hidden_units = check_hidden_units(hidden_units)
        self.activation = activation
        self.flatten = keras.layers.Flatten(dtype=self.dtype_policy)
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

    def build(self, input_shape):
        build_by_tracing(self, input_shape)

    def call(self, inputs, condition=None):
        x = self.flatten(inputs)
        for i, layer in enumerate(self.hidden):
            x = conditioned(self.label_stages, layer(x), condition, i)
        return self.head(x)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "latent_dim": self.latent_dim,
                "hidden_units": self.hidden_units,
                "activation": self.activation,
                "conditioning": self.conditioning,
            }
        )
        return config
