import keras
from keras import ops

from kvae import elbo
from kvae.priors.prior import Prior


@keras.saving.register_keras_serializable(package="kvae")
class StandardNormal(Prior):
    """The standard normal prior `p(z) = N(0, I)`, the VAE's default.

    It has no weights, and its KL term against a diagonal Gaussian
    posterior is analytic, per latent dimension:
    `0.5 * (mu^2 + sigma^2 - 1 - log sigma^2)`.

    Example:

    ```python
    prior = kvae.priors.StandardNormal()
    model = kvae.VAE(
        kvae.layers.ConvEncoder(16), kvae.layers.ConvDecoder(), prior=prior
    )
    ```
    """

    def log_prob(self, z):
        z = ops.convert_to_tensor(z, dtype="float32")
        return elbo.gaussian_log_density(z, 0.0)

    def sample(self, n, seed, temperature=1.0):
        return temperature * keras.random.normal(
            (int(n), self.latent_dim), seed=seed
        )

    def kl_divergence(self, z_mean, z_log_var, z):
        z_mean = ops.convert_to_tensor(z_mean, dtype="float32")
        z_log_var = ops.convert_to_tensor(z_log_var, dtype="float32")
        return elbo.gaussian_kl_per_dim(
            z_mean, z_log_var, ops.zeros_like(z_mean), ops.zeros_like(z_mean)
        )
