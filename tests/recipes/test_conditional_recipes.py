"""--conditional in a recipe: a ConditionalVAE trained on labelled data,
its class grid, style transfer and conditional bounds."""

import keras
import numpy as np
import pytest

import kvae
from kvae import experiment
from kvae.experiment.combinations import not_applying
from tests.recipes.test_kmnist import tiny_flags


def test_conditional_refuses_what_takes_no_labels():
    with pytest.raises(ValueError, match="cannot use the vamp prior"):
        experiment.Config(conditional=True, prior="vamp")
    config = experiment.parse_args(experiment.Config(), ["--conditional"])
    assert config.conditional is True
    # Its samplers take labels; the unconditional figures do not apply.
    assert "samplers" not in not_applying(config)
    assert "gifs" in not_applying(config)
    unscored = experiment.parse_args(
        experiment.Config(), ["--conditional", "--score-images", "0"]
    )
    assert "samplers" in not_applying(unscored)
    assert "feature_model" not in not_applying(unscored)
    assert "samplers" not in not_applying(experiment.Config())
    # The hierarchical model takes labels too.
    experiment.Config(conditional=True, model="hierarchical")


@pytest.mark.slow
def test_kmnist_conditional_end_to_end(
    shared_data, load_recipe, check_run_folder, tmp_path
):
    # An untrained classifier: the test is of the plumbing, not the score.
    inputs = keras.Input((28, 28, 1))
    outputs = keras.layers.Dense(10, activation="softmax")(
        keras.layers.Flatten()(inputs)
    )
    keras.Model(inputs, outputs).save(tmp_path / "classifier.keras")
    out = tmp_path / "kmnist"
    load_recipe("kmnist").main(
        tiny_flags(shared_data, out)
        + [
            "--conditional",
            "--no-tensorboard",
            "--feature-model",
            str(tmp_path / "classifier.keras"),
            # Samplers fitted to the labelled codes, judged by the
            # classifier (the last --score-images wins).
            "--score-images",
            "32",
            "--samplers",
            "gaussian_mixture",
            "--mixture-components",
            "2",
        ]
    )
    metrics = check_run_folder(
        out,
        epochs=2,
        gifs=("class_grid",),
        backend=keras.backend.backend(),
        tensorboard=False,
    )
    assert metrics["conditional"] is True
    assert {"class_grid.png", "style_transfer.png"} <= set(metrics["files"])
    accuracy = metrics["label_accuracy"]
    assert len(accuracy["per_class"]) == 10
    assert accuracy["accuracy"] == pytest.approx(np.mean(accuracy["per_class"]))
    model = kvae.load_model(out / "model.keras")
    assert isinstance(model, kvae.ConditionalVAE)
    by_sampler = metrics["sampler_label_accuracy"]
    assert len(by_sampler["gaussian_mixture"]["per_class"]) == 10
    sampler = kvae.samplers.load_sampler(
        str(out / "sampler_gaussian_mixture.npz"), model
    )
    assert sampler.num_classes == 10
    assert sampler.sample(3, labels=[0, 5, 9], seed=0).shape == (3, 28, 28, 1)
    assert model.num_classes == 10
    # The reported bounds are conditional: without labels there are none.
    with pytest.raises(ValueError, match="are missing"):
        kvae.evaluation.importance_weighted_nll(
            model, np.zeros((2, 28, 28, 1), "float32"), num_samples=2
        )


def test_figures_of_many_classes_show_the_first_twenty(tmp_path):
    import imageio.v3 as iio

    from kvae.experiment.conditional import MAX_SHOWN_CLASSES
    from kvae.experiment.conditional import shown_classes
    from kvae.experiment.conditional_figures import save_class_grid

    class Data:  # what shown_classes reads of a run's data
        class_names = [f"breed{i}" for i in range(120)]

    classes = shown_classes(Data())
    assert classes == list(range(MAX_SHOWN_CLASSES))
    Data.class_names = Data.class_names[:10]
    assert shown_classes(Data()) is None
    model = kvae.ConditionalVAE(
        kvae.layers.MLPEncoder(2, hidden_units=(8,)),
        kvae.layers.MLPDecoder((8, 8, 1), hidden_units=(8,)),
        num_classes=120,
        image_metrics=False,
    )
    model.build((None, 8, 8, 1))
    heights = {}
    for name, chosen in (("all", None), ("first", classes)):
        path = tmp_path / f"{name}.png"
        save_class_grid(model, path, columns=4, classes=chosen)
        heights[name] = iio.imread(path).shape[0]
    assert heights["first"] < heights["all"] / 3
