"""Unit tests of `kvae.experiment`, the logic behind the recipes."""

import dataclasses
import json
import os

import keras
import numpy as np
import pytest

from kvae import experiment
from kvae import utils
from kvae.experiment import data
from kvae.experiment import flags
from kvae.experiment import report
from kvae.experiment import train


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
    mnist = load_recipe("mnist").CONFIG
    optimal = experiment.parse_args(mnist, ["--sigma", "optimal"])
    assert optimal.sigma == "optimal"
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
    optimizer = train.build_optimizer(config, steps_per_epoch=10)
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
    assert data.select_examples(labels, 5).tolist() == [6, 2, 5, 0, 3]
    assert len(data.select_examples(labels, 100)) == 7


def test_write_json_is_atomic_and_strict(tmp_path):
    path = tmp_path / "metrics.json"
    utils.write_json(path, {"a": np.float32(1.5), "b": float("nan")})
    assert json.loads(path.read_text()) == {"a": 1.5, "b": None}
    assert os.listdir(tmp_path) == ["metrics.json"]


def test_markdown_table():
    table = report.markdown_table(
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


def test_precision_flag(load_recipe):
    # The recipes whose conv or residual models were measured in bfloat16
    # pick their precision from the hardware; the likelihood study keeps
    # float32 (see docs/backends.md).
    defaults = {"kmnist": "auto", "mnist": "auto", "dogs": "auto"}
    defaults["likelihood"] = "float32"
    for name, default in defaults.items():
        config = load_recipe(name).CONFIG
        assert config.precision == default, name
        for value in ("auto", "float32", "mixed_bfloat16", "mixed_float16"):
            parsed = experiment.parse_args(config, ["--precision", value])
            assert parsed.precision == value
            # Written back as a flag, it parses to the same config.
            assert experiment.parse_args(
                config, ["--precision", parsed.precision]
            ) == parsed
        with pytest.raises(SystemExit):
            experiment.parse_args(config, ["--precision", "bfloat16"])
    config = experiment.Config(precision="auto")
    assert dataclasses.replace(config, seed=3).precision == "auto"


def test_precision_text():
    assert train.precision_text("float32", "float32", None) == (
        "precision: float32"
    )
    assert train.precision_text(
        "auto", "mixed_bfloat16", "CPU has AMX-BF16, backend tensorflow"
    ) == (
        "precision: auto -> mixed_bfloat16 (CPU has AMX-BF16, backend "
        "tensorflow)"
    )


def test_distribution_scope_defaults_to_one_device():
    for name in (None, "none"):
        config = experiment.Config(distribute=name)
        with train.distribution_scope(config):
            model = train.build_model(config, (28, 28, 1))
            if keras.backend.backend() == "tensorflow":
                import tensorflow as tf

                assert not tf.distribute.has_strategy()
        # No global distribution was set, and nothing is split.
        assert keras.distribution.distribution() is None
        model.build((None, 28, 28, 1))
        assert model.encoder.built and model.decoder.built
    with pytest.raises(ValueError, match="distribute"):
        experiment.Config(distribute="bogus")


# A value other than the default for every field, as command-line strings.
# Adding a Config field without a line here fails the test below.
NON_DEFAULT_FLAGS = {
    "name": ["other"],
    "dataset": ["kmnist"],
    "out": ["elsewhere"],
    "overwrite": None,  # a --flag/--no-flag pair: tested below
    "model": ["residual"],
    "conditional": None,  # --conditional: tests/recipes/test_conditional_*
    "likelihood": ["gaussian"],
    "sigma": ["learned"],
    "latent_dim": ["3"],
    "latent_dims": ["2", "5"],
    "resolutions": ["7", "14"],
    "groups": ["1", "2"],
    "latent_channels": ["4"],
    "width": ["32"],
    "block_activation": ["silu"],
    "kl_warmup_epochs": ["1.0"],
    "skip_gradient_norm": ["100.0"],
    "prior": ["vamp"],
    # Only with a mixture prior: tested in tests/recipes/test_likelihood.py.
    "prior_components": None,
    "objective": ["iwae"],
    "num_samples": ["3"],
    "free_bits": ["0.5"],
    "filters": ["4", "8"],
    "dense_units": ["7"],
    "image_size": ["32"],
    "epochs": ["2"],
    "batch_size": ["16"],
    "optimizer": ["adamw"],
    "learning_rate": ["0.01"],
    "final_learning_rate": ["1e-05"],
    "weight_decay": ["0.1"],
    "global_clipnorm": ["2.0"],
    "ema_momentum": ["0.999"],
    "beta": ["0.5"],
    "seed": ["7"],
    "manual_dir": ["some/dir"],
    "images": None,  # an RGB dataset only: tested below
    "train_split": ["train[:10]"],
    "test_split": ["test[10:]"],
    "max_train_examples": ["9"],
    "max_test_examples": ["11"],
    "binarize": ["dynamic"],
    "iwae_samples": ["0"],
    "iwae_examples": ["none"],
    "score_images": ["200"],
    "samplers": ["two_stage"],
    "sampler_images": ["none"],
    "mixture_components": ["5"],
    "mixture_reg_covar": ["0.25"],
    "mixture_pca_components": ["3"],
    # 'all' needs --model hierarchical: parsed in test_combinations.py.
    "sampler_levels": None,
    "two_stage_epochs": ["3"],
    "flow_epochs": ["4"],
    # Needs an existing file: tested in tests/recipes/test_generation.py.
    "feature_model": None,
    "gifs": ["samples", "latent_space"],
    "plots": [],
    "tensorboard": None,  # --no-tensorboard: tested below
    "reconstruction_grid": ["3", "4"],
    "sample_grid": ["5"],
    "interpolation_grid": ["1", "2"],
    "interpolation_method": ["spherical"],
    "interpolation_steps": ["4"],
    "interpolation_scale": ["2"],
    "verbose": ["2"],
    "precision": ["mixed_bfloat16"],
    "distribute": ["data_parallel"],
}


def _as_flags(config):
    """`config` written back as command-line flags, one per field."""
    argv = []
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        flag = flags.flag_name(field.name)
        if isinstance(value, bool):
            argv.append(flag if value else "--no-" + flag[2:])
        elif isinstance(value, tuple):
            argv += [flag, *map(str, value)]
        else:
            argv += [flag, "none" if value is None else str(value)]
    return argv


def test_every_config_field_is_a_flag_that_round_trips():
    base = experiment.Config()
    fields = {f.name for f in dataclasses.fields(base)}
    assert set(NON_DEFAULT_FLAGS) == fields
    for name, values in NON_DEFAULT_FLAGS.items():
        if values is None:
            continue
        config = experiment.parse_args(
            base, [flags.flag_name(name), *values]
        )
        assert getattr(config, name) != getattr(base, name), name
        others = {n: getattr(config, n) for n in fields if n != name}
        assert others == {n: getattr(base, n) for n in fields if n != name}
    dogs = experiment.Config(dataset="stanford_dogs", likelihood="gaussian")
    folder = experiment.parse_args(dogs, ["--images", "photos"])
    assert (folder.images, folder.dataset) == ("photos", "images")
    assert experiment.parse_args(base, ["--no-tensorboard"]).tensorboard is (
        False
    )
    assert experiment.parse_args(base, ["--overwrite"]).overwrite is True
    # Every field at once, and back: the flags written from a config parse
    # to the same config.
    # (Free bits floor the ELBO's KL term, which the IWAE objective lacks:
    # the two are refused together.)
    argv = [v for name, values in NON_DEFAULT_FLAGS.items()
            if values and name != "free_bits"
            for v in [flags.flag_name(name), *values]]
    changed = experiment.parse_args(base, argv + ["--no-tensorboard"])
    assert experiment.parse_args(base, _as_flags(changed)) == changed
    assert experiment.parse_args(changed, _as_flags(base)) == base


def test_help_mentions_every_field(capsys):
    config = experiment.Config()
    with pytest.raises(SystemExit) as info:
        experiment.parse_args(config, ["--help"], description="The recipe.")
    assert info.value.code == 0
    text = capsys.readouterr().out
    assert "The recipe." in text
    for field in dataclasses.fields(config):
        assert flags.flag_name(field.name) in text, field.name
        # The field's own help text, as argparse wraps it.
        first_words = " ".join(field.metadata["help"].split()[:3])
        assert first_words in " ".join(text.split()), field.name


def test_bad_flag_values_name_the_flag(capsys):
    config = experiment.Config()
    for argv, words in (
        (["--epochs", "0"], "--epochs must be a positive int"),
        (["--gifs", "movie"], "Unknown --gifs 'movie'"),
        (["--sigma", "-1"], "--sigma must be 'learned', 'optimal' or a finite"),
        (["--latent-dim", "two"], "--latent-dim: invalid int value"),
        (["--reconstruction-grid", "2"], "expected 2 arguments"),
        (["--images", "photos"], "replaces an RGB dataset"),
    ):
        with pytest.raises(SystemExit) as info:
            experiment.parse_args(config, argv)
        assert info.value.code == 2
        assert words in capsys.readouterr().err, argv
    # From Python the same error names the field, not the flag.
    with pytest.raises(ValueError, match="^epochs must be a positive int"):
        experiment.Config(epochs=0)
