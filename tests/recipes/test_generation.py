"""A recipe run's generation block: samplers fitted, scored in the random
and the classifier space, saved beside the model; the classifier recipe."""

import json
import warnings

import numpy as np
import pytest

import kvae
from tests.recipes.test_kmnist import kmnist_slices


@pytest.mark.slow
# Two steps on 256 characters: the classifier is for the plumbing, and the
# recipe rightly warns that it is near chance.
@pytest.mark.filterwarnings("ignore:The classifier's test accuracy")
def test_a_run_scores_its_samples_and_saves_its_samplers(
    load_recipe, shared_data, tmp_path, capsys
):
    classifier_out = tmp_path / "classifier"
    classifier = load_recipe("feature_classifier").main(
        [
            "--dataset",
            "kmnist",
            *kmnist_slices(shared_data),
            "--epochs",
            "1",
            "--out",
            str(classifier_out),
        ]
    )
    assert 0.0 <= classifier["test_accuracy"] <= 1.0
    out = tmp_path / "run"
    metrics = load_recipe("kmnist").main(
        [
            *kmnist_slices(shared_data),
            "--epochs",
            "1",
            "--latent-dim",
            "4",
            "--filters",
            "8",
            "16",
            "--iwae-samples",
            "0",
            "--gifs",
            "--no-tensorboard",
            "--verbose",
            "0",
            "--out",
            str(out),
            "--score-images",
            "100",
            "--two-stage-epochs",
            "2",
            "--flow-epochs",
            "2",
            "--mixture-components",
            "3",
            "--mixture-reg-covar",
            "0.5",
            "--feature-model",
            str(classifier_out / "classifier.keras"),
        ]
    )
    block = metrics["generation"]
    assert block["num_images"] == 100
    assert block["feature_model_test_accuracy"] == classifier["test_accuracy"]
    sets = {
        "train_vs_test",
        "reconstructions",
        "prior",
        "gaussian_mixture",
        "two_stage",
        "flow",
    }
    for space in ("random_features", "classifier"):
        assert set(block["scores"][space]) == sets
        for scores in block["scores"][space].values():
            assert np.isfinite(scores["fd"]) and scores["num_real"] == 100
    # Real training images are nearer the test images than anything made.
    fd = {k: v["fd"] for k, v in block["scores"]["random_features"].items()}
    assert fd["train_vs_test"] == min(fd.values())
    assert block["best_sampler"] in sets - {"train_vs_test", "reconstructions"}
    # Reconstructions of training images are copies by definition: the
    # data-copying statistic finds them, and finds them the most copied.
    copying = block["data_copying"]["statistic"]
    assert set(copying) == sets - {"train_vs_test"}
    assert copying["reconstructions"] < -3
    assert copying["reconstructions"] == min(copying.values())
    with open(out / "metrics.json", encoding="utf-8") as f:
        assert (
            json.load(f)["generation"]["best_sampler"]
            == (block["best_sampler"])
        )
    printed = capsys.readouterr().out
    assert "best sampler" in printed and "C_T" in printed
    model = kvae.load_model(str(out / "model.keras"))
    for name in ("gaussian_mixture", "two_stage", "flow"):
        sampler = kvae.samplers.load_sampler(
            str(out / f"sampler_{name}.npz"), model
        )
        assert sampler.sample(3, seed=0).shape == (3, 28, 28, 1)
        if name == "gaussian_mixture":
            assert sampler.reg_covar == 0.5
    assert (out / "samples.png").stat().st_size > 1000
    assert {"samples.png", "sampler_two_stage.npz"} <= set(metrics["files"])


def test_a_missing_feature_model_is_refused_at_parse_time(
    load_recipe, tmp_path, capsys
):
    with pytest.raises(SystemExit) as exit_info:
        load_recipe("kmnist").main(
            [
                "--feature-model",
                str(tmp_path / "no.keras"),
                "--out",
                str(tmp_path / "run"),
            ]
        )
    assert exit_info.value.code == 2
    assert "existing .keras file" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_the_mixture_gets_at_most_one_component_per_15_codes(capsys):
    from types import SimpleNamespace

    from kvae.experiment import Config
    from kvae.experiment.generation import make_sampler

    config = Config(mixture_components=600)
    assert make_sampler("gaussian_mixture", config).num_components == 600
    flat = SimpleNamespace(conditional=False)
    assert (
        make_sampler("gaussian_mixture", config, flat, 9000).num_components
        == 600
    )
    capped = make_sampler("gaussian_mixture", config, flat, 3000, verbose=1)
    assert capped.num_components == 200
    assert "200 mixture components instead of 600" in capsys.readouterr().out
    # One density per class under p(z | y): the codes of one class count.
    by_class = SimpleNamespace(
        conditional=True,
        num_classes=10,
        prior=SimpleNamespace(needs_labels=True),
    )
    sampler = make_sampler("gaussian_mixture", config, by_class, 9000)
    assert sampler.num_components == 60


def test_a_classifier_near_chance_is_flagged(
    load_recipe, shared_data, tmp_path
):
    # One step on 32 characters leaves the classifier at chance: the recipe
    # says so instead of handing over features that see nothing.
    # (pytest.warns would re-raise the data pipeline's unrelated
    # deprecation warnings under torch as errors.)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        metrics = load_recipe("feature_classifier").main(
            [
                "--dataset",
                "kmnist",
                "--manual-dir",
                f"{shared_data}/kmnist",
                "--train-split",
                "test[:32]",
                "--test-split",
                "test[9800:]",
                "--epochs",
                "1",
                "--batch-size",
                "32",
                "--out",
                str(tmp_path / "classifier"),
            ]
        )
    assert metrics["test_accuracy"] < 2 * metrics["chance_accuracy"]
    flagged = [w for w in caught if "less than twice chance" in str(w.message)]
    assert len(flagged) == 1 and flagged[0].category is UserWarning
