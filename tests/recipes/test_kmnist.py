import os

import keras
import numpy as np
import pytest

import kvae
from kvae import experiment
from kvae.experiment import studies


def kmnist_slices(shared_data):
    """The tiny KMNIST data of the recipe tests: 256 training images and
    200 test images, both from the test split."""
    return [
        "--manual-dir",
        os.path.join(shared_data, "kmnist"),
        "--train-split",
        "test[:256]",
        "--test-split",
        "test[9800:]",
    ]


def tiny_flags(shared_data, out):
    return [
        *kmnist_slices(shared_data),
        "--epochs",
        "2",
        "--batch-size",
        "64",
        "--latent-dim",
        "4",
        "--filters",
        "8",
        "16",
        "--score-images",
        "0",
        "--iwae-samples",
        "8",
        "--iwae-examples",
        "32",
        "--verbose",
        "0",
        "--out",
        str(out),
    ]


@pytest.mark.slow
def test_kmnist_end_to_end(
    shared_data, load_recipe, check_run_folder, tmp_path, capsys
):
    recipe = load_recipe("kmnist")
    out = tmp_path / "kmnist"
    result = recipe.main(tiny_flags(shared_data, out))

    metrics = check_run_folder(
        out,
        epochs=2,
        gifs=("reconstructions", "samples", "interpolation"),
        backend=keras.backend.backend(),
    )
    assert metrics["train_examples"] == 256
    assert metrics["test_examples"] == 200
    assert metrics["iwae_samples"] == 8 and metrics["iwae_examples"] == 32
    assert metrics["latent_dim"] == 4
    assert metrics["kvae_version"] == kvae.__version__
    assert metrics["keras_version"] == keras.__version__
    assert result["negative_elbo"] == pytest.approx(metrics["negative_elbo"])

    # The recipe's precision is "auto": the policy this machine gets is
    # printed, recorded and trained in.
    policy, reason = kvae.precision.resolve_policy("auto")
    assert metrics["config"]["precision"] == "auto"
    assert metrics["precision"] == policy
    assert metrics["precision_reason"] == reason
    printed = capsys.readouterr().out
    assert f"precision: auto -> {policy} ({reason})" in printed
    assert f"Wrote {os.path.abspath(out)}" in printed
    for name in metrics["files"]:
        assert name in printed

    # The real metrics fill every column of the backend comparison.
    table = studies.write_comparison(
        [{"backend": metrics["backend"], "status": "ok", **metrics}],
        tmp_path,
        title="kmnist",
    )
    assert "n/a" not in table and (tmp_path / "comparison.png").exists()

    model = keras.saving.load_model(out / "model.keras")
    assert isinstance(model, kvae.VAE) and model.latent_dim == 4
    assert model.decoder.dtype_policy.name == policy
    x = np.zeros((2, 28, 28, 1), "float32")
    assert tuple(model.reconstruct(x).shape) == (2, 28, 28, 1)


@pytest.mark.slow
def test_kmnist_distribute_data_parallel(shared_data, load_recipe, tmp_path):
    recipe = load_recipe("kmnist")
    out = tmp_path / "kmnist"
    flags = tiny_flags(shared_data, out) + ["--distribute", "data_parallel"]
    if keras.backend.backend() == "torch":
        # Without torchrun's variables: refused before any data is read or
        # any folder made (2 processes: tests/distribution).
        with pytest.raises(RuntimeError, match="torchrun --nproc-per-node"):
            recipe.main(flags + ["--manual-dir", str(tmp_path / "nothing")])
        assert not out.exists()
        return
    try:
        metrics = recipe.main(flags + ["--epochs", "1"])
        if keras.backend.backend() == "jax":
            distribution = keras.distribution.distribution()
            assert isinstance(distribution, keras.distribution.DataParallel)
    finally:
        keras.distribution.set_distribution(None)
    assert np.isfinite(metrics["negative_elbo"])
    model = keras.saving.load_model(out / "model.keras")
    assert isinstance(model, kvae.VAE)


def test_missing_train_images_say_what_to_do(
    shared_data, load_recipe, tmp_path
):
    # The shared KMNIST copy has no train images: the default split fails
    # with the file to fetch, where to put it, and the test-split route.
    recipe = load_recipe("kmnist")
    folder = os.path.join(shared_data, "kmnist")
    out = tmp_path / "run"
    with pytest.raises(kvae.datasets.DatasetError) as info:
        recipe.main(["--manual-dir", folder, "--out", str(out)])
    assert not out.exists()  # nothing is created for a run that cannot start
    message = str(info.value)
    assert "train-images-idx3-ubyte.gz" in message
    assert os.path.abspath(folder) in message
    assert (
        f"--manual-dir {folder} --train-split 'test[:9000]' "
        "--test-split 'test[9000:]'"
    ) in message


def test_a_missing_folder_is_not_offered_again(load_recipe, tmp_path):
    # The test-split route would need the same folder: only the folder's
    # absence is reported.
    folder = str(tmp_path / "kmnsit")
    with pytest.raises(kvae.datasets.DatasetError) as info:
        load_recipe("kmnist").main(
            ["--manual-dir", folder, "--out", str(tmp_path / "run")]
        )
    message = str(info.value)
    assert "does not exist" in message
    assert "--train-split 'test[:9000]'" not in message


def test_cli_prints_the_error_without_traceback(
    shared_data, load_recipe, tmp_path, capsys
):
    recipe = load_recipe("kmnist")
    folder = os.path.join(shared_data, "kmnist")
    out = str(tmp_path / "run")
    with pytest.raises(SystemExit) as info:
        experiment.cli(recipe.main, ["--manual-dir", folder, "--out", out])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "train-images-idx3-ubyte.gz" in err
    assert "Traceback" not in err
