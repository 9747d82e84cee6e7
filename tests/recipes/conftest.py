import importlib
import json
import math
import os
import pathlib

import imageio.v3 as iio
import pytest

from tests.helpers import read_tensorboard


@pytest.fixture(scope="session")
def load_recipe():
    """`load_recipe("kmnist")`: the recipe's module, `kvae.recipes.kmnist`
    (the script `recipes/kmnist.py` of a clone runs it:
    tests/recipes/test_scripts.py)."""
    return lambda name: importlib.import_module(f"kvae.recipes.{name}")


def gif_frames(path):
    """Number of frames of the GIF at `path`."""
    return len(iio.imread(path, index=None))


def read_metrics(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


# Every recipe's metrics.json holds these, finite.
METRIC_KEYS = (
    "negative_elbo",
    "reconstruction_loss",
    "kl_loss",
    "iwae_nll",
    "mse",
    "ssim",
    "psnr",
    "train_img_per_s",
    "epoch_s",
    "wall_time_s",
)
INFO_KEYS = ("backend", "kvae_version", "keras_version", "device")


def _check_tensorboard(log_dir, epochs, gifs, history):
    """The TensorBoard logs hold each epoch's losses, equal to
    history.csv's, and the reconstruction and sample grids as images."""
    train = read_tensorboard(log_dir / "train")
    validation = read_tensorboard(log_dir / "validation")
    for name in ("loss", "kl_loss", "mse", "ssim", "psnr"):
        for events, column in ((train, name), (validation, "val_" + name)):
            steps = [step for step, _ in events[f"epoch_{name}"]]
            assert steps == list(range(epochs)), (name, steps)
            values = [value for _, value in events[f"epoch_{name}"]]
            assert values == pytest.approx(history[column], rel=1e-5)
    images = read_tensorboard(log_dir / "images")
    expected = sorted({"reconstructions", "samples"} & set(gifs))
    assert sorted(images) == expected
    for tag in expected:
        assert [step for step, _ in images[tag]] == list(range(epochs))
        assert images[tag][0][1].ndim == 3


def _check_run_folder(folder, epochs, gifs, backend, tensorboard=True):
    """Asserts on every file a run promises; returns its metrics."""
    folder = pathlib.Path(folder)
    names = set(os.listdir(folder))
    expected = {"model.keras", "history.csv", "metrics.json", "metrics.png"}
    expected |= {f"{g}.gif" for g in gifs}
    assert expected <= names, sorted(names)
    # Nothing half-written is left behind.
    assert not [n for n in names if n.startswith(".")], sorted(names)
    metrics = read_metrics(os.path.join(folder, "metrics.json"))
    for key in METRIC_KEYS:
        assert isinstance(metrics[key], (int, float)), (key, metrics[key])
        assert math.isfinite(metrics[key]), (key, metrics[key])
    for key in INFO_KEYS:
        assert metrics[key], key
    assert metrics["backend"] == backend
    assert metrics["epochs"] == epochs
    assert len(metrics["epoch_seconds"]) == epochs
    assert metrics["iwae_nll"] <= metrics["negative_elbo"] + 5.0
    assert -1.0 <= metrics["ssim"] <= 1.0
    assert sorted(metrics["files"]) == sorted(
        n for n in names if n in metrics["files"]
    )
    with open(os.path.join(folder, "history.csv"), encoding="utf-8") as f:
        rows = f.read().strip().splitlines()
    header = rows[0].split(",")
    assert len(rows) == 1 + epochs
    history = {
        name: [float(row.split(",")[i]) for row in rows[1:]]
        for i, name in enumerate(header)
    }
    if tensorboard:
        assert "tensorboard" in metrics["files"]
        _check_tensorboard(folder / "tensorboard", epochs, gifs, history)
    else:
        assert "tensorboard" not in names
    for column in ("loss", "val_loss", "ssim", "val_ssim", "val_psnr"):
        assert column in header, header
    for gif in gifs:
        frames = gif_frames(os.path.join(folder, f"{gif}.gif"))
        if gif == "interpolation":
            # There and back along a 10-point path, drawn at the end.
            assert frames == 2 * 10 - 2, (gif, frames)
        else:
            assert frames == epochs, (gif, frames)
    with open(os.path.join(folder, "metrics.png"), "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    return metrics


@pytest.fixture
def check_run_folder():
    """`check_run_folder(folder, epochs, gifs, backend, tensorboard=True)
    -> metrics`."""
    return _check_run_folder


@pytest.fixture
def metrics_of():
    return read_metrics
