"""Which settings of a `Config` go together, and which apply to its model.

`check_combinations` refuses, when the config is made (so a command line
exits with status 2 before any data is read or any folder is created),
every combination of settings that the model, its layers or its optimizer
would refuse later. `not_applying` names the settings that the chosen
model ignores, so that a run records them as not applying instead of
reporting a number it did not use.
"""

import inspect
import warnings

from kvae import datasets
from kvae import model_args
from kvae.datasets.load import DEFAULT_IMAGE_SIZE
from kvae.layers.utils import check_image_shape
from kvae.layers.utils import check_resolutions
from kvae.layers.utils import check_resolutions_fit
from kvae.metrics import SSIM
from kvae.samplers.gaussian_mixture_sampler import MAX_COVARIANCE_BYTES
from kvae.samplers.gaussian_mixture_sampler import components_for
from kvae.samplers.gaussian_mixture_sampler import covariance_bytes

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


# Latent groups of --model hierarchical by image side, measured on this CPU
# (docs/hierarchical.md): resolutions, smallest first, and groups at each.
HIERARCHIES = {28: ((7, 14), (2, 2)), 64: ((4, 8, 16), (1, 2, 2))}
HIERARCHICAL_FIELDS = (
    "resolutions",
    "groups",
    "latent_channels",
    "width",
    "block_activation",
)


