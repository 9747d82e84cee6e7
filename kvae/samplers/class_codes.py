"""What a sampler needs to know of a conditional model's labels: whether
the model takes them, the labels of its training codes, and the draws of
one density per class."""

import numpy as np


def _label_checks():
    """`kvae.models.labels`, imported when first needed: importing
    `kvae.models` with this module would import `kvae.vae`, which imports
    the presets, which import the samplers."""
    from kvae.models import labels

    return labels


def check_labels(labels, num_classes, count=None, what="labels"):
    """`kvae.models.labels.check_labels`."""
    return _label_checks().check_labels(labels, num_classes, count, what)


def model_classes(model):
    """The number of classes of a conditional model
    (`kvae.ConditionalVAE`, `kvae.ConditionalHierarchicalVAE`), or `None`
    for a model that takes no labels."""
    if getattr(model, "conditional", False):
        return int(model.num_classes)
    return None


def fits_by_class(model, by_class=None):
    """Whether a sampler fits one density per class to the codes of
    `model`: `by_class` where given; by default, for a conditional model
    whose prior is `p(z | y)` (its codes gather by class)."""
    if by_class is not None:
        return bool(by_class)
    return model_classes(model) is not None and getattr(
        model.prior, "needs_labels", False
    )


def check_sampling_labels(labels, n, num_classes, what):
    """`labels` (one int for all, or `n` labels) for `n` draws, as int32
    class indices, or `None` when none are given; a model without
    classes refuses labels."""
    if num_classes is None:
        if labels is not None:
            raise ValueError(
                f"labels were given to {what}, but the sampler's model "
                "takes no labels: fit a sampler to a kvae.ConditionalVAE "
                "to choose the class of its samples. (A sampler's "
                "sample(n, labels=None, seed=None, ...) takes labels "
                "second: give a seed by name, sample(n, seed=0).)"
            )
        return None
    if labels is None:
        return None
    labels = _label_checks().label_list(labels, n)
    return check_labels(labels, num_classes, n, f"labels given to {what}")


def draw_by_class(class_samplers, labels, rng, temperature):
    """Codes `(n, latent_dim)`: row `i` drawn from the density of class
    `labels[i]`, classes in increasing order (so a seed gives the same
    codes on every backend)."""
    codes = None
    for c in np.unique(labels):
        sampler = class_samplers[c]
        if sampler is None:
            raise ValueError(
                f"The sampler has no density for class {c}: no training "
                "image of that class was given to fit()."
            )
        rows = labels == c
        drawn = sampler.draw(int(rows.sum()), rng, temperature)
        if codes is None:
            codes = np.empty((len(labels), drawn.shape[1]), drawn.dtype)
        codes[rows] = drawn
    return codes
