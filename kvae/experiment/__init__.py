"""The logic behind `recipes/`: config and flags, data, training, reports.

A recipe is a config block and a short `main`; everything it does is here,
importable and testable, in the spirit of flax's examples
(`train.train_and_evaluate(config, workdir)`):

```python
from kvae import experiment

CONFIG = experiment.Config(name="kmnist", dataset="kmnist", latent_dim=16)


def main(argv=None):
    config = experiment.parse_args(CONFIG, argv, description=__doc__)
    return experiment.train_and_evaluate(config)


if __name__ == "__main__":
    experiment.cli(main)
```

Every field of `Config` is a flag (`python recipes/kmnist.py --help` lists
them). `train_and_evaluate` writes into `config.out`: `model.keras`,
`history.csv`, `metrics.json` (test -ELBO, importance-weighted NLL, MSE,
SSIM, PSNR, train img/s, the precision trained in, times, versions), the
GIFs and plots the config asks for, TensorBoard logs in `tensorboard/`,
and prints where everything went. Every file is written atomically (a
temporary file, then `os.replace`), so an interrupted run never leaves a
half-written one.

One job per module: `config` (the `Config` fields), `flags` (the command
line derived from them), `data` (what a run trains and tests on),
`callbacks` (timer, GIFs, plots, TensorBoard), `train` (model, optimizer,
`train_and_evaluate`), `report` (metrics.json, summaries, plots),
`studies` (`run_latent_study`, `compare_backends`) and `compare`
(`compare_runs`: finished runs in one table and one figure).
`load_test_split` and `plot_latent_pca` redraw a saved run's latent plot
(see `plot_latent_pca`).
"""

from kvae.experiment.compare import compare_runs
from kvae.experiment.config import Config
from kvae.experiment.data import load_test_split
from kvae.experiment.errors import RunError
from kvae.experiment.flags import cli
from kvae.experiment.flags import parse_args
from kvae.experiment.report import plot_latent_pca
from kvae.experiment.studies import compare_backends
from kvae.experiment.studies import run_latent_study
from kvae.experiment.train import train_and_evaluate

__all__ = [
    "Config",
    "RunError",
    "cli",
    "compare_backends",
    "compare_runs",
    "load_test_split",
    "parse_args",
    "plot_latent_pca",
    "run_latent_study",
    "train_and_evaluate",
]