def hierarchy(config):
    """`(resolutions, groups)` of --model hierarchical: the config's, or
    the defaults for its image side (a quarter and a half of the side
    with two groups each, for sides without a measured default)."""
    side = image_side(config)
    resolutions, groups = HIERARCHIES.get(side, ((side // 4, side // 2), None))
    if config.resolutions is not None:
        resolutions = tuple(sorted(config.resolutions))
    if config.groups is not None:
        groups = tuple(config.groups)
    elif groups is None or len(groups) != len(resolutions):
        groups = (2,) * len(resolutions)
    return resolutions, groups


def latent_sizes(config):
    """The latent sizes of the model, bottom level first: one flattened
    group per entry for --model hierarchical, `(latent_dim,)` otherwise."""
    if config.model == "hierarchical":
        resolutions, groups = hierarchy(config)
        sizes = [
            r * r * config.latent_channels
            for r, count in zip(resolutions, groups)
            for _ in range(count)
        ]
        return tuple(reversed(sizes))
    return (config.latent_dim,)


def latent_text(config):
    """ "latent 16", or "latent 1568+1568+392+392" for a hierarchical
    model's groups, bottom first."""
    return "latent " + "+".join(str(d) for d in latent_sizes(config))


def not_applying(config):
    """The names of the fields that the model of `config` does not use."""
    if config.model == "hierarchical":
        names = ["latent_dim", "filters", "dense_units"]
    else:
        names = list(HIERARCHICAL_FIELDS)
    if config.likelihood != "gaussian":
        names.append("sigma")
    if config.optimizer != "adamw":
        names.append("weight_decay")
    if not config.iwae_samples:
        names.append("iwae_examples")
    samplers = config.samplers if config.score_images else ()
    if not config.score_images:
        names.append("samplers")
        if not config.conditional:
            # A conditional run's classifier judges the prior's samples.
            names.append("feature_model")
    if not samplers:
        names += ["sampler_images", "sampler_levels"]
    if "gaussian_mixture" not in samplers:
        names += [
            "mixture_components",
            "mixture_reg_covar",
            "mixture_pca_components",
        ]
    for name in ("two_stage", "flow"):
        if name not in samplers:
            names.append(f"{name}_epochs")
    if config.conditional:
        names += CONDITIONAL_NOT_APPLYING
    return sorted(set(names))


# A conditional run draws its own figures (kvae.experiment.conditional)
# instead of these, which take no labels. Its samplers take labels; its
# score_images only says whether they are fitted and judged.
CONDITIONAL_NOT_APPLYING = [
    "gifs",
    "interpolation_grid",
    "interpolation_method",
    "interpolation_scale",
    "interpolation_steps",
    "reconstruction_grid",
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
    if config.model == "hierarchical":
        _check_hierarchy(config)
    elif config.sampler_levels == "all":
        raise ValueError(
            "sampler_levels 'all' fits the samplers to the codes of every "
            f"latent group of --model hierarchical; --model {config.model} "
            "has one level. Use --sampler-levels top."
        )
    _check_pca(config)
    _check_split_overlap(config)
    if config.kl_warmup_epochs > config.epochs:
        warnings.warn(
            f"kl_warmup_epochs {config.kl_warmup_epochs} is longer than the "
            f"{config.epochs} epochs of training: the KL weight never "
            f"reaches beta (it ends at "
            f"{config.epochs / config.kl_warmup_epochs:.2f} of it), so the "
            "final loss is not the ELBO. Give --kl-warmup-epochs at most "
            "--epochs.",
            stacklevel=2,
        )
    if config.conditional:
        _check_conditional(config)
    elif config.prior == "class_gaussian":
        raise ValueError(
            "prior class_gaussian is p(z | y), a Gaussian per class: it "
            "needs the labels of a conditional model. Add --conditional, "
            "or choose another --prior."
        )
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


def _check_hierarchy(config):
    resolutions, groups = hierarchy(config)
    side = image_side(config)
    if len(groups) != len(resolutions):
        raise ValueError(
            f"groups {groups} gives a count for {len(groups)} resolutions, "
            f"but resolutions is {resolutions}: give one --groups entry per "
            "--resolutions entry."
        )
    # The layers' own checks, before any data is loaded.
    check_resolutions_fit(check_resolutions(resolutions), (side, side), "model")
    if config.latent_dims is not None:
        raise ValueError(
            f"latent_dims {config.latent_dims} is a study of one-level "
            "models of these latent sizes; --model hierarchical has latent "
            "groups instead. Give --latent-dims none for one run, or "
            "--model conv or residual for the study."
        )


def _check_pca(config):
    sizes = latent_sizes(config)
    dims = sum(sizes) if config.sampler_levels == "all" else sizes[-1]
    pca = config.mixture_pca_components
    if pca is not None and pca > dims:
        raise ValueError(
            f"mixture_pca_components {pca} exceeds the {dims} dimensions of "
            f"the codes the samplers fit (sampler_levels "
            f"{config.sampler_levels!r}). Give at most {dims}."
        )
    if "mixture_components" in not_applying(config):
        return
    codes = config.sampler_images
    if pca is not None and codes is not None and pca > codes:
        raise ValueError(
            f"mixture_pca_components {pca} exceeds the {codes} training "
            "codes the mixture is fitted to (sampler_images), which have "
            f"at most {codes} principal components. Give at most {codes}, "
            "or more sampler_images."
        )
    # The mixture's own refusal, which would come after training.
    components = config.mixture_components
    if codes is not None:
        components = components_for(components, codes)
    size = 0 if pca is not None else covariance_bytes(components, dims)
    if size > MAX_COVARIANCE_BYTES:
        raise ValueError(
            f"{components} full covariances of the {dims}-D codes the "
            f"Gaussian mixture fits (sampler_levels {config.sampler_levels!r})"
            f" need {size / 2**30:.0f} GiB: give mixture_pca_components "
            "(e.g. 256) to fit it in the codes' principal components, or "
            "fewer mixture_components."
        )


def _check_split_overlap(config):
    shared = datasets.shared_examples(config.dataset, *config.splits)
    if shared:
        train, test = config.splits
        warnings.warn(
            f"train_split {train!r} and test_split {test!r} share "
            f"{shared:,} examples of {config.dataset!r}: the test figures "
            "would partly measure images the model trained on. Choose "
            "disjoint splits, e.g. --train-split 'test[:9000]' "
            "--test-split 'test[9000:]'.",
            stacklevel=2,
        )


def _check_conditional(config):
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
    if config.model == "hierarchical":
        return  # no filters: _check_hierarchy checks its resolutions
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
