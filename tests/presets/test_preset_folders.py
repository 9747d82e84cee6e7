"""Presets: save and export, load back with identical outputs on every
backend, keras-hub's layout (and Keras's own loader reading it), the table
of `kvae.VAE.presets`, remote handles through fake downloaders, and an
error that says what to do for each way a preset can be wrong."""

import json
import os
import shutil
import types

import h5py
import keras
import numpy as np
import pytest

import kvae
from kvae.presets import loader
from kvae.presets import remote
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
    assert metadata["precision"] == "float32"
    assert metadata["parameter_count"] > 0
    assert "date_saved" in metadata and "commit" in metadata
    assert metadata["weights_bytes"] == os.path.getsize(
        preset / "model.weights.h5"
    )
    assert sorted(os.listdir(preset)) == [
        "config.json",
        "metadata.json",
        "model.weights.h5",
    ]


def test_keras_hub_layout(model, preset):
    """config.json is the model as keras.saving serializes it (without a
    compile config), the weights hold no optimizer state, and Keras's own
    loader of unzipped models reads the folder."""
    config = json.loads((preset / "config.json").read_text())
    assert config["registered_name"] == "kvae>VAE"
    assert "compile_config" not in config and "build_config" in config
    with h5py.File(preset / "model.weights.h5") as weights:
        assert "optimizer" not in weights
    loaded = keras.saving.load_model(str(preset))
    assert type(loaded) is kvae.VAE
    np.testing.assert_array_equal(
        to_numpy(loaded.decode(Z)), to_numpy(model.decode(Z))
    )


def test_a_keras_unzipped_model_folder_loads_as_a_preset(model, tmp_path):
    model.save(tmp_path / "unzipped", zipped=False)
    loaded = kvae.VAE.from_preset(tmp_path / "unzipped")
    assert type(loaded) is kvae.VAE
    np.testing.assert_array_equal(
        to_numpy(loaded.decode(Z)), to_numpy(model.decode(Z))
    )


def test_save_to_preset(model, tmp_path):
    record = model.save_to_preset(tmp_path / "mine", description="my data")
    assert record["description"] == "my data"
    assert kvae.presets.read_metadata(tmp_path / "mine")["class_name"] == "VAE"
    loaded = kvae.VAE.from_preset(tmp_path / "mine")
    np.testing.assert_array_equal(
        to_numpy(loaded.decode(Z)), to_numpy(model.decode(Z))
    )
    fresh = kvae.VAE.from_preset(tmp_path / "mine", load_weights=False)
    assert fresh.built
    assert not np.allclose(to_numpy(fresh.decode(Z)), to_numpy(model.decode(Z)))
    with pytest.raises(ValueError, match="already holds a preset"):
        model.save_to_preset(tmp_path / "mine")
    model.save_to_preset(tmp_path / "mine", overwrite=True)
    unbuilt = kvae.VAE(
        kvae.layers.ConvEncoder(2, filters=(4,), dense_units=8),
        kvae.layers.ConvDecoder((12, 12, 1), filters=(4,), dense_units=8),
    )
    with pytest.raises(ValueError, match="needs a built model"):
        unbuilt.save_to_preset(tmp_path / "unbuilt")


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
    sampler = kvae.samplers.GaussianMixtureSampler(2).fit(model, X, verbose=0)
    sampler.save(str(run / "sampler_gaussian_mixture.npz"))
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
    # The run did not record its commit: not this process's either.
    assert metadata["commit"] is None
    assert metadata["saved_with_backend"] == keras.backend.backend()
    assert metadata["test_metrics"] == {
        "negative_elbo": 99.0,
        "iwae_nll": 95.0,
        "ssim": 0.5,
        "test_split": "test[9800:]",
        "test_examples": 200,
    }
    assert metadata["training"]["recipe"] == "kmnist"
    assert metadata["samplers"] == ["gaussian_mixture"]
    loaded = kvae.VAE.from_preset(tmp_path / "kmnist_tiny")
    np.testing.assert_array_equal(
        to_numpy(loaded.decode(Z)), to_numpy(model.decode(Z))
    )
    # The run's fitted sampler travels with the preset.
    shipped = kvae.presets.load_sampler(tmp_path / "kmnist_tiny", loaded)
    np.testing.assert_array_equal(
        shipped.sample(4, seed=2), sampler.sample(4, seed=2)
    )
    with pytest.raises(kvae.presets.PresetError, match="its samplers: 'gaus"):
        kvae.presets.load_sampler(tmp_path / "kmnist_tiny", loaded, "two_stage")
    # Saving another model over the preset drops the samplers fitted to
    # the old one.
    loaded.save_to_preset(tmp_path / "kmnist_tiny", overwrite=True)
    assert not (
        tmp_path / "kmnist_tiny" / "sampler_gaussian_mixture.npz"
    ).exists()
    with pytest.raises(kvae.presets.PresetError, match="its samplers: none"):
        kvae.presets.load_sampler(tmp_path / "kmnist_tiny", loaded)
    # The preset's weights are smaller than the run's model: no optimizer
    # state.
    size = os.path.getsize(tmp_path / "kmnist_tiny" / "model.weights.h5")
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


@pytest.mark.parametrize("missing", loader.FILES)
def test_an_incomplete_folder_names_the_missing_file(preset, tmp_path, missing):
    folder = broken_copy(preset, tmp_path)
    (folder / missing).unlink()
    with pytest.raises(kvae.presets.PresetError) as error:
        kvae.VAE.from_preset(folder)
    message = str(error.value)
    assert f"{str(folder)!r} is incomplete: it lacks {missing}" in message
    assert "save_to_preset" in message


