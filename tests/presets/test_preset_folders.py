"""Presets: export, load back with identical outputs on every backend, the
table of `kvae.VAE.presets`, and an error that says what to do for each
way a preset can be wrong."""

import json
import os
import shutil

import keras
import numpy as np
import pytest

import kvae
from kvae.presets import loader
from tests.helpers import run_under_other_backends
from tests.helpers import tiny_hierarchical_layers
from tests.helpers import to_numpy

X = (np.random.default_rng(3).random((32, 12, 12, 1)) < 0.3).astype("float32")
Z = np.random.default_rng(4).standard_normal((6, 2)).astype("float32")
METRICS = {"negative_elbo": 70.5, "ssim": 0.41, "test_split": "test[:32]"}


def tiny(cls=kvae.VAE):
    if cls is kvae.HierarchicalVAE:
        model = cls(*tiny_hierarchical_layers((12, 12, 1)), seed=1)
    else:
        model = cls(
            kvae.layers.ConvEncoder(2, filters=(4,), dense_units=8),
            kvae.layers.ConvDecoder((12, 12, 1), filters=(4,), dense_units=8),
            seed=1,
        )
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    model.fit(X, epochs=1, batch_size=16, verbose=0)
    return model


def export(model, folder, **kwargs):
    kwargs.setdefault("description", "random 12x12, tiny conv VAE")
    kwargs.setdefault("command", "python make_tiny.py")
    kwargs.setdefault("dataset", "random")
    kwargs.setdefault("test_metrics", METRICS)
    return kvae.presets.export_preset(model, folder, **kwargs)


@pytest.fixture(scope="module")
def model():
    return tiny()


@pytest.fixture(scope="module")
def preset(model, tmp_path_factory):
    folder = tmp_path_factory.mktemp("presets") / "tiny_vae"
    export(model, folder)
    return folder


@pytest.fixture
def shipped(monkeypatch, tmp_path):
    """An empty `kvae/presets/` stand-in: copy presets into it."""
    folder = tmp_path / "shipped"
    folder.mkdir()
    (folder / "__pycache__").mkdir()
    monkeypatch.setattr(loader, "SHIPPED_DIR", str(folder))
    return folder


def test_round_trip_gives_identical_outputs(model, preset):
    loaded = kvae.VAE.from_preset(preset)
    assert type(loaded) is kvae.VAE
    np.testing.assert_array_equal(
        to_numpy(loaded.decode(Z)), to_numpy(model.decode(Z))
    )
    np.testing.assert_array_equal(
        to_numpy(loaded.encode(X[:4])[0]), to_numpy(model.encode(X[:4])[0])
    )
    # No optimizer state: a preset is for inference and fine-tuning.
    assert not loaded.compiled
    loaded.compile(optimizer="adam")
    loaded.fit(X, epochs=1, batch_size=16, verbose=0)


def test_metadata(preset):
    metadata = kvae.presets.read_metadata(str(preset))
    for key in loader.REQUIRED_KEYS:
        assert metadata[key] is not None, key
    assert metadata["class_name"] == "VAE"
    assert metadata["registered_name"] == "kvae>VAE"
    assert metadata["backend"] == keras.backend.backend()
    assert metadata["keras_version"] == keras.__version__
    assert metadata["kvae_version"] == kvae.__version__
    assert metadata["test_metrics"] == METRICS
    assert metadata["path"] == str(preset)
    assert metadata["model_bytes"] == os.path.getsize(preset / "model.keras")
    assert sorted(os.listdir(preset)) == ["metadata.json", "model.keras"]


