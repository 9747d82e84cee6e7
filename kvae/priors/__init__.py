"""Priors `p(z)` for `kvae.VAE`: `kvae.VAE(..., prior=...)` takes a name
or an instance.

- `"standard_normal"`: `StandardNormal`, `N(0, I)` (the default; analytic
  KL).
- `"mixture_of_gaussians"`: `MixtureOfGaussians`, a learned mixture.
- `"vamp"`: `VampPrior`, a mixture of the encoder's posteriors at learned
  pseudo-inputs.
- `"class_gaussian"`: `ClassGaussian`, a learned Gaussian per class,
  `p(z | y)`, for `kvae.ConditionalVAE` only.

With a prior other than the standard normal (or the class Gaussian), the
KL term of the ELBO is the
single-sample estimate `log q(z | x) - log p(z)`.
"""

import keras

from kvae.priors.class_gaussian import ClassGaussian
from kvae.priors.mixture_of_gaussians import MixtureOfGaussians
from kvae.priors.prior import Prior
from kvae.priors.standard_normal import StandardNormal
from kvae.priors.vamp_prior import VampPrior

PRIORS = {
    "standard_normal": StandardNormal,
    "mixture_of_gaussians": MixtureOfGaussians,
    "vamp": VampPrior,
    "class_gaussian": ClassGaussian,
}


def get(identifier):
    """A `Prior` from a name in `PRIORS`, a `Prior` or a serialized one.

    Args:
        identifier: str, `kvae.priors.Prior` or a config dict.

    Returns:
        A `kvae.priors.Prior` (the same object if one was given; a new one
        with default arguments for a name).
    """
    if isinstance(identifier, Prior):
        return identifier
    if isinstance(identifier, dict):
        prior = keras.saving.deserialize_keras_object(identifier)
        if isinstance(prior, Prior):
            return prior
    if isinstance(identifier, str) and identifier in PRIORS:
        return PRIORS[identifier]()
    raise ValueError(
        f"Unknown prior {identifier!r}. Use one of "
        f"{', '.join(repr(n) for n in PRIORS)} or a kvae.priors.Prior "
        "instance, e.g. kvae.priors.VampPrior(num_components=500)."
    )


__all__ = [
    "PRIORS",
    "ClassGaussian",
    "MixtureOfGaussians",
    "Prior",
    "StandardNormal",
    "VampPrior",
    "get",
]
