import keras
from keras import ops

from kvae import model_args
from kvae.priors.prior import Prior
from kvae.priors.prior import split_seed
from kvae.priors.utils import check_num_components
from kvae.priors.utils import check_seed
from kvae.priors.utils import mixture_log_prob


@keras.saving.register_keras_serializable(package="kvae")
class MixtureOfGaussians(Prior):
    """A learned mixture of diagonal Gaussians, `p(z) = sum_k pi_k N(mu_k,
    sigma_k^2)`.

    The means, log-variances and mixture logits are weights of the model,
    trained with the rest of it. The KL term is estimated from the drawn
    `z` (`log q(z | x) - log p(z)`): a mixture has no analytic KL.

    Args:
        num_components: int. Number of mixture components, at least 1.
        mean_stddev: float. Standard deviation of the random initial means
            (the components start spread over the standard normal's bulk).
        learn_weights: bool. Train the mixture weights `pi`; if `False`
            they stay uniform.
        seed: int or `None`. Seed of the initial means.

    Example:

    ```python
    model = kvae.VAE(
        kvae.layers.ConvEncoder(16),
        kvae.layers.ConvDecoder(),
        prior=kvae.priors.MixtureOfGaussians(num_components=10),
    )
    ```
    """

    def __init__(
        self,
        num_components=10,
        mean_stddev=1.0,
        learn_weights=True,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_components = check_num_components(num_components)
        # 0 would start every component at the origin, identical forever;
        # NaN or a negative spread gives NaN means and a NaN loss.
        model_args.check_number("mean_stddev", mean_stddev, positive=True)
        self.mean_stddev = float(mean_stddev)
        self.learn_weights = bool(learn_weights)
        self.seed = check_seed(seed)

    def build(self, input_shape):
        super().build(input_shape)
        shape = (self.num_components, self.latent_dim)
        self.means = self.add_weight(
            name="means",
            shape=shape,
            initializer=keras.initializers.RandomNormal(
                stddev=self.mean_stddev, seed=self.seed
            ),
            autocast=False,
        )
        self.log_vars = self.add_weight(
            name="log_vars", shape=shape, initializer="zeros", autocast=False
        )
        self.logits = self.add_weight(
            name="logits",
            shape=(self.num_components,),
            initializer="zeros",
            trainable=self.learn_weights,
            autocast=False,
        )

    def log_prob(self, z):
        z = ops.convert_to_tensor(z, dtype="float32")
        log_weights = ops.log_softmax(ops.cast(self.logits, "float32"))
        return mixture_log_prob(
            z,
            ops.cast(self.means, "float32"),
            ops.cast(self.log_vars, "float32"),
            log_weights,
        )

    def sample(self, n, seed, temperature=1.0):
        component_seed, noise_seed = split_seed(seed)
        logits = ops.cast(self.logits, "float32")
        components = keras.random.categorical(
            ops.expand_dims(logits, 0), int(n), seed=component_seed
        )[0]
        means = ops.take(ops.cast(self.means, "float32"), components, axis=0)
        log_vars = ops.take(
            ops.cast(self.log_vars, "float32"), components, axis=0
        )
        eps = keras.random.normal(ops.shape(means), seed=noise_seed)
        return means + temperature * ops.exp(0.5 * log_vars) * eps

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_components": self.num_components,
                "mean_stddev": self.mean_stddev,
                "learn_weights": self.learn_weights,
                "seed": self.seed,
            }
        )
        return config
