import os

import keras
import pytest

import kvae


@pytest.mark.slow
def test_dogs_from_an_image_folder(
    shared_data, load_recipe, check_run_folder, tmp_path
):
    recipe = load_recipe("dogs")
    out = tmp_path / "dogs"
    recipe.main(
        [
            "--images",
            os.path.join(shared_data, "stanford_dogs_subset"),
            "--image-size",
            "16",
            "--filters",
            "8",
            "16",
            "--latent-dim",
            "8",
            "--epochs",
            "1",
            "--batch-size",
            "32",
            "--score-images",
            "0",
            "--iwae-samples",
            "4",
            "--iwae-examples",
            "8",
            "--verbose",
            "0",
            "--no-tensorboard",
            "--out",
            str(out),
        ]
    )
    metrics = check_run_folder(
        out,
        epochs=1,
        gifs=("reconstructions", "interpolation", "samples"),
        backend=keras.backend.backend(),
        tensorboard=False,
    )
    # The folder's 120 photos, split 90% / 10% in a fixed order.
    assert metrics["dataset"] == "images"
    assert metrics["train_split"] == "train[:90%]"
    assert metrics["train_examples"] == 108
    assert metrics["test_examples"] == 12
    assert metrics["likelihood"] == "gaussian"
    assert "iwae_nll_bits_per_dim" in metrics
    with open(out / "latent_pca.png", "rb") as f:
        assert f.read(4) == b"\x89PNG"

    model = keras.saving.load_model(out / "model.keras")
    assert isinstance(model.encoder, kvae.layers.ResidualEncoder)
    assert model.likelihood == "gaussian" and model.sigma == "optimal"
    # The recipe's precision "auto", resolved on this machine.
    assert metrics["config"]["precision"] == "auto"
    policy, _ = kvae.precision.resolve_policy("auto")
    assert metrics["precision"] == policy
    assert model.encoder.dtype_policy.name == policy
    optimizer = model.optimizer
    assert isinstance(optimizer, keras.optimizers.AdamW)
    assert optimizer.weight_decay == pytest.approx(1e-5)
    assert optimizer.global_clipnorm == pytest.approx(1.0)
    schedule = optimizer._learning_rate
    assert isinstance(schedule, keras.optimizers.schedules.CosineDecay)
    assert schedule.initial_learning_rate == pytest.approx(5e-4)
    assert schedule.initial_learning_rate * schedule.alpha == pytest.approx(
        1e-6
    )


def test_defaults_use_every_image(load_recipe):
    config = load_recipe("dogs").CONFIG
    assert config.dataset == "stanford_dogs"
    assert config.splits == ("train", "test")
    assert config.max_train_examples is None
    assert config.max_test_examples is None
    assert (config.sigma, config.latent_dim, config.batch_size) == (
        "optimal",
        256,
        32,
    )


@pytest.mark.slow
def test_dogs_from_the_extracted_tree(
    shared_data, load_recipe, check_run_folder, tmp_path, metrics_of
):
    folder = os.path.join(shared_data, "stanford_dogs")
    if not os.path.isdir(os.path.join(folder, "Images")):
        pytest.skip(f"{folder} has no Images/ folder")
    recipe = load_recipe("dogs")
    out = tmp_path / "dogs_tree"
    recipe.main(
        [
            "--manual-dir",
            folder,
            "--max-train-examples",
            "256",
            "--max-test-examples",
            "96",
            "--image-size",
            "16",
            "--filters",
            "8",
            "16",
            "--latent-dim",
            "8",
            "--epochs",
            "1",
            "--score-images",
            "0",
            "--iwae-samples",
            "4",
            "--iwae-examples",
            "none",
            "--verbose",
            "0",
            "--out",
            str(out),
        ]
    )
    metrics = check_run_folder(
        out,
        epochs=1,
        gifs=("reconstructions", "interpolation", "samples"),
        backend=keras.backend.backend(),
    )
    assert metrics["dataset"] == "stanford_dogs"
    assert (metrics["train_split"], metrics["test_split"]) == ("train", "test")
    assert metrics["train_examples"] == 256
    assert metrics["test_examples"] == 96
    assert metrics["config"]["sigma"] == "optimal"
    assert metrics["config"]["precision"] == "auto"
    assert metrics["precision"] in kvae.precision.POLICIES
    for key in ("negative_elbo_bits_per_dim", "kl_loss", "train_img_per_s"):
        assert metrics[key] > 0, key
    assert 0 < metrics["psnr"] < 60 and 0 < metrics["mse"] < 1
    assert metrics_of(out / "metrics.json")["files"] == metrics["files"]
    with open(out / "latent_pca.png", "rb") as f:
        assert f.read(4) == b"\x89PNG"
    model = keras.saving.load_model(out / "model.keras")
    assert model.sigma == "optimal"
    # sigma's running estimate came from the 8 training batches.
    assert float(keras.ops.convert_to_numpy(model.sigma_updates)) == 8.0
