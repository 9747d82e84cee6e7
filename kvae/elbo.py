"""The terms of the evidence lower bound, in `keras.ops` for every backend.

Every quantity here is in nats per image: log-densities are summed over the
pixels of an image and averaged over the batch only at the very end, in
`VAE.compute_elbo`.
"""

import math

from keras import ops

LIKELIHOODS = ("bernoulli", "gaussian")

_HALF_LOG_TWO_PI = 0.5 * math.log(2.0 * math.pi)


def gaussian_log_density(standardized, log_scale, axis=-1):
    """`log N(x; mu, sigma^2)` summed over `axis`, constants included.

    Takes `(x - mu) / sigma` and `log sigma` (broadcast against each
    other): for `z = mu + sigma * eps` the density of `q(z | x)` is
    `gaussian_log_density(eps, 0.5 * z_log_var)`, and the standard normal
    prior's is `gaussian_log_density(z, 0.0)`.
    """
    return -ops.sum(
        _HALF_LOG_TWO_PI + log_scale + 0.5 * ops.square(standardized),
        axis=axis,
    )


def gaussian_kl(z_mean, z_log_var):
    """Analytic `KL(N(mu, sigma^2) || N(0, I))` per example, in nats.

    `0.5 * sum(mu^2 + sigma^2 - 1 - log sigma^2)` over latent dimensions.
    """
    return 0.5 * ops.sum(
        ops.square(z_mean) + ops.exp(z_log_var) - 1.0 - z_log_var, axis=-1
    )


def _sum_per_example(values):
    """Sums every axis but the first: one number per image."""
    return ops.sum(ops.reshape(values, (ops.shape(values)[0], -1)), axis=-1)


def bernoulli_nll(x, logits):
    """`-log p(x | z)` for a Bernoulli decoder, per example, in nats.

    The numerically stable form of binary cross-entropy with logits,
    `max(l, 0) - l * x + log(1 + exp(-|l|))`, which never exponentiates a
    large positive number. `x` may be any value in [0, 1] (grey levels give
    the continuous-Bernoulli-free "soft target" convention used by most VAE
    papers on MNIST).
    """
    per_pixel = (
        ops.relu(logits) - logits * x + ops.log1p(ops.exp(-ops.abs(logits)))
    )
    return _sum_per_example(per_pixel)


def gaussian_nll(x, mean, log_sigma):
    """`-log N(x; mean, sigma^2)` per example, constants included, in nats.

    `log_sigma` is a scalar (fixed, learned or optimal) broadcast over
    pixels.
    """
    per_pixel = (
        _HALF_LOG_TWO_PI
        + log_sigma
        + 0.5 * ops.square(x - mean) * ops.exp(-2.0 * log_sigma)
    )
    return _sum_per_example(per_pixel)


# Floor of the optimal log sigma (sigma >= e^-6 ~ 0.0025, a quarter of one
# 8-bit grey level in [0, 1] data), as in Rybkin et al.'s code: a perfect
# reconstruction would otherwise send the NLL to minus infinity.
MIN_OPTIMAL_LOG_SIGMA = -6.0


def optimal_log_sigma(x, mean, min_log_sigma=MIN_OPTIMAL_LOG_SIGMA):
    """The maximum-likelihood log sigma of a Gaussian decoder, for a batch.

    One sigma shared by every pixel of every image of the batch minimizes
    the summed Gaussian NLL at `sigma^2 = mean((x - mean)^2)`: sigma is the
    root-mean-square error of the batch over all pixels. Returns
    `max(log(RMS error), min_log_sigma)`, a float32 scalar.

    Reference:
    - [Rybkin, Daniilidis and Levine, 2021](https://arxiv.org/abs/2006.13202)
    """
    mse = ops.mean(ops.square(x - mean))
    return ops.maximum(0.5 * ops.log(mse), min_log_sigma)


def reconstruction_nll(likelihood, x, decoder_output, log_sigma=None):
    """Dispatches to the negative log-likelihood of `likelihood`."""
    if likelihood == "bernoulli":
        return bernoulli_nll(x, decoder_output)
    return gaussian_nll(x, decoder_output, log_sigma)


def output_mean(likelihood, decoder_output):
    """The mean of `p(x | z)` in data space from the raw decoder output."""
    if likelihood == "bernoulli":
        return ops.sigmoid(decoder_output)
    return decoder_output


def gaussian_log_prob(z, mean, log_var):
    """`log N(z; mean, diag(exp(log_var)))`, summed over the last axis.

    `gaussian_log_density` for a mean and a log-variance (all broadcast
    against each other), in nats.
    """
    z, mean, log_var = (
        ops.convert_to_tensor(t, dtype="float32") for t in (z, mean, log_var)
    )
    return gaussian_log_density(
        (z - mean) * ops.exp(-0.5 * log_var), 0.5 * log_var
    )


def gaussian_kl_per_dim(mean_q, log_var_q, mean_p, log_var_p):
    """Analytic `KL(N(mean_q, var_q) || N(mean_p, var_p))` per dimension.

    Both Gaussians are diagonal; the result has the shape of the inputs
    (sum it over the last axis for the KL of the whole vector). With
    `mean_p = 0, log_var_p = 0` it is `gaussian_kl` per dimension.
    """
    return 0.5 * (
        log_var_p
        - log_var_q
        + (ops.exp(log_var_q) + ops.square(mean_q - mean_p))
        * ops.exp(-log_var_p)
        - 1.0
    )


def iwae_bound(log_weights):
    """`log (1/k) sum_i w_i` over the first axis of `log_weights` `(k, ...)`.

    The importance-weighted lower bound on `log p(x)` (Burda et al., 2015),
    computed with a stable log-sum-exp; with `k=1` it is the single-sample
    ELBO.
    """
    k = ops.cast(ops.shape(log_weights)[0], log_weights.dtype)
    return ops.logsumexp(log_weights, axis=0) - ops.log(k)


def free_bits_kl(kl, free_bits, dims):
    """The KL term with a floor of `free_bits` nats per latent dimension.

    `kl` is `(n, columns)`: one column per latent dimension when the KL is
    analytic per dimension, one column for a whole level otherwise. Each
    column's batch mean is floored at `free_bits * dims / columns` nats
    (Kingma et al., 2016), so a joint KL estimate gets the same total
    floor as `dims` separate ones. Returns a scalar.
    """
    columns = kl.shape[-1]
    floor = free_bits * dims / columns
    return ops.sum(ops.maximum(ops.mean(kl, axis=0), floor))


def repeat_samples(x, num_samples):
    """`x` stacked `num_samples` times along the first axis.

    Row `i * batch + j` of the result is row `j` of `x`: sample-major, the
    layout of every `(k * batch, ...)` tensor of the bounds.
    """
    if isinstance(num_samples, int) and num_samples == 1:
        return x
    return ops.tile(x, [num_samples] + [1] * (len(x.shape) - 1))
