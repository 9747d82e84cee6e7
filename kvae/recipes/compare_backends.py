"""One recipe under TensorFlow, JAX and PyTorch, side by side.

Runs the recipe once per backend, each in its own process with
KERAS_BACKEND set, then writes into --out (runs/compare_backends):
comparison.md (train img/s, epoch time, test -ELBO, IWAE NLL, SSIM, PSNR),
comparison.png and comparison.json; each run's files are in <out>/<backend>/.
A backend that is not installed is reported as such.

Flags this script does not know go to the recipe:

    python -m kvae.recipes.compare_backends \\
        --manual-dir ../shared/data/kmnist --train-split "test[:9000]" \\
        --test-split "test[9000:]" --epochs 5
"""

import argparse
import importlib
import os

from kvae import experiment
from kvae import utils

RECIPES = ("kmnist", "dogs")


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--recipe", choices=RECIPES, default="kmnist")
    parser.add_argument(
        "--backends",
        nargs="+",
        default=list(utils.BACKENDS),
        choices=utils.BACKENDS,
    )
    parser.add_argument("--out", default="runs/compare_backends")
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="Delete a previous comparison in --out (its table, logs and "
        "each backend's run folder) first, instead of refusing to start.",
    )
    args, recipe_args = parser.parse_known_args(argv)
    # The recipe's flags are checked here, before any backend runs: a bad
    # one exits with the recipe's usage message (status 2).
    module = importlib.import_module(f"kvae.recipes.{args.recipe}")
    experiment.parse_args(module.CONFIG, recipe_args, module.__doc__)
    recipe = os.path.join(os.path.dirname(__file__), f"{args.recipe}.py")
    rows = experiment.compare_backends(
        recipe,
        recipe_args,
        args.out,
        backends=args.backends,
        overwrite=args.overwrite,
    )
    if not any(row["status"] == "ok" for row in rows):
        raise experiment.RunError(
            f"No backend finished; each row of {args.out}/comparison.md "
            "says why, and <backend>.log there holds its output."
        )
    return rows


if __name__ == "__main__":
    experiment.cli(main)
