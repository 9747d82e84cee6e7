"""MNIST latent-size study: the same conv VAE with latent sizes 2, 4, 16.

The recipe itself, its config block and `main`, is kvae/recipes/mnist.py,
shipped in the package: an installed kvae runs it as `python -m
kvae.recipes.mnist`, and this script runs the same code from a clone.
`--help` lists every setting; to change the recipe, copy that file.
"""

from kvae import experiment
from kvae.recipes.mnist import main

if __name__ == "__main__":
    experiment.cli(main)
