"""A classifier of the dataset's own labels, whose features score samples.

The recipe itself is kvae/recipes/feature_classifier.py, shipped in the
package: an installed kvae runs it as `python -m
kvae.recipes.feature_classifier`, and this script runs the same code from a
clone. `--help` lists every setting.
"""

from kvae import experiment
from kvae.recipes.feature_classifier import main

if __name__ == "__main__":
    experiment.cli(main)
