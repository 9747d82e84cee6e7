import keras

from kvae.layers.utils import check_latent_dim


@keras.saving.register_keras_serializable(package="kvae")
class GaussianHead(keras.layers.Layer):
    """Maps features to the posterior parameters `(z_mean, z_log_var)`.

    The last layer of every kvae encoder: two `Dense` layers of
    `latent_dim` units. `z_log_var` starts near 0 (unit variance).

    Args:
        latent_dim: int. Size of the latent code, at least 1.

    Call arguments:
        inputs: tensor `(batch, features)`.

    Returns:
        Tuple `(z_mean, z_log_var)`, each `(batch, latent_dim)`.
    """

    def __init__(self, latent_dim, **kwargs):
        super().__init__(**kwargs)
        check_latent_dim(latent_dim)
        self.latent_dim = int(latent_dim)
        self.mean_dense = keras.layers.Dense(
            latent_dim, name="z_mean", dtype=self.dtype_policy
        )
        self.log_var_dense = keras.layers.Dense(
            latent_dim,
            kernel_initializer="zeros",
            name="z_log_var",
            dtype=self.dtype_policy,
        )

    def build(self, input_shape):
        self.mean_dense.build(input_shape)
        self.log_var_dense.build(input_shape)

    def call(self, inputs):
        return self.mean_dense(inputs), self.log_var_dense(inputs)

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape[:-1]) + (self.latent_dim,)
        return shape, shape

    def get_config(self):
        config = super().get_config()
        config.update({"latent_dim": self.latent_dim})
        return config
