"""Which settings of a `Config` go together, and which apply to its model.

`check_combinations` refuses, when the config is made (so a command line
exits with status 2 before any data is read or any folder is created),
every combination of settings that the model, its layers or its optimizer
would refuse later. `not_applying` names the settings that the chosen
model ignores, so that a run records them as not applying instead of
reporting a number it did not use.
"""

import inspect

from kvae import datasets
from kvae import model_args
from kvae.datasets.load import DEFAULT_IMAGE_SIZE
from kvae.layers.utils import check_image_shape
from kvae.metrics import SSIM

# The side SSIM's window needs (every run tracks SSIM).
_SSIM_SIDE = inspect.signature(SSIM).parameters["filter_size"].default


def image_side(config):
    """The side of the square images the run trains on: `image_size`, or
    28 for MNIST-like data and 64 for RGB data."""
    if config.image_size is not None:
        return config.image_size
    if config.dataset in datasets.GRAYSCALE_NAMES:
        return 28
    return DEFAULT_IMAGE_SIZE


def latent_sizes(config):
    """The latent sizes of the model, bottom level first: `level_dims` for
    a ladder, `(latent_dim,)` otherwise."""
    if config.model == "ladder":
        return tuple(config.level_dims)
    return (config.latent_dim,)


def latent_text(config):
    """ "latent 16", or "latent 8+4" for a ladder of two levels."""
    return "latent " + "+".join(str(d) for d in latent_sizes(config))


def not_applying(config):
    """The names of the fields that the model of `config` does not use."""
    names = ["latent_dim" if config.model == "ladder" else "level_dims"]
    if config.likelihood != "gaussian":
        names.append("sigma")
    if config.optimizer != "adamw":
        names.append("weight_decay")
    if not config.iwae_samples:
        names.append("iwae_examples")
    samplers = config.samplers if config.score_images else ()
    if not config.score_images:
        names += ["feature_model", "samplers"]
    if "gaussian_mixture" not in samplers:
        names.append("mixture_components")
    if "two_stage" not in samplers:
        names.append("two_stage_epochs")
    if config.conditional:
        names += CONDITIONAL_NOT_APPLYING
    return sorted(set(names))


# A conditional run draws its own figures (kvae.experiment.conditional)
# instead of these, which take no labels.
CONDITIONAL_NOT_APPLYING = [
    "gifs",
    "interpolation_grid",
    "interpolation_method",
    "interpolation_scale",
    "interpolation_steps",
    "mixture_components",
    "reconstruction_grid",
    "samplers",
    "score_images",
    "two_stage_epochs",
]


def check_combinations(config):
    """Raises `ValueError` for settings of `config` that do not go
    together, naming the flags and what to change."""
    try:
        model_args.check_free_bits(config.free_bits, config.objective)
    except ValueError:
        raise ValueError(
            f"free_bits {config.free_bits} floors the KL term of the ELBO, "
            f"but objective is {config.objective!r}, which has no separate "
            "KL term. Use --objective elbo, or --free-bits 0."
        ) from None
    if config.model == "ladder":
        _check_ladder(config)
    if config.conditional:
        _check_conditional(config)
    _check_image_side(config)
    if (
        "interpolation" in config.gifs
        and config.max_test_examples is not None
        and config.max_test_examples < 2
    ):
        raise ValueError(
            f"max_test_examples {config.max_test_examples} leaves no pair "
            "of test images for the interpolation GIF. Give "
            "--max-test-examples 2 or more, or leave interpolation out of "
            "--gifs."
        )


def _check_ladder(config):
    dims, filters = tuple(config.level_dims), tuple(config.filters)
    if len(dims) < 2:
        raise ValueError(
            f"model 'ladder' needs at least two latent levels, got "
            f"level_dims {dims}. Give two or more (--level-dims 32 16), or "
            "use --model conv for one level."
        )
    if len(filters) != len(dims):
        raise ValueError(
            f"model 'ladder' has one convolution stage per level: "
            f"level_dims {dims} has {len(dims)} levels but filters "
            f"{filters} has {len(filters)} stages. Give as many --filters "
            "as --level-dims."
        )
    if config.latent_dims is not None:
        raise ValueError(
            f"latent_dims {config.latent_dims} is a study of one-level "
            "models of these latent sizes; model 'ladder' takes its sizes "
            "from --level-dims. Give --latent-dims none for one run, or "
            "--model conv or residual for the study."
        )


def _check_conditional(config):
    if config.model == "ladder":
        raise ValueError(
            "conditional is for one-level models: model 'ladder' takes no "
            "labels yet. Use --model conv or residual."
        )
    if config.prior == "vamp":
        raise ValueError(
            "conditional cannot use the vamp prior: its pseudo-inputs have "
            "no label. Use --prior standard_normal or mixture_of_gaussians."
        )


def _check_image_side(config):
    side = image_side(config)
    given = (
        f"images of side {side} (image_size)"
        if config.image_size is not None
        else f"the {side}x{side} images of {config.dataset!r}"
    )
    if side < _SSIM_SIDE:
        raise ValueError(
            f"The model cannot take {given}: the run tracks SSIM, whose "
            "window needs "
            f"images of at least {_SSIM_SIDE} pixels a side. Give "
            f"--image-size {_SSIM_SIDE} or more."
        )
    steps = len(config.filters)
    try:
        check_image_shape((side, side, 1), steps, role="encoder")
    except ValueError:
        factor = 2**steps
        fits = max(factor, side // factor * factor)
        raise ValueError(
            f"The model cannot take {given}: its {steps} stages (filters "
            f"{tuple(config.filters)}) halve the side {steps} times, so it "
            f"must be divisible by {factor}. Give --image-size "
            f"{fits} (or {fits + factor}), or fewer --filters."
        ) from None
