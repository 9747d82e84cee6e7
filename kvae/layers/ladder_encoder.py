import keras

from kvae.layers.gaussian_head import GaussianHead
from kvae.layers.utils import build_by_tracing
from kvae.layers.utils import check_filters
from kvae.layers.utils import check_latent_dims


@keras.saving.register_keras_serializable(package="kvae")
class LadderEncoder(keras.layers.Layer):
    """The bottom-up path of a hierarchical VAE: one Gaussian per level.

    A deterministic convolutional path goes up from the image: level `l`
    halves the resolution with a stride-2 `Conv2D` of `filters[l]`
    channels (then `convs_per_level - 1` more at that resolution), and
    reads its features through `Dense(dense_units)` into a Gaussian head of
    `latent_dims[l]` units. For 28x28 images and two levels the features
    are 14x14 and 7x7. The top level's Gaussian is the posterior `q(z_L |
    x)`; the lower ones are the bottom-up estimates that
    `kvae.HierarchicalVAE` combines with the top-down priors of
    `kvae.layers.LadderDecoder` (precision weighting, as in the Ladder
    VAE).

    Args:
        latent_dims: tuple of int. Latent size of each level, bottom first.
        filters: tuple of int. Channels of each level's convolutions; one
            entry per level.
        convs_per_level: int. Convolutions per level, at least 1 (the first
            has stride 2).
        kernel_size: int. Convolution kernel size.
        dense_units: int. Width of each level's dense layer.
        activation: str. Activation of the hidden layers.

    Call arguments:
        inputs: tensor `(batch, height, width, channels)`.

    Returns:
        Tuple of `len(latent_dims)` pairs `(z_mean, z_log_var)`, each
        `(batch, latent_dims[l])`, bottom level first.

    Example:

    ```python
    encoder = kvae.layers.LadderEncoder(latent_dims=(32, 16))
    (m1, v1), (m2, v2) = encoder(np.zeros((8, 28, 28, 1)))
    ```

    Reference:
    - [Sønderby et al., 2016](https://arxiv.org/abs/1602.02282)
    """

    def __init__(
        self,
        latent_dims=(32, 16),
        filters=(32, 64),
        convs_per_level=1,
        kernel_size=3,
        dense_units=256,
        activation="relu",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.latent_dims = check_latent_dims(latent_dims)
        self.filters = check_filters(filters)
        if len(self.filters) != len(self.latent_dims):
            raise ValueError(
                f"The encoder has {len(self.latent_dims)} latent levels "
                f"(latent_dims={self.latent_dims}) but {len(self.filters)} "
                f"convolution stages (filters={self.filters}); give one "
                "filters entry per level."
            )
        if int(convs_per_level) < 1:
            raise ValueError(
                f"`convs_per_level` must be at least 1, got {convs_per_level}."
            )
        self.convs_per_level = int(convs_per_level)
        self.kernel_size = kernel_size
        self.dense_units = int(dense_units)
        self.activation = activation
        self.stages = []
        self.readouts = []
        for f, latent_dim in zip(self.filters, self.latent_dims):
            self.stages.append(
                [
                    keras.layers.Conv2D(
                        f,
                        kernel_size,
                        strides=2 if i == 0 else 1,
                        padding="same",
                        activation=activation,
                        dtype=self.dtype_policy,
                    )
                    for i in range(self.convs_per_level)
                ]
            )
            self.readouts.append(
                [
                    keras.layers.Flatten(dtype=self.dtype_policy),
                    keras.layers.Dense(
                        self.dense_units,
                        activation=activation,
                        dtype=self.dtype_policy,
                    ),
                    GaussianHead(latent_dim, dtype=self.dtype_policy),
                ]
            )

    def build(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(
                "The ladder encoder needs images (batch, height, width, "
                f"channels), got input shape {tuple(input_shape)}."
            )
        build_by_tracing(self, input_shape)

    def call(self, inputs):
        x = inputs
        levels = []
        for stage, readout in zip(self.stages, self.readouts):
            for conv in stage:
                x = conv(x)
            h = x
            for layer in readout:
                h = layer(h)
            levels.append(tuple(h))
        return tuple(levels)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "latent_dims": self.latent_dims,
                "filters": self.filters,
                "convs_per_level": self.convs_per_level,
                "kernel_size": self.kernel_size,
                "dense_units": self.dense_units,
                "activation": self.activation,
            }
        )
        return config
