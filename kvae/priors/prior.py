import weakref

import keras
from keras import ops

from kvae import elbo


@keras.saving.register_keras_serializable(package="kvae")
class Prior(keras.layers.Layer):
    """Base class of the priors `p(z)` of `kvae.VAE`'s latent code.

    A prior is a layer (its weights, if any, are trained with the model and
    saved with it) with two methods: `log_prob(z)`, the log-density summed
    over the latent dimensions, and `sample(n, seed)`. The model builds it
    with the latent shape `(batch, latent_dim)` and sets `latent_dim`.

    `kl_divergence` gives the KL term of the ELBO. By default it is the
    single-sample estimate `log q(z | x) - log p(z)` at the drawn `z`; a
    prior with an analytic KL (`StandardNormal`) overrides it. A prior that
    is defined through the encoder (`VampPrior`) sets
    `needs_encoder = True` and receives the model's inference path through
    `set_encoder` before it is built.

    Call arguments:
        z: tensor `(..., latent_dim)`.

    Returns:
        `log_prob(z)`, a tensor `(...)`.
    """

    needs_encoder = False
    # A prior `p(z | y)` (`ClassGaussian`) reads the model's labels.
    needs_labels = False

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.latent_dim = None
        self._owner = None

    def bind(self, model):
        """Makes this prior `model`'s; `kvae.VAE` calls it when it is
        given the prior.

        Raises:
            ValueError: the prior already serves another model that still
                exists. It is built for that model's latent size, its
                weights are trained with that model, and a `VampPrior`
                evaluates that model's encoder: two models cannot share
                one instance.
        """
        owner = self._owner() if self._owner is not None else None
        if owner is not None and owner is not model:
            name = type(self).__name__
            raise ValueError(
                f"This {name} ({self.name!r}) is already the prior of the "
                f"model {owner.name!r}. A prior is built for its model's "
                "latent size and trained with it (a VampPrior also "
                "evaluates that model's encoder), so one instance cannot "
                "serve two models: give "
                f"each model its own, e.g. kvae.priors.{name}.from_config("
                "prior.get_config()) for a fresh copy of its arguments."
            )
        self._owner = weakref.ref(model)

    def build(self, input_shape):
        self.latent_dim = int(input_shape[-1])

    def call(self, z):
        return self.log_prob(z)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1])

    def log_prob(self, z):
        """`log p(z)` summed over the last axis, in nats."""
        raise NotImplementedError(
            f"{type(self).__name__} must implement log_prob(z)."
        )

    def sample(self, n, seed, temperature=1.0):
        """`n` draws `(n, latent_dim)`, each component's standard
        deviation scaled by `temperature`; `seed` is an int or a
        `keras.random.SeedGenerator`."""
        raise NotImplementedError(
            f"{type(self).__name__} must implement sample(n, seed)."
        )

    def kl_divergence(self, z_mean, z_log_var, z):
        """The KL term of `q(z | x) = N(z_mean, exp(z_log_var))` for `z`.

        Returns `(..., columns)`: by default `sampled_kl`, one column. A
        prior with an analytic KL returns it instead, one column per
        latent dimension (what free bits floor one by one).
        """
        return self.sampled_kl(z_mean, z_log_var, z)

    def sampled_kl(self, z_mean, z_log_var, z):
        """`log q(z | x) - log p(z)` at the drawn `z`, shape `(..., 1)`.

        Summed over its last axis, an unbiased single-sample estimate of
        `KL(q || p)`; the importance weights need exactly this term.
        """
        log_q = elbo.gaussian_log_prob(z, z_mean, z_log_var)
        return ops.expand_dims(log_q - self.log_prob(z), -1)


def split_seed(seed):
    """Two seeds for two draws from one `seed` (an int, `None` or a
    `keras.random.SeedGenerator`, which advances on each draw)."""
    if isinstance(seed, keras.random.SeedGenerator) or seed is None:
        return seed, seed
    return seed, seed + 1
