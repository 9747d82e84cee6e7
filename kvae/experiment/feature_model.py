"""The trained classifier whose features score a run's samples
(`--feature-model`): loaded and checked against the run's images before
any data is read, so that a wrong file stops the run at its start instead
of after training."""

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
        model = keras.saving.load_model(path)
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
