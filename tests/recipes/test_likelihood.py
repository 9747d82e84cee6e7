import os

import keras
import pytest

import kvae


def tiny_flags(shared_data, out, *extra):
    return [
        "--manual-dir",
        os.path.join(shared_data, "mnist"),
        "--train-split",
        "test[:256]",
        "--test-split",
        "test[9900:]",
        "--epochs",
        "2",
        "--batch-size",
        "64",
        "--groups",
        "1",
        "1",
        "--latent-channels",
        "2",
        "--width",
        "8",
        "--filters",
        "8",
        "16",
        "--dense-units",
        "16",
        "--score-images",
        "0",
        "--iwae-samples",
        "8",
        "--iwae-examples",
        "32",
        "--no-tensorboard",
        "--verbose",
        "0",
        "--out",
        str(out),
        *extra,
    ]


@pytest.mark.slow
def test_likelihood_end_to_end(
    shared_data, load_recipe, check_run_folder, tmp_path
):
    recipe = load_recipe("likelihood")
    out = tmp_path / "likelihood"
    result = recipe.main(
        tiny_flags(shared_data, out, "--block-activation", "gelu")
    )

    metrics = check_run_folder(
        out,
        epochs=2,
        gifs=("reconstructions", "samples"),
        backend=keras.backend.backend(),
        tensorboard=False,
    )
    assert metrics["binarized"] is True
    assert metrics["config"]["model"] == "hierarchical"
    assert metrics["config"]["prior"] == "standard_normal"
    assert metrics["level_dims"] == [14 * 14 * 2, 7 * 7 * 2]
    for key in ("kl_loss_1", "kl_loss_2", "iwae_nll", "negative_elbo"):
        assert key in metrics, key
    assert metrics["kl_loss"] == pytest.approx(
        metrics["kl_loss_1"] + metrics["kl_loss_2"], rel=1e-4
    )
    assert metrics["iwae_nll"] < metrics["negative_elbo"] + 1.0
    model = keras.saving.load_model(out / "model.keras")
    assert isinstance(model, kvae.HierarchicalVAE)
    assert isinstance(model.prior, kvae.priors.StandardNormal)
    assert model.kl_warmup_steps == 2 * 4  # 2 epochs of 256 / 64 steps
    assert model.encoder.activation == model.decoder.activation == "gelu"
    assert result["iwae_nll"] == pytest.approx(metrics["iwae_nll"])


@pytest.mark.slow
def test_likelihood_iwae_variant(shared_data, load_recipe, tmp_path):
    recipe = load_recipe("likelihood")
    out = tmp_path / "iwae"
    flags = tiny_flags(
        shared_data,
        out,
        "--model",
        "conv",
        "--latent-dim",
        "3",
        "--prior",
        "mixture_of_gaussians",
        "--prior-components",
        "5",
        "--objective",
        "iwae",
        "--num-samples",
        "3",
    )
    result = recipe.main(flags)
    model = keras.saving.load_model(out / "model.keras")
    assert type(model) is kvae.VAE
    assert (model.objective, model.num_samples) == ("iwae", 3)
    assert isinstance(model.prior, kvae.priors.MixtureOfGaussians)
    assert "kl_loss_1" not in result


@pytest.mark.parametrize(
    "flags, match",
    [
        (["--prior", "hierarchical"], "Unknown --prior"),
        (["--objective", "iw"], "Unknown --objective"),
        (["--free-bits", "-1"], "--free-bits must be a finite number >= 0"),
        (["--num-samples", "0"], "--num-samples must be a positive int"),
        (
            ["--prior", "standard_normal", "--prior-components", "5"],
            "prior_components sets the components",
        ),
    ],
)
def test_bad_flags(load_recipe, capsys, flags, match):
    recipe = load_recipe("likelihood")
    with pytest.raises(SystemExit) as exit_info:
        recipe.main(flags)
    assert exit_info.value.code == 2
    assert match in capsys.readouterr().err
