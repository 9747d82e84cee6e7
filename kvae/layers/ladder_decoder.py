import keras

from kvae.layers.conv_decoder import ConvDecoder
from kvae.layers.gaussian_head import GaussianHead
from kvae.layers.utils import check_filters
from kvae.layers.utils import check_latent_dims


@keras.saving.register_keras_serializable(package="kvae")
class LadderDecoder(keras.layers.Layer):
    """The top-down path of a hierarchical VAE: conditional priors and the
    image decoder.

    For each level `l` below the top, `conditional_prior(l, z_above)` maps
    the code of level `l + 1` through two `Dense(hidden_units)` layers to
    the Gaussian `p(z_l | z_{l+1})`. The same path serves generation and
    inference: `kvae.HierarchicalVAE` combines each prior with the
    bottom-up estimate of `kvae.layers.LadderEncoder` into the posterior.
    Calling the layer decodes the bottom code `z_1` into an image with a
    `kvae.layers.ConvDecoder`.

    Args:
        latent_dims: tuple of int. Latent size of each level, bottom first
            (the same as the encoder's).
        output_shape: tuple of int. Image shape.
        hidden_units: int. Width of the top-down dense layers.
        filters: tuple of int. Channels of the image decoder's upsamplings.
        dense_units: int. Width of the image decoder's dense layer.
        upsampling: str. Upsampling of the image decoder (see
            `kvae.layers.Upsample2D`).
        kernel_size: int. Convolution kernel size.
        activation: str. Activation of the hidden layers.

    Call arguments:
        inputs: tensor `(batch, latent_dims[0])`, the bottom code.

    Returns:
        Tensor `(batch, *output_shape)` (logits or means).

    Example:

    ```python
    decoder = kvae.layers.LadderDecoder(latent_dims=(32, 16))
    mean, log_var = decoder.conditional_prior(0, np.zeros((8, 16)))
    logits = decoder(mean)
    ```
    """

    def __init__(
        self,
        latent_dims=(32, 16),
        output_shape=(28, 28, 1),
        hidden_units=128,
        filters=(64, 32),
        dense_units=128,
        upsampling="pixel_shuffle",
        kernel_size=3,
        activation="relu",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.latent_dims = check_latent_dims(latent_dims)
        self.hidden_units = int(hidden_units)
        self.filters = check_filters(filters)
        self.dense_units = int(dense_units)
        self.upsampling = upsampling
        self.kernel_size = kernel_size
        self.activation = activation
        self.image_decoder = ConvDecoder(
            output_shape,
            filters=self.filters,
            kernel_size=kernel_size,
            dense_units=self.dense_units,
            upsampling=upsampling,
            activation=activation,
            dtype=self.dtype_policy,
        )
        self.output_shape = self.image_decoder.output_shape
        self.top_down = [
            [
                keras.layers.Dense(
                    self.hidden_units,
                    activation=activation,
                    dtype=self.dtype_policy,
                )
                for _ in range(2)
            ]
            + [GaussianHead(latent_dim, dtype=self.dtype_policy)]
            for latent_dim in self.latent_dims[:-1]
        ]

    def build(self, input_shape):
        self.image_decoder.build((None, self.latent_dims[0]))
        for level in range(len(self.top_down)):
            self.conditional_prior(
                level, keras.KerasTensor((None, self.latent_dims[level + 1]))
            )

    def call(self, inputs):
        return self.image_decoder(inputs)

    def conditional_prior(self, level, z_above, training=False):
        """`(mean, log_var)` of `p(z_level | z_{level+1})`.

        Args:
            level: int. The level, 0 for the bottom one (below the top).
            z_above: tensor `(batch, latent_dims[level + 1])`.
            training: bool. Unused by these layers; part of the contract.

        Returns:
            Tuple `(mean, log_var)`, each `(batch, latent_dims[level])`.
        """
        h = z_above
        for layer in self.top_down[level]:
            h = layer(h)
        return h

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + self.output_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "latent_dims": self.latent_dims,
                "output_shape": self.output_shape,
                "hidden_units": self.hidden_units,
                "filters": self.filters,
                "dense_units": self.dense_units,
                "upsampling": self.upsampling,
                "kernel_size": self.kernel_size,
                "activation": self.activation,
            }
        )
        return config
