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
    assert model.likelihood == "gaussian" and model.sigma == 0.1
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
