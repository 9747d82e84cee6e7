"""`train_classifier_run`: the feature classifier of a dataset, trained
and saved for the sample-quality scores (`recipes/feature_classifier.py`)."""

import os
import time
import warnings

import numpy as np

from kvae import evaluation
from kvae.experiment.data import load_test_split
from kvae.experiment.data import load_train_arrays
from kvae.experiment.report import prepare_output
from kvae.utils import write_json

OUTPUTS = ("classifier.keras", "metrics.json")


def train_classifier_run(config, out, epochs=5, overwrite=False, verbose=1):
    """Trains `kvae.evaluation.train_feature_classifier` on the training
    split of `config` (a `kvae.experiment.Config`: dataset, manual_dir,
    splits, image_size, max_train_examples, batch_size, seed), tests it on
    its test split and writes `classifier.keras` and `metrics.json` (the
    test accuracy) into `out`.

    Returns:
        dict: the contents of metrics.json.
    """
    start = time.perf_counter()
    x_train, y_train, class_names = load_train_arrays(config)
    x_test, y_test, _ = load_test_split(config)
    prepare_output(out, overwrite=overwrite, outputs=OUTPUTS)
    num_classes = (
        len(class_names)
        if class_names
        else int(max(y_train.max(), y_test.max()) + 1)
    )
    _, accuracy = evaluation.train_feature_classifier(
        x_train,
        y_train,
        x_test,
        y_test,
        num_classes,
        path=os.path.join(out, "classifier.keras"),
        epochs=epochs,
        batch_size=config.batch_size,
        seed=config.seed,
        verbose=verbose,
    )
    chance = float(np.max(np.bincount(y_test)) / len(y_test))
    if accuracy < 2 * chance:
        warnings.warn(
            f"The classifier's test accuracy ({accuracy:.4f}) is less than "
            f"twice chance ({chance:.4f}): its features will hardly tell "
            "real images from generated ones. Train it for more epochs "
            "(--epochs) before scoring samples with it.",
            stacklevel=2,
        )
    metrics = {
        "dataset": config.dataset,
        "splits": list(config.splits),
        "num_train": len(x_train),
        "num_test": len(x_test),
        "num_classes": num_classes,
        "epochs": epochs,
        "test_accuracy": accuracy,
        "chance_accuracy": chance,
        "seconds": time.perf_counter() - start,
    }
    write_json(os.path.join(out, "metrics.json"), metrics)
    return metrics
