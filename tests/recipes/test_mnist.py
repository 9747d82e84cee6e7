import os

import keras
import pytest


@pytest.mark.slow
def test_mnist_latent_study(
    shared_data, load_recipe, check_run_folder, metrics_of, tmp_path, capsys
):
    recipe = load_recipe("mnist")
    out = tmp_path / "mnist"
    runs = recipe.main(
        [
            "--manual-dir",
            os.path.join(shared_data, "mnist"),
            "--train-split",
            "train[:256]",
            "--test-split",
            "test[:200]",
            "--latent-dims",
            "2",
            "3",
            "--epochs",
            "2",
            "--batch-size",
            "64",
            "--filters",
            "8",
            "16",
            "--score-images",
            "0",
            "--iwae-samples",
            "4",
            "--iwae-examples",
            "16",
            "--verbose",
            "0",
            "--out",
            str(out),
        ]
    )
    assert [r["latent_dim"] for r in runs] == [2, 3]
    for latent_dim in (2, 3):
        metrics = check_run_folder(
            out / f"latent_{latent_dim}",
            epochs=2,
            gifs=("latent_space", "reconstructions"),
            backend=keras.backend.backend(),
        )
        assert metrics["latent_dim"] == latent_dim
        assert metrics["dataset"] == "mnist"

    summary = (out / "summary.md").read_text()
    table = [line for line in summary.splitlines() if line.startswith("|")]
    assert len(table) == 2 + 2  # header, rule, one row per size
    assert "test -ELBO" in table[0] and "SSIM" in table[0]
    assert table[2].startswith("| 2 |") and table[3].startswith("| 3 |")
    assert "n/a" not in summary
    with open(out / "comparison.png", "rb") as f:
        assert f.read(4) == b"\x89PNG"
    study = metrics_of(out / "metrics.json")
    assert study["latent_dims"] == [2, 3]
    assert [r["latent_dim"] for r in study["runs"]] == [2, 3]
    printed = capsys.readouterr().out
    assert "summary.md" in printed and table[0] in printed
