"""The machinery shared by the callbacks: folders, frequency, files."""

import gzip
import os
import stat

import imageio.v3 as iio
import keras
import numpy as np
import pytest
from PIL import Image

import kvae
from kvae.callbacks import InterpolationGIF
from kvae.callbacks import LatentSpaceGIF
from kvae.callbacks import MetricsPlot
from kvae.callbacks import ReconstructionGIF
from kvae.callbacks import SampleGIF
from kvae.callbacks import _frames


def _constructors(images, labels):
    """One function `(output_dir, **kwargs) -> callback` per callback."""
    return [
        lambda out, **kw: ReconstructionGIF(images, out, **kw),
        lambda out, **kw: SampleGIF(out, **kw),
        lambda out, **kw: LatentSpaceGIF(images, labels, out, **kw),
        lambda out, **kw: InterpolationGIF(images, out, **kw),
        lambda out, **kw: MetricsPlot(out, **kw),
    ]


def _all_callbacks(images, labels, output_dir, **kwargs):
    return [
        make(output_dir, **kwargs)
        for make in _constructors(images, labels)
    ]


def test_every_callback_checks_its_folder(tmp_path, images, labels):
    (tmp_path / "a_file").write_text("")
    for output_dir in (tmp_path / "a_file", tmp_path / "a_file" / "sub"):
        for make in _constructors(images, labels):
            with pytest.raises(ValueError, match="Cannot write"):
                make(output_dir)
    # A folder that does not exist yet is created.
    nested = tmp_path / "runs" / "mnist"
    _all_callbacks(images, labels, nested)
    assert nested.is_dir()
    assert os.listdir(nested) == []


def test_batch_hook_only_when_watching_batches(tmp_path, images, labels):
    # A default `on_train_batch_end` lets Keras run batch callbacks
    # asynchronously; the callbacks keep it unless they draw by batches.
    for callback in _all_callbacks(images, labels, tmp_path):
        assert getattr(callback.on_train_batch_end, "_is_default", False)
    by_batches = _all_callbacks(images, labels, tmp_path, every_n_batches=5)
    for callback in by_batches:
        assert not getattr(callback.on_train_batch_end, "_is_default", False)


def test_atomic_rewrite_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "a.gif"
    writer = _frames.GIFWriter(str(path), frame_duration=0.1)
    writer.add(np.zeros((8, 8), "uint8"))
    writer.write()
    before = path.read_bytes()
    umask = os.umask(0)
    os.umask(umask)
    # The permissions an ordinary open() gives, not mkstemp's 0o600.
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o666 & ~umask

    def broken_save(self, fp, *args, **kwargs):
        with open(fp, "wb") as f:
            f.write(b"GIF89a, then the process dies")
        raise OSError("disk full")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    writer.add(np.full((8, 8), 255, "uint8"))
    with pytest.raises(OSError, match="disk full"):
        writer.write()
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["a.gif"]


def test_tile_layout():
    gray = np.zeros((5, 3, 2, 1), "uint8")
    grid = _frames.tile(gray, cols=2, scale=2)
    # 3 rows of 6x4 cells, gaps of 2, margins of 4.
    assert grid.shape == (8 + 3 * 6 + 2 * 2, 8 + 2 * 4 + 2)
    assert grid[0, 0] == 255 and grid[4, 4] == 0
    assert grid[-5, -5] == 255  # the sixth cell is left empty
    rgb = _frames.tile(np.zeros((4, 3, 2, 3), "uint8"), cols=2, group_rows=2)
    assert rgb.shape == (8 + 2 * 3 + 2, 8 + 2 * 2 + 2, 3)
    grouped = _frames.tile(np.zeros((4, 3, 2, 1), "uint8"), 1, group_rows=2)
    assert grouped.shape[0] == 8 + 4 * 3 + 2 + 6 + 2


def test_to_uint8_maps_value_range():
    x = np.array([-1.0, 0.0, 1.0, 2.0])
    np.testing.assert_array_equal(
        _frames.to_uint8(x, (-1.0, 1.0)), [0, 128, 255, 255]
    )


