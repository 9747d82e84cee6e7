"""Finished runs side by side: one table and one figure.

The recipe itself, its config block and `main`, is
kvae/recipes/compare_runs.py, shipped in the package: an installed kvae runs
it as `python -m kvae.recipes.compare_runs`, and this script runs the same
code from a clone. `--help` lists every setting; to change the recipe, copy
that file.
"""

from kvae import experiment
from kvae.recipes.compare_runs import main

if __name__ == "__main__":
    experiment.cli(main)
