"""--ema-momentum: the run keeps an exponential moving average of its
weights, and its per-epoch test figures, its saved model and its final
evaluation use the average, not the last weights."""

import csv

import keras
import pytest

from kvae import experiment
from kvae.experiment.train import build_optimizer
from tests.recipes.conftest import read_metrics
from tests.recipes.test_run_safety import tiny_flags

# 16 updates of batch 32 at a high learning rate: the loss falls far, while
# an average with this momentum stays next to the weights of the first one.
STEPS = ("--train-split", "test[:512]", "--learning-rate", "3e-3")
NEAR_ONE = "0.999999"


def test_the_optimizer_averages_with_the_momentum_given():
    optimizer = build_optimizer(experiment.Config(ema_momentum=0.99), 10)
    assert optimizer.use_ema and optimizer.ema_momentum == 0.99
    assert not build_optimizer(experiment.Config(), 10).use_ema


@pytest.mark.slow
def test_the_saved_model_and_the_test_figures_are_the_averages(
    shared_data, load_recipe, tmp_path
):
    recipe = load_recipe("kmnist")
    runs = {}
    for name, extra in (
        ("last", ()),
        ("average", ("--ema-momentum", NEAR_ONE)),
    ):
        out = tmp_path / name
        recipe.main(tiny_flags(shared_data, out, *STEPS, *extra))
        with open(out / "history.csv", newline="") as f:
            history = list(csv.DictReader(f))
        runs[name] = (read_metrics(out / "metrics.json"), history, out)
    (last, _, _), (average, history, out) = runs["last"], runs["average"]
    # The same updates were made; only the weights evaluated differ.
    assert last["negative_elbo"] < average["negative_elbo"] - 20
    assert float(history[-1]["val_loss"]) == pytest.approx(
        average["negative_elbo"], rel=1e-3
    )
    model = keras.saving.load_model(out / "model.keras")
    assert model.optimizer.use_ema
