"""Stanford Dogs at 64x64 RGB: a residual conv VAE with a 256-D latent.

The recipe itself, its config block and `main`, is kvae/recipes/dogs.py,
shipped in the package: an installed kvae runs it as `python -m
kvae.recipes.dogs`, and this script runs the same code from a clone.
`--help` lists every setting; to change the recipe, copy that file.
"""

from kvae import experiment
from kvae.recipes.dogs import main

if __name__ == "__main__":
    experiment.cli(main)
