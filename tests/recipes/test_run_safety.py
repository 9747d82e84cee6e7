"""A recipe run never mixes two runs in one folder, never loses a trained
model to a late error, and never exits 0 after diverging."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

import kvae
from kvae import experiment
from kvae.experiment import report
from kvae.experiment import train
from kvae.utils import files


def tiny_flags(shared_data, out, *extra):
    return [
        "--manual-dir",
        os.path.join(shared_data, "kmnist"),
        "--train-split",
        "test[:64]",
        "--test-split",
        "test[9900:]",
        "--epochs",
        "1",
        "--batch-size",
        "32",
        "--latent-dim",
        "2",
        "--filters",
        "4",
        "--dense-units",
        "8",
        "--score-images",
        "0",
        "--iwae-samples",
        "2",
        "--iwae-examples",
        "8",
        "--plots",
        "--no-tensorboard",
        "--verbose",
        "0",
        "--out",
        str(out),
        *extra,
    ]


@pytest.mark.slow
def test_rerun_into_a_used_folder_is_refused_or_overwritten(
    shared_data, load_recipe, tmp_path, capsys
):
    recipe = load_recipe("kmnist")
    out = tmp_path / "run"
    recipe.main(tiny_flags(shared_data, out, "--gifs", "reconstructions"))
    assert (out / "reconstructions.gif").exists()
    before = (out / "model.keras").stat().st_mtime_ns

    # A second run is refused before any training, and changes nothing.
    with pytest.raises(SystemExit) as exit_info:
        experiment.cli(recipe.main, tiny_flags(shared_data, out, "--gifs"))
    assert exit_info.value.code == 1
    error = capsys.readouterr().err
    assert "holds a previous run's files" in error
    assert "--overwrite" in error and "model.keras" in error
    assert (out / "model.keras").stat().st_mtime_ns == before

    # A killed writer's temporary file, and a file that is not kvae's.
    stale = out / (files.partial_name("samples.gif") + "abc.tmp")
    stale.write_bytes(b"half")
    (out / "notes.txt").write_text("mine")
    recipe.main(
        tiny_flags(shared_data, out, "--gifs", "samples", "--overwrite")
    )
    printed = capsys.readouterr().out
    assert "deleted the previous run's" in printed
    names = sorted(os.listdir(out))
    assert "reconstructions.gif" not in names, names
    assert not stale.exists()
    assert "samples.gif" in names and "notes.txt" in names
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["config"]["gifs"] == ["samples"]


@pytest.mark.parametrize(
    "flag, value, message",
    [
        ("--iwae-samples", "-1", "int >= 0"),
        ("--learning-rate", "-0.001", "positive, finite"),
        ("--learning-rate", "nan", "positive, finite"),
        ("--learning-rate", "inf", "positive, finite"),
        ("--learning-rate", "0", "positive, finite"),
        ("--final-learning-rate", "-1", "finite number >= 0"),
        ("--weight-decay", "nan", "finite number >= 0"),
        ("--global-clipnorm", "0", "positive, finite"),
        ("--ema-momentum", "1", "between 0 and 1"),
        ("--ema-momentum", "0", "between 0 and 1"),
        ("--ema-momentum", "nan", "between 0 and 1"),
        ("--beta", "inf", "finite number >= 0"),
        ("--free-bits", "inf", "finite number >= 0"),
        ("--seed", "-1", "in [0, 4294967295]"),
        ("--seed", str(2**32), "in [0, 4294967295]"),
        ("--train-split", "train[:x]", "not a split string"),
        ("--test-split", "test[", "not a split string"),
        ("--epochs", "0", "positive int"),
    ],
)
def test_bad_flags_are_rejected_at_parse_time(
    load_recipe, capsys, flag, value, message
):
    with pytest.raises(SystemExit) as exit_info:
        experiment.parse_args(load_recipe("kmnist").CONFIG, [flag, value])
    assert exit_info.value.code == 2
    # The last line is the error; the usage above it lists every flag.
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert f"error: {flag} " in error
    assert message in error


def test_out_that_is_a_file_is_rejected(load_recipe, tmp_path, capsys):
    path = tmp_path / "a_file"
    path.write_text("x")
    with pytest.raises(SystemExit):
        experiment.parse_args(
            load_recipe("kmnist").CONFIG, ["--out", str(path)]
        )
    assert "is an existing file" in capsys.readouterr().err


def test_prepare_output_refuses_an_unwritable_folder(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(experiment.RunError, match="Cannot create the output"):
        report.prepare_output(str(blocker / "run"))


@pytest.mark.slow
def test_model_is_saved_before_evaluation_can_fail(
    shared_data, load_recipe, tmp_path, monkeypatch
):
    def broken_evaluate(*args, **kwargs):
        raise RuntimeError("evaluation failed")

    monkeypatch.setattr(
        train.evaluation, "evaluate", broken_evaluate
    )
    out = tmp_path / "run"
    with pytest.raises(RuntimeError, match="evaluation failed"):
        load_recipe("kmnist").main(tiny_flags(shared_data, out, "--gifs"))
    model = keras.saving.load_model(out / "model.keras")
    assert isinstance(model, kvae.VAE)
    assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == 2


def test_the_printed_way_to_load_a_model_works(tmp_path):
    # What a run prints next to model.keras, run as printed in a fresh
    # process.
    description = report.FILE_DESCRIPTIONS["model.keras"]
    assert description == "the trained model: kvae.load_model(path)"
    printed = description.split(": ", 1)[1]
    model = kvae.VAE(
        kvae.layers.MLPEncoder(2, hidden_units=(8,)),
        kvae.layers.MLPDecoder((12, 12, 1), hidden_units=(8,)),
        image_metrics=False,
    )
    model.compile()
    model.fit(np.zeros((4, 12, 12, 1), "float32"), verbose=0)
    path = tmp_path / "model.keras"
    report.save_model(model, path)
    code = (
        "import sys; import kvae; path = sys.argv[1]; "
        f"m = {printed}; print(type(m).__name__)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().endswith("VAE")


@pytest.mark.slow
def test_divergence_exits_non_zero_with_the_epoch_and_a_hint(
    shared_data, load_recipe, tmp_path, capsys
):
    out = tmp_path / "run"
    argv = tiny_flags(
        shared_data, out, "--gifs", "--learning-rate", "1e30", "--epochs", "3"
    )
    with pytest.raises(SystemExit) as exit_info:
        experiment.cli(load_recipe("kmnist").main, argv)
    assert exit_info.value.code == 1
    error = capsys.readouterr().err
    assert "Training diverged" in error and "at epoch 1 of 3" in error
    assert "Lower the learning rate" in error
    assert not (out / "model.keras").exists()
    assert not (out / "metrics.json").exists()
    assert (out / "history.csv").exists()
