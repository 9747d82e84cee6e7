"""Settings that do not go together are refused when the command line is
parsed (exit 2, nothing created); settings the model does not use are
recorded as not applying, and metrics.json describes the trained model."""

import types
import warnings

import numpy as np
import pytest

from kvae import experiment
from kvae.experiment import report
from kvae.experiment.combinations import latent_text


@pytest.mark.parametrize(
    "recipe, argv, words",
    [
        (
            "kmnist",
            ["--objective", "iwae", "--num-samples", "5", "--free-bits", "0.5"],
            "free_bits 0.5 floors the KL term of the ELBO, but objective is "
            "'iwae'",
        ),
        (
            "likelihood",
            ["--resolutions", "5", "10"],
            "resolutions (5, 10) do not divide the image size 28x28",
        ),
        (
            "likelihood",
            ["--groups", "2", "2", "2"],
            "groups (2, 2, 2) gives a count for 3 resolutions, but "
            "resolutions is (7, 14)",
        ),
        (
            "mnist",
            ["--model", "hierarchical"],
            "Give --latent-dims none for one run",
        ),
        (
            "dogs",
            ["--image-size", "30"],
            "The model cannot take images of side 30 (image_size): its 4 "
            "stages (filters (16, 32, 64, 128)) halve the side 4 times, so "
            "it must be divisible by 16. Give --image-size 16 (or 32)",
        ),
        (
            "dogs",
            ["--image-size", "8", "--filters", "8"],
            "whose window needs images of at least 11 pixels a side",
        ),
        (
            "kmnist",
            ["--filters", "8", "8", "8"],
            "The model cannot take the 28x28 images of 'kmnist'",
        ),
        (
            "kmnist",
            ["--max-test-examples", "1"],
            "leaves no pair of test images for the interpolation GIF",
        ),
        (
            "kmnist",
            ["--prior", "class_gaussian"],
            "prior class_gaussian is p(z | y), a Gaussian per class: it "
            "needs the labels of a conditional model. Add --conditional",
        ),
        (
            "kmnist",
            ["--sampler-levels", "all"],
            "sampler_levels 'all' fits the samplers to the codes of every "
            "latent group of --model hierarchical; --model conv has one level",
        ),
        (
            "kmnist",
            ["--mixture-pca-components", "17"],
            "mixture_pca_components 17 exceeds the 16 dimensions of the "
            "codes the samplers fit (sampler_levels 'top')",
        ),
        (
            "likelihood",
            ["--sampler-levels", "all", "--mixture-pca-components", "4000"],
            "mixture_pca_components 4000 exceeds the 3920 dimensions",
        ),
        (
            # The mixture would refuse its 17 GiB only after training.
            "likelihood",
            ["--sampler-levels", "all"],
            "150 full covariances of the 3920-D codes the Gaussian mixture "
            "fits (sampler_levels 'all') need 17 GiB",
        ),
        (
            # 1,500 codes give 100 components: still 11 GiB.
            "likelihood",
            ["--sampler-levels", "all", "--sampler-images", "1500"],
            "100 full covariances of the 3920-D codes",
        ),
        (
            "likelihood",
            [
                "--sampler-levels",
                "all",
                "--sampler-images",
                "100",
                "--mixture-pca-components",
                "512",
            ],
            "mixture_pca_components 512 exceeds the 100 training codes",
        ),  # fmt: skip
        (
            "dogs",
            ["--sigma", "1e-30"],
            "sigma must be 'learned', 'optimal' or a finite number >= 0.002479",
        ),
    ],
)
def test_combinations_the_model_refuses_are_refused_at_parse(
    load_recipe, tmp_path, capsys, recipe, argv, words
):
    out = tmp_path / "run"
    with pytest.raises(SystemExit) as info:
        experiment.cli(load_recipe(recipe).main, [*argv, "--out", str(out)])
    assert info.value.code == 2
    assert words in capsys.readouterr().err
    assert not out.exists()