@pytest.mark.slow
def test_all_callbacks_on_mnist(tmp_path, shared_data, read_gif):
    """All five callbacks at their defaults, in one run on real digits."""
    with gzip.open(
        os.path.join(shared_data, "mnist", "t10k-images-idx3-ubyte.gz")
    ) as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16)
    with gzip.open(
        os.path.join(shared_data, "mnist", "t10k-labels-idx1-ubyte.gz")
    ) as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8)
    x = x.reshape(-1, 28, 28, 1)[:320].astype("float32") / 255.0
    x_train, x_val, y_val = x[:256], x[256:], y[256:320]

    model = kvae.VAE(
        kvae.layers.MLPEncoder(4, hidden_units=(64,)),
        kvae.layers.MLPDecoder(hidden_units=(64,)),
    )
    model.compile()
    model.fit(
        x_train,
        epochs=2,
        batch_size=64,
        validation_data=(x_val,),
        callbacks=_all_callbacks(x_val, y_val, tmp_path),
        verbose=0,
    )
    assert sorted(os.listdir(tmp_path)) == [
        "interpolation.gif",
        "latent_space.gif",
        "metrics.png",
        "reconstructions.gif",
        "samples.gif",
    ]
    expected = {
        "reconstructions.gif": (2, 22 + 8 + 4 * 56 + 2 + 6 + 2, 470),
        "samples.gif": (2, 22 + 8 + 8 * 56 + 7 * 2, 470),
        "latent_space.gif": (2, 440, 520),
        "interpolation.gif": (18, 22 + 8 + 3 * 56 + 4, 8 + 6 * 56 + 10),
    }
    for name, shape in expected.items():
        frames, _ = read_gif(tmp_path / name)
        assert frames.shape[:3] == shape, name
        assert not np.array_equal(frames[0], frames[1]), name
    assert iio.imread(tmp_path / "metrics.png").shape[:2] == (600, 1100)


def test_model_checked_before_training(tmp_path, train, images, labels):
    small = images[:, :8, :8]
    for callback in (
        ReconstructionGIF(small, tmp_path),
        LatentSpaceGIF(small, labels, tmp_path),
        InterpolationGIF(small, tmp_path),
    ):
        with pytest.raises(ValueError, match="model takes \\(16, 16, 1\\)"):
            train([callback], images=images, epochs=1)
    assert os.listdir(tmp_path) == []


def test_needs_a_vae(tmp_path, images):
    model = keras.Sequential([keras.Input((16, 16, 1)), keras.layers.Flatten()])
    model.compile(loss="mse")
    callback = SampleGIF(tmp_path)
    with pytest.raises(TypeError, match="lacks decode"):
        model.fit(images, images.reshape(64, -1), callbacks=[callback])


def test_two_callbacks_writing_one_file_are_refused(
    tmp_path, images, train
):
    first = ReconstructionGIF(images[:16], tmp_path)
    second = ReconstructionGIF(images[16:32], tmp_path)
    with pytest.raises(ValueError, match="Two callbacks write the same file"):
        train([first, second], epochs=1)
    assert not (tmp_path / "reconstructions.gif").exists()
    # After that failed fit, each one alone, and both with their own files,
    # train; the same callback may be used by one fit after another.
    train([first], epochs=1)
    train([first], epochs=1)
    other = ReconstructionGIF(images[:16], tmp_path, filename="other.gif")
    train([second, other], epochs=1)
    assert sorted(os.listdir(tmp_path)) == ["other.gif", "reconstructions.gif"]


def test_write_errors_say_what_was_kept(tmp_path, monkeypatch):
    import errno

    from kvae.utils import write_text

    write_text(tmp_path / "a.txt", "old")
    with pytest.raises(NotADirectoryError, match="it was not written"):
        write_text(tmp_path / "a.txt" / "b.txt", "new")

    def disk_full(src, dst):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", disk_full)
    with pytest.raises(OSError, match=r"No space left.*previous version is"):
        write_text(tmp_path / "a.txt", "new")
    assert (tmp_path / "a.txt").read_text() == "old"
    assert os.listdir(tmp_path) == ["a.txt"]
