"""A classifier of the dataset's own labels, whose features score samples.

Trains a small conv classifier (kvae.evaluation.train_feature_classifier)
on the training split and writes into --out classifier.keras and
metrics.json (its test accuracy). Pass the file to a recipe as
--feature-model, and its metrics.json scores generated images in this
feature space as well as in kvae's default random features:

    python -m kvae.recipes.feature_classifier --dataset kmnist \\
        --manual-dir ../shared/data/kmnist \\
        --train-split "test[:9000]" --test-split "test[9000:]"
    python recipes/kmnist.py ... \\
        --feature-model runs/classifier-kmnist/classifier.keras
"""

import argparse

from kvae import experiment
from kvae.experiment import flags
from kvae.experiment.classifier import train_classifier_run


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--dataset",
        default="mnist",
        choices=experiment.config.RGB_NAMES + ("mnist", "kmnist"),
    )
    flags.add_data_flags(
        parser, ("manual_dir", "train_split", "test_split", "image_size")
    )
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--out", default=None, help="runs/classifier-<dataset>")
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args(argv)
    config = flags.data_config(
        parser, args, batch_size=args.batch_size, epochs=args.epochs
    )
    out = args.out or f"runs/classifier-{args.dataset}"
    metrics = train_classifier_run(
        config, out, epochs=args.epochs, overwrite=args.overwrite
    )
    print(
        f"Wrote {out}/classifier.keras: test accuracy "
        f"{metrics['test_accuracy']:.4f} on {metrics['num_test']} images "
        f"({metrics['num_classes']} classes)."
    )
    return metrics


if __name__ == "__main__":
    experiment.cli(main)
