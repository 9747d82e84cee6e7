"""A run refuses what would fail it later before it reads any data: each
case here gives a data folder that does not exist, so a refusal that came
after loading would be a DatasetError instead of the RunError asserted."""

import os

import keras
import pytest

from kvae import experiment
from kvae.experiment.feature_model import load_feature_model
from kvae.utils.folder_lock import lock_folder
from tests.recipes.test_run_safety import tiny_flags


def _refused(load_recipe, tmp_path, out, *extra, match):
    recipe = load_recipe("kmnist")
    argv = tiny_flags(str(tmp_path / "no-data"), out, *extra)
    with pytest.raises(experiment.RunError, match=match):
        recipe.main(argv)


def test_an_out_below_a_file_is_refused_before_the_data(load_recipe, tmp_path):
    (tmp_path / "file.txt").write_text("mine")
    out = tmp_path / "file.txt" / "run"
    _refused(load_recipe, tmp_path, out, match="is a file")
    assert (tmp_path / "file.txt").read_text() == "mine"


def test_a_previous_run_is_refused_before_the_data(load_recipe, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "metrics.json").write_text("{}")
    _refused(load_recipe, tmp_path, out, match="previous run's files")
    assert (out / "metrics.json").read_text() == "{}"


def test_a_folder_a_live_run_holds_is_refused_before_the_data(
    load_recipe, tmp_path
):
    out = tmp_path / "run"
    out.mkdir()
    with lock_folder(str(out)):
        _refused(load_recipe, tmp_path, out, "--overwrite", match="in use by")
    assert os.listdir(out) == []


def test_a_latent_study_checks_every_size_before_the_data(
    load_recipe, tmp_path
):
    out = tmp_path / "study"
    (out / "latent_4").mkdir(parents=True)
    (out / "latent_4" / "metrics.json").write_text("{}")
    argv = tiny_flags(str(tmp_path / "no-data"), out, "--latent-dims", "2", "4")
    with pytest.raises(experiment.RunError, match="latent_4.*previous run"):
        load_recipe("mnist").main(argv)
    assert sorted(os.listdir(out)) == ["latent_4"]
    (out / "latent_4" / "metrics.json").unlink()
    (out / "summary.md").write_text("mine")
    with pytest.raises(experiment.RunError, match=r"files \(summary.md\)"):
        load_recipe("mnist").main(argv)
    assert (out / "summary.md").read_text() == "mine"


def test_latent_dims_are_refused_by_a_one_run_recipe(load_recipe, tmp_path):
    out = tmp_path / "run"
    _refused(
        load_recipe,
        tmp_path,
        out,
        "--latent-dims",
        "2",
        "8",
        match="recipes/mnist.py",
    )
    assert not out.exists()


def test_a_feature_model_that_cannot_score_is_refused(load_recipe, tmp_path):
    junk = tmp_path / "junk.keras"
    junk.write_text("not a model")
    out = tmp_path / "run"
    scoring = ("--score-images", "8", "--feature-model")
    _refused(
        load_recipe,
        tmp_path,
        out,
        *scoring,
        str(junk),
        match="could not be loaded",
    )
    rgb = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            keras.layers.Flatten(),
            keras.layers.Dense(2),
        ]
    )
    rgb_path = str(tmp_path / "rgb.keras")
    rgb.save(rgb_path)
    _refused(
        load_recipe,
        tmp_path,
        out,
        *scoring,
        rgb_path,
        match=r"\(32, 32, 3\).*\(28, 28, 1\)",
    )
    assert not out.exists()


def test_a_feature_model_is_read_once_while_its_file_is_unchanged(tmp_path):
    """The check before the data and the scores after training share one
    load; a file written again between two runs is read again."""

    def save(units):
        keras.Sequential(
            [
                keras.Input((28, 28, 1)),
                keras.layers.Flatten(),
                keras.layers.Dense(units),
            ]
        ).save(path)

    path = str(tmp_path / "classifier.keras")
    save(3)
    config = experiment.Config(
        dataset="kmnist", score_images=8, feature_model=path
    )
    first = load_feature_model(config)
    assert load_feature_model(config) is first
    save(5)
    second = load_feature_model(config)
    assert second is not first
    assert second.output_shape == (None, 5)


def test_a_feature_model_leaves_the_initial_weights_as_they_were(
    load_recipe, shared_data, tmp_path, monkeypatch
):
    """Loading the feature model before the data draws seeds for its
    layers; the model is built from the same random state either way."""
    import random

    import numpy as np

    from kvae.experiment import train

    class Built(Exception):
        pass

    def record(*args, **kwargs):
        raise Built(random.getstate(), np.random.get_state()[1][:8].tolist())

    keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Flatten(),
            keras.layers.Dropout(0.5),
            keras.layers.Dense(3),
        ]
    ).save(str(tmp_path / "classifier.keras"))
    monkeypatch.setattr(train, "build_model", record)
    states = []
    for name, extra in (
        ("plain", ()),
        ("scored", ("--feature-model", str(tmp_path / "classifier.keras"))),
    ):
        argv = tiny_flags(
            shared_data, tmp_path / name, "--score-images", "8", *extra
        )
        with pytest.raises(Built) as built:
            load_recipe("kmnist").main(argv)
        states.append(built.value.args)
    assert states[0] == states[1]
