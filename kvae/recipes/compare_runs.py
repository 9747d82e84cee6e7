"""Finished runs side by side: one table and one figure.

Reads each run folder (a recipe's --out: metrics.json and history.csv) and
writes into --out (runs/compare): comparison.md (one row per run: model,
prior, objective, epochs, test set, test -ELBO, KL per level, IWAE NLL
with its k and number of images, fit minutes, epoch seconds, train img/s,
backend, precision), comparison.png (test and train -ELBO and KL per
epoch) and comparison.json (the rows):

    python -m kvae.recipes.compare_runs runs/likelihood-vae runs/likelihood \\
        --names "conv VAE" "hierarchical VAE" --out runs/compare
"""

import argparse

from kvae import experiment


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "run_dirs", nargs="+", metavar="RUN_DIR", help="A finished run."
    )
    parser.add_argument(
        "--out",
        default="runs/compare",
        help="Output folder. A folder holding a previous comparison is "
        "refused unless --overwrite is given (default: runs/compare).",
    )
    parser.add_argument(
        "--names",
        nargs="+",
        metavar="NAME",
        help="One name per run, for the table and the legend (default: "
        "the folder names).",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="Replace a previous comparison in --out.",
    )
    args = parser.parse_args(argv)
    return experiment.compare_runs(
        args.run_dirs, args.out, names=args.names, overwrite=args.overwrite
    )


if __name__ == "__main__":
    experiment.cli(main)
