"""One recipe under TensorFlow, JAX and PyTorch, side by side.

The recipe itself, its config block and `main`, is
kvae/recipes/compare_backends.py, shipped in the package: an installed kvae
runs it as `python -m kvae.recipes.compare_backends`, and this script runs
the same code from a clone. `--help` lists every setting; to change the
recipe, copy that file.
"""

from kvae import experiment
from kvae.recipes.compare_backends import main

if __name__ == "__main__":
    experiment.cli(main)
