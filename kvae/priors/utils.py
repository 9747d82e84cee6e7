"""Helpers shared by the mixture priors."""

import numbers

from keras import ops

from kvae import elbo


def check_num_components(num_components):
    if (
        not isinstance(num_components, numbers.Integral)
        or isinstance(num_components, bool)
        or num_components < 1
    ):
        raise ValueError(
            f"`num_components` must be a positive int, got {num_components!r}."
        )
    return int(num_components)


def mixture_log_prob(z, means, log_vars, log_weights):
    """`log sum_k w_k N(z; means_k, exp(log_vars_k))` over the last axis.

    `z` is `(..., d)`, `means` and `log_vars` `(K, d)`, `log_weights`
    `(K,)` (log-probabilities that sum to one). Returns `(...)`.
    """
    per_component = elbo.gaussian_log_prob(
        ops.expand_dims(z, -2), means, log_vars
    )
    return ops.logsumexp(per_component + log_weights, axis=-1)