def test_every_group_sampler_flags_parse_for_a_hierarchical_model(
    load_recipe,
):
    config = experiment.parse_args(
        load_recipe("dogs").CONFIG,
        [
            "--model", "hierarchical", "--sampler-levels", "all",
            "--mixture-pca-components", "512",
        ],
    )  # fmt: skip
    assert config.sampler_levels == "all"
    assert config.mixture_pca_components == 512
    # Without principal components: 150 codes give 10 components of
    # 3,920-D covariances (1.1 GiB), or none when no sampler is fitted.
    for flags in (["--sampler-images", "150"], ["--score-images", "0"]):
        config = experiment.parse_args(
            load_recipe("likelihood").CONFIG,
            ["--sampler-levels", "all", *flags],
        )
        assert config.mixture_pca_components is None
    flat = experiment.parse_args(load_recipe("dogs").CONFIG, [])
    assert flat.sampler_levels == "top" and flat.mixture_pca_components is None


def test_metrics_describe_the_trained_hierarchy(load_recipe):
    config = experiment.parse_args(
        load_recipe("kmnist").CONFIG,
        [
            "--model", "hierarchical", "--resolutions", "7", "14",
            "--groups", "1", "2", "--latent-channels", "4",
            "--iwae-samples", "0",
        ],
    )  # fmt: skip
    assert latent_text(config) == "latent 784+784+196"
    data = types.SimpleNamespace(
        num_train=64, x_test=np.zeros((8, 28, 28, 1)), image_shape=(28, 28, 1)
    )
    test = {"negative_elbo": 1.0, "reconstruction_loss": 1.0, "kl_loss": 0.0}
    metrics = report.run_metrics(
        config, data, test, [1.0, 1.0], 2.0, precision=("float32", "given")
    )
    # The top group's size (the prior's), and every group, bottom first;
    # the conv settings are recorded as not applying.
    assert metrics["latent_dim"] == 196
    assert metrics["level_dims"] == [784, 784, 196]
    for name in ("latent_dim", "filters", "dense_units"):
        assert name in metrics["not_applying"]
        assert metrics["config"][name] is None
    assert metrics["config"]["resolutions"] == (7, 14)
    assert metrics["config"]["sigma"] is None

    conv = experiment.parse_args(load_recipe("kmnist").CONFIG, [])
    assert latent_text(conv) == "latent 16"
    metrics = report.run_metrics(
        conv, data, test, [1.0], 1.0, precision=("float32", "given")
    )
    assert metrics["latent_dim"] == 16 and metrics["level_dims"] == [16]
    assert metrics["config"]["width"] is None
    assert "width" in metrics["not_applying"]


def test_a_warmup_longer_than_training_warns(load_recipe):
    with pytest.warns(UserWarning, match="longer than the 2 epochs"):
        config = experiment.parse_args(
            load_recipe("likelihood").CONFIG,
            ["--epochs", "2", "--kl-warmup-epochs", "4"],
        )
    assert config.kl_warmup_epochs == 4.0


@pytest.mark.parametrize(
    "splits, shared",
    [
        (("test[:9000]", "test"), 9000),
        (("test[:60%]", "test[50%:]"), 1000),
        (("train+test[:100]", "test[-100:]+test[:10]"), 10),
    ],
)
def test_overlapping_train_and_test_splits_warn(load_recipe, splits, shared):
    flags = ["--train-split", splits[0], "--test-split", splits[1]]
    with pytest.warns(UserWarning, match=f"share {shared:,} examples"):
        experiment.parse_args(load_recipe("kmnist").CONFIG, flags)


def test_disjoint_splits_do_not_warn(load_recipe):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        experiment.parse_args(
            load_recipe("kmnist").CONFIG,
            ["--train-split", "test[:9000]", "--test-split", "test[9000:]"],
        )


def test_a_hierarchical_config_does_not_check_the_filters_it_ignores():
    # 64 is no multiple of 2**7 (seven conv stages), but the hierarchical
    # model has no conv stages; a recorded config (filters None, as a
    # run's metrics.json keeps it) builds again.
    for filters in ((8,) * 7, None):
        config = experiment.Config(
            dataset="stanford_dogs", model="hierarchical", filters=filters
        )
        assert config.filters == filters
    with pytest.raises(ValueError, match="halve the side 7 times"):
        experiment.Config(dataset="stanford_dogs", filters=(8,) * 7)
