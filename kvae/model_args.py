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


def check_beta(beta):
    """The KL weight `beta` is not negative."""
    if beta < 0:
        raise ValueError(f"`beta` must be >= 0, got {beta}.")


def check_kl_warmup_steps(kl_warmup_steps):
    """The KL warm-up length is not negative."""
    if kl_warmup_steps < 0:
        raise ValueError(
            f"`kl_warmup_steps` must be >= 0, got {kl_warmup_steps}."
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
    if (
        not isinstance(num_samples, (int, np.integer))
        or isinstance(num_samples, bool)
        or num_samples < 1
    ):
        raise ValueError(
            f"`num_samples` must be an int >= 1, got {num_samples!r}."
        )


def check_free_bits(free_bits, objective):
    """`free_bits` is a number >= 0, and positive only for the ELBO."""
    if not is_number(free_bits) or free_bits < 0:
        raise ValueError(
            f"`free_bits` must be a number >= 0 (nats per latent "
            f"dimension), got {free_bits!r}."
        )
    if free_bits > 0 and objective != "elbo":
        raise ValueError(
            "`free_bits` floors the KL term of the ELBO; the IWAE "
            "objective has no separate KL term. Use objective='elbo' "
            "or free_bits=0."
        )


def check_sigma(sigma):
    """`sigma` is positive, `"learned"` or `"optimal"`."""
    if not (
        sigma in ("learned", "optimal") or (is_number(sigma) and sigma > 0)
    ):
        raise ValueError(
            "`sigma` must be a positive number, 'learned' or 'optimal', "
            f"got {sigma!r}."
        )


def check_layers(encoder, decoder):
    """The encoder and decoder are Keras layers (or models)."""
    for role, layer in (("encoder", encoder), ("decoder", decoder)):
        if not isinstance(layer, keras.layers.Layer):
            raise TypeError(
                f"The {role} must be a keras.Layer or keras.Model, got "
                f"{type(layer).__name__}. kvae.layers has ready ones."
            )