def test_export_from_a_run_folder(model, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    model.save(run / "model.keras")
    metrics = {
        "recipe": "kmnist",
        "dataset": "kmnist",
        "train_split": "test[:256]",
        "epochs": 1,
        "negative_elbo": 99.0,
        "iwae_nll": 95.0,
        "ssim": 0.5,
        "test_split": "test[9800:]",
        "test_examples": 200,
        "backend": "torch",
        "backend_version": "2.13.0",
        "kvae_version": "0.0.9",
        "wall_time_s": 12.0,
    }
    (run / "metrics.json").write_text(json.dumps(metrics))
    metadata = kvae.presets.export_preset(
        run,
        tmp_path / "kmnist_tiny",
        description="KMNIST, tiny conv VAE, -ELBO 99.0",
        command="python -m kvae.recipes.kmnist --epochs 1",
    )
    assert metadata["dataset"] == "kmnist"
    # The run's backend and versions, not this process's.
    assert metadata["backend"] == "torch"
    assert metadata["kvae_version"] == "0.0.9"
    assert metadata["saved_with_backend"] == keras.backend.backend()
    assert metadata["test_metrics"] == {
        "negative_elbo": 99.0,
        "iwae_nll": 95.0,
        "ssim": 0.5,
        "test_split": "test[9800:]",
        "test_examples": 200,
    }
    assert metadata["training"]["recipe"] == "kmnist"
    loaded = kvae.VAE.from_preset(tmp_path / "kmnist_tiny")
    np.testing.assert_array_equal(
        to_numpy(loaded.decode(Z)), to_numpy(model.decode(Z))
    )
    # The preset's model is smaller than the run's: no optimizer state.
    size = os.path.getsize(tmp_path / "kmnist_tiny" / "model.keras")
    assert size < os.path.getsize(run / "model.keras")


def test_shipped_presets_by_name_and_class(model, preset, shipped):
    assert kvae.VAE.presets == {}
    with pytest.raises(kvae.presets.PresetError, match="none is shipped"):
        kvae.VAE.from_preset("tiny_vae")
    shutil.copytree(preset, shipped / "tiny_vae")
    export(tiny(kvae.HierarchicalVAE), shipped / "tiny_hierarchical")
    assert kvae.presets.shipped_presets() == {
        "tiny_hierarchical": str(shipped / "tiny_hierarchical"),
        "tiny_vae": str(shipped / "tiny_vae"),
    }
    assert kvae.VAE.presets == {
        "tiny_hierarchical": "random 12x12, tiny conv VAE",
        "tiny_vae": "random 12x12, tiny conv VAE",
    }
    assert list(kvae.HierarchicalVAE.presets) == ["tiny_hierarchical"]
    # Loaded by name, as the class it was saved as.
    assert type(kvae.VAE.from_preset("tiny_vae")) is kvae.VAE
    ladder = kvae.VAE.from_preset("tiny_hierarchical")
    assert type(ladder) is kvae.HierarchicalVAE
    assert type(kvae.HierarchicalVAE.from_preset("tiny_hierarchical")) is type(
        ladder
    )
    with pytest.raises(kvae.presets.PresetError) as error:
        kvae.HierarchicalVAE.from_preset("tiny_vae")
    message = str(error.value)
    assert "is a VAE, not a HierarchicalVAE" in message
    assert "kvae.VAE.from_preset('tiny_vae')" in message
    with pytest.raises(kvae.presets.PresetError) as error:
        kvae.VAE.from_preset("kmnist")
    assert "Unknown preset 'kmnist'" in str(error.value)
    assert "Known presets: tiny_hierarchical, tiny_vae" in str(error.value)


def broken_copy(preset, tmp_path):
    folder = tmp_path / "broken"
    shutil.copytree(preset, folder)
    return folder


@pytest.mark.parametrize("missing", ["model.keras", "metadata.json"])
def test_an_incomplete_folder_names_the_missing_file(preset, tmp_path, missing):
    folder = broken_copy(preset, tmp_path)
    (folder / missing).unlink()
    with pytest.raises(kvae.presets.PresetError) as error:
        kvae.VAE.from_preset(folder)
    message = str(error.value)
    assert f"{str(folder)!r} is incomplete: it lacks {missing}" in message
    assert "export_preset" in message


@pytest.mark.parametrize(
    "text, match",
    [
        ('{"description": ', "is not valid JSON"),
        ("[1, 2]", "holds a list, not a JSON object"),
        ('{"description": "x"}', "lacks class_name, registered_name"),
    ],
)
def test_corrupt_metadata(preset, tmp_path, text, match):
    folder = broken_copy(preset, tmp_path)
    (folder / "metadata.json").write_text(text)
    with pytest.raises(kvae.presets.PresetError, match=match) as error:
        kvae.VAE.from_preset(folder)
    assert "export_preset" in str(error.value)


def test_a_truncated_model_file(preset, tmp_path):
    folder = broken_copy(preset, tmp_path)
    data = (folder / "model.keras").read_bytes()
    (folder / "model.keras").write_bytes(data[: len(data) // 2])
    with pytest.raises(kvae.presets.PresetError) as error:
        kvae.VAE.from_preset(folder)
    message = str(error.value)
    assert "does not load" in message and "truncated" in message
    assert "export_preset" in message


def test_metadata_of_an_unknown_class(preset, tmp_path):
    folder = broken_copy(preset, tmp_path)
    metadata = json.loads((folder / "metadata.json").read_text())
    metadata["registered_name"] = "mine>DeepVAE"
    (folder / "metadata.json").write_text(json.dumps(metadata))
    with pytest.raises(kvae.presets.PresetError, match="not registered"):
        kvae.VAE.from_preset(folder)


def test_paths_and_handles(preset, tmp_path):
    with pytest.raises(FileNotFoundError, match="no preset folder"):
        kvae.VAE.from_preset(tmp_path / "nothing")
    with pytest.raises(kvae.presets.PresetError, match="not a preset folder"):
        kvae.VAE.from_preset(preset / "model.keras")
    with pytest.raises(kvae.presets.PresetError, match="remote handles"):
        kvae.VAE.from_preset("hf://someone/kvae-kmnist")


def test_export_errors(model, preset, tmp_path):
    with pytest.raises(ValueError, match="already holds a preset"):
        export(model, preset)
    export(model, broken_copy(preset, tmp_path), overwrite=True)
    with pytest.raises(ValueError, match="one line"):
        export(model, tmp_path / "a", description="two\nlines")
    with pytest.raises(ValueError, match="needs dataset=... and test_metrics"):
        export(model, tmp_path / "b", test_metrics=None)
    run = tmp_path / "run"
    run.mkdir()
    model.save(run / "model.keras")
    with pytest.raises(FileNotFoundError, match="it lacks metrics.json"):
        kvae.presets.export_preset(run, tmp_path / "c", "d", "e")


@pytest.mark.slow
def test_a_preset_loads_under_every_other_backend(model, preset, tmp_path):
    np.save(tmp_path / "z.npy", Z)
    np.save(tmp_path / "expected.npy", to_numpy(model.decode(Z)))
    shutil.copytree(preset, tmp_path / "tiny_vae")
    script = (
        "import sys, numpy as np, keras, kvae\n"
        "d = sys.argv[1]\n"
        "m = kvae.VAE.from_preset(d + '/tiny_vae')\n"
        "assert type(m) is kvae.VAE\n"
        "got = keras.ops.convert_to_numpy(m.decode(np.load(d + '/z.npy')))\n"
        "np.testing.assert_allclose(got, np.load(d + '/expected.npy'),"
        " atol=1e-5)\n"
        "print('OK', keras.backend.backend())\n"
    )
    for backend, stdout in run_under_other_backends(script, tmp_path):
        assert f"OK {backend}" in stdout
