"""`kvae.load_model` loads what `model.save` wrote, and says what is wrong
with a file that is missing, cut short, or not a `.keras` archive."""

import shutil
import struct
import zipfile

import keras
import numpy as np
import pytest

import kvae
from tests.helpers import to_numpy

X = np.random.default_rng(5).random((16, 12, 12, 1)).astype("float32")


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A trained tiny model's `.keras` file and its predictions."""
    model = kvae.VAE(
        kvae.layers.ConvEncoder(2, filters=(4,), dense_units=8),
        kvae.layers.ConvDecoder((12, 12, 1), filters=(4,), dense_units=8),
        seed=1,
    )
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    model.fit(X, epochs=2, batch_size=8, verbose=0)
    path = tmp_path_factory.mktemp("saved") / "model.keras"
    model.save(path)
    return path, to_numpy(model.predict(X, verbose=0))


def copy_of(saved, tmp_path, name="model.keras"):
    path = tmp_path / name
    shutil.copyfile(saved[0], path)
    return path


def test_a_saved_model_loads_and_predicts_the_same(saved, tmp_path):
    path = copy_of(saved, tmp_path)
    for given in (path, str(path)):
        loaded = kvae.load_model(given)
        assert isinstance(loaded, kvae.VAE)
        np.testing.assert_array_equal(
            to_numpy(loaded.predict(X, verbose=0)), saved[1]
        )
        # Four steps of training, restored with the optimizer.
        assert int(to_numpy(loaded.optimizer.iterations)) == 4
    # Keyword arguments go to keras.saving.load_model.
    assert not kvae.load_model(path, compile=False).compiled


@pytest.mark.parametrize("keep", ["half", "all but 100 bytes", "nothing"])
def test_a_truncated_file_says_so(saved, tmp_path, keep):
    path = copy_of(saved, tmp_path)
    data = path.read_bytes()
    size = {"half": len(data) // 2, "nothing": 0}.get(keep, len(data) - 100)
    path.write_bytes(data[:size])
    with pytest.raises(ValueError) as error:
        kvae.load_model(path)
    message = str(error.value)
    assert str(path) in message
    assert "truncated or not a .keras archive" in message
    assert f"{size} bytes, the zip's central directory is missing" in message
    assert "model.save(path)" in message
    assert "--overwrite" in message and "BackupAndRestore" in message


def test_a_corrupt_member_is_named(saved, tmp_path):
    path = copy_of(saved, tmp_path)
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("model.weights.h5")
    # The member's data follows its 30-byte local header, name and extra.
    name_length, extra_length = struct.unpack_from(
        "<HH", data, info.header_offset + 26
    )
    start = info.header_offset + 30 + name_length + extra_length
    data[start + info.compress_size // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(
        ValueError,
        match=r"model.keras' is corrupt: \d+ bytes, its member "
        r"'model.weights.h5' fails its CRC check.*model.save\(path\)",
    ):
        kvae.load_model(path)


def test_a_zip_without_the_weights_is_not_a_model(saved, tmp_path):
    path = tmp_path / "model.keras"
    with zipfile.ZipFile(saved[0]) as source, zipfile.ZipFile(
        path, "w"
    ) as target:
        for name in ("metadata.json", "config.json"):
            target.writestr(name, source.read(name))
    with pytest.raises(
        ValueError,
        match=r"model.keras' is a zip archive but not a Keras model: it "
        r"lacks model.weights.h5, which every .keras file holds",
    ):
        kvae.load_model(path)


def test_a_missing_path(tmp_path):
    path = tmp_path / "run" / "model.keras"
    with pytest.raises(
        FileNotFoundError,
        match=r"There is no model file at '.*run/model.keras'\. Check the "
        "path",
    ):
        kvae.load_model(path)


def test_a_directory(tmp_path):
    path = tmp_path / "run"
    path.mkdir()
    with pytest.raises(
        ValueError,
        match=r"'.*run' is a directory, not a .keras model file.*"
        "<out>/model.keras",
    ):
        kvae.load_model(path)


@pytest.mark.parametrize("name", ["model.h5", "model.weights.h5", "model"])
def test_a_file_that_is_not_a_keras_file(saved, tmp_path, name):
    # A complete archive, under a name Keras would not load as one.
    path = copy_of(saved, tmp_path, name)
    with pytest.raises(
        ValueError,
        match=rf"'.*/{name}' is not a .keras file.*model.save\('name.keras'\)",
    ):
        kvae.load_model(path)


@pytest.mark.parametrize(
    "member, garbage, words",
    [
        ("model.weights.h5", b"not hdf5 " * 100, "not an HDF5 file"),
        ("model.weights.h5", b"", "not an HDF5 file"),
        ("config.json", b"\x00garbage", "config.json is not a JSON object"),
    ],
)
def test_an_intact_zip_with_a_garbage_member_names_the_file(
    saved, tmp_path, member, garbage, words
):
    # The zip is rebuilt whole, so its CRCs hold: only the member is bad.
    path = tmp_path / "model.keras"
    with zipfile.ZipFile(saved[0]) as source:
        members = {name: source.read(name) for name in source.namelist()}
    members[member] = garbage
    with zipfile.ZipFile(path, "w") as target:
        for name, data in members.items():
            target.writestr(name, data)
    with pytest.raises(ValueError) as error:
        kvae.load_model(path)
    message = str(error.value)
    assert str(path) in message and words in message
    assert "Save the model again" in message
