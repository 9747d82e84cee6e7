"""Unit tests of `kvae.experiment`, the logic behind the recipes."""

import json
import os

import keras
import numpy as np
import pytest

from kvae import experiment


def test_common_flags_override_the_config(load_recipe):
    for name in ("kmnist", "mnist", "dogs"):
        recipe = load_recipe(name)
        config = experiment.parse_args(
            recipe.CONFIG,
            [
                "--epochs",
                "3",
                "--batch-size",
                "16",
                "--latent-dim",
                "5",
                "--out",
                "o",
                "--seed",
                "7",
                "--manual-dir",
                "m",
                "--train-split",
                "test[:10]",
                "--test-split",
                "test[10:]",
                "--max-train-examples",
                "9",
            ],
        )
        assert (config.epochs, config.batch_size, config.latent_dim) == (
            3,
            16,
            5,
        )
        assert (config.out, config.seed, config.manual_dir) == ("o", 7, "m")
        assert config.splits == ("test[:10]", "test[10:]")
        assert config.max_train_examples == 9
        assert config.name == name


def test_recipe_specific_flags(load_recipe):
    mnist = experiment.parse_args(
        load_recipe("mnist").CONFIG, ["--latent-dims", "2", "8"]
    )
    assert mnist.latent_dims == (2, 8)
    assert mnist.binarize is None
    binarized = experiment.parse_args(
        load_recipe("kmnist").CONFIG, ["--binarize", "dynamic"]
    )
    assert binarized.binarize == "dynamic"
    dogs = load_recipe("dogs").CONFIG
    assert dogs.splits == ("train", "test")
    folder = experiment.parse_args(dogs, ["--images", "some/folder"])
    assert folder.dataset == "images" and folder.images == "some/folder"
    assert folder.splits == ("train[:90%]", "train[90%:]")
    assert experiment.parse_args(dogs, ["--sigma", "learned"]).sigma == (
        "learned"
    )
    assert experiment.parse_args(dogs, ["--sigma", "0.3"]).sigma == 0.3
    with pytest.raises(SystemExit):
        experiment.parse_args(dogs, ["--sigma", "-1"])
    with pytest.raises(SystemExit):
        experiment.parse_args(load_recipe("kmnist").CONFIG, ["--images", "x"])


def test_dogs_settings(load_recipe):
    config = load_recipe("dogs").CONFIG
    assert (config.model, config.latent_dim, config.batch_size) == (
        "residual",
        256,
        32,
    )
    optimizer = experiment.build_optimizer(config, steps_per_epoch=10)
    assert isinstance(optimizer, keras.optimizers.AdamW)
    assert optimizer.weight_decay == pytest.approx(1e-5)
    assert optimizer.global_clipnorm == pytest.approx(1.0)
    schedule = optimizer._learning_rate
    assert schedule.decay_steps == config.epochs * 10
    assert float(schedule(0)) == pytest.approx(5e-4)
    assert float(schedule(config.epochs * 10)) == pytest.approx(1e-6)


def test_config_rejects_unknown_choices():
    with pytest.raises(ValueError, match="gifs"):
        experiment.Config(gifs=("reconstruction",))
    with pytest.raises(ValueError, match="binarize"):
        experiment.Config(dataset="images", binarize="dynamic")


def test_select_examples_takes_classes_in_turn():
    labels = np.array([3, 3, 1, 1, 1, 2, 0])
    assert experiment.select_examples(labels, 5).tolist() == [6, 2, 5, 0, 3]
    assert len(experiment.select_examples(labels, 100)) == 7


def test_write_json_is_atomic_and_strict(tmp_path):
    path = tmp_path / "metrics.json"
    experiment.write_json(path, {"a": np.float32(1.5), "b": float("nan")})
    assert json.loads(path.read_text()) == {"a": 1.5, "b": None}
    assert os.listdir(tmp_path) == ["metrics.json"]


def test_markdown_table():
    table = experiment.markdown_table(
        [{"a": 1, "b": 2.345}, {"a": 2}],
        (("a", "A", "{}"), ("b", "B", "{:.1f}")),
    )
    assert table.splitlines() == [
        "| A | B |",
        "|---:|---:|",
        "| 1 | 2.3 |",
        "| 2 | n/a |",
    ]


def test_flags_default_to_the_config(load_recipe):
    for name in ("kmnist", "mnist", "dogs"):
        config = load_recipe(name).CONFIG
        assert experiment.parse_args(config, []) == config, name


def test_distribute_flag(load_recipe):
    for name in ("kmnist", "mnist", "dogs"):
        config = load_recipe(name).CONFIG
        assert experiment.parse_args(config, []).distribute is None
        parsed = experiment.parse_args(
            config, ["--distribute", "data_parallel"]
        )
        assert parsed.distribute == "data_parallel"
        assert experiment.parse_args(config, ["--distribute", "none"]) == (
            experiment.parse_args(config, [])
        )
        with pytest.raises(SystemExit):
            experiment.parse_args(config, ["--distribute", "all_gpus"])


def test_distribution_scope_defaults_to_one_device():
    for name in (None, "none"):
        config = experiment.Config(distribute=name)
        with experiment.distribution_scope(config):
            pass
    with pytest.raises(ValueError, match="Unknown distribution"):
        experiment.distribution_scope(experiment.Config(distribute="bogus"))
