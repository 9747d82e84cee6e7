"""What a conditional run (`Config.conditional`) draws and measures
besides the bounds: the class-grid GIF, the style-transfer figure, the
samplers fitted to the labelled training codes, and how often a
classifier sees the requested class in the samples of the prior and of
each sampler."""

import os

from kvae import callbacks as kvae_callbacks
from kvae import evaluation
from kvae.experiment.conditional_figures import save_class_grid
from kvae.experiment.conditional_figures import save_style_transfer
from kvae.experiment.data import load_train_arrays
from kvae.experiment.data import select_examples
from kvae.experiment.feature_model import load_feature_model
from kvae.experiment.generation import fit_samplers
from kvae.experiment.generation import save_samplers

# Test images of the style-transfer figure, one of each class in turn.
STYLE_TRANSFER_ROWS = 6
# Samples per class judged by the classifier.
SAMPLES_PER_CLASS = 100


# Classes drawn in the class grid and the style transfer: the first
# ones only beyond this (Stanford Dogs' 120 would make figures of 120
# rows or columns).
MAX_SHOWN_CLASSES = 20


def shown_classes(data):
    """The classes of the run's figures: all, or the first
    `MAX_SHOWN_CLASSES`; `None` for all."""
    if num_classes(data) <= MAX_SHOWN_CLASSES:
        return None
    return list(range(MAX_SHOWN_CLASSES))


def conditional_callbacks(config, data, out):
    """The GIF of a conditional run: one row per class (at most
    `MAX_SHOWN_CLASSES`)."""
    names = data.class_names
    classes = shown_classes(data)
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
    """Writes class_grid.png and style_transfer.png, and, when the run
    scores its samples (`config.score_images`), fits `config.samplers` to
    the labelled training codes and saves them; returns the label
    accuracy of the prior's samples (`label_accuracy`) and of each
    sampler's (`sampler_label_accuracy`) under `config.feature_model`, if
    given."""
    classes = shown_classes(data)
    save_class_grid(
        model,
        os.path.join(out, "class_grid.png"),
        columns=config.sample_grid,
        seed=config.seed,
        class_names=data.class_names,
        classes=classes,
    )
    shown = select_examples(data.y_test, STYLE_TRANSFER_ROWS)
    save_style_transfer(
        model,
        data.x_test[shown],
        data.y_test[shown],
        os.path.join(out, "style_transfer.png"),
        class_names=data.class_names,
        classes=classes,
    )
    fitted = {}
    if config.score_images:
        x_train, y_train, _ = load_train_arrays(config, config.sampler_images)
        fitted = fit_samplers(model, config, x_train, y_train, config.verbose)
        save_samplers(fitted, out)
    if config.feature_model is None:
        return {}
    classifier = load_feature_model(config)
    results = {
        "label_accuracy": evaluation.label_accuracy(
            model, classifier, SAMPLES_PER_CLASS, seed=config.seed
        )
    }
    if fitted:
        # A sampler draws as the model does: sample(n, labels=, seed=).
        results["sampler_label_accuracy"] = {
            name: evaluation.label_accuracy(
                sampler, classifier, SAMPLES_PER_CLASS, seed=config.seed
            )
            for name, sampler in fitted.items()
        }
    return results
