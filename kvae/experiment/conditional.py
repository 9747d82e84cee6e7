"""What a conditional run (`Config.conditional`) draws and measures
besides the bounds: the class-grid GIF, the style-transfer figure and
how often a classifier sees the requested class in the samples."""

import os

import keras

from kvae import callbacks as kvae_callbacks
from kvae import evaluation
from kvae.experiment.conditional_figures import save_class_grid
from kvae.experiment.conditional_figures import save_style_transfer
from kvae.experiment.data import select_examples

# Test images of the style-transfer figure, one of each class in turn.
STYLE_TRANSFER_ROWS = 6
# Samples per class judged by the classifier.
SAMPLES_PER_CLASS = 100


def conditional_callbacks(config, data, out):
    """The GIF of a conditional run: one row per class (at most 20)."""
    names = data.class_names
    classes = None if num_classes(data) <= 20 else list(range(20))
    return [
        kvae_callbacks.ClassGridGIF(
            out,
            classes=classes,
            columns=config.sample_grid,
            seed=config.seed,
            class_names=names,
        )
    ]


def num_classes(data):
    """The classes of a run's data: its class names, or its test labels."""
    if data.class_names:
        return len(data.class_names)
    return int(data.y_test.max()) + 1


def conditional_results(model, config, data, out):
    """Writes class_grid.png and style_transfer.png; returns the label
    accuracy of the samples under `config.feature_model` (if given)."""
    save_class_grid(
        model,
        os.path.join(out, "class_grid.png"),
        columns=config.sample_grid,
        seed=config.seed,
        class_names=data.class_names,
    )
    shown = select_examples(data.y_test, STYLE_TRANSFER_ROWS)
    save_style_transfer(
        model,
        data.x_test[shown],
        data.y_test[shown],
        os.path.join(out, "style_transfer.png"),
        class_names=data.class_names,
    )
    if config.feature_model is None:
        return {}
    classifier = keras.saving.load_model(config.feature_model)
    return {
        "label_accuracy": evaluation.label_accuracy(
            model, classifier, SAMPLES_PER_CLASS, seed=config.seed
        )
    }