def test_a_folder_of_the_first_layout_says_how_to_convert(model, tmp_path):
    folder = tmp_path / "old"
    folder.mkdir()
    model.save(folder / "model.keras")
    (folder / "metadata.json").write_text('{"keras_version": "3"}')
    with pytest.raises(kvae.presets.PresetError) as error:
        kvae.VAE.from_preset(folder)
    message = str(error.value)
    assert "lacks config.json, model.weights.h5" in message
    assert "kvae.load_model" in message and "save_to_preset" in message


@pytest.mark.parametrize(
    "text, match",
    [
        ('{"description": ', "is not valid JSON"),
        ("[1, 2]", "holds a list, not a JSON object"),
        ('{"description": "x"}', "lacks keras_version"),
    ],
)
def test_corrupt_metadata(preset, tmp_path, text, match):
    folder = broken_copy(preset, tmp_path)
    (folder / "metadata.json").write_text(text)
    with pytest.raises(kvae.presets.PresetError, match=match) as error:
        kvae.VAE.from_preset(folder)
    assert "save_to_preset" in str(error.value)


@pytest.mark.parametrize(
    "name, garbage, match",
    [
        ("model.weights.h5", b"not hdf5 " * 10, "not an HDF5 file"),
        ("model.weights.h5", b"", "not an HDF5 file"),
        ("config.json", b"[1, 2]", "config.json is not a JSON object"),
        ("config.json", b'{"class_name": ', "is not valid JSON"),
    ],
)
def test_corrupt_config_or_weights(preset, tmp_path, name, garbage, match):
    folder = broken_copy(preset, tmp_path)
    (folder / name).write_bytes(garbage)
    with pytest.raises(kvae.presets.PresetError, match=match) as error:
        kvae.VAE.from_preset(folder)
    assert str(folder) in str(error.value)


def test_truncated_weights(preset, tmp_path):
    folder = broken_copy(preset, tmp_path)
    data = (folder / "model.weights.h5").read_bytes()
    (folder / "model.weights.h5").write_bytes(data[: len(data) // 2])
    with pytest.raises(kvae.presets.PresetError) as error:
        kvae.VAE.from_preset(folder)
    message = str(error.value)
    assert "does not load" in message and "save_to_preset" in message


def test_config_of_an_unknown_class(preset, tmp_path):
    folder = broken_copy(preset, tmp_path)
    config = json.loads((folder / "config.json").read_text())
    config["registered_name"] = "mine>DeepVAE"
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(kvae.presets.PresetError, match="not a class regis"):
        kvae.VAE.from_preset(folder)


def test_paths_and_handles(preset, tmp_path):
    with pytest.raises(FileNotFoundError, match="no preset folder"):
        kvae.VAE.from_preset(tmp_path / "nothing")
    with pytest.raises(kvae.presets.PresetError, match="not a preset folder"):
        kvae.VAE.from_preset(preset / "config.json")
    with pytest.raises(kvae.presets.PresetError, match="not gs://"):
        kvae.VAE.from_preset("gs://bucket/kvae-kmnist")


@pytest.fixture
def modules(monkeypatch):
    """`modules(**{name: module or None})`: what `optional_module` finds
    (everything else is not installed)."""

    def install(**found):
        monkeypatch.setattr(remote, "optional_module", found.get)

    return install


@pytest.mark.parametrize(
    "handle, package",
    [
        ("hf://someone/kvae-kmnist", "huggingface_hub"),
        ("kaggle://someone/kvae/keras/kmnist", "kagglehub"),
    ],
)
def test_a_remote_handle_without_a_downloader(modules, handle, package):
    modules()
    with pytest.raises(kvae.presets.PresetError) as error:
        kvae.VAE.from_preset(handle)
    message = str(error.value)
    assert "needs keras-hub (pip install keras-hub)" in message
    assert f"pip install {package}" in message


def test_remote_handles_through_the_hubs(model, preset, modules):
    calls = []

    def snapshot_download(repo_id, library_name):
        calls.append(("hf", repo_id))
        return str(preset)

    def model_download(handle):
        calls.append(("kaggle", handle))
        return str(preset)

    modules(
        huggingface_hub=types.SimpleNamespace(
            snapshot_download=snapshot_download
        ),
        kagglehub=types.SimpleNamespace(model_download=model_download),
    )
    for handle in ("hf://someone/tiny", "kaggle://someone/tiny/keras/v1"):
        loaded = kvae.VAE.from_preset(handle)
        np.testing.assert_array_equal(
            to_numpy(loaded.decode(Z)), to_numpy(model.decode(Z))
        )
    assert calls == [
        ("hf", "someone/tiny"),
        ("kaggle", "someone/tiny/keras/v1"),
    ]


def test_remote_handles_through_keras_hub_first(model, preset, modules):
    asked = []

    def get_file(handle, name):
        asked.append((handle, name))
        return str(preset / name)

    modules(
        **{
            "keras_hub.src.utils.preset_utils": types.SimpleNamespace(
                get_file=get_file
            ),
            "huggingface_hub": None,
        }
    )
    metadata = kvae.presets.read_metadata("hf://someone/tiny")
    assert metadata["path"] == str(preset)
    assert sorted(name for _, name in asked) == sorted(loader.FILES)
    assert {handle for handle, _ in asked} == {"hf://someone/tiny"}
    loaded = kvae.VAE.from_preset("hf://someone/tiny")
    np.testing.assert_array_equal(
        to_numpy(loaded.decode(Z)), to_numpy(model.decode(Z))
    )


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
    # A compiled model's optimizer state stays out of the preset.
    export(model, tmp_path / "d")
    with h5py.File(tmp_path / "d" / "model.weights.h5") as weights:
        assert "optimizer" not in weights


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
