"""The recipes: one runnable module per job, shipped with the package.

    python -m kvae.recipes.kmnist --help

Each recipe is a docstring, a config block (`CONFIG`, a
`kvae.experiment.Config`) and a short `main(argv)`; what it does is in
`kvae.experiment`. `kmnist` (the main job), `dogs`, `mnist` (a latent-size
study), `likelihood` (priors, IWAE, the hierarchical VAE),
`compare_backends` and `compare_runs`. In a clone,
`python recipes/<name>.py` runs the same module. To change a recipe, copy
its module and edit the config block.
"""
