"""Likelihood study on dynamically binarized MNIST: priors, objectives and
a hierarchical VAE, compared by their test -log p(x).

The recipe itself, its config block and `main`, is
kvae/recipes/likelihood.py, shipped in the package: an installed kvae runs
it as `python -m kvae.recipes.likelihood`, and this script runs the same
code from a clone. `--help` lists every setting; to change the recipe, copy
that file.
"""

from kvae import experiment
from kvae.recipes.likelihood import main

if __name__ == "__main__":
    experiment.cli(main)
