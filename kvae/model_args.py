"""Checks of the arguments of `kvae.VAE`, made at construction, with errors
that say what is wrong and how to fix it."""

import keras
import numpy as np

from kvae import elbo

OBJECTIVES = ("elbo", "iwae")


def is_number(value):
    """Whether `value` is a Python or NumPy int or float."""
    return isinstance(value, (int, float, np.floating, np.integer))


def check_likelihood(likelihood):
    """`likelihood` is one of `kvae.elbo.LIKELIHOODS`."""
    if likelihood not in elbo.LIKELIHOODS:
        raise ValueError(
            f"Unknown likelihood {likelihood!r}. Use one of "
            f"{', '.join(repr(n) for n in elbo.LIKELIHOODS)}: 'bernoulli' "
            "for images in [0, 1] (decoder outputs logits), 'gaussian' "
            "for real-valued images (decoder outputs the mean)."
        )


def is_int(value):
    """Whether `value` is a Python or NumPy int (not a bool)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def check_counts(**counts):
    """Raises `ValueError` naming the first of `counts` (epochs, batch
    size, components...) that is not a positive int."""
    for name, value in counts.items():
        if not is_int(value) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}.")


def check_number(name, value, minimum=None, positive=False):
    """`value` is a finite number (not a string or a bool), at least
    `minimum` or positive if asked."""
    if (
        not is_number(value)
        or isinstance(value, bool)
        or not np.isfinite(value)
        or (minimum is not None and value < minimum)
        or (positive and value <= 0)
    ):
        bound = (
            " > 0"
            if positive
            else f" >= {minimum}"
            if minimum is not None
            else ""
        )
        raise ValueError(
            f"`{name}` must be a finite number{bound}, got {value!r} "
            f"({type(value).__name__})."
        )


def check_int(name, value, minimum):
    """`value` is an int (not a float, string or bool) >= `minimum`."""
    if not is_int(value) or value < minimum:
        raise ValueError(
            f"`{name}` must be an int >= {minimum}, got {value!r} "
            f"({type(value).__name__})."
        )


def check_beta(beta):
    """The KL weight `beta` is a finite number >= 0."""
    check_number("beta", beta, minimum=0)


def check_kl_warmup_steps(kl_warmup_steps):
    """The KL warm-up length is an int >= 0 (0.5 would silently be 0)."""
    check_int("kl_warmup_steps", kl_warmup_steps, 0)


def check_skip_gradient_norm(skip_gradient_norm):
    """`skip_gradient_norm` is `None` or a positive, finite number."""
    if skip_gradient_norm is None:
        return
    if (
        isinstance(skip_gradient_norm, bool)
        or not is_number(skip_gradient_norm)
        or not np.isfinite(skip_gradient_norm)
        or skip_gradient_norm <= 0
    ):
        raise ValueError(
            "skip_gradient_norm must be None (apply every update) or a "
            "positive number, the gradient norm above which an update is "
            f"skipped; got {skip_gradient_norm!r}."
        )


def check_objective(objective):
    """`objective` is one of `OBJECTIVES`."""
    if objective not in OBJECTIVES:
        raise ValueError(
            f"Unknown objective {objective!r}. Use 'elbo' (the evidence "
            "lower bound) or 'iwae' (the importance-weighted bound, with "
            "num_samples > 1)."
        )


def check_num_samples(num_samples):
    """`num_samples` is an int (not a bool) of at least 1."""
    check_int("num_samples", num_samples, 1)


def check_free_bits(free_bits, objective):
    """`free_bits` is a number >= 0, and positive only for the ELBO."""
    check_number("free_bits", free_bits, minimum=0)
    if free_bits > 0 and objective != "elbo":
        raise ValueError(
            "`free_bits` floors the KL term of the ELBO; the IWAE "
            "objective has no separate KL term. Use objective='elbo' "
            "or free_bits=0."
        )


def check_temperature(temperature):
    """`temperature` as a float, or `ValueError` unless it is a positive,
    finite number (the sampling temperature of the models and samplers)."""
    if (
        isinstance(temperature, bool)
        or not is_number(temperature)
        or not np.isfinite(temperature)
        or temperature <= 0
    ):
        raise ValueError(
            "temperature must be a positive number (1 draws from the "
            f"density itself; 0.5 to 1 is usual), got {temperature!r}."
        )
    return float(temperature)


def check_sample_count(n):
    """`n`, a number of images or codes to sample, is a positive int (not
    a float or a bool): the check of the models' and samplers' `sample`."""
    if not is_int(n) or n < 1:
        raise ValueError(
            f"sample() takes a positive int number of images, got {n!r}."
        )


# The smallest fixed sigma: the floor of sigma="optimal" (about 0.0025, a
# quarter of one 8-bit grey level in [0, 1] data). Far smaller ones (1e-30)
# overflow float32 in the loss, which is NaN from the first step.
MIN_SIGMA = float(np.exp(elbo.MIN_OPTIMAL_LOG_SIGMA))


def sigma_error(sigma):
    """What is wrong with a `sigma`, or `None` if it is usable."""
    if isinstance(sigma, str) and sigma in ("learned", "optimal"):
        return None
    if (
        is_number(sigma)
        and not isinstance(sigma, bool)
        and np.isfinite(sigma)
        and sigma >= MIN_SIGMA
    ):
        return None
    return (
        f"must be 'learned', 'optimal' or a finite number >= {MIN_SIGMA:.4g} "
        f"(exp({elbo.MIN_OPTIMAL_LOG_SIGMA:g}), the floor of 'optimal'; a "
        "smaller sigma makes the loss overflow), got "
        f"{sigma!r}. For data on a finer scale than [0, 1], rescale it"
    )


def check_sigma(sigma):
    """`sigma` is `"learned"`, `"optimal"` or a number >= `MIN_SIGMA`."""
    error = sigma_error(sigma)
    if error:
        raise ValueError(f"`sigma` {error}.")


def check_image_metrics(image_metrics_batch, max_val):
    """The image metrics' batch is `None` or a positive int, and `max_val`
    a positive number."""
    if image_metrics_batch is not None:
        check_int("image_metrics_batch", image_metrics_batch, 1)
    check_number("max_val", max_val, positive=True)


def check_layers(encoder, decoder):
    """The encoder and decoder are Keras layers (or models)."""
    for role, layer in (("encoder", encoder), ("decoder", decoder)):
        if not isinstance(layer, keras.layers.Layer):
            raise TypeError(
                f"The {role} must be a keras.Layer or keras.Model, got "
                f"{type(layer).__name__}. kvae.layers has ready ones."
            )
