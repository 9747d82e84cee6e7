"""Kuzushiji-MNIST: a convolutional VAE on cursive Japanese characters.

The recipe itself, its config block and `main`, is kvae/recipes/kmnist.py,
shipped in the package: an installed kvae runs it as `python -m
kvae.recipes.kmnist`, and this script runs the same code from a clone.
`--help` lists every setting; to change the recipe, copy that file.
"""

from kvae import experiment
from kvae.recipes.kmnist import main

if __name__ == "__main__":
    experiment.cli(main)
