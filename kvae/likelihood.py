"""The likelihood `p(x | z)` of `kvae.VAE` and its Gaussian sigma: fixed,
learned, or the running maximum-likelihood estimate of `sigma="optimal"`."""

import math

import keras
from keras import ops

from kvae import elbo
from kvae.model_args import is_number

# Momentum of the running sigma estimate of sigma="optimal".
SIGMA_MOMENTUM = 0.99


class LikelihoodMixin:
    """`kvae.VAE`'s `log p(x | z)`; the model supplies `likelihood` and
    `sigma`, and calls `_add_sigma_weights` in its constructor."""

    def _add_sigma_weights(self):
        """Creates `log_sigma` (Gaussian likelihood only) and, for
        `sigma="optimal"`, the `sigma_updates` count of its estimate."""
        self.log_sigma = None
        if self.likelihood == "gaussian":
            self.log_sigma = self.add_weight(
                name="log_sigma",
                shape=(),
                initializer=keras.initializers.Constant(
                    math.log(self.sigma) if is_number(self.sigma) else 0.0
                ),
                trainable=self.sigma == "learned",
                autocast=False,
            )
        self.sigma_updates = None
        if self.likelihood == "gaussian" and self.sigma == "optimal":
            self.sigma_updates = self.add_weight(
                name="sigma_updates",
                shape=(),
                initializer="zeros",
                trainable=False,
                autocast=False,
            )

    def log_likelihood(self, x, decoder_output, num_samples, training=False):
        """`log p(x | z)` `(num_samples * batch,)` for the raw decoder
        output of `num_samples` codes per image (sample-major rows).

        With `sigma="optimal"`, a training batch uses its own
        maximum-likelihood sigma and folds it into the running estimate
        that every other call uses.
        """
        x = elbo.repeat_samples(x, num_samples)
        log_sigma = self.log_sigma_used(x, decoder_output, training)
        if self.sigma_updates is not None and training:
            self._update_sigma_estimate(log_sigma)
        return -elbo.reconstruction_nll(
            self.likelihood, x, decoder_output, log_sigma
        )

    def _update_sigma_estimate(self, log_sigma):
        """Folds a batch's optimal sigma into the `log_sigma` weight.

        Averages variances: exactly over the first `1 / (1 - momentum)`
        batches, then as a moving average.
        """
        steps = ops.cast(self.sigma_updates, "float32") + 1.0
        weight = ops.maximum(1.0 / steps, 1.0 - SIGMA_MOMENTUM)
        old = ops.exp(2.0 * ops.cast(self.log_sigma, "float32"))
        new = (1.0 - weight) * old + weight * ops.exp(2.0 * log_sigma)
        self.log_sigma.assign(0.5 * ops.log(new))
        self.sigma_updates.assign(steps)

    def log_sigma_used(self, x, decoder_output, training):
        """The Gaussian log sigma of the likelihood (`None` for Bernoulli):
        the `log_sigma` weight, or in a training step of `sigma="optimal"`
        the batch's own optimum, without gradient. `x` is repeated to
        match the rows of `decoder_output`."""
        if self.log_sigma is None:
            return None
        if self.sigma_updates is not None and training:
            return ops.stop_gradient(elbo.optimal_log_sigma(x, decoder_output))
        return ops.cast(self.log_sigma, "float32")
