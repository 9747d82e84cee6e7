import numpy as np
import pytest

from kvae.callbacks import LatentSpaceGIF
from kvae.utils import pca_basis


def test_scatter_with_2d_latent(tmp_path, train, images, labels, read_gif):
    callback = LatentSpaceGIF(
        images, labels, tmp_path, frame_size=(400, 300), axis_limit=3.0
    )
    train([callback], images=images, epochs=3, latent_dim=2)

    frames, _ = read_gif(tmp_path / "latent_space.gif")
    assert frames.shape == (3, 300, 400, 3)
    assert not np.array_equal(frames[0], frames[1])
    assert not np.array_equal(frames[1], frames[2])
    assert callback._limit == 3.0


def test_pca_basis_is_fitted_once(tmp_path, train, images, labels, read_gif):
    # A 4-D latent; one-hot labels; limits fitted to the first frame.
    one_hot = np.eye(4)[labels]
    callback = LatentSpaceGIF(
        images, one_hot, tmp_path, num_points=48, axis_limit=None
    )
    bases, limits = [], []
    original_make_frame = callback.make_frame

    def make_frame(label):
        frame = original_make_frame(label)
        bases.append(callback._basis.copy())
        limits.append(callback._limit)
        return frame

    callback.make_frame = make_frame
    train([callback], images=images, epochs=2, latent_dim=4)

    frames, _ = read_gif(tmp_path / "latent_space.gif")
    assert frames.shape == (2, 440, 520, 3)
    assert bases[0].shape == (4, 2)
    np.testing.assert_array_equal(bases[0], bases[1])
    np.testing.assert_allclose(bases[0].T @ bases[0], np.eye(2), atol=1e-5)
    assert limits[0] == limits[1] > 0


def test_pca_basis_finds_principal_axes():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(500, 3)) * np.array([0.1, 5.0, 1.0])
    basis = pca_basis(z.astype("float32"))
    np.testing.assert_allclose(np.abs(basis[:, 0]), [0, 1, 0], atol=0.02)
    np.testing.assert_allclose(np.abs(basis[:, 1]), [0, 0, 1], atol=0.02)
    assert basis[1, 0] > 0  # a fixed sign


def test_needs_2d_latent(tmp_path, train, images, labels):
    callback = LatentSpaceGIF(images, labels, tmp_path)
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        train([callback], images=images, epochs=1, latent_dim=1)
    assert not (tmp_path / "latent_space.gif").exists()


def test_bad_input(tmp_path, images, labels):
    with pytest.raises(ValueError, match="pass the labels"):
        LatentSpaceGIF(images, None, tmp_path)
    with pytest.raises(ValueError, match="holds 64 images, but 100"):
        LatentSpaceGIF(images, labels, tmp_path, num_points=100)
    with pytest.raises(ValueError, match="one label per image"):
        LatentSpaceGIF(images, labels[:10], tmp_path)
    with pytest.raises(ValueError, match="projection"):
        LatentSpaceGIF(images, labels, tmp_path, projection=np.eye(3))
    with pytest.raises(ValueError, match="axis_limit"):
        LatentSpaceGIF(images, labels, tmp_path, axis_limit=0)
    (tmp_path / "a_file").write_text("")
    with pytest.raises(ValueError, match="Cannot write to the output folder"):
        LatentSpaceGIF(images, labels, tmp_path / "a_file")
