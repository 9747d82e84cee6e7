"""The trained classifier whose features score a run's samples
(`--feature-model`): loaded and checked against the run's images before
any data is read, so that a wrong file stops the run at its start instead
of after training. A run asks for it up to three times (the check, the
sample scores, a conditional run's label accuracy); the file is read once
while it is unchanged."""

import functools
import os

import keras

from kvae import datasets
from kvae.experiment.combinations import image_side
from kvae.experiment.combinations import not_applying
from kvae.experiment.errors import RunError


def run_image_shape(config):
    """`(side, side, channels)` of the images the run of `config` takes."""
    side = image_side(config)
    return (side, side, 1 if config.dataset in datasets.GRAYSCALE_NAMES else 3)


def load_feature_model(config):
    """`config.feature_model` loaded, or `None` when the run uses none.

    Raises:
        RunError: the file is not a Keras model, or the model does not take
            the run's images.
    """
    path = config.feature_model
    if path is None or "feature_model" in not_applying(config):
        return None
    advice = (
        "Give a classifier trained on this dataset by "
        "recipes/feature_classifier.py (its classifier.keras), or leave "
        "--feature-model out."
    )
    try:
        stat = os.stat(path)
        model = _load(os.path.abspath(path), stat.st_mtime_ns, stat.st_size)
    except Exception as error:  # a corrupt file fails in many ways
        raise RunError(
            f"--feature-model {path!r} could not be loaded as a Keras model "
            f"({type(error).__name__}: {str(error)[:200]}). {advice}"
        ) from None
    shape = run_image_shape(config)
    try:
        taken = tuple(model.input_shape[1:])
    except Exception:  # a subclassed model has no fixed input shape
        taken = ()
    if taken and None not in taken and taken != shape:
        raise RunError(
            f"--feature-model {path!r} takes images of shape {taken}, but "
            f"this run's images are {shape}. {advice}"
        )
    return model


@functools.lru_cache(maxsize=1)
def _load(path, mtime_ns, size):
    """The model at `path`, read again only when its modification time or
    size (part of the key) changed: a file rewritten between two runs in one
    process is not served from the cache."""
    del mtime_ns, size
    return keras.saving.load_model(path)
